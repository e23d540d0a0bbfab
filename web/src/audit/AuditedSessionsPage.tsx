import { ActionIcon, Anchor, Group, Menu, NumberInput, Select, Table, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { Link } from 'react-router';
import { WallTimePicker } from '../changes/WallTimePicker.tsx';
import { useMe } from '../session.tsx';
import { formatTime, fromWallTime } from '../time.ts';
import { Loaded, PagedTable, useUrlFilters } from '../ui.tsx';
import { LIST_LIMIT, reportUrl, sessionPath, useAuditedSessions, type AuditedSession, type AuditedSessionFilter, type Outcome } from './audit.queries.ts';
import { CaptureBadge } from './CaptureStatus.tsx';
import { OUTCOMES, OutcomeBadge, outcomeLabel, scoreText } from './Outcome.tsx';
import { formatDuration } from './playback-time.ts';

const FILTERS = ['change', 'user', 'device', 'from', 'to', 'outcome', 'scoreMin', 'scoreMax', 'command'] as const;

/** Typing waits this long before the list is asked again. */
const TYPING_MS = 300;

/** A score typed in a filter, when it is one. */
function score(text: string): number | undefined {
  const value = Number(text);
  return text !== '' && Number.isInteger(value) && value >= 0 && value <= 100 ? value : undefined;
}

/** Change Audit ➔ Audited sessions: the finished sessions with their change's score, filtered at the top. */
export default function AuditedSessionsPage() {
  const me = useMe();
  const zone = me.user.timeZone;
  const { values, set, page } = useUrlFilters(FILTERS);
  const outcome = (OUTCOMES as readonly string[]).includes(values.outcome) ? (values.outcome as Outcome) : undefined;
  const from = fromWallTime(values.from, zone);
  const to = fromWallTime(values.to, zone);
  const scoreMin = score(values.scoreMin);
  const scoreMax = score(values.scoreMax);
  const filter: AuditedSessionFilter = {
    ...(values.change.trim() && { change: values.change.trim() }),
    ...(values.user.trim() && { user: values.user.trim() }),
    ...(values.device.trim() && { device: values.device.trim() }),
    ...(from && { from }),
    ...(to && { to }),
    ...(outcome && { outcome }),
    ...(scoreMin !== undefined && { scoreMin }),
    ...(scoreMax !== undefined && { scoreMax }),
    ...(values.command.trim() && { command: values.command }),
  };
  // Compared as text: a new object at each render would restart the wait for ever.
  const [asked] = useDebouncedValue(JSON.stringify(filter), TYPING_MS);
  const sessions = useAuditedSessions(JSON.parse(asked) as AuditedSessionFilter);
  const text = (key: (typeof FILTERS)[number], label: string, width = 160) => (
    <TextInput label={label} placeholder="Any" value={values[key]} onChange={(event) => set(key, event.currentTarget.value)} w={width} />
  );
  return (
    <>
      <Title order={1} size="h2" mb="md">
        Audited sessions
      </Title>
      <Group mb="md" align="end" gap="sm">
        {text('change', 'Change')}
        {text('user', 'User', 140)}
        {text('device', 'Device', 140)}
        <WallTimePicker label="Started from" timeZone={zone} value={values.from} onChange={(wall) => set('from', wall)} required={false} w={210} />
        <WallTimePicker label="Started before" timeZone={zone} value={values.to} onChange={(wall) => set('to', wall)} required={false} w={210} />
        <Select
          label="Outcome"
          placeholder="Any"
          data={OUTCOMES.map((value) => ({ value, label: outcomeLabel(value) }))}
          value={outcome ?? null}
          onChange={(value) => set('outcome', value ?? '')}
          clearable
          w={200}
        />
        <NumberInput label="Score from" placeholder="Any" min={0} max={100} allowDecimal={false} value={values.scoreMin} onChange={(value) => set('scoreMin', String(value))} w={110} />
        <NumberInput label="Score to" placeholder="Any" min={0} max={100} allowDecimal={false} value={values.scoreMax} onChange={(value) => set('scoreMax', String(value))} w={110} />
        {text('command', 'Command contains', 200)}
      </Group>
      <Text size="xs" c="dimmed" mt={-8} mb="sm">
        Times are in your time zone, {zone}. A score is the change&apos;s, over all its sessions.
      </Text>
      <Loaded query={sessions}>
        {(rows) => (
          <>
            {rows.length === LIST_LIMIT && (
              <Text size="sm" mb="xs">
                The newest {LIST_LIMIT} sessions are shown: narrow the filters to see older ones.
              </Text>
            )}
            <PagedTable
              rows={rows}
              page={page}
              onPage={(next) => set('page', String(next))}
              headers={['Session', 'Change', 'User', 'Device', 'Source IP', 'Started', 'Duration', 'Commands', 'Capture', 'Score', 'Outcome', <VisuallyHidden>Actions</VisuallyHidden>]}
              rowKey={(session) => session.id}
            >
              {(session) => <SessionCells session={session} zone={zone} />}
            </PagedTable>
          </>
        )}
      </Loaded>
    </>
  );
}

/** A session's row in the list, cell by cell. */
function SessionCells({ session, zone }: { session: AuditedSession; zone: string }) {
  return (
    <>
      <Table.Td>
        <Anchor component={Link} to={sessionPath(session.number)} fw={500}>
          #{session.number}
        </Anchor>
      </Table.Td>
      <Table.Td>{session.change}</Table.Td>
      <Table.Td>{session.user}</Table.Td>
      <Table.Td>
        {session.account}@{session.device}
      </Table.Td>
      <Table.Td>{session.sourceIp}</Table.Td>
      <Table.Td>{formatTime(session.startedAt, zone)}</Table.Td>
      <Table.Td>{formatDuration(session.durationSeconds)}</Table.Td>
      <Table.Td>{session.commandCount}</Table.Td>
      <Table.Td>
        <CaptureBadge capture={session.capture} live={session.live} zone={zone} />
      </Table.Td>
      <Table.Td style={{ whiteSpace: 'nowrap' }}>{scoreText(session.changeScore)}</Table.Td>
      <Table.Td>
        {/* The change's board, over all its sessions: its outcome carries the warning of a limited capture. */}
        <OutcomeBadge outcome={session.changeOutcome} captureLimited={session.changeCapture.status === 'limited'} />
      </Table.Td>
      <Table.Td>
        <SessionActions session={session} />
      </Table.Td>
    </>
  );
}

/** The seed's action button: each view of the session, and the change's report. */
function SessionActions({ session }: { session: AuditedSession }) {
  return (
    <Menu position="bottom-end">
      <Menu.Target>
        <ActionIcon variant="subtle" color="gray.8" aria-label={`Actions for session #${session.number}`} title="Actions">
          <svg width="18" height="18" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
            <circle cx="12" cy="5" r="2" />
            <circle cx="12" cy="12" r="2" />
            <circle cx="12" cy="19" r="2" />
          </svg>
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item component={Link} to={sessionPath(session.number, 'details')}>
          Change details
        </Menu.Item>
        <Menu.Item component={Link} to={sessionPath(session.number, 'audit')}>
          Change Audit
        </Menu.Item>
        <Menu.Item component={Link} to={sessionPath(session.number, 'logs')}>
          Session Logs
        </Menu.Item>
        <Menu.Item component={Link} to={sessionPath(session.number, 'video')}>
          Video of Session
        </Menu.Item>
        <Menu.Divider />
        <Menu.Item component="a" href={reportUrl(session.change)}>
          HTML report
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}
