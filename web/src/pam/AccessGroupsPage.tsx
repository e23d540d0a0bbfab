import { Group, Table, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import { Loaded, PagedTable, useUrlFilters } from '../ui.tsx';

/** PAM Core ➔ Access groups: who may run a group's changes, and who approves them. */
export default function AccessGroupsPage() {
  const { values, set, page } = useUrlFilters(['text'] as const);
  const groups = useQuery({ queryKey: ['access-groups'], queryFn: async () => unwrap(await api.GET('/api/v1/access-groups')) });
  const text = values.text.trim().toLowerCase();
  return (
    <>
      <Title order={1} size="h2" mb="md">
        Access groups
      </Title>
      <Group mb="md" align="end">
        <TextInput label="Name or member contains" value={values.text} onChange={(event) => set('text', event.currentTarget.value)} w={260} />
      </Group>
      <Loaded query={groups}>
        {(rows) => (
          <PagedTable
            rows={rows.filter((group) => !text || [group.name, ...group.executors, ...group.approvers].some((name) => name.toLowerCase().includes(text)))}
            page={page}
            onPage={(next) => set('page', String(next))}
            headers={['Name', 'Executors', 'Approvers', 'Approvals needed', 'Justification']}
            rowKey={(group) => group.id}
          >
            {(group) => (
              <>
                <Table.Td fw={500}>{group.name}</Table.Td>
                <Table.Td>{group.executors.join(', ')}</Table.Td>
                <Table.Td>{group.approvers.join(', ')}</Table.Td>
                <Table.Td>{group.approvalsRequired}</Table.Td>
                <Table.Td>{group.requiresJustification ? 'required' : 'optional'}</Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
    </>
  );
}
