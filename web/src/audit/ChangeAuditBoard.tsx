import { Anchor, Card, Code, Group, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { sessionPath, type BoardRow, type ChangeAudit, type DeviceAudit } from './audit.queries.ts';
import { KindBadge, Legend, pairing, tintStyle } from './board-kinds.tsx';
import { CaptureWarning } from './CaptureStatus.tsx';
import { PolicyDecisions } from './PolicyDecisions.tsx';
import { OutcomeBadge, scoreText } from './Outcome.tsx';
import { formatOffset, hashOfOffset } from './playback-time.ts';

function BoardLine({ row, index, session }: { row: BoardRow; index: number; session: number }) {
  const command = row.command;
  const paired = pairing(row);
  return (
    <Table.Tr {...tintStyle(row.kind)}>
      <Table.Td>{index + 1}</Table.Td>
      <Table.Td>
        <Stack gap={4} align="start">
          <KindBadge kind={row.kind} />
          {paired && <Text size="xs">{paired}</Text>}
        </Stack>
      </Table.Td>
      <Table.Td>
        {row.step ? (
          <Stack gap={2}>
            <Group gap={6} wrap="nowrap">
              <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                line {row.step.line}
              </Text>
              <Code>{row.step.text}</Code>
            </Group>
            {row.step.optional && <Text size="xs">optional</Text>}
            {row.step.expect !== null && (
              <Text size="xs">
                expects output matching <Code>{row.step.expect}</Code>
              </Text>
            )}
          </Stack>
        ) : (
          <Text size="sm">—</Text>
        )}
      </Table.Td>
      <Table.Td>
        {command ? (
          <Stack gap={2} align="start">
            <Code>{command.text}</Code>
            {command.typed && <Text size="xs">typed as {command.typed}</Text>}
            {command.fromKeystrokes && <Text size="xs">from keystrokes (the terminal echoed nothing)</Text>}
            <Text size="xs">exit status {command.exitStatus ?? 'unknown'}</Text>
          </Stack>
        ) : (
          <Text size="sm">not executed</Text>
        )}
      </Table.Td>
      <Table.Td>
        {command && (
          <Stack gap={2}>
            <Anchor
              component={Link}
              to={sessionPath(command.session, 'video', hashOfOffset(command.offsetSeconds))}
              aria-label={`Watch “${command.text}” at ${formatOffset(command.offsetSeconds)}${command.session === session ? '' : ` of session #${command.session}`}`}
              size="sm"
            >
              Watch at {formatOffset(command.offsetSeconds)}
            </Anchor>
            {command.session !== session && <Text size="xs">session #{command.session}</Text>}
          </Stack>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function DeviceBoard({ device, session, zone, alone }: { device: DeviceAudit; session: number; zone: string; alone: boolean }) {
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">
          {device.device}
        </Title>
        <Group gap="xs">
          <Text fw={600}>Score {scoreText(device.score)}</Text>
          <OutcomeBadge outcome={device.outcome} captureLimited={device.capture.status === 'limited'} />
        </Group>
      </Group>
      {/* With one device its warning is the change's, shown above the board. */}
      {!alone && (
        <Stack mb="xs">
          <CaptureWarning capture={device.capture} zone={zone} />
        </Stack>
      )}
      {device.rows.length === 0 ? (
        <Text size="sm">Nothing was executed on {device.device} and its script is empty.</Text>
      ) : (
        <Table aria-label={`Board of ${device.device}`}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={50}>Row</Table.Th>
              <Table.Th w={170}>Result</Table.Th>
              <Table.Th>Script</Table.Th>
              <Table.Th>Executed</Table.Th>
              <Table.Th w={170}>Video</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {device.rows.map((row, index) => (
              <BoardLine key={index} row={row} index={index} session={session} />
            ))}
          </Table.Tbody>
        </Table>
      )}
      <PolicyDecisions decisions={device.decisions} device={device.device} zone={zone} session={session} />
    </Card>
  );
}

/** The seed's "Change Audit" board: the script against what was executed, device by device, this session's device first. */
export function ChangeAuditBoard({ audit, device, session, zone }: { audit: ChangeAudit; device: string; session: number; zone: string }) {
  const devices = [...audit.devices].sort((a, b) => Number(b.device === device) - Number(a.device === device));
  return (
    <Stack>
      <Group gap="xs">
        <Text fw={600}>
          {audit.change.name}: score {scoreText(audit.score)}
        </Text>
        <OutcomeBadge outcome={audit.outcome} captureLimited={audit.capture.status === 'limited'} />
      </Group>
      <CaptureWarning capture={audit.capture} zone={zone} />
      <Legend />
      {devices.map((each) => (
        <DeviceBoard key={each.deviceId} device={each} session={session} zone={zone} alone={devices.length === 1} />
      ))}
    </Stack>
  );
}
