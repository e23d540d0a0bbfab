import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, TestClient, type Answer, type TestChangegate } from '../../test/harness.ts';
import { withProductionPasswordCost } from '../../test/password-cost.ts';
import { MAX_SOURCES_PER_USERNAME, MAX_TRACKED, SignInLimits, type AdmittedAttempt } from './sign-in-limits.ts';
import { sourceOf } from '../platform/source-address.ts';
import { BUSY, CHECKS_AT_ONCE, MAX_WAITING, SignInQueue } from './sign-in-queue.ts';

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

  it('a throttled username gets one attempt at a time from a new address: 10 in parallel are one checked attempt', async () => {
    const victim = await buildUser(t);
    for (const address of ['203.0.113.11', '203.0.113.12', '203.0.113.13']) {
      expect((await from(t, address).post('/auth/login', { username: victim.username, password: 'guessing-a-password' })).status).toBe(401);
    }
    const fresh = from(t, '192.0.2.77');
    const answers = await Promise.all(Array.from({ length: 10 }, (_, k) => fresh.post('/auth/login', { username: victim.username, password: `guess-${k}` })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([401, ...Array<number>(9).fill(429)]);
    // The refused ones ran no check: one failure logged from that address.
    const failures = (await events(t, `action=auth.login.failure&subject=user:${victim.username}`)).filter((event) => event.data.sourceIp === '192.0.2.77');
    expect(failures).toHaveLength(1);
    // The user, from an address with no failure for their name, signs in (one at a time is no limit to one person).
    expect((await from(t, '198.51.100.19').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
    expect((await from(t, '198.51.100.19').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
  });
});

describe.each(DATABASE_KINDS)('the limits of wider networks on %s', (kind) => {
  // 2 failures per address, so 8 per IPv6 /56 and 32 per IPv6 /48 or IPv4 /24.
  const PER = 2;
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SIGNIN_LIMIT_PER_ADDRESS: String(PER), CHANGEGATE_SIGNIN_LIMIT_PER_USER: '100000', CHANGEGATE_LOCKOUT_THRESHOLD: '100' });
  });
  afterAll(() => t.close());

  /** Guesses at a password, twice from each address in turn; answers the statuses. */
  async function guess(username: string, addresses: readonly string[]): Promise<number[]> {
    const statuses: number[] = [];
    for (const address of addresses) {
      for (let k = 0; k < PER; k += 1) statuses.push((await from(t, address).post('/auth/login', { username, password: `guess-${k}` })).status);
    }
    return statuses;
  }

  it('an attacker holding an IPv6 /48 gets 16 times the per-address failures, not 65 536 times; the user elsewhere signs in', async () => {
    const victim = await buildUser(t);
    // A new /64 for every two guesses, each in a new /56: only the /48 stops it.
    const addresses = Array.from({ length: 24 }, (_, k) => `2001:db8:ab:${(k << 8).toString(16)}::${k + 1}`);
    const statuses = await guess(victim.username, addresses);
    expect(statuses.filter((status) => status === 401)).toHaveLength(16 * PER);
    expect(statuses.slice(16 * PER)).toEqual(Array<number>(statuses.length - 16 * PER).fill(429));
    const refused = await from(t, '2001:db8:ab:ff00::1').post('/auth/login', { username: victim.username, password: victim.password });
    expect(refused.body.error).toMatchObject({ code: 'too_many_requests', message: expect.stringMatching(/from your network/) });
    // The user, from another network, signs in.
    expect((await from(t, '2001:db8:cafe:1::7').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);

    t.clock.advance(WINDOW_MS);
    expect((await from(t, '2001:db8:cafe:1::7').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
    const throttled = await events(t, 'action=auth.login.throttled&subject=address:2001:db8:ab::/48');
    expect(throttled.map((event) => event.data)).toEqual([expect.objectContaining({ limit: 'network', refused: statuses.length - 16 * PER + 1, maxFailures: 16 * PER })]);
  });

  it('an IPv6 /56 gets 4 times the per-address failures, and an IPv4 /24 16 times', async () => {
    const victim = await buildUser(t);
    const in56 = Array.from({ length: 6 }, (_, k) => `2001:db8:cd:${(0x1200 + k).toString(16)}::1`);
    const statuses56 = await guess(victim.username, in56);
    expect(statuses56).toEqual([...Array<number>(4 * PER).fill(401), ...Array<number>(statuses56.length - 4 * PER).fill(429)]);
    // The rest of that /48 is not held up by one /56.
    expect((await guess(victim.username, ['2001:db8:cd:1300::1']))).toEqual([401, 401]);

    const in24 = Array.from({ length: 20 }, (_, k) => `192.0.2.${100 + k}`);
    const statuses24 = await guess(victim.username, in24);
    expect(statuses24).toEqual([...Array<number>(16 * PER).fill(401), ...Array<number>(statuses24.length - 16 * PER).fill(429)]);
    expect((await from(t, '192.0.3.1').post('/auth/login', { username: victim.username, password: victim.password })).status).toBe(200);
  });
});

describe.each(DATABASE_KINDS)('password checks under a flood from many addresses on %s', (kind) => {
  // Checks that take as long as in production, so that the flood does queue up.
  withProductionPasswordCost();
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  it('run a few at a time, and a user signing in again from their address goes ahead of the flood', { timeout: 90_000 }, async () => {
    const real = await buildUser(t);
    const home = from(t, '198.51.100.30');
    expect((await home.post('/auth/login', { username: real.username, password: real.password })).status).toBe(200);
    // Each attempt from its own /24, so that no rate limit applies: only the queue bounds them.
    const order: string[] = [];
    // Five times as many guesses as run at once: most of them wait when the user comes.
    const flood = Array.from({ length: 5 * CHECKS_AT_ONCE }, (_, k) =>
      from(t, `10.${k}.${k}.1`)
        .post('/auth/login', { username: `nobody${k}`, password: 'guessing-a-password' })
        .then((answer) => {
          order.push('flood');
          return answer;
        }),
    );
    const signedIn = home.post('/auth/login', { username: real.username, password: real.password }).then((answer) => {
      order.push('user');
      return answer;
    });
    const [answers, user] = await Promise.all([Promise.all(flood), signedIn]);
    expect(user.status).toBe(200);
    expect(answers.every((answer) => answer.status === 401)).toBe(true);
    const checks = t.cg.services.auth.checks.size();
    expect(checks.peak).toBeLessThanOrEqual(CHECKS_AT_ONCE);
    expect(checks).toMatchObject({ running: 0, waiting: 0 });
    // Queued behind the flood, the user's was next once a place was free.
    expect(order.indexOf('user')).toBeLessThanOrEqual(2 * CHECKS_AT_ONCE);
  });
});

describe('the limits in memory', () => {
  const settings = { signInLimitPerAddress: 10, signInLimitPerUser: 10, signInLimitWindowSeconds: 60 };

  it('an attacker holding an IPv6 /48 gets 160 password checks per window, whatever the /64s it uses', () => {
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    let admitted = 0;
    for (let net = 0; net < 65536; net += 7) {
      for (let k = 0; k < 12; k += 1) {
        const attempt = limits.admit(`2001:470:abcd:${net.toString(16)}::1`, 'alice', now);
        if (!attempt.admitted) break;
        admitted += 1;
        attempt.settle('failure', now);
      }
    }
    expect(admitted).toBe(160);
    expect(limits.admit('2001:470:abce:1::1', 'bob', now).admitted).toBe(true);
    expect(limits.size().sources).toBeLessThan(200);
  });

  it('admits any number of key sign-ins at once from one host (automation), while failed ones still count toward the limit', () => {
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    const parallel = Array.from({ length: 40 }, () => limits.admit('192.0.2.7', 'deploy', now, { reserve: false }));
    expect(parallel.every((attempt) => attempt.admitted)).toBe(true);
    for (const attempt of parallel) if (attempt.admitted) attempt.settle('success', now);
    // Password checks at once from the same host still reserve their place: the 11th waits its turn.
    const guesses = Array.from({ length: 11 }, () => limits.admit('192.0.2.7', 'deploy', now));
    expect(guesses.map((attempt) => attempt.admitted)).toEqual([...Array.from({ length: 10 }, () => true), false]);
    for (const attempt of guesses) if (attempt.admitted) attempt.settle('success', now);
    // Wrong keys are failures: after ten, even a key sign-in from there is refused.
    for (let k = 0; k < 10; k += 1) {
      const wrong = limits.admit('192.0.2.7', 'deploy', now, { reserve: false });
      expect(wrong.admitted).toBe(true);
      if (wrong.admitted) wrong.settle('failure', now);
    }
    expect(limits.admit('192.0.2.7', 'deploy', now, { reserve: false }).admitted).toBe(false);
  });

  it('a throttled username: a fresh address sending 10 at once gets one admitted, the next when that one has settled', () => {
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    for (let k = 0; k < 10; k += 1) {
      const attempt = limits.admit(`198.51.100.${k}`, 'alice', now);
      if (attempt.admitted) attempt.settle('failure', now);
    }
    const fresh = Array.from({ length: 10 }, () => limits.admit('203.0.113.9', 'alice', now));
    const admitted = fresh.filter((attempt): attempt is AdmittedAttempt => attempt.admitted);
    expect(admitted).toHaveLength(1);
    expect(fresh[1]).toMatchObject({ admitted: false, limit: 'username' });
    // Right password (a success): the address may try again. Another address meanwhile gets its own one.
    expect(limits.admit('203.0.113.10', 'alice', now).admitted).toBe(true);
    admitted[0]?.settle('success', now);
    const next = limits.admit('203.0.113.9', 'alice', now);
    expect(next.admitted).toBe(true);
    if (next.admitted) next.settle('failure', now);
    expect(limits.admit('203.0.113.9', 'alice', now)).toMatchObject({ admitted: false, limit: 'username' });
  });

  it('counts an IPv6 /64 as one source, and an IPv4-mapped address as its IPv4 address', () => {
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe(sourceOf('2001:db8:1:2:bbbb::2'));
    expect(sourceOf('2001:db8:1:2::1')).not.toBe(sourceOf('2001:db8:1:3::1'));
    expect(sourceOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    for (let k = 0; k < 10; k += 1) {
      const attempt = limits.admit(`2001:db8:1:2::${k.toString(16)}`, 'nobody', now);
      expect(attempt.admitted).toBe(true);
      if (attempt.admitted) attempt.settle('failure', now);
    }
    expect(limits.admit('2001:db8:1:2:ffff::9', 'nobody', now)).toMatchObject({ admitted: false, limit: 'address', retryAfterSeconds: 60 });
  });

  it('when full, drops the oldest window first, eviction after eviction, whatever else was removed meanwhile', () => {
    const limits = new SignInLimits(settings);
    const now = new Date('2026-11-21T12:00:00Z');
    /** A source whose window refused an attempt: reported, by its address, once it is dropped. */
    const refusedFrom = (ip: string, username: string) => {
      for (let k = 0; k < settings.signInLimitPerAddress; k += 1) (limits.admit(ip, username, now) as AdmittedAttempt).settle('failure', now);
      expect(limits.admit(ip, username, now)).toMatchObject({ admitted: false, limit: 'address' });
    };
    let filled = 0;
    /** One more failing source in a network of its own (two windows: the address and its /24); every third signs in instead, leaving nothing behind. */
    const fill = () => {
      const k = filled++;
      const attempt = limits.admit(`${(k & 127) + 1}.${(k >> 7) & 255}.${(k >> 15) & 255}.1`, `name${k}`, now);
      if (attempt.admitted) attempt.settle(k % 3 === 0 ? 'success' : 'failure', now);
    };
    /** Fills until a report names `address`; how many fills that took, and the reports on the way. */
    const fillUntilDropped = (address: string) => {
      const seen: string[] = [];
      for (let fills = 1; fills <= MAX_TRACKED; fills += 1) {
        fill();
        if (limits.hasReports(now)) seen.push(...limits.takeReports(now).map((report) => report.key));
        if (seen.includes(address)) return { fills, seen };
      }
      throw new Error(`${address} was never dropped`);
    };

    refusedFrom('198.51.100.7', 'first');
    refusedFrom('203.0.113.9', 'second');
    const first = fillUntilDropped('198.51.100.7');
    expect(first.seen).toEqual(['198.51.100.7']);
    expect(fillUntilDropped('203.0.113.9').seen).toEqual(['203.0.113.9']);
    // Many evictions later, a new window is the newest: every window older than it goes first.
    refusedFrom('192.0.2.200', 'third');
    const third = fillUntilDropped('192.0.2.200');
    expect(third.seen).toEqual(['192.0.2.200']);
    // Each failing fill adds two windows (one eviction each, once full), a signed-in one none.
    expect(third.fills).toBeGreaterThanOrEqual(Math.floor((MAX_TRACKED - 2) / 2));
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
      // Each in its own /24, so that the network limit does not stop the filling.
      const attempt = limits.admit(`${(k & 127) + 1}.${(k >> 7) & 255}.${(k >> 15) & 255}.1`, `name${k}`, now);
      if (attempt.admitted) attempt.settle('failure', now);
    }
    for (let k = 0; k < MAX_SOURCES_PER_USERNAME * 3; k += 1) {
      const attempt = limits.admit(`172.${16 + ((k >> 8) & 15)}.${k & 255}.1`, 'alice', now);
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

describe('the password check queue', () => {
  /** A check that ends when told. */
  const held = () => {
    let end!: () => void;
    const done = new Promise<void>((resolve) => (end = resolve));
    return { end, check: () => done };
  };
  const at = (username: string, source: string) => ({ username, source, time: 0 });

  it('runs a few checks at once, the others in order of arrival, keeping a place for known users, and refuses beyond its waiting bound', async () => {
    const queue = new SignInQueue(3);
    const started: number[] = [];
    const checks = Array.from({ length: MAX_WAITING + 2 }, () => held());
    const runs = checks.map((one, k) => queue.run(() => (started.push(k), one.check()), at(`nobody${k}`, `10.0.${k}.1`)));
    // One more than the queue holds: refused at once, never run.
    expect(await queue.run(async () => 'ran', at('nobody', '10.9.9.9'))).toBe(BUSY);
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    // The last place is a known user's: one who signed in from there lately starts at once.
    queue.signedInFrom('alice', '198.51.100.1', 0);
    expect(await queue.run(async () => 'ran', at('alice', '198.51.100.1'))).toBe('ran');
    for (const one of checks) one.end();
    await Promise.all(runs);
    expect(started).toEqual(checks.map((_, k) => k));
    expect(queue.size()).toMatchObject({ running: 0, waiting: 0, peak: 3 });
  });

  it('lets a user who signed in from a source lately go ahead of the others there, and only that user from that source', async () => {
    const queue = new SignInQueue(1);
    queue.signedInFrom('alice', '198.51.100.1', 0);
    const first = held();
    const started: string[] = [];
    const run = (name: string, source: string) => queue.run(async () => void started.push(`${name}@${source}`), at(name, source));
    const running = queue.run(first.check, at('nobody', '10.0.0.1'));
    const waiting = [run('nobody', '10.0.0.2'), run('alice', '203.0.113.1'), run('alice', '198.51.100.1')];
    first.end();
    await Promise.all([running, ...waiting]);
    expect(started).toEqual(['alice@198.51.100.1', 'nobody@10.0.0.2', 'alice@203.0.113.1']);
  });
});
