import { Button, Modal, PasswordInput, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { api, ApiError, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';

/**
 * Runs `action`; when the API asks for a recent sign-in (creating tokens, adding SSH keys, TOTP),
 * the dialog this returns asks for the password (and code) again, then runs it once more.
 */
export function useRecentSignIn() {
  const me = useMe();
  const [pending, setPending] = useState<{ run: () => Promise<void> } | undefined>();
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);

  const guard = async (run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'recent_sign_in_required') setPending({ run });
      else throw error;
    }
  };

  const close = () => {
    setPending(undefined);
    setPassword('');
    setCode('');
    setProblem(undefined);
  };

  const confirm = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      unwrap(await api.POST('/api/v1/auth/reauthenticate', { body: { password, ...(me.user.totpEnabled && { totp: code }) } }));
      const run = pending?.run;
      close();
      await run?.();
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };

  const dialog = (
    <Modal opened={pending !== undefined} onClose={close} title="Confirm it is you">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void confirm();
        }}
      >
        <Stack>
          <Text size="sm">This changes how you sign in or reach devices: enter your password{me.user.totpEnabled ? ' and a current code' : ''} again.</Text>
          <PasswordInput label="Password" autoComplete="current-password" value={password} onChange={(event) => setPassword(event.currentTarget.value)} data-autofocus />
          {me.user.totpEnabled && <TextInput label="Authentication code" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(event) => setCode(event.currentTarget.value)} />}
          {problem && (
            <Text c="red.9" size="sm" role="alert">
              {problem}
            </Text>
          )}
          <Button type="submit" loading={busy} disabled={!password}>
            Confirm
          </Button>
        </Stack>
      </form>
    </Modal>
  );
  return { guard, dialog };
}
