import { Alert, Button, Checkbox, Code, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, fieldMessageOf, unwrap } from '../api/client.ts';
import { holdsIn } from '../admin/held-privileges.ts';
import { ServerRefusal } from '../admin/ServerRefusal.tsx';
import { useMe } from '../session.tsx';
import { notifyDone } from '../ui.tsx';
import { deviceRef, useDeviceCredentials, type Device } from './devices.queries.ts';

/** The fingerprint a device presented when the server would not pin it without a check: a key not yet trusted, or another than the pinned one. */
function presented(error: unknown): { offered: string; pinned: string | null; code: string } | undefined {
  if (!(error instanceof ApiError) || (error.code !== 'host_key_unverified' && error.code !== 'host_key_mismatch')) return undefined;
  const offered = error.details?.offered;
  const pinned = error.details?.pinned;
  return typeof offered === 'string' ? { offered, pinned: typeof pinned === 'string' ? pinned : null, code: error.code } : undefined;
}

/**
 * Reads the host key a device presents and pins it once the user confirms its fingerprint matches
 * the one they read on the server itself. The server pins nothing unconfirmed on a device that holds
 * credentials or has another key pinned; it answers the fingerprint presented, shown here to compare.
 */
export function HostKeyDialog({ device, onClose }: { device: Device; onClose: () => void }) {
  const me = useMe();
  const queryClient = useQueryClient();
  const mayPin = holdsIn(me, 'Device.Pin', device.partition);
  const credentials = useDeviceCredentials(device);
  const [checked, setChecked] = useState(false);
  const [typed, setTyped] = useState('');
  const test = useMutation({
    mutationFn: async (expectedFingerprint?: string) =>
      unwrap(await api.POST('/api/v1/devices/{device}/test-connection', { params: { path: { device: deviceRef(device) } }, body: expectedFingerprint ? { expectedFingerprint } : {} })),
    onSuccess: (answer) => {
      setChecked(false);
      void queryClient.invalidateQueries({ queryKey: ['devices'] });
      void queryClient.invalidateQueries({ queryKey: ['credentials'] });
      if (answer.hostKeyStatus === 'pinned') notifyDone(`Pinned the host key ${answer.hostKeyFingerprint} of ${device.name}.`);
    },
  });
  const pinned = test.data?.device.hostKeyFingerprint ?? device.hostKeyFingerprint;
  const offer = presented(test.error);
  const waiting = (credentials.data ?? []).filter((credential) => !credential.hostKeyConfirmed);
  const firstUse = device.hostKeyFingerprint === null && credentials.data?.length === 0;
  return (
    <Modal opened onClose={onClose} title={`Host key of ${device.name}`} size="lg" closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        <Text size="sm">
          Changegate sends a credential only to the server whose host key is pinned: {device.hostname}:{device.port}.
        </Text>
        <Text size="sm">
          Pinned now: {pinned ? <Code>{pinned}</Code> : <strong>no key</strong>}
        </Text>
        {test.data?.hostKeyStatus === 'matched' && (
          <Alert color="teal" variant="light" role="status" title="The device presented the pinned key">
            <Code>{test.data.hostKeyFingerprint}</Code>
          </Alert>
        )}
        {test.data?.hostKeyStatus === 'pinned' && (
          <Alert color="teal" variant="light" role="status" title="Pinned">
            <Code>{test.data.hostKeyFingerprint}</Code> is now the pinned key of {device.name}.
          </Alert>
        )}
        {offer ? (
          <Stack gap="xs" p="sm" style={{ border: '1px solid var(--mantine-color-gray-4)', borderRadius: 4 }}>
            <Text fw={600}>The device presented this host key:</Text>
            <Code block fz="md">
              {offer.offered}
            </Code>
            {offer.code === 'host_key_mismatch' && (
              <Text size="sm" c="red.9">
                It is not the pinned <Code>{offer.pinned}</Code>. Pin it only if the server was really reinstalled: otherwise someone may be in the middle.
              </Text>
            )}
            <Text size="sm">
              On the server itself (its console, not through this network), run <Code>ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub</Code> and compare the fingerprint, character by
              character.
            </Text>
            {mayPin ? (
              <>
                <Checkbox label="I checked it on the server: the fingerprints match" checked={checked} onChange={(event) => setChecked(event.currentTarget.checked)} />
                <Group>
                  <Button disabled={!checked} loading={test.isPending} onClick={() => test.mutate(offer.offered)}>
                    Pin this key
                  </Button>
                </Group>
              </>
            ) : (
              <Text size="sm">Pinning it needs Device.Pin in partition {device.partition}.</Text>
            )}
          </Stack>
        ) : (
          <ServerRefusal error={test.error} title="Not pinned" fields={['expectedFingerprint']} />
        )}
        <Group>
          <Button variant={offer ? 'default' : 'filled'} loading={test.isPending && test.variables === undefined} onClick={() => test.mutate(undefined)}>
            Read the host key
          </Button>
        </Group>
        {firstUse && mayPin && (
          <Text size="sm" c="dimmed">
            This device has no key pinned and no credential yet: reading its key pins it at once (trust on first use). To pin only a key you checked, type its fingerprint below instead.
          </Text>
        )}
        {mayPin && (
          <form
            onSubmit={(event) => {
              event.preventDefault();
              test.mutate(typed.trim());
            }}
            noValidate
          >
            <Group align="end">
              <TextInput
                label="Fingerprint checked on the server"
                description="As ssh-keygen -l prints it: SHA256:…"
                value={typed}
                onChange={(event) => setTyped(event.currentTarget.value)}
                error={fieldMessageOf(test.error, 'expectedFingerprint')}
                style={{ flex: 1 }}
                spellCheck={false}
              />
              <Button type="submit" variant="default" disabled={!typed.trim()}>
                Pin if it matches
              </Button>
            </Group>
          </form>
        )}
        {waiting.length > 0 && pinned && (
          <Alert color="yellow" variant="light" title="Credentials to confirm">
            {waiting.map((credential) => credential.account).join(', ')} {waiting.length === 1 ? 'is' : 'are'} not yet confirmed for the pinned key: the gateway sends them to nobody until then. Confirm
            them under Credentials.
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Close
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
