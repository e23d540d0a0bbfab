import { Badge, Button, Code, Group, Modal, PasswordInput, Radio, Stack, Table, Text, Textarea, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { ConfirmDialog } from '../admin/ConfirmDialog.tsx';
import { holdsIn } from '../admin/held-privileges.ts';
import { ServerRefusal } from '../admin/ServerRefusal.tsx';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, notifyDone } from '../ui.tsx';
import { deviceRef, useDeviceCredentials, type Credential, type Device } from './devices.queries.ts';

type SecretKind = 'password' | 'private_key';

const KIND_WORDS: Record<SecretKind, string> = { password: 'Password', private_key: 'Private key' };

/** The secret fields of a credential: write-only, never shown and never filled from the server. */
interface SecretDraft {
  kind: SecretKind;
  password: string;
  privateKey: string;
  passphrase: string;
}

const NO_SECRET: SecretDraft = { kind: 'password', password: '', privateKey: '', passphrase: '' };

function secretOf(draft: SecretDraft) {
  return draft.kind === 'password' ? { password: draft.password } : { privateKey: draft.privateKey, ...(draft.passphrase && { passphrase: draft.passphrase }) };
}

/** The secret's fields: the problems the server names sit under `/secret/…`. */
function SecretFields({ draft, onChange, error }: { draft: SecretDraft; onChange: (draft: SecretDraft) => void; error: unknown }) {
  const problem = fieldMessageOf(error, 'secret');
  return (
    <>
      <Radio.Group label="The account signs in with" value={draft.kind} onChange={(kind) => onChange({ ...NO_SECRET, kind: kind as SecretKind })}>
        <Group mt={4}>
          <Radio value="password" label="a password" />
          <Radio value="private_key" label="a private key" />
        </Group>
      </Radio.Group>
      {draft.kind === 'password' ? (
        <PasswordInput label="Password" description="Stored sealed in the vault; never shown again" required autoComplete="new-password" value={draft.password} onChange={(event) => onChange({ ...draft, password: event.currentTarget.value })} error={problem} />
      ) : (
        <>
          <Textarea
            label="Private key"
            description="OpenSSH or PEM, as in ~/.ssh/id_ed25519; stored sealed in the vault and never shown again"
            required
            autosize
            minRows={4}
            spellCheck={false}
            autoComplete="off"
            value={draft.privateKey}
            onChange={(event) => onChange({ ...draft, privateKey: event.currentTarget.value })}
            error={problem}
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
          />
          <PasswordInput label="Passphrase" description="Only when the key has one" autoComplete="off" value={draft.passphrase} onChange={(event) => onChange({ ...draft, passphrase: event.currentTarget.value })} />
        </>
      )}
    </>
  );
}

/** The credentials vaulted for one device: who Changegate connects as, with what kind of secret, and whether it is confirmed for the pinned host key. */
export function DeviceCredentialsDialog({ device, onClose }: { device: Device; onClose: () => void }) {
  const me = useMe();
  const credentials = useDeviceCredentials(device);
  const [replacing, setReplacing] = useState<Credential>();
  const mayCreate = holdsIn(me, 'Credential.Create', device.partition);
  return (
    <Modal opened onClose={onClose} title={`Credentials of ${device.name}`} size="xl" closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        <Text size="sm">
          Executors never see these secrets: the gateway connects with them. Pinned host key: {device.hostKeyFingerprint ? <Code>{device.hostKeyFingerprint}</Code> : 'none'}.
        </Text>
        <Loaded query={credentials}>{(rows) => <CredentialTable device={device} rows={rows} onReplace={setReplacing} />}</Loaded>
        {mayCreate && <NewCredentialForm device={device} />}
        {replacing && <ReplaceSecretDialog credential={replacing} onClose={() => setReplacing(undefined)} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function CredentialTable({ device, rows, onReplace }: { device: Device; rows: readonly Credential[]; onReplace: (credential: Credential) => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState<Credential>();
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['credentials'] });
  const confirm = useMutation({
    mutationFn: async (credential: Credential) =>
      unwrap(
        await api.POST('/api/v1/credentials/{id}/confirm-host-key', {
          params: { path: { id: credential.id } },
          body: { fingerprint: device.hostKeyFingerprint ?? '', expectedVersion: credential.version },
        }),
      ),
    onSuccess: (credential) => {
      void refresh();
      notifyDone(`${credential.name} is confirmed for ${credential.hostKeyFingerprint}.`);
    },
  });
  const remove = useMutation({
    mutationFn: async (credential: Credential) => unwrap(await api.DELETE('/api/v1/credentials/{id}', { params: { path: { id: credential.id }, query: { expectedVersion: credential.version } } })),
    onSuccess: (_, credential) => {
      setDeleting(undefined);
      void refresh();
      notifyDone(`Deleted the credential ${credential.name}.`);
    },
  });
  const mayEdit = holdsIn(me, 'Credential.Edit', device.partition);
  const mayDelete = holdsIn(me, 'Credential.Delete', device.partition);
  return (
    <>
      <ServerRefusal error={confirm.error} title="Not confirmed" />
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Account</Table.Th>
            <Table.Th>Secret</Table.Th>
            <Table.Th>Host key</Table.Th>
            <Table.Th>Changed</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={5}>No credential yet.</Table.Td>
            </Table.Tr>
          )}
          {rows.map((credential) => (
            <Table.Tr key={credential.id}>
              <Table.Td fw={500}>
                {credential.account}
                {credential.description && (
                  <Text size="xs" c="dimmed">
                    {credential.description}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                {KIND_WORDS[credential.kind]}
                {credential.hasPassphrase && ', with passphrase'}
              </Table.Td>
              <Table.Td>
                {credential.hostKeyConfirmed ? (
                  <Badge color="teal.9" variant="filled">
                    confirmed
                  </Badge>
                ) : (
                  <Group gap="xs">
                    <Badge color="yellow.4" variant="filled" autoContrast>
                      not confirmed
                    </Badge>
                    {mayEdit && device.hostKeyFingerprint && (
                      <Button size="compact-xs" variant="outline" loading={confirm.isPending} aria-label={`Confirm ${credential.account} for the pinned key ${device.hostKeyFingerprint}`} onClick={() => confirm.mutate(credential)}>
                        Confirm for the pinned key
                      </Button>
                    )}
                  </Group>
                )}
              </Table.Td>
              <Table.Td>
                {formatTime(credential.updatedAt, me.user.timeZone)}
                <Text size="xs" c="dimmed">
                  by {credential.updatedBy}
                </Text>
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                  {mayEdit && (
                    <Button size="compact-sm" variant="default" aria-label={`Replace the secret of ${credential.account}`} onClick={() => onReplace(credential)}>
                      Replace secret
                    </Button>
                  )}
                  {mayDelete && (
                    <Button
                      size="compact-sm"
                      variant="outline"
                      color="red.9"
                      aria-label={`Delete the credential ${credential.account}`}
                      onClick={() => {
                        remove.reset();
                        setDeleting(credential);
                      }}
                    >
                      Delete
                    </Button>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <ConfirmDialog
        opened={deleting !== undefined}
        title={`Delete the credential ${deleting?.name ?? ''}`}
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        error={remove.error}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => setDeleting(undefined)}
      >
        Sessions can no longer connect to {device.name} as {deleting?.account}.
      </ConfirmDialog>
    </>
  );
}

function NewCredentialForm({ device }: { device: Device }) {
  const queryClient = useQueryClient();
  const [account, setAccount] = useState('');
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState<SecretDraft>(NO_SECRET);
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST('/api/v1/credentials', { body: { device: deviceRef(device), account: account.trim(), description, secret: secretOf(secret) } })),
    onSuccess: (credential) => {
      setAccount('');
      setDescription('');
      setSecret(NO_SECRET);
      void queryClient.invalidateQueries({ queryKey: ['credentials'] });
      notifyDone(`Vaulted the credential ${credential.name}.`);
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate();
      }}
      noValidate
    >
      <Stack maw={560}>
        <Title order={3} size="h5">
          New credential
        </Title>
        <ServerRefusal error={create.error} title="Not vaulted" fields={['account', 'secret', 'description']} />
        <TextInput label="Account" description="The user on the device, such as root" required value={account} onChange={(event) => setAccount(event.currentTarget.value)} error={fieldMessageOf(create.error, 'account')} />
        <TextInput label="Description" value={description} onChange={(event) => setDescription(event.currentTarget.value)} />
        <SecretFields draft={secret} onChange={setSecret} error={create.error} />
        <Group>
          <Button type="submit" loading={create.isPending}>
            Vault the credential
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** A new secret for a credential: typed afresh, the old one never shown. */
function ReplaceSecretDialog({ credential, onClose }: { credential: Credential; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [secret, setSecret] = useState<SecretDraft>({ ...NO_SECRET, kind: credential.kind });
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PATCH('/api/v1/credentials/{id}', { params: { path: { id: credential.id } }, body: { secret: secretOf(secret), expectedVersion: credential.version } })),
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ['credentials'] });
      notifyDone(`Replaced the secret of ${saved.name}.`);
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={`Replace the secret of ${credential.name}`} closeButtonProps={{ 'aria-label': 'Close' }}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Stack>
          <Text size="sm">Now: {KIND_WORDS[credential.kind]}{credential.hasPassphrase && ', with passphrase'}. The old secret is not shown; the new one replaces it.</Text>
          <ServerRefusal error={save.error} title="Not saved" fields={['secret']} />
          <SecretFields draft={secret} onChange={setSecret} error={save.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Replace the secret
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
