import { Anchor, Button, Group, Paper, PasswordInput, Select, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';
import { useRecentSignIn } from '../account/reauthenticate.tsx';
import { api, ApiError, fieldMessageOf, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, notifyDone } from '../ui.tsx';
import { useGrants, useUser, type UserView } from './admin.queries.ts';
import { ConfirmDialog } from './ConfirmDialog.tsx';
import { GrantForm } from './GrantForm.tsx';
import { SshKeyTable } from '../account/SshKeyTable.tsx';
import { GrantsTable } from './GrantsTable.tsx';
import { ServerRefusal } from './ServerRefusal.tsx';
import { generatePassword, UserStatus } from './UsersPage.tsx';

/**
 * Runs an action on the account, asking for the administrator's password again when the server
 * wants a recent sign-in; keeps the server's refusal for the page to show, so a refused action
 * changes nothing and says why.
 */
function useAccountAction() {
  const { guard, dialog } = useRecentSignIn();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<void>) => {
    setError(undefined);
    setBusy(true);
    try {
      await guard(async () => {
        try {
          await work();
        } catch (caught) {
          // The dialog asks for the password and runs the work again; any other refusal is the page's to show.
          if (caught instanceof ApiError && caught.code === 'recent_sign_in_required') throw caught;
          setError(caught);
        }
      });
    } finally {
      setBusy(false);
    }
  };
  return { act, error, busy, dialog, clear: () => setError(undefined) };
}

/** Administration ➔ Users ➔ one user (`/users/bob`): profile, sign-in (password, two-factor, enabled), SSH keys and grants. */
export default function UserPage() {
  const username = useParams().username ?? '';
  const user = useUser(username);
  return (
    <Stack maw={1000}>
      <Anchor component={Link} to="/users" size="sm">
        ← Users
      </Anchor>
      <Loaded query={user}>{(loaded) => <UserDetails user={loaded} />}</Loaded>
    </Stack>
  );
}

function UserDetails({ user }: { user: UserView }) {
  const me = useMe();
  const grants = useGrants({ username: user.username });
  const [grantPage, setGrantPage] = useState(1);
  return (
    <>
      <Group>
        <Title order={1} size="h2">
          User {user.username}
        </Title>
        <UserStatus user={user} />
      </Group>
      <Text size="sm" c="dimmed">
        Created {formatTime(user.createdAt, me.user.timeZone)} by {user.createdBy}; last changed {formatTime(user.updatedAt, me.user.timeZone)} by {user.updatedBy}.
        {user.lockedUntil && Date.parse(user.lockedUntil) > Date.now() && ` Sign-in locked until ${formatTime(user.lockedUntil, me.user.timeZone)}; a new password lifts the lock.`}
      </Text>
      <Section title="Profile">
        <ProfileForm user={user} />
      </Section>
      <Section title="Sign-in">
        <Stack>
          <PasswordReset user={user} />
          <AccountSwitches user={user} />
        </Stack>
      </Section>
      <Section title="SSH keys">
        <SshKeys user={user} />
      </Section>
      <Section title="Grants">
        <Stack>
          <Loaded query={grants}>{(rows) => <GrantsTable rows={rows} page={grantPage} onPage={setGrantPage} showUser={false} />}</Loaded>
          <Title order={3} size="h5">
            Grant {user.username} a privilege
          </Title>
          <GrantForm username={user.username} />
        </Stack>
      </Section>
    </>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Paper withBorder p="md" component="section" aria-label={title}>
      <Title order={2} size="h4" mb="sm">
        {title}
      </Title>
      {children}
    </Paper>
  );
}

function ProfileForm({ user }: { user: UserView }) {
  const queryClient = useQueryClient();
  const [displayName, setDisplayName] = useState(user.displayName);
  const [email, setEmail] = useState(user.email ?? '');
  const [timeZone, setTimeZone] = useState(user.timeZone);
  useEffect(() => {
    setDisplayName(user.displayName);
    setEmail(user.email ?? '');
    setTimeZone(user.timeZone);
  }, [user]);
  const zones = Intl.supportedValuesOf('timeZone');
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PATCH('/api/v1/users/{username}', { params: { path: { username: user.username } }, body: { displayName, email: email.trim() || null, timeZone } })),
    onSuccess: (saved) => {
      queryClient.setQueryData(['users', saved.username], saved);
      void queryClient.invalidateQueries({ queryKey: ['users'], exact: true });
      notifyDone(`Saved the profile of ${saved.username}.`);
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
      noValidate
    >
      <Stack maw={520}>
        <ServerRefusal error={save.error} title="Not saved" fields={['displayName', 'email', 'timeZone']} />
        <TextInput label="Display name" value={displayName} onChange={(event) => setDisplayName(event.currentTarget.value)} error={fieldMessageOf(save.error, 'displayName')} />
        <TextInput label="E-mail" type="email" value={email} onChange={(event) => setEmail(event.currentTarget.value)} error={fieldMessageOf(save.error, 'email')} />
        <Select label="Time zone" searchable data={zones.includes(timeZone) ? zones : [timeZone, ...zones]} value={timeZone} onChange={(zone) => zone && setTimeZone(zone)} error={fieldMessageOf(save.error, 'timeZone')} />
        <Group>
          <Button type="submit" loading={save.isPending}>
            Save profile
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** An administrator sets a new password; the server refuses when the user holds powers the administrator does not. */
function PasswordReset({ user }: { user: UserView }) {
  const queryClient = useQueryClient();
  const { act, error, busy, dialog } = useAccountAction();
  const [password, setPassword] = useState('');
  const reset = () =>
    act(async () => {
      unwrap(await api.POST('/api/v1/users/{username}/password', { params: { path: { username: user.username } }, body: { password } }));
      setPassword('');
      void queryClient.invalidateQueries({ queryKey: ['users'] });
      notifyDone(`Reset the password of ${user.username}: their sessions and API tokens ended.`);
    });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        void reset();
      }}
      noValidate
    >
      {dialog}
      <Stack maw={520}>
        <ServerRefusal error={error} title="Password not reset" fields={['password']} />
        <Group align="end" wrap="nowrap">
          <PasswordInput
            label="New password"
            description={`${user.username}'s web sessions, API tokens and live sessions end; a sign-in lock is lifted`}
            autoComplete="new-password"
            value={password}
            onChange={(event) => setPassword(event.currentTarget.value)}
            error={fieldMessageOf(error, 'password')}
            style={{ flex: 1 }}
          />
          <Button variant="default" onClick={() => setPassword(generatePassword())}>
            Generate
          </Button>
        </Group>
        <Group>
          <Button type="submit" loading={busy} disabled={!password}>
            Reset password
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

type Switch = 'disable' | 'enable' | 'totp';

/** Disable or enable the account, remove its two-factor enrolment: each asked for first. */
function AccountSwitches({ user }: { user: UserView }) {
  const queryClient = useQueryClient();
  const { act, error, busy, dialog, clear } = useAccountAction();
  const [asking, setAsking] = useState<Switch>();
  const ask = (which: Switch) => {
    clear();
    setAsking(which);
  };
  const run = (which: Switch) =>
    act(async () => {
      const path = { params: { path: { username: user.username } } };
      if (which === 'disable') unwrap(await api.POST('/api/v1/users/{username}/disable', path));
      if (which === 'enable') unwrap(await api.POST('/api/v1/users/{username}/enable', path));
      if (which === 'totp') unwrap(await api.DELETE('/api/v1/users/{username}/totp', path));
      setAsking(undefined);
      await queryClient.invalidateQueries({ queryKey: ['users'] });
      notifyDone(which === 'disable' ? `Disabled ${user.username}.` : which === 'enable' ? `Enabled ${user.username}.` : `Removed the two-factor sign-in of ${user.username}.`);
    });
  const questions: Record<Switch, { title: string; text: string; confirm: string; danger: boolean }> = {
    disable: {
      title: `Disable ${user.username}`,
      text: `${user.username} can no longer sign in, with a password, an API token or an SSH key; their web sessions, API tokens and live sessions end now. Enabling them again restores no token.`,
      confirm: 'Disable',
      danger: true,
    },
    enable: { title: `Enable ${user.username}`, text: `${user.username} may sign in again with their password or SSH keys. Their old API tokens stay revoked.`, confirm: 'Enable', danger: false },
    totp: {
      title: `Remove the two-factor sign-in of ${user.username}`,
      text: `${user.username} signs in with the password alone until they set up two-factor sign-in again; their sessions and API tokens end now.`,
      confirm: 'Remove two-factor sign-in',
      danger: true,
    },
  };
  const question = asking && questions[asking];
  return (
    <>
      {dialog}
      <Group>
        {user.disabled ? (
          <Button variant="outline" onClick={() => ask('enable')}>
            Enable
          </Button>
        ) : (
          <Button variant="outline" color="red.9" onClick={() => ask('disable')}>
            Disable
          </Button>
        )}
        {user.totpEnabled ? (
          <Button variant="outline" color="red.9" onClick={() => ask('totp')}>
            Reset two-factor sign-in
          </Button>
        ) : (
          <Text size="sm" c="dimmed">
            Two-factor sign-in: off
          </Text>
        )}
      </Group>
      <ConfirmDialog
        opened={question !== undefined}
        title={question?.title ?? ''}
        confirmLabel={question?.confirm ?? ''}
        danger={question?.danger}
        busy={busy}
        error={error}
        onConfirm={() => asking && void run(asking)}
        onClose={() => setAsking(undefined)}
      >
        {question?.text}
      </ConfirmDialog>
    </>
  );
}

function SshKeys({ user }: { user: UserView }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: ['users', user.username, 'ssh-keys'], queryFn: async () => unwrap(await api.GET('/api/v1/users/{username}/ssh-keys', { params: { path: { username: user.username } } })) });
  const adding = useAccountAction();
  const removing = useAccountAction();
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const [removal, setRemoval] = useState<{ id: string; name: string }>();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['users', user.username, 'ssh-keys'] });
  const add = () =>
    adding.act(async () => {
      const key = unwrap(await api.POST('/api/v1/users/{username}/ssh-keys', { params: { path: { username: user.username } }, body: { name: name.trim(), publicKey: publicKey.trim() } }));
      setName('');
      setPublicKey('');
      await refresh();
      notifyDone(`Added the key ${key.name} (${key.fingerprint}) for ${user.username}.`);
    });
  const remove = (key: { id: string; name: string }) =>
    removing.act(async () => {
      unwrap(await api.DELETE('/api/v1/users/{username}/ssh-keys/{id}', { params: { path: { username: user.username, id: key.id } } }));
      setRemoval(undefined);
      await refresh();
      notifyDone(`Removed the key ${key.name} of ${user.username}: their sessions ended.`);
    });
  return (
    <Stack>
      {adding.dialog}
      {removing.dialog}
      <Loaded query={keys}>
        {(rows) => (
          <SshKeyTable
            keys={rows}
            timeZone={me.user.timeZone}
            onRemove={(key) => {
              removing.clear();
              setRemoval(key);
            }}
          />
        )}
      </Loaded>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void add();
        }}
        noValidate
      >
        <Stack maw={620}>
          <ServerRefusal error={adding.error} title="Key not added" fields={['publicKey', 'name']} />
          <TextInput label="Key name" value={name} onChange={(event) => setName(event.currentTarget.value)} error={fieldMessageOf(adding.error, 'name')} />
          <Textarea
            label="Public key"
            description="One line, as in ~/.ssh/id_ed25519.pub"
            autosize
            minRows={2}
            value={publicKey}
            onChange={(event) => setPublicKey(event.currentTarget.value)}
            error={fieldMessageOf(adding.error, 'publicKey')}
          />
          <Group>
            <Button type="submit" loading={adding.busy} disabled={!publicKey.trim()}>
              Add the key
            </Button>
          </Group>
        </Stack>
      </form>
      <ConfirmDialog
        opened={removal !== undefined}
        title={`Remove the key ${removal?.name ?? ''}`}
        confirmLabel="Remove"
        danger
        busy={removing.busy}
        error={removing.error}
        onConfirm={() => removal && void remove(removal)}
        onClose={() => setRemoval(undefined)}
      >
        {user.username} can no longer reach the gateway with it; their web sessions, API tokens and live sessions end.
      </ConfirmDialog>
    </Stack>
  );
}
