import { Alert, Button, Code, CopyButton, Group, Image, Select, Stack, Table, Tabs, Text, Textarea, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import QRCode from 'qrcode';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, notifyDone } from '../ui.tsx';
import { useRecentSignIn } from './reauthenticate.tsx';
import { SshKeyTable } from './SshKeyTable.tsx';

const TABS = ['profile', 'two-factor', 'ssh-keys', 'tokens'] as const;

/** The user menu's page: profile and time zone, two-factor sign-in, own SSH keys, API tokens. */
export default function AccountPage() {
  const [search, setSearch] = useSearchParams();
  const tab = (TABS as readonly string[]).includes(search.get('tab') ?? '') ? (search.get('tab') as string) : 'profile';
  return (
    <Stack maw={820}>
      <Title order={1} size="h2">
        Your account
      </Title>
      <Tabs value={tab} onChange={(value) => setSearch(value && value !== 'profile' ? { tab: value } : {}, { replace: true })}>
        <Tabs.List>
          <Tabs.Tab value="profile">Profile</Tabs.Tab>
          <Tabs.Tab value="two-factor">Two-factor sign-in</Tabs.Tab>
          <Tabs.Tab value="ssh-keys">SSH keys</Tabs.Tab>
          <Tabs.Tab value="tokens">API tokens</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="profile" pt="md">
          <Profile />
        </Tabs.Panel>
        <Tabs.Panel value="two-factor" pt="md">
          <TwoFactor />
        </Tabs.Panel>
        <Tabs.Panel value="ssh-keys" pt="md">
          <SshKeys />
        </Tabs.Panel>
        <Tabs.Panel value="tokens" pt="md">
          <Tokens />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function errorOf(error: unknown): ApiError | undefined {
  return error instanceof ApiError ? error : undefined;
}

/**
 * Runs an account change: asks for the password again when the API wants a recent sign-in, and
 * keeps the API's refusal to show beside the form.
 */
function useAccountAction() {
  const { guard, dialog } = useRecentSignIn();
  const [error, setError] = useState<ApiError>();
  const act = (work: () => Promise<void>) => {
    setError(undefined);
    return guard(work).catch((caught: unknown) => {
      if (!errorOf(caught)) throw caught;
      setError(errorOf(caught));
    });
  };
  return { act, error, dialog };
}

function Profile() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [displayName, setDisplayName] = useState(me.user.displayName);
  const [email, setEmail] = useState(me.user.email ?? '');
  const [timeZone, setTimeZone] = useState(me.user.timeZone);
  const [error, setError] = useState<ApiError>();
  const zones = Intl.supportedValuesOf('timeZone');
  const save = async () => {
    setError(undefined);
    try {
      unwrap(await api.PATCH('/api/v1/me', { body: { displayName, email: email.trim() || null, timeZone } }));
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      notifyDone('Saved your profile.');
    } catch (caught) {
      if (!errorOf(caught)) throw caught;
      setError(errorOf(caught));
    }
  };
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        void save();
      }}
    >
      <Stack maw={480}>
        {error && !error.details?.problems && (
          <Alert color="red" role="alert">
            {error.message}
          </Alert>
        )}
        <TextInput label="Display name" value={displayName} onChange={(event) => setDisplayName(event.currentTarget.value)} error={error?.fieldMessage('displayName')} />
        <TextInput label="E-mail" description="Where notifications are sent" type="email" value={email} onChange={(event) => setEmail(event.currentTarget.value)} error={error?.fieldMessage('email')} />
        <Select
          label="Time zone"
          description="Every time in the console is shown in it, and the times you enter are read in it"
          searchable
          data={zones.includes(timeZone) ? zones : [timeZone, ...zones]}
          value={timeZone}
          onChange={(value) => value && setTimeZone(value)}
          error={error?.fieldMessage('timeZone')}
        />
        <Group>
          <Button type="submit">Save</Button>
        </Group>
      </Stack>
    </form>
  );
}

function TwoFactor() {
  const me = useMe();
  const queryClient = useQueryClient();
  const { act, error, dialog } = useAccountAction();
  const [enrolment, setEnrolment] = useState<{ secret: string; qr: string }>();
  const [code, setCode] = useState('');
  const begin = () =>
    act(async () => {
      const started = unwrap(await api.POST('/api/v1/me/totp'));
      setEnrolment({ secret: started.secret, qr: await QRCode.toDataURL(started.uri, { margin: 1, width: 200 }) });
    });
  const finish = () =>
    act(async () => {
      unwrap(await api.POST('/api/v1/me/totp/confirm', { body: { code: code.trim() } }));
      setEnrolment(undefined);
      setCode('');
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      notifyDone('Two-factor sign-in is on.');
    });
  const turnOff = () =>
    act(async () => {
      unwrap(await api.DELETE('/api/v1/me/totp', { body: { code: code.trim() } }));
      setCode('');
      await queryClient.invalidateQueries({ queryKey: ['me'] });
      notifyDone('Two-factor sign-in is off.');
    });
  return (
    <Stack maw={520}>
      {dialog}
      {error && (
        <Alert color="red" role="alert">
          {error.message}
        </Alert>
      )}
      {me.user.totpEnabled ? (
        <>
          <Text>Two-factor sign-in is on: signing in asks for a code from your authenticator app.</Text>
          <TextInput label="Current code" description="To turn it off, prove you still hold the app" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(event) => setCode(event.currentTarget.value)} maw={220} />
          <Group>
            <Button color="red.9" variant="outline" disabled={!code.trim()} onClick={() => void turnOff()}>
              Turn two-factor sign-in off
            </Button>
          </Group>
        </>
      ) : enrolment ? (
        <>
          <Text>Scan the code with your authenticator app, or enter the key by hand; then enter the 6-digit code it shows.</Text>
          <Image src={enrolment.qr} alt="QR code of the two-factor sign-in key" w={200} h={200} />
          <Text size="sm">
            Key: <Code>{enrolment.secret}</Code>
          </Text>
          <TextInput label="Code from the app" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(event) => setCode(event.currentTarget.value)} maw={220} />
          <Group>
            <Button disabled={!code.trim()} onClick={() => void finish()}>
              Turn it on
            </Button>
          </Group>
        </>
      ) : (
        <>
          <Text>Two-factor sign-in is off. With it on, a stolen password is not enough to sign in as you.</Text>
          <Group>
            <Button onClick={() => void begin()}>Set up two-factor sign-in</Button>
          </Group>
        </>
      )}
    </Stack>
  );
}

function SshKeys() {
  const me = useMe();
  const queryClient = useQueryClient();
  const { act, error, dialog } = useAccountAction();
  const keys = useQuery({ queryKey: ['ssh-keys'], queryFn: async () => unwrap(await api.GET('/api/v1/me/ssh-keys')) });
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const add = () =>
    act(async () => {
      unwrap(await api.POST('/api/v1/me/ssh-keys', { body: { name: name.trim(), publicKey: publicKey.trim() } }));
      setName('');
      setPublicKey('');
      await queryClient.invalidateQueries({ queryKey: ['ssh-keys'] });
    });
  const remove = (id: string) =>
    act(async () => {
      unwrap(await api.DELETE('/api/v1/me/ssh-keys/{id}', { params: { path: { id } } }));
      await queryClient.invalidateQueries({ queryKey: ['ssh-keys'] });
    });
  return (
    <Stack>
      {dialog}
      <Text size="sm">The gateway lets you in with these keys: `ssh -p PORT you@device@changegate`.</Text>
      <Loaded query={keys}>
        {(rows) => (
          <SshKeyTable keys={rows} timeZone={me.user.timeZone} onRemove={(key) => void remove(key.id)} />
        )}
      </Loaded>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void add();
        }}
      >
        <Stack maw={620}>
          {error && !error.details?.problems && (
            <Alert color="red" role="alert">
              {error.message}
            </Alert>
          )}
          <TextInput label="Key name" placeholder="laptop" value={name} onChange={(event) => setName(event.currentTarget.value)} error={error?.fieldMessage('name')} />
          <Textarea label="Public key" placeholder="ssh-ed25519 AAAA… you@laptop" value={publicKey} onChange={(event) => setPublicKey(event.currentTarget.value)} error={error?.fieldMessage('publicKey')} autosize minRows={2} styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }} />
          <Group>
            <Button type="submit" disabled={!publicKey.trim()}>
              Add the key
            </Button>
          </Group>
        </Stack>
      </form>
    </Stack>
  );
}

function Tokens() {
  const me = useMe();
  const queryClient = useQueryClient();
  const { act, error, dialog } = useAccountAction();
  const tokens = useQuery({ queryKey: ['tokens'], queryFn: async () => unwrap(await api.GET('/api/v1/tokens')) });
  const [name, setName] = useState('');
  const [days, setDays] = useState<string | null>('90');
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const create = () =>
    act(async () => {
      const answer = unwrap(await api.POST('/api/v1/tokens', { body: { name: name.trim(), ...(days && { expiresInDays: Number(days) }) } }));
      setCreated({ name: answer.name, token: answer.token });
      setName('');
      await queryClient.invalidateQueries({ queryKey: ['tokens'] });
    });
  const revoke = (id: string) =>
    act(async () => {
      unwrap(await api.DELETE('/api/v1/tokens/{id}', { params: { path: { id } } }));
      await queryClient.invalidateQueries({ queryKey: ['tokens'] });
    });
  return (
    <Stack>
      {dialog}
      {created && (
        <Alert color="blue" title={`Token ${created.name}`} withCloseButton onClose={() => setCreated(undefined)} closeButtonLabel="Hide the token">
          <Stack gap="xs">
            <Text size="sm">Copy it now: it is shown only this once. Scripts send it as `Authorization: Bearer …`.</Text>
            <Group>
              <Code>{created.token}</Code>
              <CopyButton value={created.token}>{({ copied, copy }) => <Button size="compact-sm" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton>
            </Group>
          </Stack>
        </Alert>
      )}
      <Loaded query={tokens}>
        {(rows) => (
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Starts with</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={6}>No token yet.</Table.Td>
                </Table.Tr>
              )}
              {rows.map((token) => (
                <Table.Tr key={token.id}>
                  <Table.Td>{token.name}</Table.Td>
                  <Table.Td>
                    <Code>{token.prefix}…</Code>
                  </Table.Td>
                  <Table.Td>{formatTime(token.createdAt, me.user.timeZone)}</Table.Td>
                  <Table.Td>{token.expiresAt ? formatTime(token.expiresAt, me.user.timeZone) : 'never'}</Table.Td>
                  <Table.Td>{formatTime(token.lastUsedAt, me.user.timeZone)}</Table.Td>
                  <Table.Td>
                    {token.revokedAt ? (
                      <Text size="sm">Revoked {formatTime(token.revokedAt, me.user.timeZone)}</Text>
                    ) : (
                      <Button variant="outline" color="red.9" size="compact-sm" aria-label={`Revoke the token ${token.name}`} onClick={() => void revoke(token.id)}>
                        Revoke
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Loaded>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
      >
        <Group align="end">
          <TextInput label="Token name" placeholder="deploy script" value={name} onChange={(event) => setName(event.currentTarget.value)} error={error?.fieldMessage('name')} />
          <Select
            label="Expires after"
            data={[
              { value: '30', label: '30 days' },
              { value: '90', label: '90 days' },
              { value: '365', label: 'a year' },
            ]}
            value={days}
            onChange={setDays}
            clearable
            placeholder="never"
            w={160}
          />
          <Button type="submit" disabled={!name.trim()}>
            Create a token
          </Button>
        </Group>
        {error && !error.details?.problems && (
          <Text c="red.9" size="sm" role="alert" mt="xs">
            {error.message}
          </Text>
        )}
      </form>
    </Stack>
  );
}
