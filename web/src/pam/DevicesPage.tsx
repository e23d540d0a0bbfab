import { Button, Code, Group, Table, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { useState } from 'react';
import { holdsIn } from '../admin/held-privileges.ts';
import { useMe } from '../session.tsx';
import { Loaded, PagedTable, useUrlFilters } from '../ui.tsx';
import { DeviceCredentialsDialog } from './DeviceCredentialsDialog.tsx';
import { DeviceTagsDialog } from './DeviceTagsDialog.tsx';
import { useDevices, type Device } from './devices.queries.ts';
import { HostKeyDialog } from './HostKeyDialog.tsx';

type Opened = { readonly dialog: 'tags' | 'host-key' | 'credentials'; readonly device: Device };

/** PAM Core ➔ Devices: the devices the user may view, with their pinned host keys; their tags, host keys and credentials. */
export default function DevicesPage() {
  const me = useMe();
  const { values, set, page } = useUrlFilters(['search', 'tag', 'partition'] as const);
  const [opened, setOpened] = useState<Opened>();
  const devices = useDevices(values);
  const close = () => setOpened(undefined);
  // The device as last read: a pin or a tag saved in a dialog shows in it at once.
  const current = opened && (devices.data?.find((device) => device.id === opened.device.id) ?? opened.device);
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
            headers={['Name', 'Host', 'Partition', 'Tags', 'Host key', <VisuallyHidden key="actions">Actions</VisuallyHidden>]}
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
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {holdsIn(me, 'Device.Edit', device.partition) && (
                      <>
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
                  </Group>
                </Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
      {current && opened?.dialog === 'tags' && <DeviceTagsDialog device={current} onClose={close} />}
      {current && opened?.dialog === 'host-key' && <HostKeyDialog device={current} onClose={close} />}
      {current && opened?.dialog === 'credentials' && <DeviceCredentialsDialog device={current} onClose={close} />}
    </>
  );
}
