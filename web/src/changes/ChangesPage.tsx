import { Anchor, Button, Group, Menu, Table, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { api, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, PagedTable, StatusBadge, useUrlFilters, StatusFilter } from '../ui.tsx';

const STATUSES = ['scheduled', 'open', 'closed', 'cancelled'] as const;
type Status = (typeof STATUSES)[number];

/** Change Audit ➔ Changes: the report of changes, filtered at the top. */
export default function ChangesPage() {
  const me = useMe();
  const navigate = useNavigate();
  const { values, set, page } = useUrlFilters(['status', 'device', 'text'] as const);
  const status = (STATUSES as readonly string[]).includes(values.status) ? (values.status as Status) : undefined;
  const changes = useQuery({
    queryKey: ['changes', status, values.device],
    // The rows shown stay while a changed filter loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    queryFn: async () => unwrap(await api.GET('/api/v1/changes', { params: { query: { ...(status && { status }), ...(values.device && { device: values.device }) } } })),
  });
  const text = values.text.trim().toLowerCase();
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={1} size="h2">
          Changes
        </Title>
        {holds(me, 'Change.Create') && (
          <Menu position="bottom-end">
            <Menu.Target>
              <Button variant="default">More actions</Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item onClick={() => navigate('/changes/new')}>New</Menu.Item>
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
      <Group mb="md" align="end">
        <StatusFilter statuses={STATUSES} value={status} onChange={(value) => set('status', value)} />
        <TextInput label="Device" placeholder="Any" value={values.device} onChange={(event) => set('device', event.currentTarget.value)} w={200} />
        <TextInput label="ID or title contains" value={values.text} onChange={(event) => set('text', event.currentTarget.value)} w={240} />
      </Group>
      <Loaded query={changes}>
        {(rows) => (
          <PagedTable
            rows={rows.filter((change) => !text || change.name.toLowerCase().includes(text) || change.title.toLowerCase().includes(text))}
            page={page}
            onPage={(next) => set('page', String(next))}
            headers={['ID', 'Title', 'Status', 'Start', 'Due', 'Devices', 'Access group']}
            rowKey={(change) => change.id}
          >
            {(change) => (
              <>
                <Table.Td>
                  <Anchor component={Link} to={`/changes/${encodeURIComponent(change.name)}`} size="sm" fw={500}>
                    {change.name}
                  </Anchor>
                </Table.Td>
                <Table.Td>{change.title}</Table.Td>
                <Table.Td>
                  <StatusBadge status={change.status} />
                </Table.Td>
                <Table.Td>{formatTime(change.startAt, me.user.timeZone)}</Table.Td>
                <Table.Td>{formatTime(change.dueAt, me.user.timeZone)}</Table.Td>
                <Table.Td>{change.devices.join(', ')}</Table.Td>
                <Table.Td>{change.accessGroup}</Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
    </>
  );
}
