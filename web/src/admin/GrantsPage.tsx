import { Group, Paper, Select, Stack, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import { Loaded, useUrlFilters } from '../ui.tsx';
import { usePrivileges } from './admin.queries.ts';
import { GrantForm, WhatYouMayGrant } from './GrantForm.tsx';
import { GrantsTable } from './GrantsTable.tsx';

/** Administration ➔ Grants: who holds which privilege where, and granting what the signed-in user administers. */
export default function GrantsPage() {
  const { values, set, page } = useUrlFilters(['user', 'privilege', 'scope'] as const);
  const catalogue = usePrivileges();
  const grants = useQuery({
    queryKey: ['grants', '', values.privilege],
    placeholderData: keepPreviousData,
    queryFn: async () => unwrap(await api.GET('/api/v1/grants', { params: { query: { ...(values.privilege && { privilege: values.privilege }) } } })),
  });
  const user = values.user.trim().toLowerCase();
  const scope = values.scope.trim().toLowerCase();
  return (
    <Stack>
      <Title order={1} size="h2">
        Grants
      </Title>
      <Paper withBorder p="md">
        <Title order={2} size="h4" mb="xs">
          Grant a privilege
        </Title>
        <Stack>
          <WhatYouMayGrant />
          <GrantForm />
        </Stack>
      </Paper>
      <Title order={2} size="h4">
        Grants you may see
      </Title>
      <Group align="end">
        <TextInput label="Filter by user" value={values.user} onChange={(event) => set('user', event.currentTarget.value)} w={200} />
        <Select label="Filter by privilege" placeholder="Any" searchable clearable data={(catalogue.data ?? []).map((entry) => entry.name)} value={values.privilege || null} onChange={(value) => set('privilege', value ?? '')} w={240} />
        <TextInput label="Filter by scope" placeholder="Partition, or system" value={values.scope} onChange={(event) => set('scope', event.currentTarget.value)} w={200} />
      </Group>
      <Loaded query={grants}>
        {(rows) => (
          <GrantsTable
            rows={rows.filter((grant) => grant.username.toLowerCase().includes(user) && (grant.partition ?? 'system-wide').toLowerCase().includes(scope))}
            page={page}
            onPage={(next) => set('page', String(next))}
          />
        )}
      </Loaded>
    </Stack>
  );
}
