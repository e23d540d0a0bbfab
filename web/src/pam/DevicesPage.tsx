import { Button, Code, Group, Table, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog } from '../admin/ConfirmDialog.tsx';
import { holdsIn } from '../admin/held-privileges.ts';
import { api, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { Loaded, notifyDone, PagedTable, useUrlFilters } from '../ui.tsx';
import { DeviceCredentialsDialog } from './DeviceCredentialsDialog.tsx';
import { DeviceDialog } from './DeviceDialog.tsx';
import { DeviceTagsDialog } from './DeviceTagsDialog.tsx';
import { deviceRef, useDevices, type Device } from './devices.queries.ts';
import { HostKeyDialog } from './HostKeyDialog.tsx';

type Opened = { readonly dialog: 'edit' | 'delete' | 'tags' | 'host-key' | 'credentials'; readonly device: Device } | { readonly dialog: 'new'; readonly device?: undefined };

/** PAM Core ➔ Devices: the devices the user may view, with their pinned host keys; their tags, host keys and credentials. */
export default function DevicesPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['search', 'tag', 'partition'] as const);
  const [opened, setOpened] = useState<Opened>();
  const devices = useDevices(values);
  const close = () => setOpened(undefined);
  // The device as last read: a pin or a tag saved in a dialog shows in it at once.
  const current = opened?.device && (devices.data?.find((device) => device.id === opened.device.id) ?? opened.device);
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={1} size="h2">
          Devices
        </Title>
        {holds(me, 'Device.Create') && <Button onClick={() => setOpened({ dialog: 'new' })}>New device</Button>}
      </Group>
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
            headers={['Name', 'Host', 'Partition', 'Application', 'Tags', 'Host key', <VisuallyHidden key="actions">Actions</VisuallyHidden>]}
            rowKey={(device) => device.id}
          >
            {(device) => (
              <>
                <Table.Td fw={500}>{device.name}</Table.Td>
                <Table.Td>
                  {device.hostname}:{device.port}
                </Table.Td>
                <Table.Td>{device.partition}</Table.Td>
                <Table.Td>{device.application ?? '—'}</Table.Td>
                <Table.Td>{device.tags.join(', ') || '—'}</Table.Td>
                <Table.Td>{device.hostKeyFingerprint ? <Code>{device.hostKeyFingerprint}</Code> : 'not pinned'}</Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {holdsIn(me, 'Device.Edit', device.partition) && (
                      <>
                        <Button size="compact-sm" variant="default" aria-label={`Edit ${device.name}`} onClick={() => setOpened({ dialog: 'edit', device })}>
                          Edit
                        </Button>
                        <Button size="compact-sm" variant="default" aria-label={`Edit the tags of ${device.name}`} onClick={() => setOpened({ dialog: 'tags', device })}>
                          Tags
                        </Button>
                        <Button size="compact-sm" variant="default" aria-label={`Host key of ${device.name}`} onClick={() => setOpened({ dialog: 'host-key', device })}>
                          Host key
                        </Button>
                      </>
                    )}
                    {holdsIn(me, 'Credential.View', device.partition) && (
                      <Button size="compact-sm" variant="default" aria-label={`Credentials of ${device.name}`} onClick={() => setOpened({ dialog: 'credentials', device })}>
                        Credentials
                      </Button>
                    )}
                    {holdsIn(me, 'Device.Delete', device.partition) && (
                      <Button size="compact-sm" variant="default" color="red.9" aria-label={`Delete ${device.name}`} onClick={() => setOpened({ dialog: 'delete', device })}>
                        Delete
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
      {opened?.dialog === 'new' && <DeviceDialog onClose={close} />}
      {current && opened?.dialog === 'edit' && <DeviceDialog device={current} onClose={close} />}
      {current && opened?.dialog === 'delete' && <DeleteDevice device={current} onClose={close} />}
      {current && opened?.dialog === 'tags' && <DeviceTagsDialog device={current} onClose={close} />}
      {current && opened?.dialog === 'host-key' && <HostKeyDialog device={current} onClose={close} />}
      {current && opened?.dialog === 'credentials' && <DeviceCredentialsDialog device={current} onClose={close} />}
    </>
  );
}

/** Deletes a device after asking; the server refuses one that still has credentials or changes, and says so here. */
function DeleteDevice({ device, onClose }: { device: Device; onClose: () => void }) {
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE('/api/v1/devices/{device}', { params: { path: { device: deviceRef(device) }, query: { expectedVersion: device.version } } })),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['devices'] });
      notifyDone(`Deleted device ${deviceRef(device)}.`);
      onClose();
    },
  });
  return (
    <ConfirmDialog opened title={`Delete device ${deviceRef(device)}?`} confirmLabel="Delete device" danger busy={remove.isPending} error={remove.error} onConfirm={() => remove.mutate()} onClose={onClose}>
      <Text size="sm">An audited device can be brought back from the Trash Can. A device with credentials or changes cannot be deleted.</Text>
    </ConfirmDialog>
  );
}
