import { Anchor, Badge, Button, Code, CopyButton, Group, Modal, PasswordInput, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, PagedTable, notifyDone, useUrlFilters } from '../ui.tsx';
import { useUsers, type UserView } from './admin.queries.ts';
import { ServerRefusal } from './ServerRefusal.tsx';

/** A password for a new account, made in the browser: 24 characters of base64url (144 bits), as the server makes the first administrator's. */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_');
}

/** Whether a user may sign in now: disabled, locked out for a while, or active. */
export function UserStatus({ user, now = Date.now() }: { user: UserView; now?: number }) {
  if (user.disabled) {
    return (
      <Badge color="red.9" variant="filled">
        disabled
      </Badge>
    );
  }
  if (user.lockedUntil && Date.parse(user.lockedUntil) > now) {
    return (
      <Badge color="yellow.4" variant="filled" autoContrast>
        locked
      </Badge>
    );
  }
  return (
    <Badge color="teal.9" variant="filled">
      active
    </Badge>
  );
}

const contains = (value: string | null, part: string) => (value ?? '').toLowerCase().includes(part.trim().toLowerCase());

/** Administration ➔ Users: every account, searchable from the address, and new ones. */
export default function UsersPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['search', 'status'] as const);
  const users = useUsers();
  const [creating, createDialog] = useDisclosure(false);
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={1} size="h2">
          Users
        </Title>
        <Button onClick={createDialog.open}>New user</Button>
      </Group>
      <Group mb="md" align="end">
        <TextInput label="Search users" description="User name, display name or e-mail" value={values.search} onChange={(event) => set('search', event.currentTarget.value)} w={280} />
        <Select
          label="Status"
          placeholder="Any"
          data={['active', 'disabled']}
          value={values.status || null}
          onChange={(status) => set('status', status ?? '')}
          clearable
          w={160}
        />
      </Group>
      <Loaded query={users}>
        {(rows) => (
          <PagedTable
            rows={rows.filter(
              (user) =>
                (contains(user.username, values.search) || contains(user.displayName, values.search) || contains(user.email, values.search)) &&
                (!values.status || (values.status === 'disabled') === user.disabled),
            )}
            page={page}
            onPage={(next) => set('page', String(next))}
            headers={['User', 'E-mail', 'Status', 'Two-factor', 'Time zone', 'Created']}
            rowKey={(user) => user.id}
          >
            {(user) => (
              <>
                <Table.Td>
                  <Anchor component={Link} to={`/users/${encodeURIComponent(user.username)}`} fw={500}>
                    {user.username}
                  </Anchor>
                  <Text size="xs" c="dimmed">
                    {user.displayName}
                  </Text>
                </Table.Td>
                <Table.Td>{user.email ?? '—'}</Table.Td>
                <Table.Td>
                  <UserStatus user={user} />
                </Table.Td>
                <Table.Td>{user.totpEnabled ? 'on' : 'off'}</Table.Td>
                <Table.Td>{user.timeZone}</Table.Td>
                <Table.Td>
                  {formatTime(user.createdAt, me.user.timeZone)}
                  <Text size="xs" c="dimmed">
                    by {user.createdBy}
                  </Text>
                </Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
      <NewUserDialog opened={creating} onClose={createDialog.close} />
    </>
  );
}

interface NewUser {
  username: string;
  displayName: string;
  email: string;
  timeZone: string;
  password: string;
}

const EMPTY: NewUser = { username: '', displayName: '', email: '', timeZone: 'UTC', password: '' };

/** A new account; a generated initial password is shown once, after it is created, and never again. */
function NewUserDialog({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<NewUser>(EMPTY);
  const [generated, setGenerated] = useState(false);
  const [shown, setShown] = useState<{ username: string; password: string }>();
  const set = <K extends keyof NewUser>(key: K, value: NewUser[K]) => setDraft((current) => ({ ...current, [key]: value }));
  const zones = Intl.supportedValuesOf('timeZone');
  const create = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST('/api/v1/users', {
          body: {
            username: draft.username.trim(),
            ...(draft.displayName.trim() && { displayName: draft.displayName.trim() }),
            email: draft.email.trim() || null,
            timeZone: draft.timeZone,
            ...(draft.password && { password: draft.password }),
          },
        }),
      ),
    onSuccess: (user) => {
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      notifyDone(`Created user ${user.username}.`);
      if (generated) setShown({ username: user.username, password: draft.password });
      close();
    },
  });
  const close = () => {
    setDraft(EMPTY);
    setGenerated(false);
    create.reset();
    onClose();
  };
  const error = create.error;
  return (
    <>
      <Modal opened={opened} onClose={close} title="New user" closeButtonProps={{ 'aria-label': 'Close' }}>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate();
          }}
          noValidate
        >
          <Stack>
            <ServerRefusal error={error} title="Not created" fields={['username', 'displayName', 'email', 'timeZone', 'password']} />
            <TextInput
              label="User name"
              description="Lower-case letters, digits, “.”, “_” and “-”; starts with a letter"
              required
              value={draft.username}
              onChange={(event) => set('username', event.currentTarget.value)}
              error={fieldMessageOf(error, 'username')}
              data-autofocus
            />
            <TextInput label="Display name" value={draft.displayName} onChange={(event) => set('displayName', event.currentTarget.value)} error={fieldMessageOf(error, 'displayName')} />
            <TextInput label="E-mail" type="email" value={draft.email} onChange={(event) => set('email', event.currentTarget.value)} error={fieldMessageOf(error, 'email')} />
            <Select label="Time zone" searchable data={zones.includes(draft.timeZone) ? zones : [draft.timeZone, ...zones]} value={draft.timeZone} onChange={(zone) => zone && set('timeZone', zone)} error={fieldMessageOf(error, 'timeZone')} />
            <Group align="end" wrap="nowrap">
              <PasswordInput
                label="Initial password"
                description="Leave it empty to set one later, or generate one: it is shown once, after the user is created"
                autoComplete="new-password"
                value={draft.password}
                onChange={(event) => {
                  setGenerated(false);
                  set('password', event.currentTarget.value);
                }}
                error={fieldMessageOf(error, 'password')}
                style={{ flex: 1 }}
              />
              <Button
                variant="default"
                onClick={() => {
                  setGenerated(true);
                  set('password', generatePassword());
                }}
              >
                Generate
              </Button>
            </Group>
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" loading={create.isPending}>
                Create user
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <Modal opened={shown !== undefined} onClose={() => setShown(undefined)} title={`Initial password of ${shown?.username ?? ''}`} closeButtonProps={{ 'aria-label': 'Close' }}>
        <Stack>
          <Text size="sm">Give it to {shown?.username} over a channel you trust. It is shown this once: Changegate keeps only its hash.</Text>
          <Group>
            <Code fz="md">
              {shown?.password}
            </Code>
            <CopyButton value={shown?.password ?? ''}>
              {({ copied, copy }) => (
                <Button size="xs" variant="default" onClick={copy}>
                  {copied ? 'Copied' : 'Copy'}
                </Button>
              )}
            </CopyButton>
          </Group>
          <Group justify="flex-end">
            <Button onClick={() => setShown(undefined)}>Done</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
