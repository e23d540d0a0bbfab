import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUser, signIn, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { totpCode } from './totp.ts';

describe.each(DATABASE_KINDS)('sign-in on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_LOCKOUT_THRESHOLD: '3', CHANGEGATE_LOCKOUT_MINUTES: '15' });
  });
  afterAll(() => t.close());

  it('signs in with a password and answers /me with the user and CSRF token', async () => {
    const { username, client } = await buildUser(t);
    const me = await client.get('/me');
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe(username);
    expect(me.body.csrfToken).toEqual(expect.any(String));
    expect(JSON.stringify(me.body)).not.toMatch(/password|scrypt/i);
  });

  it('purges web sessions once they expired, keeping the ones still alive', async () => {
    const { db } = t.cg.database;
    const sessionsOf = async (username: string) =>
      Number((await db.selectFrom('web_session').innerJoin('app_user', 'app_user.id', 'web_session.user_id').where('app_user.username', '=', username).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const idle = await buildUser(t);
    const alive = await buildUser(t);
    // The idle user's session ended a second ago and was never presented since.
    const userId = (await db.selectFrom('app_user').select('id').where('username', '=', idle.username).executeTakeFirstOrThrow()).id;
    await db.updateTable('web_session').set({ expires_at: new Date(t.clock.now().getTime() - 1000) }).where('user_id', '=', userId).execute();
    expect(await sessionsOf(idle.username)).toBe(1);

    expect(await t.cg.services.auth.purgeExpiredWebSessions()).toBe(1);

    expect(await sessionsOf(idle.username)).toBe(0);
    expect(await sessionsOf(alive.username)).toBe(1);
    expect((await idle.client.get('/me')).status).toBe(401);
    expect((await alive.client.get('/me')).status).toBe(200);
  });

  it('refuses a wrong password with invalid_credentials and logs the failure', async () => {
    const { username } = await buildUser(t);
    const answer = await new TestClient(t.cg, undefined).post('/auth/login', { username, password: 'not-the-password' });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('invalid_credentials');
    const events = await t.admin.get(`/events?action=auth.login.failure&subject=user:${username}`);
    expect(events.body).toHaveLength(1);
    expect(events.body[0].data.reason).toBe('bad_password');
  });

  it('locks the account at the failing address after the threshold of failures, even for the right password, until the lockout ends', async () => {
    const { username, password } = await buildUser(t);
    const anonymous = new TestClient(t.cg, undefined);
    const attempts = [];
    for (let i = 0; i < 3; i += 1) attempts.push((await anonymous.post('/auth/login', { username, password: `wrong-${i}` })).body.error.code);
    expect(attempts).toEqual(['invalid_credentials', 'invalid_credentials', 'account_locked']);
    const locked = await anonymous.post('/auth/login', { username, password });
    expect(locked.status).toBe(423);
    expect(locked.body.error.code).toBe('account_locked');
    t.clock.advance(15 * 60 * 1000 + 1000);
    expect((await anonymous.post('/auth/login', { username, password })).status).toBe(200);
  });

  it('asks for a TOTP code once enrolled, accepts the right one and refuses a wrong or replayed one', async () => {
    const { username, password, client } = await buildUser(t);
    const begun = await client.post('/me/totp');
    expect(begun.status).toBe(200);
    expect(begun.body.uri).toMatch(/^otpauth:\/\/totp\//);
    const secret: string = begun.body.secret;
    expect((await client.post('/me/totp/confirm', { code: '000000' === totpCode(secret, t.clock.now()) ? '111111' : '000000' })).status).toBe(400);
    expect((await client.post('/me/totp/confirm', { code: totpCode(secret, t.clock.now()) })).status).toBe(204);

    const anonymous = new TestClient(t.cg, undefined);
    const withoutCode = await anonymous.post('/auth/login', { username, password });
    expect(withoutCode.status).toBe(401);
    expect(withoutCode.body.error.code).toBe('totp_required');

    t.clock.advance(30_000);
    const code = totpCode(secret, t.clock.now());
    const wrong = code === '123456' ? '654321' : '123456';
    expect((await anonymous.post('/auth/login', { username, password, totp: wrong })).body.error.code).toBe('invalid_credentials');
    const session = await signIn(t.cg, username, password, code);
    expect((await session.get('/me')).body.user.totpEnabled).toBe(true);
    const replay = await anonymous.post('/auth/login', { username, password, totp: code });
    expect(replay.status).toBe(401);
  });

  it('requires the CSRF header on state-changing cookie requests', async () => {
    const { client } = await buildUser(t);
    const withoutCsrf = await client.request('POST', '/api/v1/tokens', { name: 'ci' }, { 'x-csrf-token': '' });
    expect(withoutCsrf.status).toBe(403);
    expect(withoutCsrf.body.error.code).toBe('csrf_token_invalid');
    expect((await client.post('/tokens', { name: 'ci' })).status).toBe(201);
  });

  it('sets the session cookie httpOnly, Secure and SameSite=Strict', async () => {
    const { username, password } = await buildUser(t);
    const answer = await new TestClient(t.cg, undefined).post('/auth/login', { username, password });
    const cookie = String(answer.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
  });

  it('authenticates with an API token until it is revoked', async () => {
    const { client } = await buildUser(t);
    const created = await client.post('/tokens', { name: 'deploy script', expiresInDays: 30 });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^cg_/);
    const script = new TestClient(t.cg, { bearer: created.body.token });
    expect((await script.get('/me')).status).toBe(200);
    const listed = await client.get('/tokens');
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect((await client.delete(`/tokens/${created.body.id}`)).status).toBe(200);
    const after = await script.get('/me');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('unauthenticated');
  });

  it('stops a disabled user at once: session and token', async () => {
    const { username, client } = await buildUser(t);
    const token = (await client.post('/tokens', { name: 'x' })).body.token;
    expect((await t.admin.post(`/users/${username}/disable`)).status).toBe(200);
    expect((await client.get('/me')).status).toBe(401);
    expect((await new TestClient(t.cg, { bearer: token }).get('/me')).status).toBe(401);
  });
});
