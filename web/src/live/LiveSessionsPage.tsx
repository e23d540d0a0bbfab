import { Anchor, Button, Group, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, PagedTable, useUrlFilters } from '../ui.tsx';
import { runningFor, useLiveSessions, type SessionView } from './live-sessions.ts';
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
              headers={['Session', 'User', 'Device', 'Account', 'Change', 'Started', 'Source IP', 'Actions']}
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
