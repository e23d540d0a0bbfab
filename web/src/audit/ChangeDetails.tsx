import { Anchor, Card, Code, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { formatTime } from '../time.ts';
import { StatusBadge } from '../ui.tsx';
import { sessionPath, type ChangeAudit, type Counts, type Session } from './audit.queries.ts';
import { CaptureBadge, CaptureWarning } from './CaptureStatus.tsx';
import { OutcomeBadge, scoreText } from './Outcome.tsx';
import { formatDuration } from './playback-time.ts';

/** Why a session ended, in words. */
const END_REASONS: Record<string, string> = {
  client_closed: 'the user left',
  due_date_reached: 'the change reached its due date',
  terminated: 'terminated',
  upstream_failed: 'the connection to the device failed',
  gateway_stopped: 'the gateway stopped',
  interrupted: 'interrupted (the server stopped)',
};

/** A label and its value, as the rows of a definition list. */
function Facts({ facts }: { facts: ReadonlyArray<readonly [string, ReactNode]> }) {
  return (
    <Table variant="vertical" layout="fixed" withRowBorders={false} verticalSpacing={4}>
      <Table.Tbody>
        {facts.map(([label, value]) => (
          <Table.Tr key={label}>
            <Table.Th w={170}>{label}</Table.Th>
            <Table.Td>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** The counts a score is made of, as the board names them. */
function countsText(counts: Counts): string {
  return [
    `${counts.matched} matched of ${counts.requiredSteps} required`,
    `${counts.missing} missing`,
    `${counts.extra} extra`,
    ...(counts.outOfOrder ? [`${counts.outOfOrder} out of order`] : []),
    ...(counts.failedExpectation ? [`${counts.failedExpectation} failed expectation`] : []),
    ...(counts.skipped ? [`${counts.skipped} optional skipped`] : []),
  ].join(', ');
}

/** The seed's "Change details": who ran the session, from where and how long, and the scores of the change and of each device. */
export function ChangeDetails({ session, audit, zone }: { session: Session; audit: ChangeAudit; zone: string }) {
  const { change } = audit;
  return (
    <Stack>
      <CaptureWarning capture={audit.capture} zone={zone} />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">
            This session
          </Title>
          <Facts
            facts={[
              ['User', session.user],
              ['Source IP', session.sourcePort === null ? session.sourceIp : `${session.sourceIp} (port ${session.sourcePort})`],
              ['Device', `${session.account}@${session.device}`],
              ['Duration', formatDuration(session.durationSeconds)],
              ['Started', formatTime(session.startedAt, zone)],
              ['Ended', session.live ? 'still running' : `${formatTime(session.endedAt, zone)}${session.endReason ? `: ${END_REASONS[session.endReason] ?? session.endReason}` : ''}${session.endedBy ? ` by ${session.endedBy}` : ''}`],
              ['Exit status', session.exitStatus === null ? 'unknown' : String(session.exitStatus)],
              ['Commands', String(session.commandCount)],
              ['Capture', <CaptureBadge key="capture" capture={session.capture} live={session.live} zone={zone} />],
              [
                'Request',
                session.request === null ? '—' : (
                  <Anchor component={Link} to={`/requests/${session.request}`}>
                    #{session.request}
                  </Anchor>
                ),
              ],
              ['Recording SHA-256', session.recordingSha256 ? <Code style={{ wordBreak: 'break-all' }}>{session.recordingSha256}</Code> : '—'],
            ]}
          />
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">
            The change
          </Title>
          <Facts
            facts={[
              ['ID', change.name],
              ['Title', change.title],
              ['Status', <StatusBadge key="status" status={change.status} />],
              ['Window', `${formatTime(change.startAt, zone)} – ${formatTime(change.dueAt, zone)}`],
              ['Score', <Text key="score" fw={700}>{scoreText(audit.score)}</Text>],
              ['Outcome', <OutcomeBadge key="outcome" outcome={audit.outcome} captureLimited={audit.capture.status === 'limited'} />],
              ['Counted', countsText(audit.counts)],
              ['Sessions', String(audit.sessions.length)],
            ]}
          />
        </Card>
      </SimpleGrid>

      <Card withBorder>
        <Title order={2} size="h4" mb="xs">
          Per device
        </Title>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Device</Table.Th>
              <Table.Th>Score</Table.Th>
              <Table.Th>Outcome</Table.Th>
              <Table.Th>Counted</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {audit.devices.map((device) => (
              <Table.Tr key={device.deviceId}>
                <Table.Td fw={500}>{device.device}</Table.Td>
                <Table.Td>{scoreText(device.score)}</Table.Td>
                <Table.Td>
                  <OutcomeBadge outcome={device.outcome} captureLimited={device.capture.status === 'limited'} />
                </Table.Td>
                <Table.Td>{countsText(device.counts)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>

      <Card withBorder>
        <Title order={2} size="h4" mb="xs">
          Sessions of {change.name}
        </Title>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Session</Table.Th>
              <Table.Th>User</Table.Th>
              <Table.Th>Source IP</Table.Th>
              <Table.Th>Device</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th>Duration</Table.Th>
              <Table.Th>Commands</Table.Th>
              <Table.Th>Capture</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {audit.sessions.map((other) => (
              <Table.Tr key={other.id}>
                <Table.Td>
                  {other.number === session.number ? (
                    <Group gap={4}>
                      <Text fw={600} size="sm">
                        #{other.number}
                      </Text>
                      <Text size="sm">(this one)</Text>
                    </Group>
                  ) : (
                    <Anchor component={Link} to={sessionPath(other.number)}>
                      #{other.number}
                    </Anchor>
                  )}
                </Table.Td>
                <Table.Td>{other.user}</Table.Td>
                <Table.Td>{other.sourceIp}</Table.Td>
                <Table.Td>
                  {other.account}@{other.device}
                </Table.Td>
                <Table.Td>{formatTime(other.startedAt, zone)}</Table.Td>
                <Table.Td>{formatDuration(other.durationSeconds)}</Table.Td>
                <Table.Td>{other.commandCount}</Table.Td>
                <Table.Td>
                  <CaptureBadge capture={other.capture} live={other.live} zone={zone} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}
