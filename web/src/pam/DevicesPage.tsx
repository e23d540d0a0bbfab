import { Code, Group, Table, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import { Loaded, PagedTable, useUrlFilters } from '../ui.tsx';

/** PAM Core ➔ Devices: the devices the user may view, with their pinned host keys. */
export default function DevicesPage() {
  const { values, set, page } = useUrlFilters(['search', 'tag', 'partition'] as const);
  const devices = useQuery({
    queryKey: ['devices', values.search, values.tag, values.partition],
    // The rows shown stay while a changed filter loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/devices', {
          params: { query: { ...(values.search && { search: values.search }), ...(values.tag && { tag: values.tag }), ...(values.partition && { partition: values.partition }) } },
        }),
      ),
  });
  return (
    <>
      <Title order={1} size="h2" mb="md">
        Devices
      </Title>
      <Group mb="md" align="end">
        <TextInput label="Name or host contains" value={values.search} onChange={(event) => set('search', event.currentTarget.value)} w={240} />
        <TextInput label="Tag" placeholder="Any" value={values.tag} onChange={(event) => set('tag', event.currentTarget.value)} w={160} />
        <TextInput label="Partition" placeholder="Any" value={values.partition} onChange={(event) => set('partition', event.currentTarget.value)} w={160} />
      </Group>
      <Loaded query={devices}>
        {(rows) => (
          <PagedTable
            rows={rows}
            page={page}
            onPage={(next) => set('page', String(next))}
            headers={['Name', 'Host', 'Partition', 'Tags', 'Host key']}
            rowKey={(device) => device.id}
          >
            {(device) => (
              <>
                <Table.Td fw={500}>{device.name}</Table.Td>
                <Table.Td>
                  {device.hostname}:{device.port}
                </Table.Td>
                <Table.Td>{device.partition}</Table.Td>
                <Table.Td>{device.tags.join(', ') || '—'}</Table.Td>
                <Table.Td>{device.hostKeyFingerprint ? <Code>{device.hostKeyFingerprint}</Code> : 'not pinned'}</Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
    </>
  );
}
