import { Accordion, Anchor, Badge, Button, Code, Group, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import { Loaded } from '../ui.tsx';
import { sessionPath, useSessionCommands } from './audit.queries.ts';
import { formatInstant, formatOffset, hashOfOffset } from './playback-time.ts';

function ExitBadge({ status }: { status: number | null }) {
  const color = status === null ? 'gray.7' : status === 0 ? 'teal.9' : 'red.9';
  return (
    <Badge color={color} variant="filled" autoContrast style={{ flexShrink: 0 }}>
      exit {status ?? 'unknown'}
    </Badge>
  );
}

/** The seed's "Session Logs": each command with its time and exit status; its output opens below it. */
export function SessionLogs({ session, zone }: { session: number; zone: string }) {
  const commands = useSessionCommands(session);
  const [open, setOpen] = useState<string[]>([]);
  return (
    <Loaded query={commands}>
      {(list) =>
        list.length === 0 ? (
          <Text>No command was captured in this session.</Text>
        ) : (
          <Stack gap="sm">
            <Group justify="space-between">
              <Text size="sm">
                {list.length} {list.length === 1 ? 'command' : 'commands'}; open one to read its output.
              </Text>
              <Group gap="xs">
                <Button variant="default" size="xs" onClick={() => setOpen(list.map((command) => String(command.seq)))}>
                  Show all output
                </Button>
                <Button variant="default" size="xs" onClick={() => setOpen([])}>
                  Hide all output
                </Button>
              </Group>
            </Group>
            <Accordion multiple value={open} onChange={setOpen} variant="separated" chevronPosition="left">
              {list.map((command) => (
                <Accordion.Item key={command.seq} value={String(command.seq)}>
                  <Accordion.Control>
                    <Group justify="space-between" wrap="nowrap" gap="sm">
                      <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
                        <Text size="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                          {formatInstant(command.time, zone)}
                        </Text>
                        <Code style={{ overflowWrap: 'anywhere' }}>$ {command.text}</Code>
                        {command.typed && (
                          <Text size="xs" c="dimmed" style={{ overflowWrap: 'anywhere' }}>
                            typed: {command.typed}
                          </Text>
                        )}
                        {command.fromKeystrokes && (
                          <Text size="xs" style={{ whiteSpace: 'nowrap' }} title="The terminal echoed nothing: the line was rebuilt from the keys typed">
                            from keystrokes
                          </Text>
                        )}
                      </Group>
                      <ExitBadge status={command.exitStatus} />
                    </Group>
                  </Accordion.Control>
                  <Accordion.Panel>
                    <Stack gap="xs">
                      <Code block role="region" aria-label={`Output of ${command.text}`} style={{ maxHeight: 480, overflow: 'auto', whiteSpace: 'pre-wrap' }} tabIndex={0}>
                        {command.output || '(no output)'}
                      </Code>
                      {command.outputTruncated && <Text size="xs">The output was longer: only its beginning was kept.</Text>}
                      <Anchor component={Link} to={sessionPath(session, 'video', hashOfOffset(command.offsetSeconds))} size="sm">
                        Watch it in the video at {formatOffset(command.offsetSeconds)}
                      </Anchor>
                    </Stack>
                  </Accordion.Panel>
                </Accordion.Item>
              ))}
            </Accordion>
          </Stack>
        )
      }
    </Loaded>
  );
}
