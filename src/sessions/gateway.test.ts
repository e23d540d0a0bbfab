import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { keyPair, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { totpCode } from '../identity/index.ts';
import type { Started } from '../changegate.ts';

const run = promisify(execFile);

describe('the SSH gateway, with a real sshd and real ssh clients', () => {
  let dir: string;
  let t: TestChangegate;
  let sshd: TestSshd;
  let started: Started;
  let alice: { username: string; password: string; client: TestClient };
  let carol: { username: string; client: TestClient };
  let aliceKey: { file: string; publicKey: string };
  const iso = (offsetMs: number) => new Date(t.clock.now().getTime() + offsetMs).toISOString();

  /** Registers a device reachable at the test sshd with root's vaulted key, in a change alice may run. */
  async function changeOn(device: string, change: string, window: { startMs: number; dueMs: number }, group = 'ops'): Promise<void> {
    expect((await t.admin.post('/changes', { name: change, title: `Work on ${device}`, startAt: iso(window.startMs), dueAt: iso(window.dueMs), accessGroup: group, devices: [device], script: 'echo one\nuptime' })).status).toBe(201);
  }

  async function approveLatest(): Promise<void> {
    const pending = await carol.client.get('/requests?scope=approvals&status=pending');
    for (const request of pending.body) expect((await carol.client.post(`/requests/${request.number}/approve`, { comment: 'go' })).status).toBe(200);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-gateway-'));
    const deviceKey = keyPair(dir, 'device_root');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' }, { sessionTiming: { warningsBeforeDueMs: [3000], decisionPollMs: 200 } });
    started = await t.cg.startBackground();
    aliceKey = keyPair(dir, 'alice');
    alice = await buildUser(t, { username: 'alice' });
    carol = await buildUser(t, { username: 'carol' });
    expect((await alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey })).status).toBe(201);
    for (const name of ['web01', 'db01', 'evil01']) {
      const hostKey = name === 'evil01' ? keyPair(dir, 'impostor').publicKey : sshd.hostKey;
      expect((await t.admin.post('/devices', { name, hostname: '127.0.0.1', port: sshd.port, hostKey })).status).toBe(201);
      expect((await t.admin.post('/credentials', { device: name, account: 'root', secret: { privateKey: deviceKey.privateKey } })).status).toBe(201);
    }
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['carol'] })).status).toBe(201);
    await changeOn('web01', 'CHG-1', { startMs: -60_000, dueMs: 3_600_000 });
    await changeOn('evil01', 'CHG-EVIL', { startMs: -60_000, dueMs: 3_600_000 });
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its port and host key fingerprint when started', () => {
    expect(started.sshPort).toBeGreaterThan(0);
    expect(started.gatewayFingerprint).toMatch(/^SHA256:/);
  });

  it('refuses a device no change includes, with a one-line reason and exit status 1', async () => {
    const result = await ssh(started.sshPort, 'alice@db01', 'true', { key: aliceKey.file });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No change lets you onto device db01');
  });

  it('creates a request on the first attempt, says who must approve, and connects once approved', async () => {
    const first = await ssh(started.sshPort, 'alice@web01', 'echo hello', { key: aliceKey.file });
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(/request #\d+ to run CHG-1 on web01 is created; it needs approval by carol/);
    const again = await ssh(started.sshPort, 'alice@web01', 'echo hello', { key: aliceKey.file });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/waits for approval by carol/);

    await approveLatest();
    const approved = await ssh(started.sshPort, 'alice@web01', 'echo hello; exit 3', { key: aliceKey.file });
    expect(approved.stdout).toBe('hello\n');
    expect(approved.code).toBe(3);

    const sessions = await t.admin.get('/sessions?device=web01');
    const session = sessions.body.find((row: { execCommand: string | null }) => row.execCommand === 'echo hello; exit 3');
    expect(session).toMatchObject({ user: 'alice', device: 'web01', account: 'root', change: 'CHG-1', exitStatus: 3, endReason: 'client_closed', live: false });
    expect(session.recordingSha256).toMatch(/^[0-9a-f]{64}$/);
    const commands = await t.admin.get(`/sessions/${session.number}/commands`);
    expect(commands.body).toEqual([expect.objectContaining({ seq: 1, text: 'echo hello; exit 3', output: 'hello\n', exitStatus: 3 })]);
    const ends = await t.admin.get(`/events?action=session.end&subject=session:${session.id}`);
    expect(ends.body[0].data.recordingSha256).toBe(session.recordingSha256);
    const change = await t.admin.get('/changes/CHG-1');
    expect(change.body.scriptFrozen).toBe(true);
  });

  it('records a shell session that asciinema plays, with its commands captured', async () => {
    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    await terminal.waitFor(/[#$] $/m);
    terminal.type('echo one-two-three\r');
    await terminal.waitFor(/one-two-three\r?\n.*[#$] /s);
    terminal.type('exit\r');
    expect(await terminal.exited).toBe(0);

    const sessions = await t.admin.get('/sessions?device=web01&command=one-two-three');
    expect(sessions.body).toHaveLength(1);
    const number = sessions.body[0].number;
    const commands = await t.admin.get(`/sessions/${number}/commands`);
    expect(commands.body.map((command: { text: string }) => command.text)).toEqual(['echo one-two-three', 'exit']);

    const recording = await t.admin.get(`/sessions/${number}/recording`);
    expect(recording.status).toBe(200);
    const file = path.join(dir, 'session.cast');
    writeFileSync(file, recording.body);
    const header = JSON.parse(String(recording.body).split('\n')[0] as string);
    expect(header).toMatchObject({ version: 2, title: 'CHG-1 alice@web01' });
    const played = await run('asciinema', ['play', '-i', '0.05', file], { timeout: 30_000 });
    expect(played.stdout).toContain('one-two-three');
  });

  it('refuses a device whose host key is not the pinned one, and logs it', async () => {
    await approveLatest();
    const first = await ssh(started.sshPort, 'alice@evil01', 'true', { key: aliceKey.file });
    expect(first.code).toBe(2);
    await approveLatest();
    const result = await ssh(started.sshPort, 'alice@evil01', 'true', { key: aliceKey.file });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/presented host key SHA256:\S+, not the pinned one/);
    const events = await t.admin.get('/events?action=device.hostkey.mismatch');
    expect(events.body.some((event: { subject: string }) => event.subject === 'device:evil01')).toBe(true);
  });

  it('signs in with password and TOTP over keyboard-interactive', async () => {
    const begun = await alice.client.post('/me/totp');
    expect((await alice.client.post('/me/totp/confirm', { code: totpCode(begun.body.secret, t.clock.now()) })).status).toBe(204);
    t.clock.advance(30_000);
    const askpass = path.join(dir, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\ncase "$1" in *assword*) echo '${alice.password}';; *) echo '${totpCode(begun.body.secret, t.clock.now())}';; esac\n`);
    chmodSync(askpass, 0o755);
    const result = await ssh(started.sshPort, 'alice@web01', 'echo via-totp', {
      sshOptions: ['-o', 'PreferredAuthentications=keyboard-interactive'],
      env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'none' },
    });
    expect(result.stdout).toBe('via-totp\n');
    const wrong = path.join(dir, 'wrong.sh');
    writeFileSync(wrong, `#!/bin/sh\necho 'not-her-password'\n`);
    chmodSync(wrong, 0o755);
    const refused = await ssh(started.sshPort, 'alice@web01', 'true', {
      sshOptions: ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1'],
      env: { SSH_ASKPASS: wrong, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'none' },
    });
    expect(refused.code).toBe(255);
    expect((await alice.client.post('/me/totp', undefined)).status).toBe(409);
  });

  it('refuses agent forwarding and says so', async () => {
    // A real agent: ssh asks to forward it only when one answers.
    const socket = path.join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket]);
    try {
      await waitUntil(async () => (existsSync(socket) ? true : undefined), 'the agent socket');
      const result = await ssh(started.sshPort, 'alice@web01', 'echo still-here', { key: aliceKey.file, sshOptions: ['-A'], env: { SSH_AUTH_SOCK: socket } });
      expect(result.stderr).toContain('agent forwarding is refused');
      expect(result.stdout).toBe('still-here\n');
    } finally {
      agent.kill();
    }
  });

  it('warns before the due date and ends the session at it', async () => {
    await changeOn('db01', 'CHG-SHORT', { startMs: -60_000, dueMs: 6_000 });
    await ssh(started.sshPort, 'alice@db01', 'true', { key: aliceKey.file });
    await approveLatest();
    const terminal = new Terminal(started.sshPort, 'alice@db01', aliceKey.file);
    await terminal.waitFor(/[#$] $/m);
    await terminal.waitFor('closes in 3 seconds');
    await terminal.waitFor('the session ends now');
    await terminal.exited;
    const session = await waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?change=CHG-SHORT')).body;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the short session to end');
    expect(session.endReason).toBe('due_date_reached');
  });

  it('lets a watcher follow a live session and a terminator end it, telling the user who did and why', async () => {
    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    await terminal.waitFor(/[#$] $/m);
    terminal.type('echo before-watch\r');
    await terminal.waitFor(/before-watch\r?\n/);
    const live = await waitUntil(async () => (await t.admin.get('/sessions?live=true&device=web01')).body[0], 'the live session');

    const address = await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    const credentials = t.admin.credentials as { cookie: string };
    const socket = new WebSocket(`${address.replace('http', 'ws')}/api/v1/sessions/${live.number}/watch`, { headers: { cookie: `changegate_session=${credentials.cookie}` } });
    const seen: string[] = [];
    socket.on('message', (data) => seen.push(String(data)));
    await waitUntil(async () => (seen.some((message) => message.includes('before-watch')) ? true : undefined), 'the replay');
    terminal.type('echo during-watch\r');
    await waitUntil(async () => (seen.some((message) => message.includes('during-watch')) ? true : undefined), 'a live event');

    // Refused terminations change nothing: alice may not end her own session, and a reason
    // longer than a terminal line is a 400 naming the field. The session goes on.
    expect((await alice.client.post(`/sessions/${live.number}/terminate`, { reason: 'done' })).body.error.code).toBe('forbidden');
    const tooLong = await t.admin.post(`/sessions/${live.number}/terminate`, { reason: 'x'.repeat(501) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details.problems).toEqual([{ path: '/body/reason', message: expect.stringContaining('500') }]);
    expect((await t.admin.get(`/sessions/${live.number}`)).body).toMatchObject({ live: true, endReason: null });
    terminal.type('echo still-running\r');
    await terminal.waitFor(/still-running\r?\n/);

    const reason = 'the vendor recalled the patch';
    const ended = await t.admin.post(`/sessions/${live.number}/terminate`, { reason: `  ${reason}\n` });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ live: false, endReason: 'terminated', endedBy: 'admin', terminationReason: reason });
    await terminal.waitFor(`the session was terminated by admin: ${reason}.`);
    await waitUntil(async () => (seen.some((message) => message.includes('"end"')) ? true : undefined), 'the end of the watch');
    // The watcher read the reason too: it is in the recording.
    expect(seen.some((message) => message.includes(reason))).toBe(true);
    const events = (await t.admin.get(`/events?subject=session:${live.id}`)).body as Array<{ action: string; actor: string; data: Record<string, unknown> }>;
    expect(events.find((event) => event.action === 'session.end')).toMatchObject({ actor: 'admin', data: { reason: 'terminated', why: reason } });
    socket.close();
  });

  it('denies watching and terminating without the privileges', async () => {
    const sessions = await t.admin.get('/sessions?device=web01');
    const number = sessions.body[0].number;
    const mallory = await buildUser(t, { username: 'mallory' });
    expect((await mallory.client.get(`/sessions/${number}`)).status).toBe(404);
    expect((await mallory.client.post(`/sessions/${number}/terminate`)).status).toBe(404);
    // alice sees her own session but may not terminate it.
    expect((await alice.client.get(`/sessions/${number}`)).status).toBe(200);
    expect((await alice.client.post(`/sessions/${number}/terminate`)).body.error.code).toBe('forbidden');
  });

  it('audits a script run with one step skipped and one command extra', async () => {
    expect(
      (await t.admin.post('/changes', { name: 'CHG-REVIEW', title: 'Greek letters', startAt: iso(-60_000), dueAt: iso(3_600_000), accessGroup: 'ops', devices: ['web01'], script: 'echo alpha\necho beta\necho gamma\n' })).status,
    ).toBe(201);
    await ssh(started.sshPort, 'alice@web01+CHG-REVIEW', 'true', { key: aliceKey.file });
    await approveLatest();
    const terminal = new Terminal(started.sshPort, 'alice@web01+CHG-REVIEW', aliceKey.file);
    await terminal.waitFor(/[#$] $/m);
    for (const command of ['echo alpha', 'hostname', 'echo  gamma']) {
      const before = terminal.output.length;
      terminal.type(`${command}\r`);
      await waitUntil(async () => (/[#$] $/.test(terminal.output.slice(before)) ? true : undefined), `the prompt after ${command}`);
    }
    terminal.type('\u0004');
    await terminal.exited;
    const audit = await waitUntil(async () => {
      const answer = await t.admin.get('/changes/CHG-REVIEW/audit');
      return answer.body.sessions?.[0]?.live === false ? answer.body : undefined;
    }, 'the session to end');
    const board = audit.devices[0].rows.map((row: { kind: string; step: { text: string } | null; command: { text: string } | null }) => [row.kind, row.step?.text ?? row.command?.text]);
    expect(board).toEqual([
      ['matched', 'echo alpha'],
      ['missing', 'echo beta'],
      ['extra', 'hostname'],
      ['matched', 'echo gamma'],
    ]);
    expect(audit).toMatchObject({ score: 50, outcome: 'incomplete_and_exceeded' });
    const listed = await t.admin.get('/audit/sessions?change=CHG-REVIEW');
    expect(listed.body[0]).toMatchObject({ change: 'CHG-REVIEW', changeScore: 50, changeOutcome: 'incomplete_and_exceeded' });
  });

  it('keeps the event log verifiable', async () => {
    const verified = await t.admin.post('/events/verify');
    expect(verified.body.ok).toBe(true);
  });
});
