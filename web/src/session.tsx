import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { api, ApiError, onSignedOut, setCsrfToken, unwrap } from './api/client.ts';

type MeAnswer = NonNullable<Awaited<ReturnType<typeof fetchMe>>>;
export type Me = MeAnswer;
export type Privilege = Me['grants'][number]['privilege'];

async function fetchMe() {
  const me = unwrap(await api.GET('/api/v1/me'));
  setCsrfToken(me.csrfToken);
  return me;
}


const MeContext = createContext<Me | null>(null);

/** The signed-in user, their grants and time zone. Only inside <SignedIn>. */
export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error('useMe outside a signed-in page');
  return me;
}

/** Whether the user holds the privilege anywhere (system-wide or for some partition). */
export function holds(me: Me, privilege: Privilege): boolean {
  return me.grants.some((grant) => grant.privilege === privilege);
}

/**
 * Whether an address is a page of this console, never another site (`//host` and `/\host` are
 * addresses of other sites to a browser): where sign-in returns to, where a notification leads.
 */
export function isConsolePage(address: string | null | undefined): address is string {
  return typeof address === 'string' && /^\/(?![/\\])/.test(address);
}

/** The sign-in page's address that leads back here afterwards. */
export function signInPath(location: { pathname: string; search: string; hash: string }): string {
  const here = `${location.pathname}${location.search}${location.hash}`;
  return here === '/' || here.startsWith('/signin') ? '/signin' : `/signin?next=${encodeURIComponent(here)}`;
}

/**
 * Renders its children for a signed-in user. Not signed in, or once the web session expires, it
 * goes to the sign-in page, which comes back here afterwards.
 */
export function SignedIn({ children }: { children: ReactNode }) {
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  const me = useQuery({ queryKey: ['me'], queryFn: fetchMe, staleTime: 60_000 });
  const signedOut = me.error instanceof ApiError && me.error.status === 401;

  useEffect(
    () =>
      onSignedOut(() => {
        setCsrfToken(undefined);
        queryClient.clear();
        navigate(signInPath(window.location), { replace: true, state: { expired: true } });
      }),
    [navigate, queryClient],
  );
  useEffect(() => {
    if (signedOut) navigate(signInPath(location), { replace: true });
  }, [signedOut, navigate, location]);

  if (me.data) return <MeContext.Provider value={me.data}>{children}</MeContext.Provider>;
  if (me.error && !signedOut) throw me.error;
  return null;
}
