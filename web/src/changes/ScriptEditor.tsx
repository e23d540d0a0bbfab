import { Box, Group, Input, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useRef } from 'react';
import { api, unwrap } from '../api/client.ts';

const LINE_HEIGHT = 20;

/**
 * The change's script: a monospace editor with line numbers, where the server's syntax errors
 * appear at their line (marked in the gutter) and column as the planner types, checked a moment
 * after they stop. Read-only with its reason when the script is frozen.
 */
export function ScriptEditor({ value, onChange, frozenReason, error }: { value: string; onChange: (script: string) => void; frozenReason?: string; error?: string }) {
  const [debounced] = useDebouncedValue(value, 400);
  const gutter = useRef<HTMLDivElement>(null);
  const check = useQuery({
    queryKey: ['script-check', debounced],
    queryFn: async () => unwrap(await api.POST('/api/v1/changes/script/check', { body: { script: debounced } })),
    enabled: !frozenReason && debounced.trim() !== '',
    staleTime: Infinity,
  });
  const errors = check.data?.errors ?? [];
  const lines = Math.max(1, value.split('\n').length);
  const errorLines = new Set(errors.map((problem) => problem.line));
  return (
    <Input.Wrapper
      label="Script"
      description={
        frozenReason ??
        'One command per line, as the executor will run them; # optional above a step that may be skipped, # expect: REGEX above one whose output must match, {{name}} for a part that may vary.'
      }
      error={error}
    >
      <Group gap={0} align="stretch" wrap="nowrap" mt={4} style={{ border: '1px solid var(--mantine-color-gray-4)', borderRadius: 4, overflow: 'hidden' }}>
        <Box
          ref={gutter}
          aria-hidden="true"
          py={8}
          px={6}
          bg="gray.1"
          style={{ fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 13, lineHeight: `${LINE_HEIGHT}px`, textAlign: 'right', userSelect: 'none', overflow: 'hidden', minWidth: 44, height: 320 }}
        >
          {Array.from({ length: lines }, (_, index) => (
            <div key={index} style={errorLines.has(index + 1) ? { color: 'var(--mantine-color-red-9)', fontWeight: 700 } : undefined}>
              {errorLines.has(index + 1) ? `● ${index + 1}` : index + 1}
            </div>
          ))}
        </Box>
        <textarea
          aria-label="Script"
          aria-invalid={errors.length > 0 || undefined}
          aria-describedby="script-errors"
          value={value}
          readOnly={frozenReason !== undefined}
          spellCheck={false}
          wrap="off"
          onChange={(event) => onChange(event.currentTarget.value)}
          onScroll={(event) => {
            if (gutter.current) gutter.current.scrollTop = event.currentTarget.scrollTop;
          }}
          style={{
            flex: 1,
            height: 320,
            border: 0,
            padding: 8,
            resize: 'vertical',
            fontFamily: 'var(--mantine-font-family-monospace)',
            fontSize: 13,
            lineHeight: `${LINE_HEIGHT}px`,
            background: frozenReason ? 'var(--mantine-color-gray-0)' : undefined,
            outlineOffset: -2,
          }}
        />
      </Group>
      <Box id="script-errors" mt={6} aria-live="polite">
        {errors.map((problem) => (
          <Text key={`${problem.line}:${problem.column}:${problem.message}`} c="red.9" size="sm">
            Line {problem.line}, column {problem.column}: {problem.message}
          </Text>
        ))}
        {!frozenReason && check.data && errors.length === 0 && (
          <Text c="dimmed" size="sm">
            {check.data.steps} {check.data.steps === 1 ? 'step' : 'steps'}, no errors.
          </Text>
        )}
      </Box>
    </Input.Wrapper>
  );
}
