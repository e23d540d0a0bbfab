import { Button, Group, Modal, NumberInput, Stack, TagsInput, Textarea, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { ServerRefusal } from '../admin/ServerRefusal.tsx';
import { notifyDone } from '../ui.tsx';
import { deviceRef, type Device } from './devices.queries.ts';

interface Draft {
  name: string;
  partition: string;
  application: string;
  hostname: string;
  port: number | string;
  description: string;
  tags: string[];
}

const FIELDS = ['name', 'partition', 'application', 'hostname', 'port', 'description', 'tags'];

const draftOf = (device: Device | undefined): Draft => ({
  name: device?.name ?? '',
  partition: device?.partition ?? '',
  application: device?.application ?? '',
  hostname: device?.hostname ?? '',
  port: device?.port ?? 22,
  description: device?.description ?? '',
  tags: device?.tags ?? [],
});

/**
 * A new device, or one edited. Its host key is pinned from the Host key dialog, its credentials
 * from Credentials. A new host or port needs Device.Pin as well and drops the pinned key: the
 * server says so at the field when the user lacks it.
 */
export function DeviceDialog({ device, onClose }: { device?: Device; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<Draft>(() => draftOf(device));
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }));
  const save = useMutation({
    mutationFn: async () => {
      const port = typeof draft.port === 'number' ? draft.port : undefined;
      const application = draft.application.trim() || null;
      if (!device) {
        return unwrap(
          await api.POST('/api/v1/devices', {
            body: {
              name: draft.name.trim(),
              hostname: draft.hostname.trim(),
              ...(port !== undefined && { port }),
              description: draft.description,
              ...(draft.partition.trim() && { partition: draft.partition.trim() }),
              application,
              tags: draft.tags,
            },
          }),
        );
      }
      // Only what changed: a host or port sent unchanged would still ask for Device.Pin.
      const changed = {
        ...(draft.hostname.trim() !== device.hostname && { hostname: draft.hostname.trim() }),
        ...(port !== undefined && port !== device.port && { port }),
        ...(draft.description !== device.description && { description: draft.description }),
        ...(application !== device.application && { application }),
        ...(draft.tags.join('\n') !== device.tags.join('\n') && { tags: draft.tags }),
      };
      return unwrap(await api.PATCH('/api/v1/devices/{device}', { params: { path: { device: deviceRef(device) } }, body: { ...changed, expectedVersion: device.version } }));
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ['devices'] });
      notifyDone(`${device ? 'Saved' : 'Registered'} device ${saved.partition}.${saved.name}.`);
      onClose();
    },
  });
  const at = (field: string) => fieldMessageOf(save.error, field);
  return (
    <Modal opened onClose={onClose} title={device ? `Device ${deviceRef(device)}` : 'New device'} size="lg">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Stack>
          <ServerRefusal error={save.error} title={device ? 'Not saved' : 'Not registered'} fields={FIELDS} />
          <Group grow align="start">
            <TextInput label="Name" required readOnly={device !== undefined} value={draft.name} onChange={(event) => set('name', event.currentTarget.value)} error={at('name')} data-autofocus />
            <TextInput label="Partition" placeholder="GLOBAL" readOnly={device !== undefined} value={draft.partition} onChange={(event) => set('partition', event.currentTarget.value)} error={at('partition')} />
          </Group>
          <TextInput
            label="Application"
            description="Its path in the partition, such as Finance or Finance/Reporting; empty for none"
            value={draft.application}
            onChange={(event) => set('application', event.currentTarget.value)}
            error={at('application')}
          />
          <Group grow align="start">
            <TextInput label="Host" required value={draft.hostname} onChange={(event) => set('hostname', event.currentTarget.value)} error={at('hostname')} />
            <NumberInput label="Port" min={1} max={65535} allowDecimal={false} value={draft.port} onChange={(value) => set('port', value)} error={at('port')} maw={140} />
          </Group>
          <Textarea label="Description" autosize minRows={2} value={draft.description} onChange={(event) => set('description', event.currentTarget.value)} error={at('description')} />
          <TagsInput label="Tags" description="Press Enter after each tag" value={draft.tags} onChange={(tags) => set('tags', tags)} error={at('tags')} clearable />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              {device ? 'Save' : 'Register'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
