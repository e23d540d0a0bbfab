/**
 * Two Changegate instances in this process on one PostgreSQL database, as behind a load balancer:
 * they register and list each other, one going silent has its open session marked interrupted by
 * the other, request expiry run by both expires each request once, and readiness follows the
 * migrations. The instances' heartbeat is set long (300 s) so that their timers never beat during
 * the test: the test beats for them (`heartbeat()`) and moves their shared clock.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { addDevice, addOpenChange, approvedRequest, connectSsh2, keyPair, waitUntil } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, signIn, TEST_MASTER_KEY, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { createChangegate, type Changegate, type Started } from '../changegate.ts';
import { ManualClock } from './clock.ts';
import { loadConfig } from './config.ts';
import { openDatabase, type DatabaseHandle } from './database.ts';

const HEARTBEAT_SECONDS = 300;

describe('two instances sharing one PostgreSQL database', () => {
  let dir: string;
  let database: TestDatabase;
  let second: DatabaseHandle;
  let sshd: TestSshd;
  const clock = new ManualClock();
  let a: Changegate;
  let b: Changegate;
  let startedA: Started;
  let admin: TestClient;
  let alice: { username: string; client: TestClient };
  let carol: { username: string; client: TestClient };
  let aliceKey: { privateKey: string; publicKey: string };
  let connection: ssh2.Client | undefined;

  function configIn(dataDir: string) {
    return loadConfig({
      env: {
        CHANGEGATE_DATA_DIR: dataDir,
        CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY,
        CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
        CHANGEGATE_LOG_LEVEL: 'silent',
        CHANGEGATE_SSH_PORT: '0',
        CHANGEGATE_HTTP_HOST: '127.0.0.1',
        CHANGEGATE_INSTANCE_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS),
      },
    });
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-instances-'));
    const deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    database = await openTestDatabase('postgres');
    second = await openDatabase({ kind: 'postgres', url: database.url as string });
    a = await createChangegate({ config: configIn(path.join(dir, 'a')), clock, database });
    // Instances sharing a database share the log's signing key (README, "Running several instances").
    mkdirSync(path.join(dir, 'b'));
    copyFileSync(path.join(dir, 'a', 'log-signing.key'), path.join(dir, 'b', 'log-signing.key'));
    b = await createChangegate({ config: configIn(path.join(dir, 'b')), clock, database: second });
    startedA = await a.startBackground({ httpPort: 8080 });
    await b.startBackground({ httpPort: 8081 });
    admin = await signIn(a, 'admin', ADMIN_PASSWORD);
    const t: TestChangegate = { cg: a, clock, admin, close: async () => undefined };
    alice = await buildUser(t, { username: 'alice' });
    carol = await buildUser(t, { username: 'carol' });
    expect((await admin.post('/users/alice/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey })).status).toBe(201);
    await addDevice(admin, 'web01', sshd, deviceKey.privateKey);
    await addOpenChange(admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, clock.now().getTime());
  });

  afterAll(async () => {
    connection?.end();
    await a?.close();
    await b?.close();
    await second?.close();
    await database?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers both, and lists them with their ports to a user administrator', async () => {
    const listed = await admin.get('/instances');
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(2);
    expect(listed.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: a.instance.id, status: 'live', pid: process.pid, httpPort: 8080, sshPort: startedA.sshPort, stoppedAt: null, drainingSince: null }),
        expect.objectContaining({ id: b.instance.id, status: 'live', httpPort: 8081 }),
      ]),
    );
    expect(a.instance.id).not.toBe(b.instance.id);
    // The other instance answers the same.
    const fromB = await (await signIn(b, 'admin', ADMIN_PASSWORD)).get('/instances');
    expect(fromB.body.map((instance: { id: string }) => instance.id).sort()).toEqual(listed.body.map((instance: { id: string }) => instance.id).sort());
  });

  it('refuses the list to a user without User.Admin, telling nothing of the instances', async () => {
    const refused = await alice.client.get('/instances');
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    const text = JSON.stringify(refused.body);
    expect(text).not.toContain(a.instance.id);
    expect(text).not.toContain(b.instance.id);
    expect(text).not.toContain(String(startedA.sshPort));
  });

  it('expires each request once when both instances run the expiry at once: one entry and one notice each', async () => {
    await addOpenChange(admin, { name: 'CHG-SHORT', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, clock.now().getTime() - 3_500_000);
    // Its window closes 100 s from now.
    const asked = await alice.client.post('/requests', { device: 'web01', change: 'CHG-SHORT', justification: 'before the window closes' });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const number = asked.body.request.number as number;
    clock.advance(200_000);
    const [byA, byB] = await Promise.all([a.services.requests.expireDue(), b.services.requests.expireDue()]);
    expect(byA + byB).toBe(1);
    expect((await alice.client.get(`/requests/${number}`)).body.status).toBe('expired');
    const entries = await admin.get(`/events?action=request.expire&subject=request:${number}`);
    expect(entries.body).toHaveLength(1);
    const notices = (await alice.client.get('/notifications')).body.filter((notice: { kind: string; data: { request?: number } }) => notice.kind === 'request.expired' && notice.data.request === number);
    expect(notices).toHaveLength(1);
    // Run again, by either: nothing more.
    expect(await Promise.all([a.services.requests.expireDue(), b.services.requests.expireDue()])).toEqual([0, 0]);
  });

  it('marks the open session of an instance that stopped beating interrupted, from the other, within 4 heartbeats', async () => {
    await approvedRequest(alice.client, carol.client, 'web01');
    connection = await connectSsh2(startedA.sshPort, 'alice@web01', aliceKey.privateKey);
    connection.exec('sleep 600', () => undefined);
    const session = await waitUntil(async () => (await admin.get('/sessions?live=true')).body[0] as { number: number; id: string } | undefined, 'the session to start on instance A');
    // A stops beating (as if killed): its timers are 300 s away, and the test beats only for B.
    clock.advance(2 * HEARTBEAT_SECONDS * 1000);
    expect(await b.heartbeat()).toBe(0);
    expect((await admin.get(`/sessions/${session.number}`)).body.endedAt).toBeNull();
    clock.advance(2 * HEARTBEAT_SECONDS * 1000);
    expect(await b.heartbeat()).toBe(1);
    const ended = (await admin.get(`/sessions/${session.number}`)).body;
    expect(ended).toMatchObject({ live: false, endReason: 'interrupted' });
    const entries = await admin.get(`/events?action=session.interrupted&subject=session:${session.id}`);
    expect(entries.body).toHaveLength(1);
    const listed = (await admin.get('/instances')).body as Array<{ id: string; status: string }>;
    expect(listed.find((instance) => instance.id === a.instance.id)?.status).toBe('silent');
    expect(listed.find((instance) => instance.id === b.instance.id)?.status).toBe('live');
    // A beat again by A (it was only slow): A's own beat does not end its own sessions, and nothing is ended twice.
    expect(await a.heartbeat()).toBe(0);
    expect(await b.heartbeat()).toBe(0);
  });

  it('says it is ready while the database holds every migration, and 503 migrations_pending when one is missing', async () => {
    const ready = await admin.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', instance: a.instance.id, database: 'postgres' });
    const last = await database.db.selectFrom('schema_migration').select('name').orderBy('name', 'desc').executeTakeFirstOrThrow();
    await database.db.deleteFrom('schema_migration').where('name', '=', last.name).execute();
    try {
      const answer = await admin.get('/health/ready');
      expect(answer.status).toBe(503);
      expect(answer.body.error).toMatchObject({ code: 'migrations_pending', details: { migrations: [last.name] } });
      expect(answer.body.error.message).toContain(last.name);
      // The process itself answers all the same.
      expect((await admin.get('/health/live')).status).toBe(200);
    } finally {
      await database.db.insertInto('schema_migration').values({ name: last.name, applied_at: new Date() }).execute();
    }
    expect((await admin.get('/health/ready')).status).toBe(200);
  });

  it('marks an instance that closes cleanly stopped, and frees its leases', async () => {
    connection?.end();
    connection = undefined;
    await b.close();
    const listed = (await admin.get('/instances')).body as Array<{ id: string; status: string; stoppedAt: string | null }>;
    expect(listed.find((instance) => instance.id === b.instance.id)).toMatchObject({ status: 'stopped', stoppedAt: expect.any(String) });
    const held = await database.db.selectFrom('work_lease').select('name').where('holder', '=', b.instance.id).execute();
    expect(held).toEqual([]);
  });
});
