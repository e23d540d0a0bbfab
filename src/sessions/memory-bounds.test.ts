import { spawn } from 'node:child_process';
import ssh2 from 'ssh2';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPair, OutputWatcher, PROMPT, sampleMemory, sampleRetainedMemory, waitUntil } from '../../test/gateway-kit.ts';
import type { TestChangegate } from '../../test/harness.ts';
import { startExecutorRig, type ExecutorRig } from '../../test/executor-rig.ts';
import type { Started } from '../changegate.ts';
import { parseCast } from './recorder.ts';

/**
 * How much the test process may grow while a session asks for a 20000 × 20000 terminal: the
 * session itself (ssh2 on both ends, PGlite, the recorder) and the capture's emulator at its
 * largest, 1000 × 500 cells with 500 rows of scrollback (about 12 MB). Unclamped, the emulator
 * alone takes 20000 × 20500 cells of 12 bytes, about 5 GB, at the pty request and again at the
 * window change.
 */
const MEMORY_BOUND = 256 * 1024 * 1024;
/**
 * How much more the test process may hold (reachable after a full collection, sampled every
 * 200 ms) while a 148 MB session runs with a watcher that reads nothing: the watcher's bound
 * (8 MiB) beside the session's own buffers (ssh2 windows both ways, the recording's). Measured:
 * about 30 MB; without the bound, 164 MB (all of it, kept for the watcher).
 */
const WATCH_MEMORY_BOUND = 64 * 1024 * 1024;
/**
 * The same for a user who sends 100 MB to a device that reads nothing for 3 s: the typed-ahead
 * bound before the device is connected, the windows on the way, and no more. Measured: about
 * 6 MB; without pausing the user, 99 MB (and, before the typed-ahead bound paused the user
 * instead of dropping, a third of the input was lost).
 */
const INPUT_MEMORY_BOUND = 64 * 1024 * 1024;

/** A hundred megabytes through ssh, the gateway and ssh again take seconds alone, minutes beside the rest of the suite on two cores. */
const BULK_TIMEOUT_MS = 300_000;

describe('what a session can make the gateway hold', () => {
  let rig: ExecutorRig | undefined;
  let t: TestChangegate;
  let started: Started;
  let aliceKey: ReturnType<typeof keyPair>;

  beforeAll(async () => {
    rig = await startExecutorRig({ name: 'terminal-size', change: 'CHG-SIZE', env: { CHANGEGATE_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent' } });
    ({ t, started, aliceKey } = rig);
  });

  afterAll(async () => {
    await rig?.close();
  }, BULK_TIMEOUT_MS);

  /** The last session on web01 once it is stored. */
  const lastSession = () =>
    waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?device=web01&limit=1')).body;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the session to be stored');

  /** A shell through the gateway from an in-process ssh2 client, which can ask for any size. */
  async function shell(size: { cols: number; rows: number }): Promise<{ channel: ssh2.ClientChannel; screen: OutputWatcher; client: ssh2.Client }> {
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: '127.0.0.1', port: started.sshPort, username: 'alice@web01', privateKey: aliceKey.privateKey });
    });
    const channel = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
      client.shell({ term: 'xterm-256color', cols: size.cols, rows: size.rows, width: 0, height: 0 }, (error, opened) => (error ? reject(error) : resolve(opened))),
    );
    const screen = new OutputWatcher();
    channel.on('data', (data: Buffer) => screen.append(data.toString('utf8')));
    return { channel, screen, client };
  }

  /** Runs `stty size` on the device and returns what it printed: "rows cols". */
  async function sttySize(channel: ssh2.ClientChannel, screen: OutputWatcher): Promise<string> {
    const before = screen.text.length;
    channel.write('echo "size=$(stty size)."\r');
    const tail = () => /size=(\d+ \d+)\./.exec(screen.text.slice(before))?.[1];
    await waitUntil(async () => tail(), 'stty size');
    return tail() as string;
  }

  it('clamps a 20000 × 20000 pty and window change to 1000 × 500 for the device, the recording and the capture, within a memory bound', async () => {
    const memory = sampleMemory();
    const { channel, screen, client } = await shell({ cols: 20000, rows: 20000 });
    try {
      await screen.waitFor(PROMPT);
      expect(await sttySize(channel, screen)).toBe('500 1000');
      channel.setWindow(20000, 20000, 0, 0);
      expect(await sttySize(channel, screen)).toBe('500 1000');
      channel.write('exit\r');
      await new Promise((resolve) => channel.once('close', resolve));
    } finally {
      client.end();
    }
    const grew = memory.stop();
    expect(grew).toBeLessThan(MEMORY_BOUND);

    const session = await waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?device=web01&limit=1')).body;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the session to be stored');
    const cast = parseCast(String((await t.admin.get(`/sessions/${session.number}/recording`)).body));
    expect(cast.header).toMatchObject({ width: 1000, height: 500 });
    expect(cast.events.filter(([, code]) => code === 'r').map(([, , size]) => size)).toEqual(['1000x500']);
    // The capture's emulator ran at that size and still read the commands.
    const commands = (await t.admin.get(`/sessions/${session.number}/commands`)).body as Array<{ text: string; output: string }>;
    expect(commands.map((command) => command.text)).toEqual(['echo "size=$(stty size)."', 'echo "size=$(stty size)."', 'exit']);
    expect(commands[0]?.output).toBe('size=500 1000.\n');
  });

  it('passes a legitimate resize to 200 × 60 on to the device and the recording', async () => {
    const { channel, screen, client } = await shell({ cols: 80, rows: 24 });
    try {
      await screen.waitFor(PROMPT);
      expect(await sttySize(channel, screen)).toBe('24 80');
      channel.setWindow(60, 200, 0, 0);
      expect(await sttySize(channel, screen)).toBe('60 200');
      channel.write('exit\r');
      await new Promise((resolve) => channel.once('close', resolve));
    } finally {
      client.end();
    }
    const session = await waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?device=web01&limit=1')).body;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the session to be stored');
    const cast = parseCast(String((await t.admin.get(`/sessions/${session.number}/recording`)).body));
    expect(cast.header).toMatchObject({ width: 80, height: 24 });
    expect(cast.events.filter(([, code]) => code === 'r').map(([, , size]) => size)).toEqual(['200x60']);
  });

  it('drops a watcher that does not read, keeping at most its bound for it, while the user gets every byte', { timeout: BULK_TIMEOUT_MS }, async () => {
    // base64 of 110 MB of zeros: 148 MB of output, as fast as the device and the user go.
    const command = 'head -c 110000000 /dev/zero | base64; echo done-printing';
    const total = Buffer.alloc(110_000_000).toString('base64').replace(/.{76}/g, '$&\n').length + 1 + 'done-printing\n'.length;
    // The session to watch is the one started here, not one of an earlier test still ending.
    const earlier = ((await t.admin.get('/sessions?device=web01&limit=1')).body as Array<{ number: number }>)[0]?.number ?? 0;
    const user = spawn('ssh', ['-F', '/dev/null', '-p', String(started.sshPort), '-i', aliceKey.file, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-T', 'alice@web01@127.0.0.1', `sleep 1; ${command}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let received = 0;
    user.stdout.on('data', (chunk: Buffer) => (received += chunk.length));
    const exited = new Promise<number | null>((resolve) => user.once('exit', resolve));
    const live = await waitUntil(
      async () => ((await t.admin.get('/sessions?live=true&device=web01')).body as Array<{ id: string; number: number }>).find((session) => session.number > earlier),
      'the live session',
    );

    const address = await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    const cookie = `changegate_session=${(t.admin.credentials as { cookie: string }).cookie}`;
    const watcher = new WebSocket(`${address.replace('http', 'ws')}/api/v1/sessions/${live.number}/watch`, { headers: { cookie } });
    await new Promise((resolve) => watcher.once('open', resolve));
    watcher.pause(); // reads nothing: the gateway's sends pile up for it
    const memory = sampleRetainedMemory();
    const watchers = () => t.cg.services.sessions.watcherCount(live.id);
    await waitUntil(async () => (watchers() === 1 ? true : undefined), 'the watch to be admitted');
    await waitUntil(async () => (watchers() === 0 ? true : undefined), 'the gateway to drop the watcher', 60_000);

    // Dropped: the watcher reads what was sent before the drop, and the close, well within the
    // server's close handshake (30 s), however long the session still takes.
    let watched = 0;
    let last = '';
    watcher.on('message', (data: Buffer) => {
      watched += data.length;
      last = String(data);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => watcher.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    watcher.resume();
    expect(await closed).toEqual({ code: 4008, reason: 'watcher_too_slow' });
    expect(await exited).toBe(0);
    const grew = memory.stop();
    expect(received).toBe(total);
    expect(JSON.parse(last)).toMatchObject({ type: 'error', error: { code: 'watcher_too_slow' } });
    expect(watched).toBeLessThan(total / 4);
    // What the gateway held for the watcher: its bound (8 MiB) at most, beside the session's own churn.
    expect(grew).toBeLessThan(WATCH_MEMORY_BOUND);

    // The recording and the exec command's record are whole and bounded.
    const session = await lastSession();
    expect(session.bytesOut).toBe(total);
    const [record] = (await t.admin.get(`/sessions/${session.number}/commands`)).body as Array<{ output: string; outputTruncated: boolean }>;
    expect(record?.outputTruncated).toBe(true);
    expect(record?.output.length).toBeLessThanOrEqual(64 * 1024);

    // Watching the ended session replays its 148 MB recording a line at a time, as fast as the
    // watcher reads, rather than reading the file whole.
    const replay = new WebSocket(`${address.replace('http', 'ws')}/api/v1/sessions/${session.number}/watch`, { headers: { cookie } });
    let replayed = 0;
    const replayMemory = sampleRetainedMemory();
    await new Promise<void>((resolve, reject) => {
      replay.on('message', (data: Buffer) => {
        const message = JSON.parse(String(data)) as [number, string, string] | { type: string };
        if (Array.isArray(message)) replayed += message[1] === 'o' ? Buffer.byteLength(message[2]) : 0;
        else if (message.type === 'end') resolve();
        else reject(new Error(String(data)));
      });
    });
    const replayGrew = replayMemory.stop();
    replay.close();
    expect(replayed).toBe(total);
    expect(replayGrew).toBeLessThan(WATCH_MEMORY_BOUND);
  });

  it('stops reading a user who sends faster than the device reads, instead of holding it, and delivers it all', { timeout: BULK_TIMEOUT_MS }, async () => {
    // The device reads nothing for a while (sleep), then all of it (wc): 100 MB wait on the way.
    const options = ['-F', '/dev/null', '-p', String(started.sshPort), '-i', aliceKey.file, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-T'];
    const user = spawn('sh', ['-c', `head -c 100000000 /dev/zero | ssh ${options.join(' ')} alice@web01@127.0.0.1 'sleep 3; wc -c'`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    user.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => user.once('exit', resolve));
    const memory = sampleRetainedMemory();
    expect(await exited).toBe(0);
    const grew = memory.stop();
    expect(stdout.trim()).toBe('100000000');
    expect(grew).toBeLessThan(INPUT_MEMORY_BOUND);
    const session = await lastSession();
    expect(session.bytesIn).toBe(100_000_000);
  });
});
