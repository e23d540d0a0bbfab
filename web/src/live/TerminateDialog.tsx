import { Alert, Button, Group, Modal, Stack, Text, Textarea } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client.ts';
import { MAX_REASON_LENGTH, useTerminateSession, type SessionView } from './live-sessions.ts';

/** The part of a session the dialog names. */
type Terminated = Pick<SessionView, 'number' | 'user' | 'device' | 'account' | 'change'>;

/**
 * Asks before ending a running session, and why: the reason is required here (the API takes none
 * too), since the session's user reads it in their terminal and auditors read it with the session.
 */
export function TerminateDialog({ session: asked, onClose }: { session: Terminated | undefined; onClose: () => void }) {
  // The last session asked about stays shown while the dialog fades out.
  const [session, setSession] = useState(asked);
  if (asked && asked !== session) setSession(asked);
  const [reason, setReason] = useState('');
  const [missing, setMissing] = useState(false);
  const terminate = useTerminateSession();
  const error = terminate.error instanceof ApiError ? terminate.error : undefined;
  const fieldError = error?.fieldMessage('reason');

  const close = () => {
    setReason('');
    setMissing(false);
    terminate.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!session) return;
    if (reason.trim() === '') return setMissing(true);
    terminate.mutate({ number: session.number, reason: reason.trim() }, { onSuccess: close });
  };

  return (
    <Modal opened={asked !== undefined} onClose={close} title={session ? `Terminate session #${session.number}` : ''} closeButtonProps={{ 'aria-label': 'Close without terminating' }}>
      {session && (
        <form onSubmit={submit} noValidate>
          <Stack>
            <Text size="sm">
              The session of <b>{session.user}</b> on <b>{session.device}</b> (account {session.account}, change {session.change}) ends at once. {session.user} reads who ended it and your
              reason in their terminal.
            </Text>
            <Textarea
              label="Reason"
              description="Shown to the user, and kept with the session and in the event log."
              withAsterisk
              data-autofocus
              value={reason}
              onChange={(event) => {
                setReason(event.currentTarget.value);
                setMissing(false);
              }}
              error={missing ? 'Give a reason: the user reads it.' : fieldError}
              autosize
              minRows={2}
              maxLength={MAX_REASON_LENGTH}
            />
            {error && !fieldError && (
              <Alert color="red" role="alert" title="Not terminated">
                {error.message}
              </Alert>
            )}
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Keep it running
              </Button>
              <Button type="submit" color="red.9" loading={terminate.isPending}>
                Terminate session
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
