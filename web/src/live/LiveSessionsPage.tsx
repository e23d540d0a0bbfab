import { Anchor, Button, Group, Loader, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, PagedTable, useUrlFilters } from '../ui.tsx';
import { progressSummary, useSessionProgress } from './live-progress.ts';
import { LIVE_SESSIONS_POLL_MS, runningFor, useLiveSessions, type SessionView } from './live-sessions.ts';
import { TerminateDialog } from './TerminateDialog.tsx';

/** PAM Core ➔ Live sessions: the sessions running now, to watch or terminate; filters in the address. */
export default function LiveSessionsPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['user', 'device', 'change'] as const);
  const sessions = useLiveSessions(values);
  const mayTerminate = holds(me, 'Session.Terminate');
  const [terminating, setTerminating] = useState<SessionView>();
  const filtered = values.user !== '' || values.device !== '' || values.change !== '';

  return (
    <>
      <Title order={1} size="h2" mb="md">
        Live sessions
      </Title>
      <Group mb="md" align="end">
        <TextInput label="User" placeholder="Any" value={values.user} onChange={(event) => set('user', event.currentTarget.value)} w={200} />
        <TextInput label="Device" placeholder="Any" value={values.device} onChange={(event) => set('device', event.currentTarget.value)} w={200} />
        <TextInput label="Change" placeholder="Any" value={values.change} onChange={(event) => set('change', event.currentTarget.value)} w={200} />
      </Group>
      <Loaded query={sessions}>
        {(rows) =>
          rows.length === 0 ? (
            <Text c="dimmed" role="status">
              {filtered ? 'No running session matches these filters.' : 'No session is running now.'}
            </Text>
          ) : (
            <PagedTable
              rows={rows}
              page={page}
              onPage={(next) => set('page', String(next))}
              headers={['Session', 'User', 'Device', 'Account', 'Change', 'Progress', 'Started', 'Source IP', 'Actions']}
              rowKey={(session) => session.id}
            >
              {(session) => (
                <>
                  <Table.Td>
                    <Anchor component={Link} to={`/live-sessions/${session.number}`}>
                      #{session.number}
                    </Anchor>
                  </Table.Td>
                  <Table.Td fw={500}>{session.user}</Table.Td>
                  <Table.Td>{session.device}</Table.Td>
                  <Table.Td>{session.account}</Table.Td>
                  <Table.Td>{session.change}</Table.Td>
                  <Table.Td>
                    <ProgressCell session={session.number} />
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{formatTime(session.startedAt, me.user.timeZone)}</Text>
                    <Text size="xs" c="dimmed">
                      running for {runningFor(session.durationSeconds)}
                    </Text>
                  </Table.Td>
                  <Table.Td>{session.sourceIp}</Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Button component={Link} to={`/live-sessions/${session.number}`} size="compact-sm" variant="light" aria-label={`Watch session #${session.number} of ${session.user} on ${session.device}`}>
                        Watch
                      </Button>
                      {mayTerminate && (
                        <Button
                          size="compact-sm"
                          variant="outline"
                          color="red.9"
                          aria-label={`Terminate session #${session.number} of ${session.user} on ${session.device}`}
                          onClick={() => setTerminating(session)}
                        >
                          Terminate
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </>
              )}
            </PagedTable>
          )
        }
      </Loaded>
      <TerminateDialog session={terminating} onClose={() => setTerminating(undefined)} />
    </>
  );
}

/**
 * A running session's progress against its change's script: `2 of 5 steps · 1 extra`, and the
 * step expected next. Asked as often as the list, and only for the rows of the page shown: at most
 * a page's worth of requests each time.
 */
function ProgressCell({ session }: { session: number }) {
  const progress = useSessionProgress(session, { pollMs: LIVE_SESSIONS_POLL_MS });
  if (progress.data) {
    const [next] = progress.data.next;
    return (
      <>
        <Text size="sm">{progressSummary(progress.data)}</Text>
        <Text size="xs" c="dimmed" maw={260} truncate="end">
          {next ? `next: ${next.text}` : 'the last step ran'}
        </Text>
      </>
    );
  }
  if (progress.error) return <Text size="sm">—</Text>;
  return <Loader size="xs" aria-label={`Reading the progress of session #${session}`} />;
}
