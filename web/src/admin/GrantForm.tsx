import { Button, Group, List, Radio, Select, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, fieldMessageOf, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { notifyDone } from '../ui.tsx';
import { usePartitions, usePrivileges, useUsers } from './admin.queries.ts';
import { describeScope, grantableScopes, type GrantLevel } from './held-privileges.ts';
import { ServerRefusal } from './ServerRefusal.tsx';

const SYSTEM_WIDE = 'system';
const partitionValue = (name: string) => `partition:${name}`;

/** Which field of the form a refusal belongs to: the server names fields, or says what it could not find or allow. */
function fieldOfRefusal(error: unknown): 'username' | 'privilege' | 'scope' | 'level' | undefined {
  if (!(error instanceof ApiError)) return undefined;
  if (fieldMessageOf(error, 'username')) return 'username';
  if (fieldMessageOf(error, 'privilege')) return 'privilege';
  if (fieldMessageOf(error, 'partition')) return 'scope';
  if (fieldMessageOf(error, 'level')) return 'level';
  // "You need the Device.View privilege at Admin level system-wide": the scope is what the user may not grant in.
  if (error.code === 'forbidden') return 'scope';
  if (error.code === 'not_found') return error.message.startsWith('No user') ? 'username' : 'scope';
  return undefined;
}

/**
 * Grants a privilege at level Access or Admin, system-wide or in one partition. It offers the
 * privileges the signed-in user holds at Admin level and says where they may grant each; the
 * server decides, and its refusal shows at the field it concerns.
 */
export function GrantForm({ username: fixedUser }: { username?: string }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const scopes = grantableScopes(me);
  const catalogue = usePrivileges();
  const users = useUsers(fixedUser === undefined && holds(me, 'User.Admin'));
  const partitions = usePartitions(holds(me, 'Partition.View'));
  const [username, setUsername] = useState(fixedUser ?? '');
  const [privilege, setPrivilege] = useState<string | null>(null);
  const [level, setLevel] = useState<GrantLevel>('access');
  const [scope, setScope] = useState<string>(SYSTEM_WIDE);

  const grantable = [...new Set(scopes.map((held) => held.privilege))];
  const systemOnly = new Set((catalogue.data ?? []).filter((entry) => entry.systemOnly).map((entry) => entry.name));
  const partitionNames = [...new Set([...(partitions.data ?? []).map((partition) => partition.name), ...me.grants.flatMap((grant) => (grant.partition ? [grant.partition] : []))])].sort();
  const whereHeld = scopes.filter((held) => held.privilege === privilege);

  const grant = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v1/grants', {
          body: {
            username: username.trim(),
            privilege: privilege ?? '',
            level,
            partition: scope === SYSTEM_WIDE ? null : scope.slice('partition:'.length),
          },
        }),
      ),
    onSuccess: (granted) => {
      void queryClient.invalidateQueries({ queryKey: ['grants'] });
      if (granted.username === me.user.username) void queryClient.invalidateQueries({ queryKey: ['me'] });
      notifyDone(`Granted ${granted.privilege} at ${granted.level === 'admin' ? 'Admin' : 'Access'} level ${describeScope(granted.partition)} to ${granted.username}.`);
    },
  });
  const refusedAt = fieldOfRefusal(grant.error);
  const messageAt = (field: string) => (refusedAt === field ? (fieldMessageOf(grant.error, field === 'scope' ? 'partition' : field) ?? (grant.error as ApiError).message) : undefined);

  if (scopes.length === 0) {
    return <Text size="sm">You hold no privilege at Admin level, so you may grant none: an administrator grants one to you at Admin level first.</Text>;
  }
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        grant.mutate();
      }}
      noValidate
    >
      <Stack maw={560}>
        {refusedAt === undefined && <ServerRefusal error={grant.error} title="Not granted" />}
        {fixedUser === undefined &&
          (users.data ? (
            <Select
              label="User"
              required
              searchable
              data={users.data.filter((user) => !user.disabled).map((user) => ({ value: user.username, label: `${user.username} (${user.displayName})` }))}
              value={username || null}
              onChange={(value) => setUsername(value ?? '')}
              error={messageAt('username')}
            />
          ) : (
            <TextInput label="User" description="Their user name" required value={username} onChange={(event) => setUsername(event.currentTarget.value)} error={messageAt('username')} />
          ))}
        <Select
          label="Privilege"
          description="The privileges you hold at Admin level: you may grant each where you hold it"
          required
          searchable
          data={grantable}
          value={privilege}
          onChange={(value) => {
            setPrivilege(value);
            if (value && systemOnly.has(value)) setScope(SYSTEM_WIDE);
          }}
          error={messageAt('privilege')}
        />
        {privilege && whereHeld.length > 0 && (
          <Text size="sm" c="dimmed">
            You may grant {privilege} {whereHeld.map((held) => describeScope(held.partition)).join(', ')}
            {whereHeld.some((held) => held.partition === null) ? ' (and so in every partition)' : ' only'}.
          </Text>
        )}
        <Radio.Group label="Level" value={level} onChange={(value) => setLevel(value as GrantLevel)} error={messageAt('level')}>
          <Group mt={4}>
            <Radio value="access" label="Access: use it" />
            <Radio value="admin" label="Admin: use it and grant it in the same scope" />
          </Group>
        </Radio.Group>
        <Select
          label="Scope"
          description={privilege && systemOnly.has(privilege) ? `${privilege} applies to the whole installation: system-wide only` : 'System-wide, or one partition'}
          required
          searchable
          data={[
            { value: SYSTEM_WIDE, label: 'System-wide' },
            ...(privilege && systemOnly.has(privilege) ? [] : [{ group: 'Partitions', items: partitionNames.map((name) => ({ value: partitionValue(name), label: name })) }]),
          ]}
          value={scope}
          onChange={(value) => setScope(value ?? SYSTEM_WIDE)}
          error={messageAt('scope')}
        />
        <Group>
          <Button type="submit" loading={grant.isPending} disabled={!privilege || !username.trim()}>
            Grant
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** What the signed-in user may grant, and where: plain words for the rule the server applies. */
export function WhatYouMayGrant() {
  const scopes = grantableScopes(useMe());
  if (scopes.length === 0) return null;
  const byScope = new Map<string | null, string[]>();
  for (const held of scopes) byScope.set(held.partition, [...(byScope.get(held.partition) ?? []), held.privilege]);
  return (
    <Stack gap={4}>
      <Text size="sm">You may grant a privilege only where you hold it at Admin level; a system-wide grant covers every partition.</Text>
      <List size="sm" aria-label="What you may grant">
        {[...byScope].map(([partition, privileges]) => (
          <List.Item key={partition ?? ''}>
            <Text span size="sm" fw={600}>
              {partition === null ? 'System-wide' : `In partition ${partition}`}:
            </Text>{' '}
            {privileges.join(', ')}
          </List.Item>
        ))}
      </List>
    </Stack>
  );
}
