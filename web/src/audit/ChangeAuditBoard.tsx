import { Anchor, Badge, Card, Code, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { sessionPath, type BoardRow, type ChangeAudit, type DeviceAudit } from './audit.queries.ts';
import { CaptureWarning } from './CaptureStatus.tsx';
import { DARK_ORANGE, OutcomeBadge, scoreText } from './Outcome.tsx';
import { formatOffset, hashOfOffset } from './playback-time.ts';

type Kind = BoardRow['kind'];

/** 6.6:1 under white text. */
const DARK_GREEN = '#1e6b30';

/**
 * How the board shows each kind of line: always in words (the badge), the colour repeating them.
 * Badges are filled, under white text at AA contrast (Mantine's green.9 and orange.9 fall just
 * short of 4.5:1, hence two darker shades); the lines' tints are shade 1, under the page's dark text.
 */
const KINDS: Record<Kind, { readonly label: string; readonly badge: string; readonly tint?: string; readonly meaning: string }> = {
  matched: { label: 'matched', badge: 'teal.9', meaning: 'executed as the script says' },
  missing: { label: 'missing', badge: 'red.9', tint: 'red', meaning: 'in the script, but not executed' },
  extra: { label: 'extra', badge: DARK_GREEN, tint: 'green', meaning: 'executed, but not in the script' },
  out_of_order: { label: 'out of order', badge: DARK_ORANGE, tint: 'orange', meaning: 'a step of the script executed at another place' },
  failed_expectation: { label: 'expectation failed', badge: 'grape.9', tint: 'grape', meaning: 'executed, but its output is not what the script expects' },
  skipped: { label: 'optional, skipped', badge: 'gray.7', meaning: 'an optional step not executed' },
  session_end: { label: 'ended the session', badge: 'gray.7', meaning: 'the exit that closed the session, not counted' },
};

const LEGEND_ORDER: readonly Kind[] = ['missing', 'extra', 'out_of_order', 'failed_expectation', 'skipped', 'matched', 'session_end'];

function KindBadge({ kind }: { kind: Kind }) {
  return (
    <Badge color={KINDS[kind].badge} variant="filled" autoContrast style={{ whiteSpace: 'nowrap', flexShrink: 0 }}>
      {KINDS[kind].label}
    </Badge>
  );
}

function Legend() {
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">
        Legend
      </Title>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="xs">
        {LEGEND_ORDER.map((kind) => (
          <Group key={kind} gap="xs" wrap="nowrap">
            <KindBadge kind={kind} />
            <Text size="sm">
              {KINDS[kind].meaning}
              {KINDS[kind].tint && ` (${KINDS[kind].tint} line)`}
            </Text>
          </Group>
        ))}
      </SimpleGrid>
    </Card>
  );
}

/** What a row says about the row it pairs with: a step missing here ran elsewhere, or the reverse. */
function pairing(row: BoardRow): string | undefined {
  if (row.linkedRow === null) return undefined;
  if (row.kind === 'missing') return `executed out of order: row ${row.linkedRow + 1}`;
  if (row.kind === 'out_of_order') return `planned at row ${row.linkedRow + 1}`;
  return undefined;
}

function BoardLine({ row, index, session }: { row: BoardRow; index: number; session: number }) {
  const tint = KINDS[row.kind].tint;
  const command = row.command;
  const paired = pairing(row);
  return (
    <Table.Tr bg={tint ? `${tint}.1` : undefined} style={tint ? { boxShadow: `inset 4px 0 0 var(--mantine-color-${tint}-9)` } : undefined}>
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
