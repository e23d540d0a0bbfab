import { Box, Card, Code, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { Fragment, useEffect, useId, useRef, useState } from 'react';
import { KindBadge, pairing, tintStyle } from '../audit/board-kinds.tsx';
import { PolicyDecisions } from '../audit/PolicyDecisions.tsx';
import { OutcomeBadge, scoreText } from '../audit/Outcome.tsx';
import { formatOffset } from '../audit/playback-time.ts';
import { deviationsOf, progressSummary, rowStates, type LiveProgress, type LiveRow, type LiveStep, type RowState } from './live-progress.ts';

/** The line the script expects next: tinted in the primary colour, with a bar at its left as the board's tinted lines have. */
const NEXT_STYLE = { bg: 'indigo.0', style: { boxShadow: 'inset 4px 0 0 var(--mantine-color-indigo-8)' } };

/**
 * Live sessions ➔ Watch: the session's progress against its change's script on its device, as the
 * watch socket sends it after each command. The board's words and colours (missing in red, extra in
 * green, out of order marked, optional steps skipped), the steps not reached yet as to do, and the
 * step expected next highlighted. A new deviation is said in a polite live region.
 */
export function ProgressPanel({ progress, session, live, zone, problem }: { progress: LiveProgress | undefined; session: number; live: boolean; zone: string; problem?: string }) {
  const titleId = useId();
  return (
    <Card withBorder component="section" aria-labelledby={titleId} h={{ base: 'auto', lg: '62vh' }} p="sm" style={{ display: 'flex', flexDirection: 'column' }}>
      <Title order={2} size="h4" id={titleId} mb="xs">
        Progress against the script
      </Title>
      {progress ? (
        <ProgressBoard progress={progress} session={session} live={live} zone={zone} />
      ) : problem ? (
        <Text size="sm">{problem}</Text>
      ) : (
        <Group gap="xs">
          <Loader size="xs" aria-hidden />
          <Text size="sm">Reading the session's progress…</Text>
        </Group>
      )}
    </Card>
  );
}

function ProgressBoard({ progress, session, live, zone }: { progress: LiveProgress; session: number; live: boolean; zone: string }) {
  const states = rowStates(progress);
  const list = useRef<HTMLOListElement>(null);
  const announced = useNewDeviations(progress);
  const nextKey = progress.next.map((step) => step.index).join();

  // The step expected next stays in view as the session goes on (the list scrolls, not the page).
  useEffect(() => {
    const box = list.current;
    const row = box?.querySelector<HTMLElement>('[data-next]');
    if (!box || !row) return;
    // The list is positioned: a row's offset is from its top.
    const top = row.offsetTop;
    if (top < box.scrollTop || top + row.offsetHeight > box.scrollTop + box.clientHeight) box.scrollTop = Math.max(0, top - box.clientHeight / 3);
  }, [nextKey]);

  return (
    <Stack gap="xs" style={{ flex: 1, minHeight: 0 }}>
      <Group gap="xs">
        <Text size="sm" fw={600}>
          {live ? 'Score so far' : 'Score'} {scoreText(progress.score)}
        </Text>
        <OutcomeBadge outcome={progress.outcome} />
      </Group>
      <Text size="sm">{progressSummary(progress)}</Text>
      <NextSteps next={progress.next} />
      <div role="status" aria-live="polite">
        {announced && (
          <Text size="sm" c="red.9">
            Latest deviation: {announced}
          </Text>
        )}
      </div>
      {progress.rows.length === 0 ? (
        <Text size="sm">The script is empty, and nothing ran on {progress.device}.</Text>
      ) : (
        // Scrolls by itself: focusable, so that the keyboard scrolls it too.
        <Box
          component="ol"
          ref={list}
          tabIndex={0}
          aria-label={`Script of ${progress.change} on ${progress.device}, and what ran`}
          m={0}
          p={0}
          mah={{ base: '50vh', lg: 'none' }}
          style={{ listStyle: 'none', flex: 1, minHeight: 0, overflowY: 'auto', position: 'relative' }}
        >
          {states.map(({ row, state }, index) => (
            <ProgressLine key={index} row={row} state={state} index={index} session={session} />
          ))}
        </Box>
      )}
      {progress.decisions.length > 0 && (
        // Scrolls by itself, below the board: focusable, so that the keyboard scrolls it too.
        <Box tabIndex={0} aria-label={`Command policy decisions on ${progress.device}`} mah="30%" style={{ flexShrink: 0, overflowY: 'auto' }}>
          <PolicyDecisions decisions={progress.decisions} device={progress.device} zone={zone} session={session} />
        </Box>
      )}
    </Stack>
  );
}

/** "Next: `echo two`", or the optional steps on the way and the required one after them. */
function NextSteps({ next }: { next: readonly LiveStep[] }) {
  return (
    <Box p="xs" {...NEXT_STYLE} style={{ ...NEXT_STYLE.style, borderRadius: 'var(--mantine-radius-sm)' }}>
      <Text size="sm" fw={600}>
        {next.length === 0 ? (
          'Next: nothing. The last step of the script ran.'
        ) : (
          <>
            Next:{' '}
            {next.map((step, k) => (
              <Fragment key={step.index}>
                {k > 0 && (k === next.length - 1 ? ', or ' : ', ')}
                <Code fz="sm">{step.text}</Code>
                {step.optional && ' (optional)'}
              </Fragment>
            ))}
          </>
        )}
      </Text>
    </Box>
  );
}

/** The badge of a line: the board's, or "next" and "to do" for a step not reached yet. */
function LineBadge({ row, state }: { row: LiveRow; state: RowState }) {
  const optional = row.step?.optional ? 'optional, ' : '';
  if (state === 'next') return <KindBadge kind={row.kind} label={`${optional}next`} color="indigo.8" />;
  if (state === 'to_do') return <KindBadge kind={row.kind} label={`${optional}to do`} color="gray.7" variant="outline" />;
  return <KindBadge kind={row.kind} />;
}

function ProgressLine({ row, state, index, session }: { row: LiveRow; state: RowState; index: number; session: number }) {
  const { step, command } = row;
  const paired = pairing(row);
  const look = state === 'next' ? NEXT_STYLE : state === 'to_do' ? {} : tintStyle(row.kind);
  // A step run as a different text (its placeholders filled in) says both.
  const ranAs = step && command && command.text !== step.text ? command.text : undefined;
  return (
    <Box component="li" px="xs" py={6} {...look} {...(state === 'next' && { 'data-next': true })} style={{ ...look.style, borderBottom: '1px solid var(--mantine-color-gray-3)' }}>
      <Group gap={6} wrap="nowrap" align="start">
        <Text size="xs" c="dimmed" w={22} ta="right" style={{ flexShrink: 0 }}>
          {index + 1}
        </Text>
        <Stack gap={2} style={{ minWidth: 0 }}>
          <Group gap={6}>
            <LineBadge row={row} state={state} />
            {paired && <Text size="xs">{paired}</Text>}
          </Group>
          <Code style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{step?.text ?? command?.text}</Code>
          {ranAs && (
            <Text size="xs">
              ran as <Code>{ranAs}</Code>
            </Text>
          )}
          {step?.expect != null && (
            <Text size="xs">
              expects output matching <Code>{step.expect}</Code>
            </Text>
          )}
          {command && (
            <Text size="xs" c="dimmed">
              at {formatOffset(command.offsetSeconds)}
              {command.session === session ? '' : ` in session #${command.session}`}
              {command.exitStatus !== null && command.exitStatus !== 0 && `, exit status ${command.exitStatus}`}
            </Text>
          )}
        </Stack>
      </Group>
    </Box>
  );
}

/** The deviations of the latest board that the one before did not have, in words; the first board announces none. */
function useNewDeviations(progress: LiveProgress): string | undefined {
  const seen = useRef<Set<string>>(undefined);
  const [said, setSaid] = useState<string>();
  useEffect(() => {
    const deviations = deviationsOf(progress);
    const before = seen.current;
    seen.current = new Set(deviations.map((deviation) => deviation.key));
    if (!before) return;
    const fresh = deviations.filter((deviation) => !before.has(deviation.key));
    if (fresh.length > 0) setSaid(fresh.map((deviation) => deviation.said).join('; '));
  }, [progress]);
  return said;
}
