import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { gatewayPortOf, keyPair, must, PROMPT, setUpExecutor, signInOver, Terminal, waitUntil, type GatewayCast, type RemoteClient } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { newInstallation, startServer, type Installation, type RunningServer } from '../cli/cli-process.testing.ts';
import { systemClock } from '../platform/clock.ts';
import { openDatabase, type DatabaseHandle } from '../platform/database.ts';
import { parseCast } from './recorder.ts';
import { DatabaseRecordingStore } from './recording-store.ts';
import { verifyRecordingAgainstLog } from './recording-verify.ts';

const run = promisify(execFile);

/** Heartbeats every second: an instance is silent after three missed, its sessions interrupted by the next pass. */
const HEARTBEAT_SECONDS = 1;
/** The documented bound: a killed instance's sessions are interrupted within four heartbeat intervals. */
const TAKEOVER_BOUND_MS = 4 * HEARTBEAT_SECONDS * 1000;

/** Waits until `condition` holds. */
const until = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs?: number) =>
  waitUntil(async () => ((await condition()) ? true : undefined), what, timeoutMs);

/** The terminal output a recording holds, its events joined. */
const outputOf = (cast: string) =>
  parseCast(cast)
    .events.filter(([, code]) => code === 'o')
    .map(([, , data]) => data)
    .join('');

/** A WebSocket watch of a session through one instance, collecting what it sends. */
function watch(server: RunningServer, client: RemoteClient, number: number) {
  const credentials = client.credentials as { cookie: string };
  const socket = new WebSocket(`${server.url.replace('http', 'ws')}/api/v1/sessions/${number}/watch`, {
    headers: { cookie: `changegate_session=${credentials.cookie}`, origin: server.url },
  });
  const messages: string[] = [];
  socket.on('message', (data) => messages.push(String(data)));
  const events = () => messages.map((message) => JSON.parse(message) as unknown).filter((value): value is [number, string, string] => Array.isArray(value));
  return { socket, messages, events, output: () => events().filter(([, code]) => code === 'o').map(([, , data]) => data).join('') };
}

// Two `changegate serve` processes on one PostgreSQL database, as behind a load balancer.
describe('two instances on one PostgreSQL database', () => {
  let dir: string;
  let sshd: TestSshd;
  let deviceKey: ReturnType<typeof keyPair>;
  let aliceKey: ReturnType<typeof keyPair>;
  let installation: Installation;
  let a: RunningServer;
  let b: RunningServer;
  let database: DatabaseHandle;
  let adminOnB: RemoteClient;
  let sshPortOfA: number;
  let cast: GatewayCast;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-scale-out-'));
    deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    installation = await newInstallation(
      'postgres',
      { CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, CHANGEGATE_INSTANCE_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS) },
      { migrated: true },
    );
    a = await startServer(installation);
    sshPortOfA = gatewayPortOf(a.stdout());
    // The second instance has its own data directory with the first one's keys, as the README says to set it up.
    const second = mkdtempSync(path.join(tmpdir(), 'changegate-scale-out-b-'));
    for (const key of ['log-signing.key', 'gateway_host_ed25519_key']) copyFileSync(path.join(installation.dataDir, key), path.join(second, key));
    b = await startServer({ env: { ...installation.env, CHANGEGATE_DATA_DIR: second } });
    database = await openDatabase({ kind: 'postgres', url: installation.env.DATABASE_URL as string });
    adminOnB = await signInOver(b.url, 'admin', ADMIN_PASSWORD);
    cast = await setUpExecutor(a.url, { adminPassword: ADMIN_PASSWORD, sshd, rootKey: deviceKey.privateKey, aliceKey: aliceKey.publicKey, change: 'CHG-SCALE' });
  }, 240_000);

  afterAll(async () => {
    await database?.close();
    await a?.stop('SIGKILL');
    await b?.stop('SIGKILL');
    await installation?.remove();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists both instances, live, to an administrator', async () => {
    const instances = (await must(adminOnB.get('/instances'), 200, 'listing the instances')).body as Array<{ status: string; httpPort: number | null }>;
    expect(instances.filter((instance) => instance.status === 'live')).toHaveLength(2);
  });

  it('watches, plays and terminates from B a session opened through A', { timeout: 120_000 }, async () => {
    const terminal = new Terminal(sshPortOfA, 'alice@web01', aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      terminal.type('echo typed-on-a-1\r');
      await terminal.waitFor(/typed-on-a-1\r\n.*[#$] $/s);
      const live = await waitUntil(async () => (await adminOnB.get('/sessions?live=true&device=web01')).body[0], 'the live session, seen from B');

      // The watch from B replays what A recorded, then follows it live.
      const fromB = watch(b, adminOnB, live.number);
      await until(() => fromB.output().includes('\rtyped-on-a-1\r\n'), "the replay of A's recording on B");
      terminal.type('echo typed-on-a-2\r');
      await until(() => fromB.output().includes('\rtyped-on-a-2\r\n'), 'the live output on B');

      // Its own user may see the session through B but not end it: refused, and it goes on.
      const aliceOnB = await signInOver(b.url, 'alice', 'password-of-alice');
      expect((await aliceOnB.post(`/sessions/${live.number}/terminate`, { reason: 'mine' })).body.error.code).toBe('forbidden');
      expect((await adminOnB.get(`/sessions/${live.number}`)).body).toMatchObject({ live: true, endReason: null });
      terminal.type('echo still-on-a\r');
      await terminal.waitFor(/still-on-a\r\n.*[#$] $/s);

      // The recording plays from B while the session still runs.
      const partial = await must(adminOnB.get(`/sessions/${live.number}/recording`), 200, 'the live recording from B');
      expect(outputOf(String(partial.body))).toContain('typed-on-a-2');

      const reason = 'the window moved to Saturday';
      const ended = await must(adminOnB.post(`/sessions/${live.number}/terminate`, { reason }), 200, 'terminating from B');
      expect(ended.body).toMatchObject({ live: false, endReason: 'terminated', endedBy: 'admin', terminationReason: reason });
      await terminal.waitFor(`the session was terminated by admin: ${reason}.`);
      await until(() => fromB.messages.some((message) => message.includes('"end"')), 'the end of the watch on B');

      // The watch from B saw exactly the recording's events, in order, as a watch on A would.
      const recording = await must(adminOnB.get(`/sessions/${live.number}/recording`), 200, 'the whole recording from B');
      const text = String(recording.body);
      expect(fromB.events()).toEqual(parseCast(text).events);
      expect(outputOf(text)).toContain(reason);
      const file = path.join(dir, 'terminated.cast');
      writeFileSync(file, text);
      const played = await run('asciinema', ['play', '-i', '0.05', file], { timeout: 30_000 });
      expect(played.stdout).toContain('typed-on-a-2');
      expect(recording.headers['x-recording-sha256']).toMatch(/^[0-9a-f]{64}$/);
      const check = await verifyRecordingAgainstLog(database.db, live.id, new DatabaseRecordingStore({ db: database.db, clock: systemClock }).read(live.id));
      expect(check).toMatchObject({ complete: true, verifiedBytes: Buffer.byteLength(text) });
      fromB.socket.close();
    } finally {
      terminal.close();
    }
  });

  it("ends on A the session whose request is revoked through B, telling its user why", { timeout: 120_000 }, async () => {
    const terminal = new Terminal(sshPortOfA, 'alice@web01', aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      const live = await waitUntil(async () => (await adminOnB.get('/sessions?live=true&device=web01')).body[0], 'the live session, seen from B');
      await must(adminOnB.post(`/requests/${live.request}/revoke`, { reason: 'the plan has a typo' }), 200, 'revoking the request through B');
      await terminal.waitFor('terminated by admin: the plan has a typo');
      expect(await terminal.exited).not.toBeNull();
      const ended = await waitUntil(async () => {
        const session = (await adminOnB.get(`/sessions/${live.number}`)).body;
        return session.live ? undefined : session;
      }, 'the session to end on A');
      expect(ended).toMatchObject({ endReason: 'terminated', endedBy: 'admin' });
    } finally {
      terminal.close();
    }
    // The next test's session needs a request of its own.
    const asked = await must(cast.alice.post('/requests', { device: 'web01', again: true }), 201, 'asking again');
    await must(cast.carol.post(`/requests/${asked.body.request.number}/approve`, { comment: 'go' }), 200, 'approving again');
  });

  it('when A is killed, B marks its session interrupted within the bound, and its recording plays from B and verifies', { timeout: 120_000 }, async () => {
    const terminal = new Terminal(sshPortOfA, 'alice@web01', aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      terminal.type('echo before-the-kill\r');
      await terminal.waitFor(/before-the-kill\r\n.*[#$] $/s);
      const live = await waitUntil(async () => (await adminOnB.get('/sessions?live=true&device=web01')).body[0], 'the live session, seen from B');
      // The output is in the shared store (flushed within a second), and the log vouches for it.
      await until(async () => outputOf(String((await adminOnB.get(`/sessions/${live.number}/recording`)).body)).includes('\rbefore-the-kill\r\n'), 'the output in the shared recording');
      await until(async () => (await verifyRecordingAgainstLog(database.db, live.id, new DatabaseRecordingStore({ db: database.db, clock: systemClock }).read(live.id))).verifiedBytes > 0, 'a logged write');

      expect((await a.stop('SIGKILL')).signal).toBe('SIGKILL');
      const killedAt = Date.now();
      const interrupted = await waitUntil(
        async () => {
          const session = (await adminOnB.get(`/sessions/${live.number}`)).body;
          return session.endReason === 'interrupted' ? session : undefined;
        },
        'B to mark the session interrupted',
        TAKEOVER_BOUND_MS + 10_000,
      );
      // Within the documented bound, with a second of slack for the test's own polling.
      expect(Date.now() - killedAt).toBeLessThan(TAKEOVER_BOUND_MS + 1_000);
      const instances = (await adminOnB.get('/instances')).body as Array<{ status: string }>;
      expect(instances.map((instance) => instance.status).sort()).toEqual(['live', 'silent']);

      const recording = await must(adminOnB.get(`/sessions/${live.number}/recording`), 200, 'the recording from B');
      const text = String(recording.body);
      expect(outputOf(text)).toContain('\rbefore-the-kill\r\n');
      expect(recording.headers['x-recording-sha256']).toBe(interrupted.recordingSha256);
      const check = await verifyRecordingAgainstLog(database.db, live.id, new DatabaseRecordingStore({ db: database.db, clock: systemClock }).read(live.id));
      expect(check).toMatchObject({ complete: true, verifiedBytes: Buffer.byteLength(text) });
      expect((await must(adminOnB.post('/events/verify'), 200, 'verifying the event log')).body).toMatchObject({ ok: true });
    } finally {
      terminal.close();
    }
  });
});
