import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSsh2, execOver, keyPair, OutputWatcher, rawRequests, waitUntil, WatchSocket } from '../../test/gateway-kit.ts';
import { buildUser, type TestChangegate } from '../../test/harness.ts';
import { startExecutorRig, type ExecutorRig } from '../../test/executor-rig.ts';
import type { Started } from '../changegate.ts';
import { MAX_SESSIONS_PER_CONNECTION } from './gateway.ts';
import { MAX_WATCHERS_PER_SESSION, MAX_WATCHERS_PER_USER } from './session.service.ts';

/** The stall timeout of replaying watchers in this test (60 s by default). */
const WATCH_STALL_MS = 2000;

describe('what a signed-in user can open: session channels, requests on them, watchers', () => {
  let rig: ExecutorRig | undefined;
  let t: TestChangegate;
  let started: Started;
  let baseUrl: string;
  let aliceKey: ReturnType<typeof keyPair>;
  let auditorCookie: string;
  let adminCookie: string;
  const clients: ssh2.Client[] = [];
  const watches: WatchSocket[] = [];

  beforeAll(async () => {
    rig = await startExecutorRig({ name: 'session-limits', change: 'CHG-LIMITS', options: { sessionTiming: { watchStallMs: WATCH_STALL_MS } } });
    ({ t, started, aliceKey } = rig);
    baseUrl = await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    const auditor = await buildUser(t, { username: 'auditor', grants: [{ privilege: 'Session.View' }, { privilege: 'Session.Watch' }] });
    auditorCookie = (auditor.client.credentials as { cookie: string }).cookie;
    adminCookie = (t.admin.credentials as { cookie: string }).cookie;
  });

  afterAll(async () => {
    for (const watch of watches) watch.close();
    for (const client of clients) client.end();
    await rig?.close();
  });

  const connect = async (login: string): Promise<ssh2.Client> => {
    const client = await connectSsh2(started.sshPort, login, aliceKey.privateKey);
    clients.push(client);
    return client;
  };

  /** A session on web01 that stays open: `cat` echoes what is written to it. */
  const openCat = (client: ssh2.Client, name: string): Promise<{ channel: ssh2.ClientChannel; output: OutputWatcher }> =>
    new Promise((resolve, reject) =>
      client.exec(`echo ready-${name}; cat`, (error, channel) => {
        if (error) return reject(error);
        const output = new OutputWatcher(`session ${name}`);
        channel.on('data', (data: Buffer) => output.append(data.toString('utf8')));
        void output.waitFor(`ready-${name}`).then(() => resolve({ channel, output }), reject);
      }),
    );

  const watch = (session: number, cookie: string): WatchSocket => {
    const socket = new WatchSocket(baseUrl, session, cookie);
    watches.push(socket);
    return socket;
  };

  /** The live sessions on web01 whose command is `echo ready-<name>; cat`, by name. */
  const liveSessions = async (): Promise<Map<string, { id: string; number: number }>> => {
    const rows = (await t.admin.get('/sessions?live=true&device=web01')).body as Array<{ id: string; number: number; execCommand: string | null }>;
    return new Map(rows.map((row) => [/ready-(\S+);/.exec(row.execCommand ?? '')?.[1] ?? '', { id: row.id, number: row.number }]));
  };

  it('shows the agent and X11 forwarding refusals once, however often the client asks for them', async () => {
    const client = await connect('alice');
    const raw = rawRequests(client);
    const exec = raw.exec.bind(raw);
    // Before the command, 2000 requests of each kind on the same channel (no reply asked, as OpenSSH does).
    raw.exec = (chan, command, wantReply) => {
      for (let k = 0; k < 2000; k++) {
        raw.openssh_agentForward(chan, false);
        raw.x11Forward(chan, { single: false, protocol: 'MIT-MAGIC-COOKIE-1', cookie: 'ab'.repeat(16), screen: 0 }, false);
      }
      exec(chan, command, wantReply);
    };
    const result = await execOver(client, 'true');
    raw.exec = exec;
    // alice named no device: she is told so, after the two notices, each once.
    expect(result.code).toBe(1);
    expect(result.stderr.match(/agent forwarding is refused/g)).toHaveLength(1);
    expect(result.stderr.match(/X11 forwarding is refused/g)).toHaveLength(1);
    expect(result.stderr).toContain('say which device to reach');
    // The connection goes on.
    expect((await execOver(client, 'true')).stderr).toContain('say which device to reach');
  });

  it('refuses a second shell on a session channel without ending the connection', async () => {
    const client = await connect('alice');
    const raw = rawRequests(client);
    const shell = raw.shell.bind(raw);
    // The client's shell request, and a second one right behind it on the same channel.
    raw.shell = (chan, wantReply) => {
      shell(chan, wantReply);
      shell(chan, false);
    };
    const result = await new Promise<{ stderr: string; code: number | null }>((resolve, reject) =>
      client.shell(false, (error, channel) => {
        raw.shell = shell;
        if (error) return reject(error);
        let stderr = '';
        let code: number | null = null;
        channel.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
        channel.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
        channel.on('exit', (status: number | null) => (code = status));
        channel.on('close', () => resolve({ stderr, code }));
      }),
    );
    // One program ran on the channel, not two (before, the gateway threw on the second request).
    expect(result.code).toBe(1);
    expect(result.stderr.match(/say which device to reach/g)).toHaveLength(1);
    expect((await execOver(client, 'true')).stderr).toContain('say which device to reach');
  });

  it(`refuses a session channel beyond ${MAX_SESSIONS_PER_CONNECTION} open on one connection, and opens one again once one closes`, { timeout: 60_000 }, async () => {
    const client = await connect('alice@web01');
    const sessions: Array<{ channel: ssh2.ClientChannel; output: OutputWatcher }> = [];
    try {
      for (let k = 0; k < MAX_SESSIONS_PER_CONNECTION; k++) sessions.push(await openCat(client, `c${k}`));
      await expect(openCat(client, 'one-more')).rejects.toThrow(/administratively prohibited|open failure/i);
      // The ten work: each still echoes.
      for (const [k, session] of sessions.entries()) {
        session.channel.write(`still-here-${k}\n`);
        await session.output.waitFor(`still-here-${k}\n`);
      }
      // One ends; a new channel is admitted once the gateway has seen it close.
      sessions.shift()?.channel.end();
      const again = await waitUntil(
        () => openCat(client, 'again').catch(() => undefined),
        'a session channel to be admitted once one closed',
      );
      sessions.push(again);
      again.channel.write('works\n');
      await again.output.waitFor('works\n');
    } finally {
      for (const session of sessions) session.channel.end();
    }
  });

  it(`refuses a watcher beyond ${MAX_WATCHERS_PER_USER} of one user and beyond ${MAX_WATCHERS_PER_SESSION} of one session, while the admitted ones follow the session`, { timeout: 60_000 }, async () => {
    const client = await connect('alice@web01');
    const a = await openCat(client, 'wa');
    const b = await openCat(client, 'wb');
    const live = await liveSessions();
    const sessionA = live.get('wa') as { id: string; number: number };
    const sessionB = live.get('wb') as { id: string; number: number };
    const sessions = t.cg.services.sessions;
    try {
      // The administrator watches A 10 times and B 6 times: 16 watches, her bound.
      const adminOnA = Array.from({ length: 10 }, () => watch(sessionA.number, adminCookie));
      const adminOnB = Array.from({ length: MAX_WATCHERS_PER_USER - 10 }, () => watch(sessionB.number, adminCookie));
      await Promise.all([...adminOnA, ...adminOnB].map((socket) => socket.admitted()));

      // A 17th watch of hers is refused, though A has room.
      const seventeenth = watch(sessionA.number, adminCookie);
      expect(await seventeenth.closed).toEqual({ code: 4029, reason: 'too_many_watchers' });
      expect(seventeenth.messages).toEqual([{ type: 'error', error: { code: 'too_many_watchers', message: `You are watching ${MAX_WATCHERS_PER_USER} times already: close a watch before opening another.` } }]);

      // The auditor fills A up to its bound, and is refused beyond it.
      const auditorOnA = Array.from({ length: MAX_WATCHERS_PER_SESSION - 10 }, () => watch(sessionA.number, auditorCookie));
      await Promise.all(auditorOnA.map((socket) => socket.admitted()));
      expect(sessions.watcherCount(sessionA.id)).toBe(MAX_WATCHERS_PER_SESSION);
      const full = watch(sessionA.number, auditorCookie);
      expect(await full.closed).toEqual({ code: 4029, reason: 'too_many_watchers' });
      expect(full.messages).toEqual([{ type: 'error', error: { code: 'too_many_watchers', message: `Session ${sessionA.number} has ${MAX_WATCHERS_PER_SESSION} watchers already: try again once one of them has left.` } }]);
      // The auditor may still watch B.
      const auditorOnB = watch(sessionB.number, auditorCookie);
      await auditorOnB.admitted();

      // Every admitted watcher follows the session live.
      a.channel.write('typed-live\n');
      for (const socket of [...adminOnA, ...auditorOnA]) {
        await waitUntil(async () => (socket.events.some(([, code, data]) => code === 'o' && data.includes('typed-live')) ? true : undefined), 'the live output at a watcher');
      }
      b.channel.write('typed-on-b\n');
      await waitUntil(async () => (auditorOnB.events.some(([, , data]) => data.includes('typed-on-b')) ? true : undefined), 'the live output of B');

      // One leaves: there is room for one more on A.
      adminOnA[0]?.close();
      await waitUntil(async () => (sessions.watcherCount(sessionA.id) === MAX_WATCHERS_PER_SESSION - 1 ? true : undefined), 'the watcher to be gone');
      const next = watch(sessionA.number, auditorCookie);
      await next.admitted();
      expect(sessions.watcherCount(sessionA.id)).toBe(MAX_WATCHERS_PER_SESSION);
    } finally {
      a.channel.end();
      b.channel.end();
    }
    // When the sessions end, their watchers are told and let go.
    await waitUntil(async () => (sessions.watcherCount(sessionA.id) + sessions.watcherCount(sessionB.id) === 0 ? true : undefined), 'the watchers to end with the sessions');
  });

  it(`drops a watcher that takes nothing of a replayed recording for the stall timeout (${WATCH_STALL_MS} ms here), while one that reads gets it all`, { timeout: 60_000 }, async () => {
    // A recording of about 34 MB: more than the watcher's bound and the sockets' buffers hold.
    const client = await connect('alice@web01');
    expect((await execOver(client, 'head -c 24000000 /dev/zero | base64')).code).toBe(0);
    const session = await waitUntil(async () => {
      const rows = (await t.admin.get('/sessions?device=web01&limit=1')).body as Array<{ id: string; number: number; live: boolean; bytesOut: number }>;
      return rows[0]?.live === false ? rows[0] : undefined;
    }, 'the session to be stored');
    const sessions = t.cg.services.sessions;

    const stalled = watch(session.number, adminCookie);
    await new Promise((resolve) => stalled.socket.once('open', resolve));
    stalled.socket.pause(); // takes nothing from here on
    await waitUntil(async () => (sessions.watcherCount(session.id) === 1 ? true : undefined), 'the watch to be admitted');
    // Only the stall timeout can end it now: the session is over, and the watcher neither reads nor leaves.
    await waitUntil(async () => (sessions.watcherCount(session.id) === 0 ? true : undefined), 'the stalled watcher to be dropped');
    stalled.socket.resume();
    expect(await stalled.closed).toEqual({ code: 4008, reason: 'watcher_too_slow' });
    expect(stalled.messages.at(-1)).toEqual({ type: 'error', error: { code: 'watcher_too_slow', message: 'The watch took nothing of the recording for 2 s and was ended: watch again when you can read it.' } });
    const output = (socket: WatchSocket) => socket.events.reduce((sum, [, code, data]) => sum + (code === 'o' ? data.length : 0), 0);
    expect(output(stalled)).toBeLessThan(session.bytesOut);

    // A watcher that reads gets the whole recording, then its end.
    const reader = watch(session.number, adminCookie);
    expect(await reader.closed).toEqual({ code: 1000, reason: 'session ended' });
    expect(reader.messages.at(-1)).toEqual({ type: 'end' });
    expect(output(reader)).toBe(session.bytesOut);
  });
});
