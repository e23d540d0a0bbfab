import { Alert, Button, Group, List, Modal, Stack, Text, Textarea } from '@mantine/core';
import { useEffect, useState } from 'react';
import { ApiError } from '../api/client.ts';
import { notifyDone } from '../ui.tsx';
import { useRestore, type AuditEntry, type RestoreSide } from './trail.queries.ts';

export interface RestoreAsked {
  readonly entry: AuditEntry;
  readonly side: RestoreSide;
  /** From the Trash Can, which brings back only objects still deleted. */
  readonly fromTrash?: boolean;
}

const ACTION_WORDS: Record<AuditEntry['action'], string> = { C: 'creation', M: 'change', D: 'deletion' };

/** What the restore will do, in the seed's words. */
function consequence({ entry, side, fromTrash }: RestoreAsked): string {
  const object = `${entry.objectType} ${entry.businessKey}`;
  if (fromTrash || entry.action === 'D') return `${object} comes back as it was when entry #${entry.seq} deleted it.`;
  return side === 'before'
    ? `Undoes the ${ACTION_WORDS[entry.action]} of entry #${entry.seq} and every later change of ${object}.`
    : `Undoes every change of ${object} after entry #${entry.seq}: it is again as that ${ACTION_WORDS[entry.action]} left it.`;
}

export const restoreTitle = ({ side, fromTrash }: Pick<RestoreAsked, 'side' | 'fromTrash'>) => (fromTrash ? 'Restore' : side === 'before' ? 'Restore to before change' : 'Restore to after change');

/**
 * Asks for the reason of a restore and makes it. A restore that cannot apply (409) shows what
 * blocks it (the server names the objects by business key), and nothing was written.
 */
export function RestoreDialog({ asked, onClose }: { asked: RestoreAsked | undefined; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const restore = useRestore();
  const { reset } = restore;
  useEffect(() => {
    setReason('');
    reset();
  }, [asked, reset]);
  const error = restore.error instanceof ApiError ? restore.error : undefined;
  const blockers = Array.isArray(error?.details?.blockers) ? error.details.blockers.filter((blocker): blocker is string => typeof blocker === 'string') : [];
  const title = asked ? `${restoreTitle(asked)}: entry #${asked.entry.seq}` : '';
  return (
    <Modal opened={asked !== undefined} onClose={onClose} title={title} size="lg" closeButtonProps={{ 'aria-label': 'Close this dialog' }}>
      {asked && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            restore.mutate(
              { seq: asked.entry.seq, side: asked.side, fromTrash: asked.fromTrash, reason },
              {
                onSuccess: (result) => {
                  notifyDone(
                    `Restored ${result.objectType} ${result.businessKey} to ${result.side} entry #${result.restoredFrom}${result.entry ? `: entry #${result.entry.seq} records it` : ''}.`,
                  );
                  onClose();
                },
              },
            );
          }}
        >
          <Stack>
            <Text size="sm">{consequence(asked)}</Text>
            <Textarea
              label="Reason"
              description="Written into the restore's own audit entry"
              required
              value={reason}
              onChange={(event) => setReason(event.currentTarget.value)}
              autosize
              minRows={2}
              maxLength={2000}
              data-autofocus
            />
            {error && (
              <Alert color="red" role="alert" title={blockers.length > 0 ? 'This restore is blocked; nothing was written' : 'Not restored'}>
                {blockers.length > 0 ? (
                  <List size="sm" aria-label="What blocks the restore">
                    {blockers.map((blocker) => (
                      <List.Item key={blocker}>{blocker}</List.Item>
                    ))}
                  </List>
                ) : (
                  error.message
                )}
              </Alert>
            )}
            <Group justify="flex-end">
              <Button variant="default" onClick={onClose}>
                Close
              </Button>
              <Button type="submit" loading={restore.isPending} disabled={reason.trim() === ''}>
                {restoreTitle(asked)}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
