import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { newPublicKey } from '../../test/gateway-kit.ts';
import { buildUser, signIn, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { totpCode } from './totp.ts';

type Method = 'POST' | 'DELETE';


/** What a token that grew itself would have changed: the user row, keys, tokens, and the event log's end. */
async function credentialState(t: TestChangegate, username: string) {
  const db = t.cg.database.db;
  const user = await db.selectFrom('app_user').selectAll().where('username', '=', username).executeTakeFirstOrThrow();
  return {
    user,
    keys: await db.selectFrom('ssh_public_key').selectAll().where('user_id', '=', user.id).orderBy('id').execute(),
    tokens: await db.selectFrom('api_token').selectAll().where('user_id', '=', user.id).orderBy('id').execute(),
    lastEvent: (await db.selectFrom('event').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow()).seq,
  };
}

const TEN_MINUTES = 10 * 60_000;

describe.each(DATABASE_KINDS)('API tokens cannot grow themselves on %s', (kind) => {
  let t: TestChangegate;
  let owner: Awaited<ReturnType<typeof buildUser>>;
  let lesser: Awaited<ReturnType<typeof buildUser>>;
  let ownerToken: TestClient;
  let adminToken: TestClient;

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    owner = await buildUser(t);
    lesser = await buildUser(t);
    ownerToken = new TestClient(t.cg, { bearer: (await owner.client.post('/tokens', { name: 'script' })).body.token });
    adminToken = new TestClient(t.cg, { bearer: (await t.admin.post('/tokens', { name: 'automation' })).body.token });
    // A token's first use records its time; the clock stands still, so no later call writes it again.
    for (const token of [ownerToken, adminToken]) expect((await token.get('/me')).status).toBe(200);
  });
  afterAll(() => t.close());

  const ownRoutes: Array<[string, Method, string, () => unknown]> = [
    ['create another token', 'POST', '/tokens', () => ({ name: 'forever', expiresInDays: 3650 })],
    ['add an SSH key', 'POST', '/me/ssh-keys', () => ({ name: 'persist', publicKey: newPublicKey('persist') })],
    ['start TOTP enrolment', 'POST', '/me/totp', () => undefined],
    ['confirm TOTP enrolment', 'POST', '/me/totp/confirm', () => ({ code: '123456' })],
    ['turn TOTP off', 'DELETE', '/me/totp', () => ({ code: '123456' })],
    ['change the password', 'POST', '/me/password', () => ({ currentPassword: 'whatever-it-was', newPassword: 'chosen-by-the-token' })],
  ];

  it.each(ownRoutes)('refuses a token trying to %s: 403 recent_sign_in_required, nothing changed', async (_label, method, url, body) => {
    const before = await credentialState(t, owner.username);
    const answer = await ownerToken.request(method, `/api/v1${url}`, body());
    expect([answer.status, answer.body.error.code]).toEqual([403, 'recent_sign_in_required']);
    expect(answer.body.error.message).toMatch(/API token cannot .*sign in with your password/);
    expect(await credentialState(t, owner.username)).toEqual(before);
  });

  const administrationRoutes: Array<[string, Method, string, () => unknown]> = [
    ["reset another user's password", 'POST', '/users/$user/password', () => ({ password: 'chosen-by-a-stolen-token' })],
    ["reset another user's TOTP", 'DELETE', '/users/$user/totp', () => undefined],
    ['add an SSH key for another user', 'POST', '/users/$user/ssh-keys', () => ({ publicKey: newPublicKey('for-lesser') })],
  ];

  it.each(administrationRoutes)("refuses even the administrator's token trying to %s", async (_label, method, url, body) => {
    const before = await credentialState(t, lesser.username);
    const answer = await adminToken.request(method, `/api/v1${url.replace('$user', lesser.username)}`, body());
    expect([answer.status, answer.body.error.code]).toEqual([403, 'recent_sign_in_required']);
    expect(await credentialState(t, lesser.username)).toEqual(before);
  });

  it('lets a token do what it did before: read, and administer where no secret is set', async () => {
    expect((await ownerToken.get('/me')).status).toBe(200);
    expect((await adminToken.get('/users')).status).toBe(200);
    expect((await adminToken.patch(`/users/${lesser.username}`, { displayName: 'Renamed by a script' })).status).toBe(200);
  });

  it('refuses a token re-authenticating itself', async () => {
    const answer = await ownerToken.post('/auth/reauthenticate', { password: owner.password });
    expect([answer.status, answer.body.error.code]).toEqual([403, 'recent_sign_in_required']);
  });

  it('lets the CLI’s way work: sign in, then create a token with the fresh session', async () => {
    const cli = await signIn(t.cg, owner.username, owner.password);
    const created = await cli.post('/tokens', { name: 'changegate cli' });
    expect(created.status).toBe(201);
    expect((await new TestClient(t.cg, { bearer: created.body.token }).get('/me')).body.user.username).toBe(owner.username);
  });
});

describe.each(DATABASE_KINDS)('a web session signed in more than ten minutes ago on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  it('is refused the same, told to sign in again, and re-authenticates with its password', async () => {
    const user = await buildUser(t);
    expect((await user.client.post('/tokens', { name: 'while-fresh' })).status).toBe(201);
    t.clock.advance(TEN_MINUTES + 1000);
    const before = await credentialState(t, user.username);
    for (const [method, url, body] of [
      ['POST', '/tokens', { name: 'later' }],
      ['POST', '/me/ssh-keys', { publicKey: newPublicKey('later') }],
      ['POST', '/me/totp', undefined],
      ['POST', '/me/password', { currentPassword: user.password, newPassword: 'a-later-password' }],
    ] as const) {
      const answer = await user.client.request(method, `/api/v1${url}`, body);
      expect([url, answer.status, answer.body.error.code]).toEqual([url, 403, 'recent_sign_in_required']);
      expect(answer.body.error.message).toContain('sign in again');
      expect(answer.body.error.message).toContain('POST /api/v1/auth/reauthenticate');
    }
    expect(await credentialState(t, user.username)).toEqual(before);

    const wrong = await user.client.post('/auth/reauthenticate', { password: 'not-my-password' });
    expect([wrong.status, wrong.body.error.code]).toEqual([401, 'invalid_credentials']);
    expect((await t.admin.get(`/events?action=auth.login.failure&subject=user:${user.username}`)).body).toHaveLength(1);
    expect((await user.client.post('/tokens', { name: 'later' })).status).toBe(403);

    const proved = await user.client.post('/auth/reauthenticate', { password: user.password });
    expect(proved.status).toBe(200);
    expect(proved.body.recentUntil).toBe(new Date(t.clock.now().getTime() + TEN_MINUTES).toISOString());
    expect((await user.client.post('/tokens', { name: 'later' })).status).toBe(201);
    expect((await t.admin.get(`/events?action=auth.reauthenticate&subject=user:${user.username}`)).body).toHaveLength(1);
  });

  it('with TOTP enrolled, needs the code too: at re-authentication, and from sessions that signed in without it', async () => {
    const user = await buildUser(t);
    const other = await signIn(t.cg, user.username, user.password);
    const begun = await user.client.post('/me/totp');
    expect((await user.client.post('/me/totp/confirm', { code: totpCode(begun.body.secret, t.clock.now()) })).status).toBe(204);
    // The enrolling session gave a code; the other one, signed in before, never did.
    expect((await user.client.post('/tokens', { name: 'enrolled' })).status).toBe(201);
    const refused = await other.post('/tokens', { name: 'no-code' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'recent_sign_in_required']);
    expect(refused.body.error.message).toContain('TOTP');

    t.clock.advance(TEN_MINUTES + 30_000);
    const withoutCode = await user.client.post('/auth/reauthenticate', { password: user.password });
    expect([withoutCode.status, withoutCode.body.error.code]).toEqual([401, 'totp_required']);
    expect((await user.client.post('/auth/reauthenticate', { password: user.password, totp: totpCode(begun.body.secret, t.clock.now()) })).status).toBe(200);
    expect((await user.client.post('/tokens', { name: 'after-code' })).status).toBe(201);
  });

  it('changing one’s own password keeps the session it is done from, and ends the others and every token', async () => {
    const user = await buildUser(t);
    const other = await signIn(t.cg, user.username, user.password);
    const token = new TestClient(t.cg, { bearer: (await user.client.post('/tokens', { name: 'laptop' })).body.token });
    expect((await user.client.post('/me/password', { currentPassword: user.password, newPassword: 'my-own-new-password' })).status).toBe(204);
    expect((await user.client.get('/me')).status).toBe(200);
    expect((await other.get('/me')).status).toBe(401);
    expect((await token.get('/me')).status).toBe(401);
    const tokens = (await user.client.get('/tokens')).body as Array<{ name: string; revokedAt: string | null }>;
    expect(tokens.map((row) => [row.name, row.revokedAt !== null])).toEqual([['laptop', true]]);
  });
});
