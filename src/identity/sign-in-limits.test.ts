import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, TestClient, type Answer, type TestChangegate } from '../../test/harness.ts';
import { MAX_SOURCES_PER_USERNAME, MAX_TRACKED, SignInLimits, signInSource } from './sign-in-limits.ts';

const WINDOW_MS = 60_000;
const PER_ADDRESS = 10;
const FLOOD = 400;

/** The sequence number of the last event-log entry: how far the log has grown. */
async function headSeq(t: TestChangegate): Promise<number> {
  const verified = await t.admin.post('/events/verify');
  expect(verified.status).toBe(200);
  return verified.body.headSeq as number;
}

async function events(t: TestChangegate, query: string): Promise<Array<{ subject: string; data: Record<string, unknown> }>> {
  const answer = await t.admin.get(`/events?limit=1000&${query}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

const from = (t: TestChangegate, address: string) => new TestClient(t.cg, undefined, address);

describe.each(DATABASE_KINDS)('sign-in rate limits on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    // The defaults: 10 failures per address and per username, in 60 seconds.
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  it('a flood of 400 parallel unknown-user sign-ins from one address: 10 are checked, the rest refused with 429 and Retry-After, and counted in one entry', async () => {
    const real = await buildUser(t);
    const before = await headSeq(t);
    const attacker = from(t, '203.0.113.7');
    const flood = Array.from({ length: FLOOD }, (_, k) => attacker.post('/auth/login', { username: `nobody${k}`, password: 'guessing-a-password' }));
    // During the flood: the real user from their own address, and the health check.
    const [answers, signedIn, health] = await Promise.all([
      Promise.all(flood),
      from(t, '198.51.100.20').post('/auth/login', { username: real.username, password: real.password }),
      from(t, '198.51.100.21').get('/api/v1/health'),
    ]);
    expect(signedIn.status).toBe(200);
    expect(health.status).toBe(200);
    const byStatus = (status: number) => answers.filter((answer: Answer) => answer.status === status);
    expect(byStatus(401)).toHaveLength(PER_ADDRESS);
    expect(byStatus(429)).toHaveLength(FLOOD - PER_ADDRESS);
    for (const refused of byStatus(429)) {
      expect(refused.body.error.code).toBe('too_many_requests');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(WINDOW_MS / 1000);
      expect(refused.body.error.details.retryAfterSeconds).toBe(retryAfter);
    }
    // The bound on the real user's wait: the flood got to run 10 password checks, each logged as
    // today; the 390 refused attempts wrote nothing (the time it takes is in bench/abuse.bench.ts).
    const failures = (await events(t, 'action=auth.login.failure')).filter((event) => event.data.sourceIp === '203.0.113.7');
    expect(failures).toHaveLength(PER_ADDRESS);
    // The flood's checks, the real sign-in, and the verify call's own reading of the log: no more.
    expect((await headSeq(t)) - before).toBeLessThanOrEqual(PER_ADDRESS + 2);

    // When the window has closed, the next sign-in writes the count of refused attempts first.
    t.clock.advance(WINDOW_MS);
    expect((await from(t, '198.51.100.20').post('/auth/login', { username: real.username, password: real.password })).status).toBe(200);
    const throttled = await events(t, 'action=auth.login.throttled&subject=address:203.0.113.7');
    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.data).toMatchObject({ limit: 'address', refused: FLOOD - PER_ADDRESS, maxFailures: PER_ADDRESS });
    // And the address is checked again in the new window.
    expect((await attacker.post('/auth/login', { username: 'nobody', password: 'guessing-a-password' })).status).toBe(401);
  });

  it('a success gives its place back: a user who signs in often from one address is never refused', async () => {
    const user = await buildUser(t);
    const office = from(t, '192.0.2.50');
    for (let k = 0; k < PER_ADDRESS * 2; k += 1) {
      expect((await office.post('/auth/login', { username: user.username, password: user.password })).status).toBe(200);
    }
    // Nine mistakes still leave one attempt, which the right password passes.
    for (let k = 0; k < PER_ADDRESS - 1; k += 1) await office.post('/auth/login', { username: `typo${k}`, password: 'guessing-a-password' });
    expect((await office.post('/auth/login', { username: user.username, password: user.password })).status).toBe(200);
  });

  it('counts re-authentication: beyond the limit it is refused with 429 before the password is checked', async () => {
    const user = await buildUser(t);
    const session = await from(t, '192.0.2.60').post('/auth/login', { username: user.username, password: user.password });
    const cookie = /changegate_session=([^;]+)/.exec(String(session.headers['set-cookie']))?.[1] ?? '';
    const browser = new TestClient(t.cg, { cookie, csrf: session.body.csrfToken }, '192.0.2.60');
    for (let k = 0; k < PER_ADDRESS; k += 1) await from(t, '192.0.2.60').post('/auth/login', { username: `stranger${k}`, password: 'guessing-a-password' });
    const refused = await browser.post('/auth/reauthenticate', { password: user.password });
    expect([refused.status, refused.body.error.code]).toEqual([429, 'too_many_requests']);
    expect(refused.headers['retry-after']).toEqual(expect.any(String));
    expect((await events(t, `action=auth.reauthenticate&subject=user:${user.username}`))).toHaveLength(0);
  });
});

describe.each(DATABASE_KINDS)('the per-username limit on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SIGNIN_LIMIT_PER_USER: '3', CHANGEGATE_LOCKOUT_THRESHOLD: '100' });
  });
  afterAll(() => t.close());

  it('throttles a username only for the addresses that failed for it: the user from a fresh address still signs in', async () => {
    const victim = await buildUser(t);
    const attackers = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
    for (const address of attackers) {
      const answer = await from(t, address).post('/auth/login', { username: victim.username, password: 'guessing-a-password' });
      expect(answer.status).toBe(401);
    }
    // The username has had its 3 failures: an address that failed for it is refused, even with the right password.
    for (const address of attackers) {
      const again = await from(t, address).post('/auth/login', { username: victim.username, password: victim.password });
      expect([again.status, again.body.error.code]).toEqual([429, 'too_many_requests']);
      expect(again.body.error.message).toMatch(/sign in from another address/);
    }
    // A new attacking address gets one attempt, then is refused too.
    const fourth = from(t, '203.0.113.4');
    expect((await fourth.post('/auth/login', { username: victim.username, password: 'guessing-again' })).status).toBe(401);
    expect((await fourth.post('/auth/login', { username: victim.username, password: 'guessing-again' })).status).toBe(429);
    // Those addresses may still sign in as anyone else.
    const other = await buildUser(t);
    expect((await from(t, '203.0.113.1').post('/auth/login', { username: other.username, password: other.password })).status).toBe(200);
    // The user, from an address with no failure for their name, signs in.
    expect((await from(t, '198.51.100.9').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);

    t.clock.advance(WINDOW_MS);
    expect((await from(t, '198.51.100.9').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
    const throttled = await events(t, `action=auth.login.throttled&subject=user:${victim.username}`);
    expect(throttled.map((event) => event.data)).toEqual([expect.objectContaining({ limit: 'username', refused: 4, maxFailures: 3 })]);
    expect((await from(t, '203.0.113.1').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
  });
});

describe('the limits in memory', () => {
  const settings = { signInLimitPerAddress: 10, signInLimitPerUser: 10, signInLimitWindowSeconds: 60 };

  it('counts an IPv6 /64 as one source, and an IPv4-mapped address as its IPv4 address', () => {
    expect(signInSource('2001:db8:1:2:aaaa::1')).toBe(signInSource('2001:db8:1:2:bbbb::2'));
    expect(signInSource('2001:db8:1:2::1')).not.toBe(signInSource('2001:db8:1:3::1'));
    expect(signInSource('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    for (let k = 0; k < 10; k += 1) {
      const attempt = limits.admit(`2001:db8:1:2::${k.toString(16)}`, 'nobody', now);
      expect(attempt.admitted).toBe(true);
      if (attempt.admitted) attempt.settle('failure', now);
    }
    expect(limits.admit('2001:db8:1:2:ffff::9', 'nobody', now)).toMatchObject({ admitted: false, limit: 'address', retryAfterSeconds: 60 });
  });

  it('holds a bounded number of sources and usernames however many addresses and names a flood uses', () => {
    // What the structures hold, not the garbage made filling them: collect before each reading.
    v8.setFlagsFromString('--expose-gc');
    const collect = vm.runInNewContext('gc') as () => void;
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    // Failed sign-ins each from a new address for a new name, more than are tracked; then more addresses at one name than it remembers.
    for (let k = 0; k < MAX_TRACKED + 30_000; k += 1) {
      const attempt = limits.admit(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, `name${k}`, now);
      if (attempt.admitted) attempt.settle('failure', now);
    }
    for (let k = 0; k < MAX_SOURCES_PER_USERNAME * 3; k += 1) {
      const attempt = limits.admit(`172.16.${(k >> 8) & 255}.${k & 255}`, 'alice', now);
      if (attempt.admitted) attempt.settle('failure', now);
    }
    const size = limits.size();
    expect(size.sources).toBeLessThanOrEqual(MAX_TRACKED);
    expect(size.usernames).toBeLessThanOrEqual(MAX_TRACKED);
    expect(size.sourcesPerUsername).toBeLessThanOrEqual(MAX_SOURCES_PER_USERNAME);
    collect();
    const held = process.memoryUsage().heapUsed - heapBefore;
    // Measured, not guessed: the structures at their bound stay under 32 MB of heap.
    expect(held).toBeLessThan(32 * 1024 * 1024);
    expect(limits.size().sources).toBeGreaterThan(0);
  });
});
