import { Button, Group, Modal, Stack, TagsInput, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, fieldMessageOf, unwrap } from '../api/client.ts';
import { ServerRefusal } from '../admin/ServerRefusal.tsx';
import { notifyDone } from '../ui.tsx';
import { deviceRef, type Device } from './devices.queries.ts';

/** A device's tags, edited: typed, Enter after each, Backspace removes the last. */
export function DeviceTagsDialog({ device, onClose }: { device: Device; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [tags, setTags] = useState<string[]>(device.tags);
  const save = useMutation({
    mutationFn: async () => unwrap(await api.PATCH('/api/v1/devices/{device}', { params: { path: { device: deviceRef(device) } }, body: { tags, expectedVersion: device.version } })),
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ['devices'] });
      notifyDone(`Saved the tags of ${saved.name}: ${saved.tags.join(', ') || 'none'}.`);
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={`Tags of ${device.name}`} closeButtonProps={{ 'aria-label': 'Close' }}>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          save.mutate();
        }}
        noValidate
      >
        <Stack>
          <Text size="sm">Tags group devices in filters and lists, such as “web” or “production”.</Text>
          <ServerRefusal error={save.error} title="Tags not saved" fields={['tags']} />
          <TagsInput label="Tags" description="Press Enter after each tag" value={tags} onChange={setTags} error={fieldMessageOf(save.error, 'tags')} clearable data-autofocus />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              Save tags
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
