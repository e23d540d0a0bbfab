import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { addDevice, addOpenChange, keyPair, OutputWatcher, PROMPT, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';

const run = promisify(execFile);

/** A message the terminal socket sends. */
type ServerMessage = { type: 'output'; data: string } | { type: 'exit'; status: number | null } | { type: 'error'; error: { code: string; message: string } };

/** The browser's side of the web terminal: a WebSocket with the session cookie, its output collected. */
class WebTerminal {
  readonly screen = new OutputWatcher('the web terminal');
  readonly messages: ServerMessage[] = [];
  readonly errors: Error[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly socket: WebSocket;

  constructor(url: string, headers: Record<string, string>) {
    this.socket = new WebSocket(url, { headers });
    // A refused upgrade is an error event, then a close: the close is what the tests read.
    this.socket.on('error', (error) => this.errors.push(error));
    this.socket.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as ServerMessage;
      this.messages.push(message);
      if (message.type === 'output') this.screen.append(message.data);
    });
    this.closed = new Promise((resolve) => this.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  type(data: string): void {
    this.socket.send(JSON.stringify({ type: 'input', data }));
  }

  resize(cols: number, rows: number): void {
    this.socket.send(JSON.stringify({ type: 'resize', cols, rows }));
  }

  close(): void {
    this.socket.close();
  }
}

describe('the web terminal: a brokered, recorded session over a WebSocket', () => {
  let dir: string;
  let sshd: TestSshd;
  let t: TestChangegate;
  let base: string;
  let alice: { username: string; client: TestClient };
  let carol: { username: string; client: TestClient };

  const cookieOf = (client: TestClient) => `changegate_session=${(client.credentials as { cookie: string }).cookie}`;
  const terminalUrl = (target: string) => `${base.replace(/^http/, 'ws')}/api/v1/terminal?target=${encodeURIComponent(target)}&cols=100&rows=30`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-web-terminal-'));
    const deviceKey = keyPair(dir, 'device_root');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    t = await startTestChangegate('pglite', { CHANGEGATE_HTTP_HOST: '127.0.0.1' }, { sessionTiming: { decisionPollMs: 100 } });
    base = await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    alice = await buildUser(t, { username: 'alice' });
    carol = await buildUser(t, { username: 'carol' });
    await addDevice(t.admin, 'web01', sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: 'CHG-WEB', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks whether to wait, connects once approved, runs a command and records it all as a web session', async () => {
    const terminal = new WebTerminal(terminalUrl('web01'), { cookie: cookieOf(alice.client), origin: base });
    try {
      await terminal.screen.waitFor(/request #(\d+) to run CHG-WEB on web01 is created; it needs approval by carol/);
      await terminal.screen.waitFor('Wait here for the decision? [y/N] ');
      terminal.type('y\r');
      await terminal.screen.waitFor('Waiting for the decision');
      const number = Number(/request #(\d+)/.exec(terminal.screen.text)?.[1]);
      expect((await carol.client.post(`/requests/${number}/approve`, { comment: 'go' })).status).toBe(200);
      await terminal.screen.waitFor(`request #${number} is approved: connecting.`);
      await terminal.screen.waitFor(PROMPT);

      terminal.type('echo web-$((6*7))-works\r');
      await terminal.screen.waitFor(/web-42-works\r\n.*[#$] $/s);
      terminal.type('exit\r');
      expect(await terminal.closed).toEqual({ code: 1000, reason: 'session ended' });
      expect(terminal.messages.at(-1)).toEqual({ type: 'exit', status: 0 });
    } finally {
      terminal.close();
    }

    const session = await waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?device=web01')).body;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the web session to be stored');
    expect(session).toMatchObject({ kind: 'web', user: 'alice', device: 'web01', account: 'root', change: 'CHG-WEB', sourceIp: '127.0.0.1', sourcePort: null, endReason: 'client_closed', exitStatus: 0 });
    expect(session.recordingSha256).toMatch(/^[0-9a-f]{64}$/);
    const commands = (await t.admin.get(`/sessions/${session.number}/commands`)).body;
    expect(commands.map((command: { text: string }) => command.text)).toEqual(['echo web-$((6*7))-works', 'exit']);
    expect(commands[0]).toMatchObject({ output: 'web-42-works\n' });

    const recording = await t.admin.get(`/sessions/${session.number}/recording`);
    expect(recording.headers['x-recording-sha256']).toBe(session.recordingSha256);
    const header = JSON.parse(String(recording.body).split('\n')[0] as string);
    expect(header).toMatchObject({ version: 2, width: 100, height: 30, title: 'CHG-WEB alice@web01' });
    const file = path.join(dir, 'web.cast');
    writeFileSync(file, recording.body);
    expect((await run('asciinema', ['play', '-i', '0.05', file], { timeout: 30_000 })).stdout).toContain('web-42-works');
  });

  it('shows an approver’s denial in the user’s terminal as text: an escape sequence in the comment cannot steer the terminal', async () => {
    await addOpenChange(t.admin, { name: 'CHG-DENY', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    const terminal = new WebTerminal(terminalUrl('web01+CHG-DENY'), { cookie: cookieOf(alice.client), origin: base });
    try {
      await terminal.screen.waitFor('Wait here for the decision? [y/N] ');
      terminal.type('y\r');
      await terminal.screen.waitFor('Waiting for the decision');
      const number = Number(/request #(\d+)/.exec(terminal.screen.text)?.[1]);
      // Retitle the window, clear the screen, then write a fake prompt.
      const comment = 'not now\u001b]0;pwned\u0007\u001b[2J\r\nroot@web01:~# ';
      expect((await carol.client.post(`/requests/${number}/deny`, { comment })).status).toBe(200);
      await terminal.screen.waitFor(`request #${number} was denied by carol: not now\uFFFD]0;pwned\uFFFD\uFFFD[2J\uFFFD\uFFFDroot@web01:~# .`);
      const written = terminal.messages.flatMap((message) => (message.type === 'output' ? [message.data] : [])).join('');
      expect(written).not.toContain('\u001b]0;pwned');
      expect(written).not.toContain('\u001b[2J');
      terminal.type('n\r');
      expect((await terminal.closed).code).toBe(1000);
    } finally {
      terminal.close();
      // web01 is again in one open change only, as the other tests expect.
      expect((await t.admin.post('/changes/CHG-DENY/cancel', { reason: 'test over' })).status).toBe(200);
    }
  });

  it('clamps a resize to 20000 × 20000 to 1000 × 500 for the device and the recording, and passes 200 × 60 on', async () => {
    expect((await alice.client.post('/requests', { device: 'web01' })).status).toBeLessThan(300);
    const pending = (await carol.client.get('/requests?scope=approvals&status=pending')).body as Array<{ number: number }>;
    for (const request of pending) expect((await carol.client.post(`/requests/${request.number}/approve`, { comment: 'go' })).status).toBe(200);
    const terminal = new WebTerminal(terminalUrl('web01'), { cookie: cookieOf(alice.client), origin: base });
    const sttySize = async (): Promise<string> => {
      const before = terminal.screen.text.length;
      terminal.type('echo "size=$(stty size)."\r');
      const size = () => /size=(\d+ \d+)\./.exec(terminal.screen.text.slice(before))?.[1];
      await waitUntil(async () => size(), 'stty size');
      return size() as string;
    };
    try {
      await terminal.screen.waitFor(PROMPT);
      expect(await sttySize()).toBe('30 100');
      terminal.resize(20000, 20000);
      expect(await sttySize()).toBe('500 1000');
      terminal.resize(200, 60);
      expect(await sttySize()).toBe('60 200');
      terminal.type('exit\r');
      await terminal.closed;
    } finally {
      terminal.close();
    }
    const session = await waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?device=web01&limit=1')).body;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the web session to be stored');
    const cast = String((await t.admin.get(`/sessions/${session.number}/recording`)).body);
    const resizes = cast
      .split('\n')
      .slice(1)
      .filter((line) => line.includes('"r"'))
      .map((line) => (JSON.parse(line) as [number, string, string])[2]);
    expect(resizes).toEqual(['1000x500', '200x60']);
  });

  /**
   * A new executor waits in the web terminal for an approval; `meanwhile` happens to their account,
   * then the approval comes: nothing may open, and no session is recorded.
   */
  async function waitedInVain(username: string, meanwhile: (user: { client: TestClient }) => Promise<void>): Promise<void> {
    const user = await buildUser(t, { username });
    await addOpenChange(t.admin, { name: `CHG-${username.toUpperCase()}`, devices: ['web01'], executors: [username], approvers: ['carol'] }, t.clock.now().getTime());
    const terminal = new WebTerminal(terminalUrl('web01'), { cookie: cookieOf(user.client), origin: base });
    try {
      await terminal.screen.waitFor('Wait here for the decision? [y/N] ');
      terminal.type('y\r');
      await terminal.screen.waitFor('Waiting for the decision');
      const number = Number(/request #(\d+)/.exec(terminal.screen.text)?.[1]);
      await meanwhile(user);
      expect((await carol.client.post(`/requests/${number}/approve`, { comment: 'go' })).status).toBe(200);
      await terminal.screen.waitFor('your account was disabled, or its sign-in revoked, while you waited: nothing was opened.');
      await terminal.closed;
    } finally {
      terminal.close();
    }
    expect((await t.admin.get(`/sessions?user=${username}`)).body).toEqual([]);
  }

  it('opens nothing for a user disabled while waiting for the approval', async () => {
    await waitedInVain('dave', async () => {
      expect((await t.admin.post('/users/dave/disable')).status).toBe(200);
    });
  });

  it('opens nothing for a web session ended while waiting (a password reset), though the user stays enabled', async () => {
    await waitedInVain('frank', async (frank) => {
      expect((await t.admin.post('/users/frank/password', { password: 'a-new-password-for-frank' })).status).toBe(204);
      expect((await frank.client.get('/me')).status).toBe(401);
    });
  });

  it('refuses a cross-origin socket', async () => {
    const terminal = new WebTerminal(terminalUrl('web01'), { cookie: cookieOf(alice.client), origin: 'https://evil.example' });
    expect(await terminal.closed).toEqual({ code: 4003, reason: 'forbidden' });
    expect(terminal.messages).toEqual([{ type: 'error', error: { code: 'forbidden', message: 'Cross-origin WebSocket refused.' } }]);
  });

  it('refuses a socket without a session cookie', async () => {
    const terminal = new WebTerminal(terminalUrl('web01'), { origin: base });
    expect(await terminal.closed).toEqual({ code: 4001, reason: 'unauthenticated' });
    expect(terminal.messages).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'unauthenticated' }) }]);
  });
});
