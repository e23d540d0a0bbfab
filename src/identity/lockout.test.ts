import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, buildUser, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { totpCode } from './totp.ts';

const ATTACKER = '203.0.113.66';
const HOME = '198.51.100.7';
const THRESHOLD = 3;

describe.each(DATABASE_KINDS)('account lockout per source address on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_LOCKOUT_THRESHOLD: String(THRESHOLD), CHANGEGATE_LOCKOUT_MINUTES: '15' });
  });
  afterAll(() => t.close());

  const from = (address: string) => new TestClient(t.cg, undefined, address);

  /** Fails the threshold of sign-ins for a user from an address; the last one locks the user there. */
  async function lockAt(address: string, username: string): Promise<void> {
    const codes = [];
    for (let k = 0; k < THRESHOLD; k += 1) codes.push((await from(address).post('/auth/login', { username, password: `wrong-guess-${k}` })).body.error.code);
    expect(codes).toEqual([...Array<string>(THRESHOLD - 1).fill('invalid_credentials'), 'account_locked']);
  }

  it('locks the user at the attacking address only: there even the right password is refused, from elsewhere it signs in', async () => {
    const victim = await buildUser(t);
    await lockAt(ATTACKER, victim.username);
    const atAttacker = await from(ATTACKER).post('/auth/login', { username: victim.username, password: victim.password });
    expect([atAttacker.status, atAttacker.body.error.code]).toEqual([423, 'account_locked']);
    const atHome = await from(HOME).post('/auth/login', { username: victim.username, password: victim.password });
    expect(atHome.status).toBe(200);
    // The lock still holds at the attacking address after the user signed in elsewhere.
    expect((await from(ATTACKER).post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(423);

    const lockout = (await t.admin.get(`/events?action=auth.lockout&subject=user:${victim.username}`)).body;
    expect(lockout).toHaveLength(1);
    expect(lockout[0].data).toMatchObject({ sourceIp: ATTACKER, failures: THRESHOLD });
    // What an administrator sees: the latest lock of any address.
    expect((await t.admin.get(`/users/${victim.username}`)).body.lockedUntil).toBe(lockout[0].data.lockedUntil);

    t.clock.advance(15 * 60_000 + 1000);
    expect((await from(ATTACKER).post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
    expect((await t.admin.get(`/users/${victim.username}`)).body.lockedUntil).toBeNull();
  });

  it('with TOTP, the user passes the lock at that address with password and code together; without the code the answer never says the password was right', async () => {
    const victim = await buildUser(t);
    const begun = await victim.client.post('/me/totp');
    expect((await victim.client.post('/me/totp/confirm', { code: totpCode(begun.body.secret, t.clock.now()) })).status).toBe(204);
    t.clock.advance(30_000);
    await lockAt(ATTACKER, victim.username);

    const code = totpCode(begun.body.secret, t.clock.now());
    const wrongCode = code === '123456' ? '654321' : '123456';
    const attempts = [
      { password: victim.password },
      { password: victim.password, totp: wrongCode },
      { password: 'wrong-guess-again', totp: code },
    ];
    for (const attempt of attempts) {
      const answer = await from(ATTACKER).post('/auth/login', { username: victim.username, ...attempt });
      expect([answer.status, answer.body.error.code]).toEqual([423, 'account_locked']);
    }
    // The user, at the locked address, with both.
    const passed = await from(ATTACKER).post('/auth/login', { username: victim.username, password: victim.password, totp: code });
    expect(passed.status).toBe(200);
    expect(passed.body.user.username).toBe(victim.username);
    // The lock stays for whoever else is at that address: the right password alone is still refused.
    expect((await from(ATTACKER).post('/auth/login', { username: victim.username, password: victim.password })).body.error.code).toBe('account_locked');
    // From an address that has not failed, the password is the first of two steps, as always.
    expect((await from(HOME).post('/auth/login', { username: victim.username, password: victim.password })).body.error.code).toBe('totp_required');
  });

  it('an administrator’s password reset lifts the locks of every address', async () => {
    const victim = await buildUser(t);
    // Fresh addresses: those of the tests above have used up most of their failures in this window.
    await lockAt('203.0.113.67', victim.username);
    await lockAt('203.0.113.68', victim.username);
    expect((await t.admin.get(`/users/${victim.username}`)).body.lockedUntil).toEqual(expect.any(String));
    const next = 'a-new-password-for-the-victim';
    expect((await t.admin.post('/auth/reauthenticate', { password: ADMIN_PASSWORD })).status).toBe(200);
    expect((await t.admin.post(`/users/${victim.username}/password`, { password: next })).status).toBe(204);
    expect((await t.admin.get(`/users/${victim.username}`)).body.lockedUntil).toBeNull();
    for (const address of ['203.0.113.67', '203.0.113.68']) {
      expect((await from(address).post('/auth/login', { username: victim.username, password: next })).status).toBe(200);
    }
  });

  /** The addresses where a user has failures or a lock on record. */
  const rowsOf = async (userId: string) =>
    (await t.cg.database.db.selectFrom('sign_in_lock').select('source').where('user_id', '=', userId).orderBy('source').execute()).map((row) => row.source);
  const userIdOf = async (username: string) => (await t.admin.get(`/users/${username}`)).body.id as string;

  it('failures more than the lockout time apart do not add up: old typos and one today do not lock the user', async () => {
    const victim = await buildUser(t);
    const office = '192.0.2.90';
    for (let k = 0; k < THRESHOLD - 1; k += 1) {
      expect((await from(office).post('/auth/login', { username: victim.username, password: `typo-${k}` })).body.error.code).toBe('invalid_credentials');
    }
    t.clock.advance(15 * 60_000 + 1000);
    // One more, long after: the count starts again at 1, so no lock, and the right password signs in.
    expect((await from(office).post('/auth/login', { username: victim.username, password: 'typo-again' })).body.error.code).toBe('invalid_credentials');
    expect((await from(office).post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
    expect((await t.admin.get(`/events?action=auth.lockout&subject=user:${victim.username}`)).body).toHaveLength(0);
    // Failures within the lockout time of each other still lock, however slowly they come.
    for (let k = 0; k < THRESHOLD; k += 1) {
      t.clock.advance(14 * 60_000);
      // The administrator's session, idle otherwise, would end.
      expect((await t.admin.get('/me')).status).toBe(200);
      await from(ATTACKER).post('/auth/login', { username: victim.username, password: `wrong-guess-${k}` });
    }
    const locked = await from(ATTACKER).post('/auth/login', { username: victim.username, password: victim.password });
    expect([locked.status, locked.body.error.code]).toEqual([423, 'account_locked']);
  });

  it('forgets the failures that no longer count: at the next failure of the user, and in the periodic sweep', async () => {
    const victim = await buildUser(t);
    const id = await userIdOf(victim.username);
    const addresses = ['192.0.2.101', '192.0.2.102', '192.0.2.103'];
    for (const address of addresses) await from(address).post('/auth/login', { username: victim.username, password: 'one-typo-here' });
    await lockAt('192.0.2.104', victim.username);
    expect(await rowsOf(id)).toEqual([...addresses, '192.0.2.104']);

    // Still within the lockout time: a failure elsewhere forgets nothing.
    t.clock.advance(10 * 60_000);
    await from('192.0.2.105').post('/auth/login', { username: victim.username, password: 'one-typo-here' });
    expect(await rowsOf(id)).toHaveLength(5);
    // Later, the next failure of the user forgets the stale rows (and the lock that ended); the recent one stays.
    t.clock.advance(6 * 60_000);
    await from('192.0.2.106').post('/auth/login', { username: victim.username, password: 'one-typo-here' });
    expect(await rowsOf(id)).toEqual(['192.0.2.105', '192.0.2.106']);

    // The sweep forgets those of users who do not fail again; a lock in force stays.
    const other = await buildUser(t);
    await lockAt('192.0.2.107', other.username);
    t.clock.advance(15 * 60_000 + 1000);
    await lockAt('192.0.2.108', other.username);
    await t.cg.services.auth.forgetStaleFailures();
    expect(await rowsOf(id)).toEqual([]);
    expect(await rowsOf(await userIdOf(other.username))).toEqual(['192.0.2.108']);
    expect((await from('192.0.2.108').post('/auth/login', { username: other.username, password: other.password })).status).toBe(423);
  });
});
