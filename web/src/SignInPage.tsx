import { Alert, Anchor, Button, Center, Divider, Paper, PasswordInput, PinInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation, useNavigate, useSearchParams } from 'react-router';
import { api, ApiError, setCsrfToken, unwrap } from './api/client.ts';
import { isConsolePage } from './session.tsx';
import { OidcButton, oidcRefusal, OidcTotpStep, useOidcOption } from './OidcSignIn.tsx';
import { formatTime } from './time.ts';

/** Where to go after signing in: a page of the console, never another site. */
function nextPage(next: string | null): string {
  return isConsolePage(next) ? next : '/';
}

/** What a refused sign-in tells the user, in plain words. */
function refusal(error: ApiError): string {
  switch (error.code) {
    case 'invalid_credentials':
      return 'The username, password or code is not correct.';
    case 'account_locked': {
      const until = typeof error.details?.lockedUntil === 'string' ? error.details.lockedUntil : undefined;
      return until
        ? `Too many failed sign-ins: this account is locked until ${formatTime(until, Intl.DateTimeFormat().resolvedOptions().timeZone)}.`
        : 'Too many failed sign-ins: this account is locked for now.';
    }
    case 'too_many_requests': {
      const seconds = typeof error.details?.retryAfterSeconds === 'number' ? Math.ceil(error.details.retryAfterSeconds) : undefined;
      return seconds ? `Too many sign-in attempts. Try again in ${seconds} seconds.` : 'Too many sign-in attempts. Try again in a moment.';
    }
    default:
      return error.message;
  }
}

export function SignInPage() {
  const [search, setSearch] = useSearchParams();
  const oidc = useOidcOption().data;
  const provider = oidc?.displayName ?? 'single sign-on';
  // Back from the provider: owing the TOTP code, or refused (the reason is a code, never the provider's words).
  const oidcStep = search.get('oidc') === 'totp';
  const oidcError = search.get('oidc_error');
  const next = nextPage(search.get('next'));
  const restart = () => setSearch(search.get('next') ? { next: search.get('next') as string } : {}, { replace: true });
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [askTotp, setAskTotp] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const expired = (location.state as { expired?: boolean } | null)?.expired === true;
  const form = useForm({
    initialValues: { username: '', password: '', totp: '' },
    validate: {
      username: (value) => (value.trim() ? null : 'Enter your username.'),
      password: (value) => (value ? null : 'Enter your password.'),
      totp: (value) => (askTotp && !/^\d{6}$/.test(value) ? 'Enter the 6-digit code from your authenticator app.' : null),
    },
  });

  const submit = form.onSubmit(async (values) => {
    setBusy(true);
    setProblem(undefined);
    try {
      const answer = unwrap(
        await api.POST('/api/v1/auth/login', { body: { username: values.username.trim(), password: values.password, ...(askTotp && { totp: values.totp }) } }),
      );
      setCsrfToken(answer.csrfToken);
      queryClient.clear();
      navigate(next, { replace: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.code === 'totp_required') {
        setAskTotp(true);
      } else {
        setProblem(refusal(error));
        if (askTotp) form.setFieldValue('totp', '');
      }
    } finally {
      setBusy(false);
    }
  });

  return (
    <Center mih="100vh" bg="gray.0">
      <Paper component="main" withBorder shadow="sm" p="xl" w={380}>
        {oidcStep ? (
          <Stack>
            <Title order={1} size="h2">
              Changegate
            </Title>
            <OidcTotpStep provider={provider} next={next} onRestart={restart} />
          </Stack>
        ) : (
          <form onSubmit={submit} noValidate>
            <Stack>
              <Title order={1} size="h2">
                Changegate
              </Title>
              <Text c="dimmed" size="sm">
                Sign in to plan, approve, run and audit changes.
              </Text>
              {expired && !problem && (
                <Alert color="blue" title="Your session ended">
                  Sign in again to go back where you were.
                </Alert>
              )}
              {problem && (
                <Alert color="red" role="alert" title="Not signed in">
                  {problem}
                </Alert>
              )}
              {oidcError && !problem && (
                <Alert color="red" role="alert" title="Not signed in">
                  {oidcRefusal(oidcError, provider)}
                </Alert>
              )}
              <TextInput label="Username" autoComplete="username" autoFocus={!askTotp} readOnly={askTotp} {...form.getInputProps('username')} />
              <PasswordInput label="Password" autoComplete="current-password" readOnly={askTotp} {...form.getInputProps('password')} />
              {askTotp && (
                <Stack gap={4}>
                  <Text component="label" htmlFor="totp" size="sm" fw={500}>
                    Authentication code
                  </Text>
                  <Text size="xs" c="dimmed">
                    This account uses two-factor sign-in: enter the 6-digit code from your authenticator app.
                  </Text>
                  <PinInput id="totp" length={6} type="number" oneTimeCode autoFocus aria-label="Authentication code" {...form.getInputProps('totp')} />
                  {form.errors.totp && (
                    <Text c="red" size="xs">
                      {form.errors.totp}
                    </Text>
                  )}
                </Stack>
              )}
              <Button type="submit" loading={busy} fullWidth>
                {askTotp ? 'Verify and sign in' : 'Sign in'}
              </Button>
              {askTotp && (
                <Anchor
                  component="button"
                  type="button"
                  size="sm"
                  onClick={() => {
                    setAskTotp(false);
                    form.reset();
                  }}
                >
                  Sign in as someone else
                </Anchor>
              )}
              {oidc?.enabled && oidc.displayName && !askTotp && (
                <>
                  <Divider label="or" labelPosition="center" />
                  <OidcButton displayName={oidc.displayName} next={next} />
                </>
              )}
            </Stack>
          </form>
        )}
      </Paper>
    </Center>
  );
}
