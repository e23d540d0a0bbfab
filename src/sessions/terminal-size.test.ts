import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, addOpenChange, approvedRequest, keyPair, must, OutputWatcher, PROMPT, sampleMemory, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
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

describe('terminal sizes at the gateway', () => {
  let dir: string;
  let sshd: TestSshd;
  let t: TestChangegate;
  let started: Started;
  let aliceKey: ReturnType<typeof keyPair>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-terminal-size-'));
    const deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' });
    started = await t.cg.startBackground();
    const alice = await buildUser(t, { username: 'alice' });
    const carol = await buildUser(t, { username: 'carol' });
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'registering alice’s key');
    await addDevice(t.admin, 'web01', sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: 'CHG-SIZE', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, 'web01');
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

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
});
