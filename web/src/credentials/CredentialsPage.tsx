import { Anchor, Button, Group, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, NamedCell, PagedTable, StatusBadge, useUrlFilters } from '../ui.tsx';
import { LIVE_POLL_MS } from '../requests/RequestsPage.tsx';

/** The device accounts the user may start a session on; asked again every `refetchMs` when given. */
export function useSessionTargets(refetchMs?: number) {
  return useQuery({ queryKey: ['session-targets'], queryFn: async () => unwrap(await api.GET('/api/v1/session-targets')), refetchInterval: refetchMs ?? false });
}

/** Navigation state of a Start session click; a link alone (bookmark, e-mail) only shows the page. */
export const START_NOW = { start: true } as const;

/** The address of the page that starts a session on one device account of one change. */
export function startSessionPath(target: { device: string; account?: string; change?: string }): string {
  const query = new URLSearchParams({ device: target.device, ...(target.account && { account: target.account }), ...(target.change && { change: target.change }) });
  return `/credentials/session?${query}`;
}

const contains = (value: string, part: string) => value.toLowerCase().includes(part.trim().toLowerCase());

/** PAM Core ➔ Credentials ➔ All: the device accounts the user may start a session on, as the seed's executors see them. */
export default function CredentialsPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['device', 'account', 'change'] as const);
  const targets = useSessionTargets(LIVE_POLL_MS);
  return (
    <>
      <Title order={1} size="h2" mb="xs">
        Credentials ➔ All
      </Title>
      <Text c="dimmed" size="sm" mb="md">
        The device accounts you may start a session on, as an executor of a change. Changegate connects you with the vaulted credential: you never see it.
      </Text>
      <Group mb="md" align="end">
        <TextInput label="Device" placeholder="Any" value={values.device} onChange={(event) => set('device', event.currentTarget.value)} w={200} />
        <TextInput label="Account" placeholder="Any" value={values.account} onChange={(event) => set('account', event.currentTarget.value)} w={160} />
        <TextInput label="Change" placeholder="Any" value={values.change} onChange={(event) => set('change', event.currentTarget.value)} w={200} />
      </Group>
      <Loaded query={targets}>
        {(all) => {
          const rows = all.filter(
            (row) => contains(row.device, values.device) && contains(row.account, values.account) && (contains(row.change, values.change) || contains(row.changeTitle, values.change)),
          );
          if (all.length === 0) {
            return <Text>No change names you as an executor now. A planner adds you to a change’s access group; its devices then appear here.</Text>;
          }
          return (
            <PagedTable
              rows={rows}
              page={page}
              onPage={(next) => set('page', String(next))}
              headers={['Device', 'Account', 'Change', 'Window', 'Your request', 'Action']}
              rowKey={(row) => `${row.change} ${row.partition}.${row.device} ${row.account}`}
            >
              {(row) => (
                <>
                  <NamedCell name={row.device} detail={row.partition} />
                  <Table.Td>{row.account}</Table.Td>
                  <NamedCell name={row.change} detail={row.changeTitle} />
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <StatusBadge status={row.changeStatus} />
                      <Text size="xs">
                        {formatTime(row.startAt, me.user.timeZone)} – {formatTime(row.dueAt, me.user.timeZone)}
                      </Text>
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    {row.request ? (
                      <Group gap="xs" wrap="nowrap">
                        <Anchor component={Link} to={`/requests/${row.request.number}`}>
                          #{row.request.number}
                        </Anchor>
                        <StatusBadge status={row.request.status} />
                      </Group>
                    ) : (
                      <Text size="sm" c="dimmed">
                        none yet
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {row.changeStatus === 'open' ? (
                      <Button
                        component={Link}
                        to={startSessionPath(row)}
                        // The click is the user's intent: the page asks for access (or connects) at once.
                        state={START_NOW}
                        size="xs"
                        aria-label={`Start session as ${row.account} on ${row.device} for ${row.change}`}
                      >
                        Start session
                      </Button>
                    ) : (
                      <Text size="xs">Opens {formatTime(row.startAt, me.user.timeZone)}</Text>
                    )}
                  </Table.Td>
                </>
              )}
            </PagedTable>
          );
        }}
      </Loaded>
    </>
  );
}
