import { Alert, Button, PinInput, Stack, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, ApiError, setCsrfToken, unwrap } from './api/client.ts';

/** Whether the server offers sign-in through an OpenID Connect provider, and its name. */
export function useOidcOption() {
  return useQuery({ queryKey: ['oidc-option'], queryFn: async () => unwrap(await api.GET('/api/v1/auth/oidc')), staleTime: 5 * 60_000 });
}

/** "Sign in with <provider>": a link the browser follows to the provider, coming back to `next`. */
export function OidcButton({ displayName, next }: { displayName: string; next: string }) {
  return (
    <Button component="a" href={`/api/v1/auth/oidc/start?next=${encodeURIComponent(next)}`} variant="default" fullWidth>
      Sign in with {displayName}
    </Button>
  );
}

/** What a sign-in through the provider that came back refused (`oidc_error`) tells the user, in plain words. */
export function oidcRefusal(reason: string, provider: string): string {
  switch (reason) {
    case 'expired':
      return `The sign-in with ${provider} took too long or was already used. Try again.`;
    case 'provider_refused':
      return `${provider} did not sign you in. Try again, or ask your administrator.`;
    case 'token_refused':
      return `Changegate could not accept the answer from ${provider}. Try again; if it keeps failing, ask your administrator.`;
    case 'unavailable':
      return `${provider} cannot be reached at the moment. Try again shortly, or sign in with your password.`;
    case 'unknown_user':
      return `Your ${provider} account has no Changegate account. Ask an administrator to create one.`;
    case 'disabled':
      return 'Your Changegate account is disabled. Ask an administrator.';
    case 'no_username_claim':
    case 'invalid_username':
      return `${provider} did not give a username Changegate can use. Ask your administrator.`;
    case 'subject_mismatch':
      return `This Changegate account is linked to another ${provider} account. Ask an administrator.`;
    case 'not_linked':
      return `This Changegate account has a password of its own and is not linked to ${provider}: sign in with your password, or ask an administrator.`;
    case 'throttled':
      return 'Too many sign-ins from your address. Wait a minute and try again.';
    default:
      return `The sign-in with ${provider} did not succeed. Try again.`;
  }
}

/** The second step after the provider, for an account with two-factor sign-in: the TOTP code. */
export function OidcTotpStep({ provider, next, onRestart }: { provider: string; next: string; onRestart: () => void }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [code, setCode] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!/^\d{6}$/.test(code)) {
      setProblem('Enter the 6-digit code from your authenticator app.');
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      const answer = unwrap(await api.POST('/api/v1/auth/oidc/totp', { body: { totp: code } }));
      setCsrfToken(answer.csrfToken);
      queryClient.clear();
      navigate(next, { replace: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      setCode('');
      setProblem(error.code === 'invalid_credentials' ? 'The code is not correct.' : error.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <Stack>
        <Text size="sm">Signed in with {provider}. This account also uses two-factor sign-in: enter the 6-digit code from your authenticator app.</Text>
        {problem && (
          <Alert color="red" role="alert" title="Not signed in">
            {problem}
          </Alert>
        )}
        <PinInput length={6} type="number" oneTimeCode autoFocus aria-label="Authentication code" value={code} onChange={setCode} />
        <Button type="submit" loading={busy} fullWidth>
          Verify and sign in
        </Button>
        <Button variant="subtle" size="compact-sm" onClick={onRestart}>
          Start again
        </Button>
      </Stack>
    </form>
  );
}
