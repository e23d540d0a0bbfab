import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import type { CapturedCommand } from '../sessions/index.ts';
import { DeviationAlerts } from './deviation-alerts.ts';
import { alertSubscribers } from './deviation-subscription.ts';
import { LiveBoards } from './live-board.ts';
import { storeSessionRecord } from './review.test-kit.ts';

/**
 * The board of a running session, kept in memory as its commands are captured, over the commands
 * of the change's earlier sessions on the device; the steps strict mode lets through; and the
 * alerts of deviations, one notice per burst. On both databases.
 */
describe.each(DATABASE_KINDS)('live boards and deviation alerts on %s', (kind) => {
  let t: TestChangegate;
  let alice: TestClient;
  let carol: TestClient;
  let bob: TestClient;
  const script = ['systemctl stop nginx', '# optional', 'apt-get update', 'apt-get install -y nginx={{version}}', 'systemctl start nginx'].join('\n');

  /** A session of CHG-L on web01 that is still running, after an earlier one that stopped nginx. */
  async function runningSession(): Promise<{ id: string; number: number }> {
    const db = t.cg.database.db;
    const running = await storeSessionRecord(t, { change: 'CHG-L', device: 'web01', user: { username: 'alice', client: alice }, startMinute: 30, commands: [] });
    await db.updateTable('session').set({ ended_at: null, end_reason: null, exit_status: null }).where('number', '=', running.number).execute();
    const row = await db.selectFrom('session').select('id').where('number', '=', running.number).executeTakeFirstOrThrow();
    return { id: row.id, number: running.number };
  }

  let seq = 0;
  const captured = (text: string): CapturedCommand => ({ seq: ++seq, time: new Date(t.clock.now().getTime() + 40 * 60_000 + seq * 1000), offsetSeconds: seq, text, output: '', outputTruncated: false, exitStatus: 0 });

  const deviationNotices = async (client: TestClient) =>
    ((await client.get('/notifications')).body as Array<{ kind: string; title: string; body: string; link: string }>).filter((notice) => notice.kind === 'session.deviation');

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    alice = (await buildUser(t, { username: 'alice' })).client;
    carol = (await buildUser(t, { username: 'carol' })).client;
    bob = (await buildUser(t, { username: 'bob' })).client;
    const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000).toISOString();
    expect((await t.admin.post('/devices', { name: 'web01', hostname: '192.0.2.10' })).status).toBe(201);
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['carol', 'alice'], deviationAlerts: 'every' })).status).toBe(201);
    expect((await t.admin.post('/changes', { name: 'CHG-L', title: 'Upgrade nginx', startAt: at(-5), dueAt: at(600), accessGroup: 'ops', devices: ['web01'], script })).status).toBe(201);
    await storeSessionRecord(t, { change: 'CHG-L', device: 'web01', user: { username: 'alice', client: alice }, startMinute: 0, commands: ['systemctl stop nginx'] });
  });
  afterAll(() => t.close());

  it('follows the script command by command, over the earlier sessions, and says what comes next', async () => {
    const session = await runningSession();
    const board = await new LiveBoards({ db: t.cg.database.db, clock: t.clock }).open(session.id);
    if (!board) throw new Error('no board');
    const rows = () => board.current().rows.map((row) => [row.kind, row.command?.text ?? row.step?.text]);
    expect(board.current()).toMatchObject({ session: session.number, change: 'CHG-L', device: 'web01', outcome: 'incomplete' });
    expect(board.current().next.map((step) => step.text)).toEqual(['apt-get update', 'apt-get install -y nginx={{version}}']);

    // Strict mode's question: the optional step or the next required one, whatever fills its placeholder; nothing beyond.
    expect(board.isNextStep('apt-get update', [])).toBe(true);
    expect(board.isNextStep('apt-get  install -y nginx=1.25.0', [])).toBe(true);
    expect(board.isNextStep('systemctl start nginx', [])).toBe(false);
    expect(board.isNextStep('systemctl stop nginx', [])).toBe(false);
    // A line let through and not read back yet counts as run.
    expect(board.isNextStep('systemctl start nginx', ['apt-get install -y nginx=1.25.0'])).toBe(true);
    expect(board.isNextStep('exit', [])).toBe(true);

    board.add(captured('apt-get install -y nginx=1.25.0'));
    board.add(captured('rm -rf /tmp/cache'));
    expect(rows()).toEqual([
      ['matched', 'systemctl stop nginx'],
      ['skipped', 'apt-get update'],
      ['matched', 'apt-get install -y nginx=1.25.0'],
      ['missing', 'systemctl start nginx'],
      ['extra', 'rm -rf /tmp/cache'],
    ]);
    expect(board.current().next.map((step) => step.text)).toEqual(['systemctl start nginx']);
    board.add(captured('systemctl start nginx'));
    // The session's closing exit is no deviation while it is the last command.
    board.add(captured('exit'));
    expect(board.current()).toMatchObject({ outcome: 'exceeded', next: [], counts: { matched: 3, extra: 1 } });
    expect(rows().at(-1)).toEqual(['session_end', 'exit']);
    await board.close();
  });

  it('alerts the approvers, not the executor, once for a burst, as the group asks', async () => {
    const session = await runningSession();
    const before = (await deviationNotices(carol)).length;
    const alerts = new DeviationAlerts({ db: t.cg.database.db, clock: t.clock, notifier: t.cg.services.notifications, windowMs: 60_000 });
    const board = await new LiveBoards({ db: t.cg.database.db, clock: t.clock, alerts }).open(session.id);
    if (!board) throw new Error('no board');
    board.add(captured('id -u'));
    board.add(captured('whoami'));
    // A required step before its turn: out of order once the step before it runs, which the group's "every" alerts too.
    board.add(captured('systemctl start nginx'));
    board.add(captured('apt-get install -y nginx=1'));
    expect(board.current().counts.outOfOrder).toBe(1);
    // Nothing is sent before the burst's window closes (a minute here): the session's end sends it.
    expect(await deviationNotices(carol)).toHaveLength(before);
    await board.close();
    const notices = await deviationNotices(carol);
    expect(notices).toHaveLength(before + 1);
    expect(notices[0]?.title).toBe(`CHG-L: 3 commands off the script on web01 (session #${session.number} of alice)`);
    expect(notices[0]?.body).toContain('not in the script: id -u');
    expect(notices[0]?.body).toMatch(/out of order: (systemctl start nginx|apt-get install -y nginx=1) \(the step "/);
    expect(notices[0]?.link).toBe(`/live-sessions/${session.number}#t=0:${String(seq - 3).padStart(2, '0')}`);
    // Alice is an approver of the group, but the commands are hers.
    expect(await deviationNotices(alice)).toEqual([]);
    expect(await deviationNotices(bob)).toEqual([]);
  });

  it('alerts only of commands not in the script when the group says "extra", and of nothing when "off"', async () => {
    const alerted = async (mode: 'extra' | 'off', texts: readonly string[]) => {
      const before = (await deviationNotices(carol)).length;
      const session = await runningSession();
      const alerts = new DeviationAlerts({ db: t.cg.database.db, clock: t.clock, notifier: t.cg.services.notifications, windowMs: 60_000 }).forSession({
        sessionId: session.id,
        session: session.number,
        change: 'CHG-L',
        changeId: 'unused',
        device: 'web01',
        userId: 'someone else',
        username: 'alice',
        approvers: [(await t.admin.get('/users/carol')).body.id as string],
        mode,
      });
      const board = await new LiveBoards({ db: t.cg.database.db, clock: t.clock }).open(session.id);
      for (const text of texts) {
        const added = board?.add(captured(text));
        const row = added?.rows.find((candidate) => candidate.command?.text === text);
        if (row?.kind === 'extra' || row?.kind === 'out_of_order') alerts?.add({ kind: row.kind, command: row.command as never, step: row.step?.text ?? null });
      }
      await alerts?.close();
      return (await deviationNotices(carol)).slice(0, (await deviationNotices(carol)).length - before);
    };
    // Out of order alone: no alert under "extra".
    expect(await alerted('extra', ['systemctl start nginx', 'apt-get install -y nginx=1'])).toEqual([]);
    const extra = await alerted('extra', ['uname -a', 'systemctl start nginx', 'apt-get install -y nginx=2']);
    expect(extra.map((notice) => notice.body)).toEqual([expect.stringMatching(/^\d+:\d\d {2}not in the script: uname -a$/)]);
    expect(await alerted('off', ['uname -a'])).toEqual([]);
  });

  it('alerts subscribers who may read the sessions, and refuses a subscription to anyone else', async () => {
    // Bob may not read the change's sessions: he cannot subscribe, and nothing was written.
    const refused = await bob.put('/changes/CHG-L/deviation-alerts', { subscribed: true });
    expect(refused.status).toBeGreaterThanOrEqual(403);
    expect(await t.cg.database.db.selectFrom('deviation_subscription').selectAll().execute()).toEqual([]);
    expect((await t.admin.post('/grants', { username: 'bob', privilege: 'Change.View', level: 'access' })).status).toBe(201);
    expect((await bob.put('/changes/CHG-L/deviation-alerts', { subscribed: true })).status).toBe(403);
    const grant = await t.admin.post('/grants', { username: 'bob', privilege: 'Session.View', level: 'access' });
    expect(grant.status).toBe(201);
    expect((await bob.put('/changes/CHG-L/deviation-alerts', { subscribed: true })).body).toEqual({ subscribed: true });
    expect((await bob.get('/changes/CHG-L/deviation-alerts')).body).toEqual({ subscribed: true });

    const burst = async () => {
      const session = await runningSession();
      const alerts = new DeviationAlerts({ db: t.cg.database.db, clock: t.clock, notifier: t.cg.services.notifications, subscribers: alertSubscribers, windowMs: 60_000 });
      const board = await new LiveBoards({ db: t.cg.database.db, clock: t.clock, alerts }).open(session.id);
      board?.add(captured('cat /etc/shadow'));
      await board?.close();
    };
    await burst();
    expect((await deviationNotices(bob)).map((notice) => notice.body)).toEqual([expect.stringContaining('not in the script: cat /etc/shadow')]);
    // Once his grant is revoked, the next alert does not reach him, though he is still subscribed.
    expect((await t.admin.delete(`/grants/${grant.body.id}`)).status).toBe(204);
    await burst();
    expect(await deviationNotices(bob)).toHaveLength(1);
    expect((await bob.put('/changes/CHG-L/deviation-alerts', { subscribed: false })).body).toEqual({ subscribed: false });
  });

  it("answers a session's board to its user and to Session.View, and to no one else", async () => {
    const session = await runningSession();
    const answer = await t.admin.get(`/sessions/${session.number}/progress`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ session: session.number, change: 'CHG-L', device: 'web01' });
    expect((await alice.get(`/sessions/${session.number}/progress`)).status).toBe(200);
    // Bob neither ran it nor holds Session.View: the session is not there for him.
    const refused = await bob.get(`/sessions/${session.number}/progress`);
    expect(refused.status).toBe(404);
    expect(JSON.stringify(refused.body)).not.toContain('nginx');
  });
});
