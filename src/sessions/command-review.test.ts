import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { approvedRequest, keyPair, must, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import type { Actor } from '../access/index.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';
import { findDevicesNamed } from '../inventory/index.ts';
import { openDatabase, type DatabaseHandle } from '../platform/database.ts';
import type { Verdict } from './enter-guard.ts';
import { CommandDecisions, type DecisionContext } from './command-review.service.ts';
import type { GateDecision } from './policy-gate.ts';

/**
 * What command policies decide in a session, stored, and the review of a held line: `hold` as the
 * gateway calls it, the approvers' side through the API. Each attack on a decision is made and
 * shown refused, with the review and the event log as they were. The gateway end to end is in
 * command-review.gateway.test.ts.
 */
describe.each(DATABASE_KINDS)('command decisions and reviews on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  let alice: Actor;
  /** The session's user, and an approver of its group too: she may never decide her own lines. */
  let aliceApi: TestClient;
  let carol: TestClient;
  let dave: TestClient;
  /** An approver of another group. */
  let erin: TestClient;
  /** Session.View everywhere, approver of nothing. */
  let frank: TestClient;
  /** Session.View in another partition only. */
  let gina: TestClient;
  /** No privilege at all. */
  let mallory: TestClient;
  let session: { id: string; number: number };
  let context: DecisionContext;
  let soloGroupId: string;
  /** Starts another session of alice's on web01 under the same request, as instance `instanceId` runs it. */
  let startSession: (id: string, instanceId: string) => Promise<unknown>;
  /**
   * The service of the instance running the session, with a wait short enough to see it end;
   * approvers decide through the API's, another object, whose decisions reach it as the database's
   * notices do across instances.
   */
  let gateway: CommandDecisions;

  const TIMEOUT_MS = 2_000;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-review-'));
    t = await startTestChangegate(kind);
    const hostKey = keyPair(dir, 'host');
    const deviceKey = keyPair(dir, 'device');
    // No device is reached here: the services only store what the gateway tells them.
    for (const device of ['web01', 'web02']) {
      await must(t.admin.post('/devices', { name: device, hostname: '127.0.0.1', port: 22, hostKey: hostKey.publicKey.split(' ').slice(0, 2).join(' ') }), 201, `adding ${device}`);
      await must(t.admin.post('/credentials', { device, account: 'root', secret: { privateKey: deviceKey.privateKey } }), 201, `vaulting root@${device}`);
    }
    await must(t.admin.post('/partitions', { name: 'Plant-B' }), 201, 'adding a partition');
    const users = {
      alice: await buildUser(t, { username: 'alice' }),
      carol: await buildUser(t, { username: 'carol' }),
      dave: await buildUser(t, { username: 'dave' }),
      erin: await buildUser(t, { username: 'erin' }),
      frank: await buildUser(t, { username: 'frank', grants: [{ privilege: 'Session.View' }] }),
      gina: await buildUser(t, { username: 'gina', grants: [{ privilege: 'Session.View', partition: 'Plant-B' }] }),
      mallory: await buildUser(t, { username: 'mallory' }),
    };
    ({ carol, dave, erin, frank, gina, mallory } = Object.fromEntries(Object.entries(users).map(([name, user]) => [name, user.client])) as Record<keyof typeof users, TestClient>);
    aliceApi = users.alice.client;
    await must(t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['alice', 'carol', 'dave'] }), 201, 'adding ops');
    await must(t.admin.post('/access-groups', { name: 'db-team', executors: ['alice'], approvers: ['erin'] }), 201, 'adding db-team');
    const solo = await must(t.admin.post('/access-groups', { name: 'solo', executors: ['alice'], approvers: ['alice'] }), 201, 'adding solo');
    soloGroupId = solo.body.id;
    const now = t.clock.now().getTime();
    for (const [change, group, device] of [
      ['CHG-1', 'ops', 'web01'],
      ['CHG-2', 'db-team', 'web02'],
    ] as const) {
      const window = { startAt: new Date(now - 60_000).toISOString(), dueAt: new Date(now + 3_600_000).toISOString() };
      await must(t.admin.post('/changes', { name: change, title: `Work on ${device}`, ...window, accessGroup: group, devices: [device], script: 'systemctl status nginx' }), 201, `adding ${change}`);
    }
    const requestNumber = await approvedRequest(aliceApi, carol, 'web01');
    const user = await must(t.admin.get('/users/alice'), 200, 'reading alice');
    alice = { userId: user.body.id, username: 'alice' };

    const db = t.cg.database.db;
    const [device] = await findDevicesNamed(db, 'web01');
    const change = await findChangeByName(db, 'CHG-1');
    const request = await findRequestByNumber(db, requestNumber);
    if (!device || !change || !request) throw new Error('the fixture is missing its device, change or request');
    const id = randomUUID();
    startSession = (sessionId, instanceId) => t.cg.services.sessions.start({
      id: sessionId,
      kind: 'shell',
      actor: alice,
      sourceIp: '192.0.2.7',
      sourcePort: 50_022,
      device,
      account: 'root',
      change,
      request: { id: request.id, number: request.number },
      execCommand: null,
      term: 'xterm-256color',
      startedAt: t.clock.now(),
      recordingStore: 'files',
      recordingPath: path.join(dir, `${sessionId}.cast`),
      instanceId,
    });
    await startSession(id, 'instance-1');
    session = { id, number: (await must(t.admin.get(`/sessions/${id}`), 200, 'reading the session')).body.number };
    context = { sessionId: id, actor: alice, changeId: change.id, changeName: 'CHG-1', deviceId: device.id, deviceName: 'web01', accessGroupId: change.accessGroupId, offsetSeconds: 12.5 };
    gateway = new CommandDecisions({
      db,
      clock: t.clock,
      notifier: { notify: async (trx, notice) => void (await t.cg.services.notifications.notify(trx, notice)) },
      notifications: t.cg.database.notifications,
      timeoutMs: TIMEOUT_MS,
      // Beyond every wait here: a line goes on because it was woken, never because it looked again.
      recheckMs: 60_000,
    });
    await gateway.start();
  });

  afterAll(async () => {
    await gateway?.stop();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const line = (text: string, decision: GateDecision['decision'] = 'review'): GateDecision => ({ line: text, where: 'shell', fromKeystrokes: false, decision, reasons: [`review: rule "Services" matches \`${text}\``] });
  const eventsOf = async (action: string) =>
    (await must(t.admin.get(`/events?subject=session:${session.id}&action=${action}&limit=1000`), 200, `reading ${action}`)).body as Array<{ actor: string; data: Record<string, unknown> }>;
  /** Holds a line as the gateway would; the review's number is the one its message names. */
  const hold = async (text: string): Promise<{ verdict: Extract<Verdict, { action: 'review' }>; number: number }> => {
    const verdict = await gateway.hold(line(text), context);
    if (verdict.action !== 'review') throw new Error(`the line was not held: ${JSON.stringify(verdict)}`);
    return { verdict, number: Number(/review #(\d+)/.exec(verdict.message)?.[1]) };
  };
  const review = async (number: number) => (await must(t.admin.get(`/command-reviews/${number}`), 200, `reading review #${number}`)).body;

  it('records a denial with its event in one transaction: a decision that cannot be logged is not stored either', async () => {
    const recorded = await gateway.record(line('rm -rf /srv', 'deny'), context);
    expect(await review(recorded)).toMatchObject({ number: recorded, status: null, decision: 'deny', line: 'rm -rf /srv', session: session.number, change: 'CHG-1', device: 'web01', user: 'alice', asked: [], offsetSeconds: 12.5, where: 'shell' });
    expect((await eventsOf('session.command_policy')).find((event) => event.data.number === recorded)).toMatchObject({ actor: 'alice', data: { change: 'CHG-1', line: 'rm -rf /srv', decision: 'deny' } });

    const db = t.cg.database.db;
    await sql
      .raw(
        "CREATE FUNCTION refuse_this_line() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.data->>'line' = 'reboot' THEN RAISE EXCEPTION 'the log is unavailable'; END IF; RETURN NEW; END $$;" +
          ' CREATE TRIGGER refuse_this_line BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION refuse_this_line();',
      )
      .execute(db);
    try {
      await expect(gateway.record(line('reboot', 'deny'), context)).rejects.toThrow(/the log is unavailable/);
      await expect(gateway.hold(line('reboot'), context)).rejects.toThrow(/the log is unavailable/);
    } finally {
      await sql.raw('DROP TRIGGER refuse_this_line ON event; DROP FUNCTION refuse_this_line();').execute(db);
    }
    const all = (await must(t.admin.get(`/command-reviews?session=${session.number}&limit=1000`), 200, 'listing')).body as Array<{ line: string }>;
    expect(all.filter((decision) => decision.line === 'reboot')).toEqual([]);
    // Nor was anyone told of the review that was not stored.
    const notices = (await must(carol.get('/notifications'), 200, 'reading carol’s notices')).body as Array<{ body: string }>;
    expect(notices.filter((notice) => notice.body.includes('reboot'))).toEqual([]);
  });

  it('alerts the group\'s approvers but its user of a warned line, and of the first line of a session rebuilt from the keys typed (echo off)', async () => {
    const keys = (text: string): GateDecision => ({ line: text, where: 'shell', fromKeystrokes: true, decision: 'allow', reasons: [] });
    const warned = await gateway.record(line('sudo id', 'warn'), context);
    // A burst is one alert: the next warned line within a minute is on the board only; one after a quiet minute alerts again.
    const sameBurst = await gateway.record(line('sudo -l', 'warn'), context);
    t.clock.advance(61_000);
    const nextBurst = await gateway.record(line('sudo true', 'warn'), context);
    const firstUnechoed = await gateway.record(keys('ls /srv'), context);
    const secondUnechoed = await gateway.record(keys('ls /tmp'), context);
    type Notice = { kind: string; title: string; body: string; link: string | null; data: { decision?: number } };
    const noticesOf = async (client: TestClient) => ((await must(client.get('/notifications'), 200, 'reading notices')).body as Notice[]).filter((notice) => notice.kind.startsWith('command.') && notice.kind !== 'command.review');
    for (const approver of [carol, dave]) {
      const notices = await noticesOf(approver);
      expect(notices.find((notice) => notice.data.decision === warned)).toMatchObject({
        kind: 'command.warning',
        title: 'alice ran a line the command policy warns of, on web01 (CHG-1)',
        link: `/live-sessions/${session.number}#t=0:12`,
      });
      expect(notices.find((notice) => notice.data.decision === warned)?.body).toContain('    sudo id');
      expect(notices.filter((notice) => notice.data.decision === sameBurst)).toEqual([]);
      expect(notices.find((notice) => notice.data.decision === nextBurst)).toMatchObject({ kind: 'command.warning' });
      expect(notices.find((notice) => notice.data.decision === firstUnechoed)).toMatchObject({ kind: 'command.echo_off' });
      // One alert that echo is off per session, not one per line.
      expect(notices.filter((notice) => notice.data.decision === secondUnechoed)).toEqual([]);
    }
    // Not the user who typed them (an approver of the group too), nor anyone outside it.
    for (const other of [aliceApi, erin, frank]) expect(await noticesOf(other)).toEqual([]);
  });

  it('lists only the reviews the caller was asked to decide with asked=me', async () => {
    const { verdict, number } = await hold('systemctl reload nginx');
    await gateway.record(line('rm -rf /var', 'deny'), context);
    const asked = (await must(frank.get('/command-reviews?asked=me'), 200, 'frank’s reviews')).body as unknown[];
    expect(asked).toEqual([]);
    const forDave = (await must(dave.get('/command-reviews?asked=me'), 200, 'dave’s reviews')).body as Array<{ number: number; asked: string[] }>;
    expect(forDave.map((review) => review.number)).toContain(number);
    expect(forDave.every((review) => review.asked.includes('dave'))).toBe(true);
    expect((await frank.get('/command-reviews?asked=you')).status).toBe(400);
    verdict.cancel();
    await verdict.decision;
  });

  it('holds a line for the group\'s approvers but its user, tells them, and lets the line go on once one allows it', async () => {
    const { verdict, number } = await hold('systemctl restart nginx');
    expect(verdict.message).toBe(`this line waits for an approver (review #${number}; asked: carol, dave): review: rule "Services" matches \`systemctl restart nginx\`. Ctrl-C gives it up.`);
    expect(await review(number)).toMatchObject({ status: 'pending', decision: 'review', asked: ['carol', 'dave'], decidedBy: null });
    const pending = (await must(carol.get('/command-reviews?status=pending'), 200, 'carol’s pending reviews')).body as Array<{ number: number }>;
    expect(pending.map((item) => item.number)).toContain(number);
    const notice = ((await must(carol.get('/notifications'), 200, 'carol’s notices')).body as Array<{ kind: string; link: string; body: string }>).find((item) => item.link === `/approvals?review=${number}`);
    expect(notice).toMatchObject({ kind: 'command.review' });
    expect(notice?.body).toContain('systemctl restart nginx');
    expect(((await must(aliceApi.get('/notifications'), 200, 'alice’s notices')).body as Array<{ kind: string }>).filter((item) => item.kind === 'command.review')).toEqual([]);
    expect((await eventsOf('session.command_policy')).find((event) => event.data.number === number)).toMatchObject({ data: { decision: 'review', line: 'systemctl restart nginx' } });

    expect(await settledWithin(verdict.decision, 50)).toBe('still waiting');
    const decided = await must(dave.post(`/command-reviews/${number}/decision`, { decision: 'allow', comment: 'go ahead' }), 200, 'dave allows');
    expect(decided.body).toMatchObject({ number, status: 'allowed', decidedBy: 'dave', comment: 'go ahead' });
    expect(await settledWithin(verdict.decision, 1_000)).toEqual({ allowed: true });
    expect((await eventsOf('session.command_review.decided')).filter((event) => event.data.review === number)).toEqual([
      expect.objectContaining({ actor: 'dave', data: expect.objectContaining({ status: 'allowed', change: 'CHG-1' }) }),
    ]);
  });

  it('wakes a line held on the instance where it is decided at once, without the database\'s notice', async () => {
    // The API's own service: it holds the line, and listens to nothing (no background started).
    const here = t.cg.services.commandReviews;
    const verdict = await here.hold(line('systemctl restart apache2'), context);
    if (verdict.action !== 'review') throw new Error(`the line was not held: ${JSON.stringify(verdict)}`);
    const number = Number(/review #(\d+)/.exec(verdict.message)?.[1]);
    await must(carol.post(`/command-reviews/${number}/decision`, { decision: 'allow' }), 200, 'carol allows');
    // Its own re-reading comes every 5 s.
    expect(await settledWithin(verdict.decision, 1_000)).toEqual({ allowed: true });
  });

  it('tells the user who refused the line and why', async () => {
    const { verdict, number } = await hold('systemctl stop nginx');
    await must(carol.post(`/command-reviews/${number}/decision`, { decision: 'refuse', comment: 'not during\nbusiness hours' }), 200, 'carol refuses');
    expect(await settledWithin(verdict.decision, 1_000)).toEqual({ allowed: false, message: `carol refused the line (review #${number}): not during business hours; it did not run.` });
    expect(await review(number)).toMatchObject({ status: 'refused', decidedBy: 'carol' });
  });

  it('refuses every attack on a pending review, changing nothing: its own user, a non-approver, an approver of another group, a viewer', async () => {
    const { verdict, number } = await hold('systemctl reload nginx');
    const before = await review(number);
    const attempt = (client: TestClient) => client.post(`/command-reviews/${number}/decision`, { decision: 'allow' });

    const own = await attempt(aliceApi);
    expect(own.status).toBe(403);
    expect(own.body.error.code).toBe('self_approval');
    for (const stranger of [mallory, erin, gina]) {
      const answer = await attempt(stranger);
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('not_found');
      // A stranger learns nothing of the line, not even that the review exists.
      expect(JSON.stringify(answer.body)).not.toContain('nginx');
      expect((await stranger.get(`/command-reviews/${number}`)).status).toBe(404);
    }
    const viewer = await attempt(frank);
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('forbidden');
    // Bad input is refused too, after the privileges.
    const control = await carol.post(`/command-reviews/${number}/decision`, { decision: 'refuse', comment: 'ok\x1b]0;owned\x07' });
    expect(control.status).toBe(400);
    expect(control.body.error.code).toBe('validation_failed');
    expect((await carol.post(`/command-reviews/${number}/decision`, { decision: 'maybe' })).status).toBe(400);

    expect(await review(number)).toEqual(before);
    expect((await eventsOf('session.command_review.decided')).filter((event) => event.data.review === number)).toEqual([]);
    expect(await settledWithin(verdict.decision, 50)).toBe('still waiting');

    // Deciding twice: the first decision stands.
    await must(carol.post(`/command-reviews/${number}/decision`, { decision: 'allow' }), 200, 'carol allows');
    const twice = await dave.post(`/command-reviews/${number}/decision`, { decision: 'refuse' });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({ code: 'review_not_pending', details: { status: 'allowed' } });
    expect(await review(number)).toMatchObject({ status: 'allowed', decidedBy: 'carol' });
    expect(await verdict.decision).toEqual({ allowed: true });
  });

  it('an approver removed from the group since may see what they were asked, but no longer decide it', async () => {
    const { verdict, number } = await hold('systemctl restart sshd');
    await must(t.admin.patch('/access-groups/ops', { approvers: ['alice', 'carol'] }), 200, 'removing dave');
    try {
      expect((await dave.get(`/command-reviews/${number}`)).status).toBe(200);
      const answer = await dave.post(`/command-reviews/${number}/decision`, { decision: 'allow' });
      expect(answer.status).toBe(403);
      expect(await review(number)).toMatchObject({ status: 'pending' });
    } finally {
      await must(t.admin.patch('/access-groups/ops', { approvers: ['alice', 'carol', 'dave'] }), 200, 'adding dave back');
    }
    verdict.cancel();
    expect(await verdict.decision).toMatchObject({ allowed: false });
  });

  it('withdraws a review the user gives up (Ctrl-C), which then cannot be decided', async () => {
    const { verdict, number } = await hold('systemctl disable nginx');
    verdict.cancel();
    expect(await settledWithin(verdict.decision, 1_000)).toMatchObject({ allowed: false });
    const withdrawn = await waitUntil(async () => ((await review(number)).status === 'withdrawn' ? true : undefined), 'the review withdrawn');
    expect(withdrawn).toBe(true);
    expect((await eventsOf('session.command_review.withdrawn')).filter((event) => event.data.review === number)).toEqual([expect.objectContaining({ actor: 'alice' })]);
    const late = await carol.post(`/command-reviews/${number}/decision`, { decision: 'allow' });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'review_not_pending', details: { status: 'withdrawn' } });
    expect(await review(number)).toMatchObject({ status: 'withdrawn', decidedBy: null });
  });

  it('expires a review no one decides in time, refusing the line; it cannot be decided afterwards', async () => {
    const { verdict, number } = await hold('systemctl mask nginx');
    const answer = await settledWithin(verdict.decision, TIMEOUT_MS + 5_000);
    expect(answer).toEqual({ allowed: false, message: `no approver decided within 2 seconds (review #${number}); the line did not run.` });
    expect(await review(number)).toMatchObject({ status: 'expired', decidedBy: null });
    expect((await eventsOf('session.command_review.expired')).filter((event) => event.data.review === number)).toEqual([expect.objectContaining({ actor: 'system' })]);
    const late = await dave.post(`/command-reviews/${number}/decision`, { decision: 'allow' });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatchObject({ code: 'review_not_pending', details: { status: 'expired' } });
  });

  it('refuses at once a line that only its own user could review', async () => {
    const verdict = await gateway.hold(line('systemctl restart redis'), { ...context, accessGroupId: soloGroupId });
    expect(verdict).toEqual({
      action: 'deny',
      message: 'this line may not run: review: rule "Services" matches `systemctl restart redis`. It needs an approver, and its access group has none but you.',
    });
    const stored = ((await must(t.admin.get(`/command-reviews?session=${session.number}&limit=1000`), 200, 'listing')).body as Array<{ line: string; decision: string; status: string | null }>).find(
      (decision) => decision.line === 'systemctl restart redis',
    );
    expect(stored).toMatchObject({ decision: 'deny', status: null });
  });

  it('lists what each caller may see, pending reviews first: no line reaches anyone else', async () => {
    const { verdict, number } = await hold('systemctl restart postgresql');
    const listed = async (client: TestClient, query = '') => (await must(client.get(`/command-reviews${query}`), 200, 'listing')).body as Array<{ number: number; status: string | null; line: string | null }>;
    const forCarol = await listed(carol);
    expect(forCarol[0]).toMatchObject({ number, status: 'pending' });
    // Pending first, then newest first.
    const firstEnded = forCarol.findIndex((item) => item.status !== 'pending');
    expect(forCarol.slice(firstEnded).every((item) => item.status !== 'pending')).toBe(true);
    const ended = forCarol.slice(firstEnded).map((item) => item.number);
    expect(ended).toEqual([...ended].sort((a, b) => b - a));
    // Carol sees the reviews she is asked, not the denials of the session (she lacks Session.View).
    expect(forCarol.every((item) => item.status !== null)).toBe(true);
    expect((await listed(frank)).map((item) => item.number)).toContain(number);
    expect((await listed(aliceApi, `?session=${session.number}`)).map((item) => item.number)).toContain(number);
    for (const stranger of [mallory, erin, gina]) {
      expect(await listed(stranger)).toEqual([]);
      expect(await listed(stranger, `?session=${session.number}`)).toEqual([]);
      expect(await listed(stranger, '?status=pending')).toEqual([]);
    }
    expect((await listed(frank, '?status=expired')).every((item) => item.status === 'expired')).toBe(true);
    verdict.cancel();
    await verdict.decision;
  });

  it('withdraws the pending reviews of a session whose instance is gone as soon as another marks it interrupted', async () => {
    const orphan = randomUUID();
    await startSession(orphan, 'instance-gone');
    const verdict = await gateway.hold(line('systemctl restart atd'), { ...context, sessionId: orphan });
    if (verdict.action !== 'review') throw new Error('the line was not held');
    const number = Number(/review #(\d+)/.exec(verdict.message)?.[1]);
    const pending = async () => ((await must(carol.get('/command-reviews?asked=me&status=pending'), 200, 'carol’s pending reviews')).body as Array<{ number: number }>).map((item) => item.number);
    expect(await pending()).toContain(number);

    expect(await t.cg.services.sessions.recoverInterrupted({ restarted: 'instance-gone' })).toBe(1);
    expect(await review(number)).toMatchObject({ status: 'withdrawn', decidedBy: null });
    expect(await pending()).not.toContain(number);
    const withdrawn = (await must(t.admin.get(`/events?subject=session:${orphan}&action=session.command_review.withdrawn`), 200, 'reading the withdrawal')).body;
    expect(withdrawn).toEqual([expect.objectContaining({ actor: 'system', data: { review: number, change: 'CHG-1', reason: 'the session was interrupted' } })]);
    const late = await carol.post(`/command-reviews/${number}/decision`, { decision: 'allow' });
    expect(late.status).toBe(409);
    verdict.cancel();
  });

  it('withdraws a review whose session ended without it (its instance stopped), when an approver comes to decide it', async () => {
    const { verdict, number } = await hold('systemctl restart cron');
    // The holder's instance is gone: its wait no longer follows the review.
    await t.cg.services.sessions.end(session.id, alice, { endedAt: t.clock.now(), reason: 'interrupted', endedBy: null, exitStatus: null, bytesIn: 0, bytesOut: 0, recordingSha256: null, captureLossy: false, captureNotes: null });
    const answer = await carol.post(`/command-reviews/${number}/decision`, { decision: 'allow' });
    expect(answer.status).toBe(409);
    expect(answer.body.error).toMatchObject({ code: 'review_not_pending', details: { status: 'withdrawn' } });
    expect(await review(number)).toMatchObject({ status: 'withdrawn', decidedBy: null });
    expect(await settledWithin(verdict.decision, 1_000)).toEqual({ allowed: false, message: `review #${number} was withdrawn; the line did not run.` });
  });
});

describe.each(DATABASE_KINDS)('a review decided on one instance wakes the line held on another, on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  let other: DatabaseHandle | undefined;
  let holder: CommandDecisions;

  afterAll(async () => {
    await holder?.stop();
    await other?.close();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('resolves the held line as soon as the decision commits, long before the holder would read it again', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-review-wake-'));
    t = await startTestChangegate(kind);
    const hostKey = keyPair(dir, 'host');
    await must(t.admin.post('/devices', { name: 'web01', hostname: '127.0.0.1', port: 22, hostKey: hostKey.publicKey.split(' ').slice(0, 2).join(' ') }), 201, 'adding web01');
    await must(t.admin.post('/credentials', { device: 'web01', account: 'root', secret: { privateKey: keyPair(dir, 'device').privateKey } }), 201, 'vaulting root');
    const alice = await buildUser(t, { username: 'alice' });
    const carol = await buildUser(t, { username: 'carol' });
    await must(t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['carol'] }), 201, 'adding ops');
    const now = t.clock.now().getTime();
    await must(
      t.admin.post('/changes', { name: 'CHG-1', title: 'Work', startAt: new Date(now - 60_000).toISOString(), dueAt: new Date(now + 3_600_000).toISOString(), accessGroup: 'ops', devices: ['web01'], script: 'uptime' }),
      201,
      'adding CHG-1',
    );
    const requestNumber = await approvedRequest(alice.client, carol.client, 'web01');
    const db = t.cg.database.db;
    const actor: Actor = { userId: (await must(t.admin.get('/users/alice'), 200, 'reading alice')).body.id, username: 'alice' };
    const [device] = await findDevicesNamed(db, 'web01');
    const change = await findChangeByName(db, 'CHG-1');
    const request = await findRequestByNumber(db, requestNumber);
    if (!device || !change || !request) throw new Error('the fixture is missing its device, change or request');
    const sessionId = randomUUID();
    await t.cg.services.sessions.start({
      id: sessionId,
      kind: 'shell',
      actor,
      sourceIp: '192.0.2.7',
      sourcePort: null,
      device,
      account: 'root',
      change,
      request: { id: request.id, number: request.number },
      execCommand: null,
      term: 'xterm',
      startedAt: t.clock.now(),
      recordingStore: 'files',
      recordingPath: path.join(dir, `${sessionId}.cast`),
      instanceId: 'instance-2',
    });

    // The instance running the session: its own service, on its own connection to the database
    // (PGlite is one process: the same handle, as every instance of it shares).
    const handle = kind === 'postgres' ? (other = await openDatabase({ kind: 'postgres', url: t.databaseUrl as string })) : t.cg.database;
    holder = new CommandDecisions({
      db: handle.db,
      clock: t.clock,
      notifier: { notify: async (trx, notice) => void (await t.cg.services.notifications.notify(trx, notice)) },
      notifications: handle.notifications,
      // Far beyond the test: only the database's notice can wake the line in time.
      recheckMs: 120_000,
    });
    await holder.start();
    const verdict = await holder.hold(
      { line: 'systemctl restart nginx', where: 'shell', fromKeystrokes: false, decision: 'review', reasons: ['review: rule "Services"'] },
      { sessionId, actor, changeId: change.id, changeName: 'CHG-1', deviceId: device.id, deviceName: 'web01', accessGroupId: change.accessGroupId, offsetSeconds: 1 },
    );
    if (verdict.action !== 'review') throw new Error(`the line was not held: ${JSON.stringify(verdict)}`);
    const number = Number(/review #(\d+)/.exec(verdict.message)?.[1]);
    expect(await settledWithin(verdict.decision, 200)).toBe('still waiting');
    // Decided through the other instance's API, whose service knows nothing of the held line.
    await must(carol.client.post(`/command-reviews/${number}/decision`, { decision: 'allow' }), 200, 'carol allows');
    expect(await settledWithin(verdict.decision, 5_000)).toEqual({ allowed: true });
  });
});

/** What a held line hears within `ms`, or 'still waiting'. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([promise, new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), ms))]);
}
