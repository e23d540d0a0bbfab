import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { ConfigError, loadConfig } from '../platform/config.ts';
import { oidcSettingsOf, providerMfa, isReturnPath, type OidcSettings } from './oidc.ts';
import { OidcService } from './oidc.service.ts';
import { startTestProvider, throughProvider, type TestAccount, type TestProvider } from './oidc.test-kit.ts';
import { totpCode } from './totp.ts';

/** Where Changegate says it is: the provider sends browsers back to its callback there (requests are injected, so no port). */
const PUBLIC_URL = 'http://changegate.test';
const CALLBACK = `${PUBLIC_URL}/api/v1/auth/oidc/callback`;

type Injected = Awaited<ReturnType<TestChangegate['cg']['app']['inject']>>;

const cookieOf = (answer: Injected, name: string): string | undefined => {
  const all = [answer.headers['set-cookie'] ?? []].flat().map(String);
  const value = all.map((cookie) => new RegExp(`^${name}=([^;]*)`).exec(cookie)?.[1]).find((found) => found !== undefined);
  return value === '' ? undefined : value;
};

const account = (preferredUsername: string, groups: string[] = [], amr = ['pwd']): TestAccount => ({ sub: `sub-of-${preferredUsername}`, preferredUsername, groups, amr });

/** One sign-in through the provider, as a browser makes it: start, the provider's pages, the callback. */
async function signInThroughProvider(t: TestChangegate, options: { next?: string; beforeCallback?: () => void } = {}) {
  const start = await t.cg.app.inject({ method: 'GET', url: `/api/v1/auth/oidc/start?next=${encodeURIComponent(options.next ?? '/changes')}` });
  expect(start.statusCode, start.body).toBe(303);
  const flow = cookieOf(start, 'changegate_oidc') as string;
  expect(flow).toBeTruthy();
  const back = await throughProvider(String(start.headers.location), CALLBACK);
  options.beforeCallback?.();
  const callback = await callBack(t, back, flow);
  return { start, flow, back, callback, location: String(callback.headers.location), session: cookieOf(callback, 'changegate_session') };
}

const callBack = (t: TestChangegate, back: URL, flow: string | undefined) =>
  t.cg.app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: flow ? { cookie: `changegate_oidc=${flow}` } : {} });

/** A client of the web session a sign-in opened, with its CSRF token as `GET /me` gives it. */
async function clientOf(t: TestChangegate, session: string): Promise<TestClient> {
  const me = await new TestClient(t.cg, { cookie: session, csrf: '' }).get('/me');
  expect(me.status).toBe(200);
  return new TestClient(t.cg, { cookie: session, csrf: me.body.csrfToken });
}

const grantsOf = async (t: TestChangegate, username: string) =>
  ((await t.admin.get(`/grants?username=${username}`)).body as Array<{ privilege: string; partition: string | null; grantedBy: string }>)
    .map((grant) => `${grant.privilege}${grant.partition ? `@${grant.partition}` : ''} by ${grant.grantedBy}`)
    .sort();

const failures = async (t: TestChangegate) =>
  ((await t.admin.get('/events?action=auth.login.failure&limit=1000')).body as Array<{ data: Record<string, unknown>; subject: string }>).filter((event) => event.data.via === 'oidc');

/** Failed sign-ins one address may make per window here (the default's 10 would be used up by the refusals these tests make). */
const SIGN_IN_LIMIT = 40;

const signInRefusal = (location: string) => new URL(location, PUBLIC_URL).searchParams.get('oidc_error');

describe.each(DATABASE_KINDS)('sign-in through an OpenID Connect provider (%s)', (kind) => {
  let provider: TestProvider;
  let t: TestChangegate;

  beforeAll(async () => {
    provider = await startTestProvider(CALLBACK);
    t = await startTestChangegate(
      kind,
      provider.settings({
        CHANGEGATE_OIDC_DISPLAY_NAME: 'Acme SSO',
        CHANGEGATE_OIDC_CREATE_USERS: 'true',
        CHANGEGATE_OIDC_GROUP_GRANTS: 'ops=Session.View@Plant-A,Change.View; auditors=EventLog.View',
        CHANGEGATE_OIDC_PASSWORD_SIGN_IN: 'false',
        CHANGEGATE_OIDC_MFA_AMR: 'mfa,hwk',
        CHANGEGATE_SIGNIN_LIMIT_PER_ADDRESS: String(SIGN_IN_LIMIT),
        CHANGEGATE_SIGNIN_LIMIT_PER_USER: String(SIGN_IN_LIMIT),
      }),
      // The provider runs on the real clock: Changegate's starts there too, and moves when a test says.
      { clockStart: new Date() },
    );
    expect((await t.admin.post('/partitions', { name: 'Plant-A' })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('tells the sign-in page that it is on, and the provider’s name', async () => {
    const answer = await new TestClient(t.cg, undefined).get('/auth/oidc');
    expect(answer.body).toEqual({ enabled: true, displayName: 'Acme SSO' });
  });

  it('creates the user at the first sign-in, gives what their groups map to, and takes it back once the group is gone, leaving an administrator’s grants alone', async () => {
    provider.account = account('alice', ['ops']);
    const first = await signInThroughProvider(t, { next: '/changes?status=open' });
    expect(first.location).toBe('/changes?status=open');
    const alice = await clientOf(t, first.session as string);
    expect((await alice.get('/me')).body.user).toMatchObject({ username: 'alice', displayName: 'alice' });
    expect(await grantsOf(t, 'alice')).toEqual(['Change.View by oidc', 'Session.View@Plant-A by oidc']);
    // The privilege works: alice reads the changes.
    expect((await alice.get('/changes')).status).toBe(200);

    // By hand: one the mapping does not give, and one it does (the administrator's from then on).
    expect((await t.admin.post('/grants', { username: 'alice', privilege: 'Device.View', level: 'access' })).status).toBe(201);
    expect((await t.admin.post('/grants', { username: 'alice', privilege: 'Change.View', level: 'access' })).status).toBe(201);

    provider.account = account('alice', ['auditors']);
    const second = await signInThroughProvider(t);
    expect(second.session).toBeTruthy();
    expect(await grantsOf(t, 'alice')).toEqual(['Change.View by admin', 'Device.View by admin', 'EventLog.View by oidc']);
    const revoked = (await t.admin.get('/events?action=grant.revoke&subject=user:alice')).body as Array<{ actor: string; data: Record<string, unknown> }>;
    expect(revoked.map((event) => [event.actor, event.data.privilege, event.data.partition, event.data.source])).toEqual([['system', 'Session.View', 'Plant-A', 'oidc']]);
    expect(((await alice.get('/me')).body.grants as Array<{ privilege: string }>).map((grant) => grant.privilege).sort()).toEqual(['Change.View', 'Device.View', 'EventLog.View']);

    const successes = (await t.admin.get('/events?action=auth.login.success&subject=user:alice')).body as Array<{ data: Record<string, unknown> }>;
    expect(successes).toHaveLength(2);
    expect(successes[1]?.data).toMatchObject({ via: 'oidc', issuer: provider.issuer, subject: 'sub-of-alice', amr: ['pwd'], totp: false });
  });

  it('accepts each callback once, only in the browser that started it, with the state it was sent', async () => {
    provider.account = account('erin', []);
    const first = await signInThroughProvider(t);
    expect(first.session).toBeTruthy();
    // Replayed: the flow was taken by the first callback.
    const again = await callBack(t, first.back, first.flow);
    expect(again.statusCode).toBe(303);
    expect(signInRefusal(String(again.headers.location))).toBe('expired');
    expect(cookieOf(again, 'changegate_session')).toBeUndefined();

    // Another browser (no flow cookie), or another sign-in's cookie with this one's state and code.
    const start = await t.cg.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/start' });
    const otherFlow = cookieOf(start, 'changegate_oidc');
    const stolen = await throughProvider(String((await t.cg.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/start' })).headers.location), CALLBACK);
    for (const flow of [undefined, otherFlow]) {
      const answer = await callBack(t, stolen, flow);
      expect(signInRefusal(String(answer.headers.location))).toBe('expired');
      expect(cookieOf(answer, 'changegate_session')).toBeUndefined();
    }
    // The answer meant for another sign-in left this browser's own under way: it still signs in.
    const own = await callBack(t, await throughProvider(String(start.headers.location), CALLBACK), otherFlow);
    expect(cookieOf(own, 'changegate_session')).toBeTruthy();
    const checks = (await failures(t)).map((event) => event.data.check);
    expect(checks).toEqual(expect.arrayContaining(['unknown_or_used_flow', 'no_flow_cookie', 'state']));
  });

  it('refuses an ID token for another audience, and an expired one, changing nothing and logging why', async () => {
    const users = (await t.admin.get('/users')).body.length;
    provider.account = account('mallory', ['ops']);
    provider.tamperIdToken = (claims) => ({ ...claims, aud: 'another-client' });
    try {
      const refused = await signInThroughProvider(t);
      expect(signInRefusal(refused.location)).toBe('token_refused');
      expect(refused.session).toBeUndefined();
    } finally {
      provider.tamperIdToken = undefined;
    }
    expect((await t.admin.get('/users')).body.length).toBe(users);

    // alice, now in ops again at the provider: an expired token gives her nothing.
    const before = await grantsOf(t, 'alice');
    provider.account = account('alice', ['ops']);
    // Five minutes pass between the provider and the callback: the ID token lived one.
    let expired;
    try {
      expired = await signInThroughProvider(t, { beforeCallback: () => t.clock.advance(5 * 60_000) });
    } finally {
      t.clock.advance(-5 * 60_000);
    }
    expect(signInRefusal(expired.location)).toBe('token_refused');
    expect(expired.session).toBeUndefined();
    expect(await grantsOf(t, 'alice')).toEqual(before);

    const refusals = (await failures(t)).filter((event) => event.data.reason === 'token_refused').map((event) => event.data.check);
    expect(refusals).toEqual(['aud', 'exp']);
  });

  it('refuses a disabled user, changing nothing', async () => {
    await buildUser(t, { username: 'frank' });
    expect((await t.admin.post('/users/frank/disable')).status).toBe(200);
    provider.account = account('frank', ['ops']);
    const refused = await signInThroughProvider(t);
    expect(signInRefusal(refused.location)).toBe('disabled');
    expect(await grantsOf(t, 'frank')).toEqual([]);
    expect((await failures(t)).some((event) => event.subject === 'user:frank' && event.data.reason === 'disabled')).toBe(true);
  });

  it('refuses the password of a user who signs in through the provider, when so configured', async () => {
    // An account the administrator made for the provider (no password): linked at its first sign-in.
    expect((await t.admin.post('/users', { username: 'carol' })).status).toBe(201);
    provider.account = account('carol');
    expect((await signInThroughProvider(t)).session).toBeTruthy();
    const password = 'a password set later by an administrator';
    expect((await t.admin.post('/users/carol/password', { password })).status).toBe(204);
    const byPassword = await new TestClient(t.cg, undefined).post('/auth/login', { username: 'carol', password });
    expect(byPassword.status).toBe(403);
    expect(byPassword.body.error.code).toBe('password_sign_in_disabled');
    // A wrong password says no more than for anyone.
    const wrong = await new TestClient(t.cg, undefined).post('/auth/login', { username: 'carol', password: 'not-her-password' });
    expect(wrong.body.error.code).toBe('invalid_credentials');
    const refused = (await t.admin.get('/events?action=auth.login.failure&subject=user:carol')).body as Array<{ data: Record<string, unknown> }>;
    expect(refused.map((event) => event.data.reason)).toEqual(['provider_user', 'bad_password']);
  });

  it('never links a local account (a password) to whoever claims its name at the provider: the account stays as it was', async () => {
    const kate = await buildUser(t, { username: 'kate', grants: [{ privilege: 'User.Admin' }] });
    provider.account = { ...account('kate', ['ops']), sub: 'sub-of-someone-else' };
    const refused = await signInThroughProvider(t);
    expect(signInRefusal(refused.location)).toBe('not_linked');
    expect(refused.session).toBeUndefined();
    expect(await grantsOf(t, 'kate')).toEqual(['User.Admin by admin']);
    expect((await t.admin.get('/events?action=user.oidc.link&subject=user:kate')).body).toEqual([]);
    expect((await failures(t)).filter((event) => event.subject === 'user:kate').map((event) => [event.data.reason, event.data.check])).toEqual([['not_linked', 'local_account']]);
    // Her own password still works; and a name that only lower-cases to hers (a Kelvin sign) is no name.
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username: 'kate', password: kate.password })).status).toBe(200);
    provider.account = { ...account('\u212Aate'), sub: 'sub-of-kelvin' };
    expect(signInRefusal((await signInThroughProvider(t)).location)).toBe('invalid_username');
  });

  it('throttles callbacks from an address that keeps failing, as it does password sign-ins', async () => {
    const from = '198.51.100.7';
    const junk = () => t.cg.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/callback?code=x&state=y', remoteAddress: from });
    const logged = async () => (await failures(t)).filter((event) => event.data.sourceIp === from).length;
    let answer = await junk();
    for (let attempt = 1; attempt < 200 && signInRefusal(String(answer.headers.location)) !== 'throttled'; attempt++) answer = await junk();
    expect(signInRefusal(String(answer.headers.location))).toBe('throttled');
    const before = await logged();
    expect(before).toBe(SIGN_IN_LIMIT);
    // Beyond the limit nothing more is written; and the address's password sign-ins are refused too.
    await junk();
    expect(await logged()).toBe(before);
    const password = await t.cg.app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: from, payload: { username: 'admin', password: 'x' } });
    expect(password.statusCode).toBe(429);
  });

  it('asks a TOTP user for their code unless the provider’s amr says it checked an accepted second factor', async () => {
    // Made for the provider, linked at a first sign-in, then enrolled in TOTP from that session.
    expect((await t.admin.post('/users', { username: 'dave' })).status).toBe(201);
    provider.account = account('dave');
    const dave = await clientOf(t, (await signInThroughProvider(t)).session as string);
    const enrolment = await dave.post('/me/totp');
    expect((await dave.post('/me/totp/confirm', { code: totpCode(enrolment.body.secret, t.clock.now()) })).status).toBe(204);
    t.clock.advance(30_000);

    // amr without an accepted method ('swk' is not in CHANGEGATE_OIDC_MFA_AMR): the code is asked.
    provider.account = account('dave', [], ['pwd', 'swk']);
    const asked = await signInThroughProvider(t, { next: '/approvals' });
    expect(asked.session).toBeUndefined();
    const page = new URL(asked.location, PUBLIC_URL);
    expect([page.pathname, page.searchParams.get('oidc'), page.searchParams.get('next')]).toEqual(['/signin', 'totp', '/approvals']);
    const pending = cookieOf(asked.callback, 'changegate_oidc') as string;
    const step = (code: string, flow = pending) =>
      t.cg.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/totp', headers: { cookie: `changegate_oidc=${flow}` }, payload: { totp: code } });
    const wrong = await step('000000');
    expect([wrong.statusCode, wrong.json().error.code]).toEqual([401, 'invalid_credentials']);
    const right = await step(totpCode(enrolment.body.secret, t.clock.now()));
    expect(right.statusCode, right.body).toBe(200);
    expect(right.json()).toMatchObject({ user: { username: 'dave' }, next: '/approvals' });
    expect(cookieOf(right, 'changegate_session')).toBeTruthy();
    // The step is over: the same code (or any) cannot open a second session.
    expect((await step(totpCode(enrolment.body.secret, t.clock.now()))).json().error.code).toBe('oidc_sign_in_expired');

    provider.account = account('dave', [], ['pwd', 'hwk']);
    const vouched = await signInThroughProvider(t, { next: '/approvals' });
    expect(vouched.location, JSON.stringify((await t.admin.get('/events?subject=user:dave')).body.map((e: { action: string; data: unknown }) => [e.action, e.data]))).toBe('/approvals');
    expect(vouched.session).toBeTruthy();
    const events = (await t.admin.get('/events?action=auth.login.success&subject=user:dave')).body as Array<{ data: Record<string, unknown> }>;
    expect(events.slice(-2).map((event) => [event.data.via, event.data.totp])).toEqual([
      ['oidc', true],
      ['oidc', 'provider_mfa'],
    ]);
  });

  it('sends the browser back only to a page of the console, never to another site', async () => {
    for (const next of ['//evil.example/', '/\\evil.example/', 'https://evil.example/', 'javascript:alert(1)', '/ok\r\nLocation: https://evil.example/']) {
      const answer = await t.cg.app.inject({ method: 'GET', url: `/api/v1/auth/oidc/start?next=${encodeURIComponent(next)}` });
      expect(answer.statusCode, next).toBe(400);
      expect(answer.headers.location, next).toBeUndefined();
    }
  });

  it('writes no token, code, state or secret into the event log', async () => {
    provider.account = account('alice', ['auditors']);
    const signIn = await signInThroughProvider(t);
    expect(signIn.session).toBeTruthy();
    const log = JSON.stringify((await t.admin.get('/events?limit=1000')).body);
    for (const secret of [signIn.back.searchParams.get('code') as string, signIn.back.searchParams.get('state') as string, provider.clientSecret, signIn.flow, signIn.session as string]) {
      expect(log.includes(secret)).toBe(false);
    }
    expect(log).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});

describe('sign-in through an OpenID Connect provider, without creating users or MFA by amr', () => {
  let provider: TestProvider;
  let t: TestChangegate;

  beforeAll(async () => {
    provider = await startTestProvider(CALLBACK);
    // Here the administrator trusts the provider's usernames: existing local accounts are linked.
    t = await startTestChangegate('pglite', provider.settings({ CHANGEGATE_OIDC_LINK_EXISTING: 'true', CHANGEGATE_OIDC_GROUP_GRANTS: 'ops=Change.View' }), { clockStart: new Date() });
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });

  it('refuses a user Changegate does not know, creating no one, and logs it', async () => {
    provider.account = account('zed', ['ops']);
    const refused = await signInThroughProvider(t);
    expect(signInRefusal(refused.location)).toBe('unknown_user');
    expect((await t.admin.get('/users/zed')).status).toBe(404);
    expect((await failures(t)).map((event) => [event.subject, event.data.reason])).toEqual([['user:zed', 'unknown_user']]);
  });

  it('answers oidc_unavailable when the provider cannot be reached, and tries again at the next sign-in', async () => {
    const settings = oidcSettingsOf(loadConfig({ env: { ...provider.settings(), CHANGEGATE_DATA_DIR: '/tmp/unused', CHANGEGATE_OIDC_ISSUER: 'http://127.0.0.1:1' } })) as OidcSettings;
    const unreachable = new OidcService({ db: t.cg.database.db, clock: t.clock, secrets: t.cg.secrets, auth: t.cg.services.auth, settings });
    for (let attempt = 0; attempt < 2; attempt++) await expect(unreachable.start('/', '192.0.2.1')).rejects.toMatchObject({ code: 'oidc_unavailable' });
  });

  it('asks a TOTP user for the code whatever amr says, and lets users from the provider keep their password', async () => {
    const gina = await buildUser(t, { username: 'gina' });
    const enrolment = await gina.client.post('/me/totp');
    expect((await gina.client.post('/me/totp/confirm', { code: totpCode(enrolment.body.secret, t.clock.now()) })).status).toBe(204);
    provider.account = account('gina', ['ops'], ['pwd', 'mfa', 'hwk', 'otp']);
    const asked = await signInThroughProvider(t);
    expect(new URL(asked.location, PUBLIC_URL).searchParams.get('oidc')).toBe('totp');
    expect(asked.session).toBeUndefined();
    // Until the code is right nothing is bound: no link, no grant from the provider's groups.
    const wrong = await t.cg.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/totp', headers: { cookie: `changegate_oidc=${cookieOf(asked.callback, 'changegate_oidc')}` }, payload: { totp: '000000' } });
    expect(wrong.statusCode).toBe(401);
    expect((await t.admin.get('/events?action=user.oidc.link&subject=user:gina')).body).toEqual([]);
    expect(await grantsOf(t, 'gina')).toEqual([]);
    t.clock.advance(30_000);
    const right = await t.cg.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/totp', headers: { cookie: `changegate_oidc=${cookieOf(asked.callback, 'changegate_oidc')}` }, payload: { totp: totpCode(enrolment.body.secret, t.clock.now()) } });
    expect(right.statusCode, right.body).toBe(200);
    expect(((await t.admin.get('/events?action=user.oidc.link&subject=user:gina')).body as unknown[]).length).toBe(1);
    expect(await grantsOf(t, 'gina')).toEqual(['Change.View by oidc']);
    t.clock.advance(30_000);
    const withPassword = await new TestClient(t.cg, undefined).post('/auth/login', { username: 'gina', password: gina.password, totp: totpCode(enrolment.body.secret, t.clock.now()) });
    expect(withPassword.status).toBe(200);
  });
});

describe('OpenID Connect settings', () => {
  const base = { CHANGEGATE_DATA_DIR: '/tmp/unused', CHANGEGATE_PUBLIC_URL: 'https://cg.example.com' };
  const problemsOf = (env: Record<string, string>) => {
    try {
      oidcSettingsOf(loadConfig({ env: { ...base, ...env } }));
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems;
    }
  };

  it('reads the group mapping: entries by ";", grants by ",", a partition after "@", the group up to the last "="', () => {
    const settings = oidcSettingsOf(
      loadConfig({
        env: {
          ...base,
          CHANGEGATE_OIDC_ISSUER: 'https://login.example.com/realms/ops',
          CHANGEGATE_OIDC_CLIENT_ID: 'changegate',
          CHANGEGATE_OIDC_GROUP_GRANTS: 'ops=Session.View@Plant-A,Change.View; cn=dba,ou=groups=Device.View',
        },
      }),
    );
    expect(settings?.groupGrants).toEqual([
      { group: 'ops', privilege: 'Session.View', partition: 'Plant-A' },
      { group: 'ops', privilege: 'Change.View', partition: null },
      { group: 'cn=dba,ou=groups', privilege: 'Device.View', partition: null },
    ]);
    expect(settings?.redirectUri).toBe('https://cg.example.com/api/v1/auth/oidc/callback');
    expect(settings?.usernameClaim).toBe('preferred_username');
    expect(settings?.groupsClaim).toBe('groups');
  });

  it('stops the start with a clear ConfigError on bad settings, never showing the secret', () => {
    const issuer = { CHANGEGATE_OIDC_ISSUER: 'https://login.example.com', CHANGEGATE_OIDC_CLIENT_ID: 'changegate' };
    expect(problemsOf({ CHANGEGATE_OIDC_ISSUER: 'http://login.example.com', CHANGEGATE_OIDC_CLIENT_ID: 'cg' }).join()).toContain('expected an https:// URL');
    expect(problemsOf({ CHANGEGATE_OIDC_ISSUER: 'https://login.example.com' }).join()).toContain('without CHANGEGATE_OIDC_CLIENT_ID');
    expect(problemsOf({ ...issuer, CHANGEGATE_PUBLIC_URL: '' }).join()).toContain('without CHANGEGATE_PUBLIC_URL');
    expect(problemsOf({ CHANGEGATE_OIDC_CLIENT_SECRET: 'hunter2-very-secret' }).join()).toContain('without CHANGEGATE_OIDC_ISSUER');
    expect(problemsOf({ ...issuer, CHANGEGATE_OIDC_GROUP_GRANTS: 'ops' }).join()).toContain('must be group=Privilege');
    expect(problemsOf({ ...issuer, CHANGEGATE_OIDC_GROUP_GRANTS: 'ops=Change.Fly' }).join()).toContain('"Change.Fly" (for group "ops") is not a privilege');
    expect(problemsOf({ ...issuer, CHANGEGATE_OIDC_GROUP_GRANTS: 'ops=User.Admin@Plant-A' }).join()).toContain('User.Admin applies to the whole installation');
    expect(problemsOf({ ...issuer, CHANGEGATE_OIDC_CLIENT_SECRET: ' ' }).join()).toContain('(hidden)');
    expect(problemsOf({ ...issuer, CHANGEGATE_OIDC_CLIENT_SECRET: 'hunter2-very-secret', CHANGEGATE_OIDC_ISSUER: 'ftp://x' }).join()).not.toContain('hunter2');
  });

  it('counts amr as the TOTP code only for the values configured; none configured, never', () => {
    expect(providerMfa(['pwd', 'mfa'], ['mfa', 'otp'])).toBe(true);
    expect(providerMfa(['pwd'], ['mfa', 'otp'])).toBe(false);
    expect(providerMfa(['mfa'], [])).toBe(false);
    expect(providerMfa('mfa', ['mfa'])).toBe(false);
  });

  it('returns only to paths of this site', () => {
    expect(['/', '/changes?status=open', '/requests/12#top'].every(isReturnPath)).toBe(true);
    expect(['//evil.example', '/\\evil.example', 'https://evil.example', 'changes', '/a b', '/x\ny'].some(isReturnPath)).toBe(false);
  });
});
