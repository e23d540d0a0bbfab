import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';

/**
 * The change audit over stored sessions: what the gateway writes when sessions end is written
 * here directly, so the board, filters and reports can be checked on both databases.
 */
describe.each(DATABASE_KINDS)('the change audit on %s', (kind) => {
  let t: TestChangegate;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000);

  /** Stores a finished session of `change` on `device` that ran `commands` (text, output). */
  async function storeSession(change: string, device: string, user: string, startMinute: number, commands: Array<[string, string?]>): Promise<number> {
    const db = t.cg.database.db;
    const found = await findChangeByName(db, change);
    const deviceRow = await db.selectFrom('device').selectAll().where('name', '=', device).executeTakeFirstOrThrow();
    const userRow = await db.selectFrom('app_user').selectAll().where('username', '=', user).executeTakeFirstOrThrow();
    const requester = await buildUserIfMissing(user);
    const outcome = await requester.post('/requests', { device, change });
    const request = await findRequestByNumber(db, outcome.body.request.number);
    const id = randomUUID();
    const row = await db
      .insertInto('session')
      .values({
        id,
        kind: 'shell',
        user_id: userRow.id,
        username: user,
        source_ip: '192.0.2.7',
        source_port: 50022,
        device_id: deviceRow.id,
        device_name: device,
        partition_id: deviceRow.partition_id,
        account: 'root',
        change_id: found!.id,
        change_name: change,
        request_id: request!.id,
        exec_command: null,
        term: 'xterm',
        started_at: at(startMinute),
        ended_at: at(startMinute + 10),
        end_reason: 'client_closed',
        ended_by: null,
        exit_status: 0,
        bytes_in: 10,
        bytes_out: 100,
        recording_path: `/nonexistent/${id}.cast`,
        recording_sha256: 'ab'.repeat(32),
        capture_lossy: false,
        instance_id: 'test',
        heartbeat_at: at(startMinute + 10),
      })
      .returning('number')
      .executeTakeFirstOrThrow();
    for (const [index, [text, output]] of commands.entries()) {
      await db
        .insertInto('session_command')
        .values({ session_id: id, seq: index + 1, time: at(startMinute + index + 1), offset_seconds: 60 * (index + 1), text, output: output ?? '', output_truncated: false, exit_status: 0 })
        .execute();
    }
    await t.cg.services.reviews.recompute(found!.id);
    return row.number;
  }

  const clients = new Map<string, Awaited<ReturnType<typeof buildUser>>['client']>();
  async function buildUserIfMissing(username: string) {
    const existing = clients.get(username);
    if (existing) return existing;
    const { client } = await buildUser(t, { username });
    clients.set(username, client);
    return client;
  }

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    await buildUserIfMissing('alice');
    await buildUserIfMissing('bob');
    for (const device of ['web01', 'web02']) {
      expect((await t.admin.post('/devices', { name: device, hostname: '192.0.2.10' })).status).toBe(201);
    }
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['alice', 'bob'], approvers: ['admin'] })).status).toBe(201);
    const script = ['# Restart nginx', 'systemctl stop nginx', '# optional', 'apt-get update', 'apt-get install -y \\', '  nginx={{version}}', '# expect: active \\(running\\)', 'systemctl start nginx'].join('\n');
    const created = await t.admin.post('/changes', { name: 'CHG-7', title: 'Upgrade nginx', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: ['web01', 'web02'], script });
    expect(created.status).toBe(201);
    const clean = await t.admin.post('/changes', { name: 'CHG-8', title: 'Check uptime', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: ['web02'], script: 'uptime' });
    expect(clean.status).toBe(201);

    // web01, over two sessions: everything but the optional step, plus an extra command.
    await storeSession('CHG-7', 'web01', 'alice', 0, [['systemctl stop nginx'], ['apt-get install -y nginx=1.24.0']]);
    await storeSession('CHG-7', 'web01', 'alice', 20, [['rm -rf /tmp/cache'], ['systemctl start nginx', 'Active: active (running)']]);
    // web02: the start never ran; and CHG-8 exactly as planned.
    await storeSession('CHG-7', 'web02', 'bob', 40, [['systemctl stop nginx'], ['apt-get install -y nginx=1.24.0']]);
    await storeSession('CHG-8', 'web02', 'bob', 60, [['uptime', ' 12:00:00 up 1 day']]);
  });
  afterAll(() => t.close());

  it('shows the board per device across sessions, with the score and outcome', async () => {
    const audit = await t.admin.get('/changes/CHG-7/audit');
    expect(audit.status).toBe(200);
    const boards = Object.fromEntries(
      audit.body.devices.map((device: { device: string; rows: Array<{ kind: string; step: { text: string } | null; command: { text: string } | null }> }) => [
        device.device,
        device.rows.map((row) => [row.kind, row.command?.text ?? row.step?.text]),
      ]),
    );
    expect(boards.web01).toEqual([
      ['matched', 'systemctl stop nginx'],
      ['skipped', 'apt-get update'],
      ['matched', 'apt-get install -y nginx=1.24.0'],
      ['extra', 'rm -rf /tmp/cache'],
      ['matched', 'systemctl start nginx'],
    ]);
    expect(boards.web02).toEqual([
      ['matched', 'systemctl stop nginx'],
      ['skipped', 'apt-get update'],
      ['matched', 'apt-get install -y nginx=1.24.0'],
      ['missing', 'systemctl start nginx'],
    ]);
    const web01 = audit.body.devices.find((device: { device: string }) => device.device === 'web01');
    expect(web01).toMatchObject({ score: 75, outcome: 'exceeded' });
    // Whole change: matched 5 of (6 required + 1 extra).
    expect(audit.body).toMatchObject({ score: 71, outcome: 'incomplete_and_exceeded' });
    expect(audit.body.sessions).toHaveLength(3);
    const matchedRow = web01.rows[4];
    expect(matchedRow.command).toMatchObject({ offsetSeconds: 120, recording: expect.stringMatching(/^\/api\/v1\/sessions\/\d+\/recording$/) });
  });

  it('lists audited sessions filtered by change, user, device, outcome, score and command text', async () => {
    const numbers = async (query: string) => (await t.admin.get(`/audit/sessions?${query}`)).body.map((session: { change: string; user: string }) => `${session.change}/${session.user}`).sort();
    expect(await numbers('change=CHG-8')).toEqual(['CHG-8/bob']);
    expect(await numbers('user=alice')).toEqual(['CHG-7/alice', 'CHG-7/alice']);
    expect(await numbers('device=web02')).toEqual(['CHG-7/bob', 'CHG-8/bob']);
    expect(await numbers('outcome=as_planned')).toEqual(['CHG-8/bob']);
    expect(await numbers('scoreMax=80')).toEqual(['CHG-7/alice', 'CHG-7/alice', 'CHG-7/bob']);
    expect(await numbers('scoreMin=100')).toEqual(['CHG-8/bob']);
    expect(await numbers(`command=${encodeURIComponent('rm -rf')}`)).toEqual(['CHG-7/alice']);
    const first = (await t.admin.get('/audit/sessions?change=CHG-8')).body[0];
    expect(first).toMatchObject({ changeScore: 100, changeOutcome: 'as_planned', sourceIp: '192.0.2.7', durationSeconds: 600 });
  });

  it('exports the audit as JSON, CSV and a self-contained HTML page', async () => {
    const json = await t.admin.get('/changes/CHG-7/audit/report?format=json');
    expect(json.headers['content-disposition']).toContain('CHG-7-audit.json');
    expect(json.body.score).toBe(71);

    const csv = await t.admin.get('/changes/CHG-7/audit/report?format=csv');
    const lines = String(csv.body).trim().split('\r\n');
    expect(lines[0]).toBe('"change","device","row","kind","script_line","script_step","command","session","time","offset_seconds","exit_status","linked_row"');
    expect(lines).toHaveLength(1 + 5 + 4);
    expect(lines.some((line) => line.includes('"extra"') && line.includes('"rm -rf /tmp/cache"'))).toBe(true);

    const html = await t.admin.get('/changes/CHG-7/audit/report?format=html');
    const page = String(html.body);
    expect(html.headers['content-type']).toContain('text/html');
    expect(page).toContain('<tr class="missing">');
    expect(page).toContain('<tr class="extra">');
    expect(page).toContain('Active: active (running)');
    expect(page).not.toMatch(/<script|src="http|href="http/);
  });

  it('refuses the audit to a user without Session.View, as "not found" when they cannot see the change', async () => {
    const stranger = await buildUserIfMissing('stranger');
    expect((await stranger.get('/changes/CHG-7/audit')).status).toBe(404);
    expect((await stranger.get('/audit/sessions')).status).toBe(403);
    const viewer = (await buildUser(t, { username: 'viewer', grants: [{ privilege: 'Change.View' }] })).client;
    const denied = await viewer.get('/changes/CHG-7/audit');
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('Session.View');
  });
});
