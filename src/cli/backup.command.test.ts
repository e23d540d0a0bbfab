import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOperator, type CliOperator } from '../../test/cli-kit.ts';
import { must, newPublicKey, signInOver, type RemoteClient } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { openChangegate } from '../changegate.ts';
import { appendEvent } from '../eventlog/index.ts';
import { parseManifest, readTar } from '../platform/backup-archive.ts';
import { loadConfig } from '../platform/config.ts';
import { openDatabase } from '../platform/database.ts';
import { insertSession } from '../sessions/session.store.ts';
import { newInstallation, startServer, type Installation, type RunningServer } from './cli-process.testing.ts';

const CAST_HEADER = '{"version": 2, "width": 80, "height": 24}\n';
const ENDED_CAST = `${CAST_HEADER}[0.1, "o", "ended-session-marker $ uptime\\r\\n"]\n`;
const LIVE_LOGGED = `${CAST_HEADER}[0.1, "o", "live-logged $ "]\n`;
const LIVE_LATER = '[5.0, "o", "written after the snapshot"]\n';
const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

/** The tar inside a backup, and its entries by name. */
async function entriesOf(tar: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  for await (const entry of readTar(Readable.from([tar]))) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    entries.set(entry.path, Buffer.concat(chunks));
  }
  return entries;
}

// An installation on the embedded database with recordings (one ended, one still live) and a
// vaulted password, backed up while its server runs, wiped, and restored; then the attacks.
describe('backup and restore-backup of a running installation', () => {
  let installation: Installation;
  let env: Record<string, string>;
  let server: RunningServer | undefined;
  let admin: RemoteClient;
  let operator: CliOperator;
  let work: string;
  let archive: string;
  let checkpointFile: string;
  let verifierKey: string;
  let masterKey: Buffer;
  const live = { id: randomUUID(), file: '' };
  const ended = { id: randomUUID(), file: '' };

  beforeAll(async () => {
    installation = await newInstallation('pglite', { CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD }, { migrated: true });
    // The master key in the data directory, as a default installation keeps it: the backup must leave it out.
    env = { ...installation.env };
    delete env.CHANGEGATE_MASTER_KEY;
    work = mkdtempSync(path.join(tmpdir(), 'changegate-backup-'));
    archive = path.join(work, 'backup.tar.gz');
    checkpointFile = path.join(work, 'before.cp');

    // Two sessions' recordings as the recorder leaves them: one ended, one live whose last logged write is behind its file.
    const day = path.join(installation.dataDir, 'recordings', '2026-12-01');
    mkdirSync(day, { recursive: true });
    ended.file = path.join(day, `${ended.id}.cast`);
    live.file = path.join(day, `${live.id}.cast`);
    writeFileSync(ended.file, ENDED_CAST);
    writeFileSync(live.file, LIVE_LOGGED);
    const handle = await openDatabase({ kind: 'pglite', dataDir: installation.dataDir });
    try {
      await handle.db.transaction().execute(async (trx) => {
        // The rows they belong to (user, device, change) are beside the point here.
        await sql`SET LOCAL session_replication_role = replica`.execute(trx);
        const base = {
          kind: 'shell' as const, userId: randomUUID(), username: 'alice', sourceIp: '127.0.0.1', sourcePort: null, deviceId: randomUUID(), deviceName: 'web01',
          partitionId: randomUUID(), account: 'root', changeId: randomUUID(), changeName: 'CHG-1', requestId: randomUUID(), execCommand: null, term: 'xterm',
          startedAt: new Date(), recordingStore: 'files' as const, endedBy: null, terminationReason: null, exitStatus: null, bytesIn: 0, bytesOut: 0, captureLossy: false, captureNotes: null,
        };
        await insertSession(trx, { ...base, id: ended.id, recordingPath: ended.file, instanceId: 'gone', heartbeatAt: new Date(), endedAt: new Date(), endReason: 'client_closed', recordingSha256: sha256(ENDED_CAST) } as never);
        // Its instance beats far ahead: the server does not take it for interrupted while the test runs.
        await insertSession(trx, { ...base, id: live.id, recordingPath: live.file, instanceId: 'elsewhere', heartbeatAt: new Date(Date.now() + 3_600_000), endedAt: null, endReason: null, recordingSha256: null } as never);
        await sql`SET LOCAL session_replication_role = origin`.execute(trx);
        await appendEvent(trx, { actor: 'system', action: 'recording.chunks', subject: 'recordings', data: { chunks: [{ session: live.id, bytes: LIVE_LOGGED.length, sha256: sha256(LIVE_LOGGED) }] }, time: new Date() });
      });
    } finally {
      await handle.close();
    }

    server = await startServer({ env });
    admin = await signInOver(server.url, 'admin', ADMIN_PASSWORD);
    await must(admin.post('/devices', { name: 'db01', hostname: '127.0.0.1', port: 22, hostKey: newPublicKey('db01') }), 201, 'adding db01');
    await must(admin.post('/credentials', { device: 'db01', account: 'root', secret: { password: 'root-password-of-db01' } }), 201, 'vaulting root@db01');
    await must(admin.post('/users', { username: 'bob', password: 'a-long-password-123', displayName: 'Bob' }), 201, 'adding bob');
    // A checkpoint an auditor kept before the backup, and the log's key.
    checkpointFile = path.join(work, 'before.cp');
    writeFileSync(checkpointFile, (await must(admin.get('/log/checkpoint'), 200, 'the checkpoint')).body as string);
    verifierKey = ((await must(admin.get('/log/key'), 200, 'the key')).body as { verifierKey: string }).verifierKey;
    masterKey = readFileSync(path.join(installation.dataDir, 'master.key'));
    operator = cliOperator(env);
    await operator.changegate(['login', server.url, '--username', 'admin', '--password-stdin'], 0, `${ADMIN_PASSWORD}\n`);
  }, 180_000);

  afterAll(async () => {
    await server?.stop('SIGKILL');
    operator?.remove();
    await installation?.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up while the server runs: mode 0600, a manifest of digests, the checkpoint, no master key, a live recording up to what the log vouched for', async () => {
    // The live session writes on after its last logged flush.
    appendFileSync(live.file, LIVE_LATER);
    const made = await operator.changegate(['backup', archive]);
    expect(made.stdout).toContain(`Backup written to ${archive}`);
    expect(made.stdout).toContain('The master key is NOT in the archive');
    expect(statSync(archive).mode & 0o777).toBe(0o600);

    const tar = gunzipSync(readFileSync(archive));
    const entries = await entriesOf(tar);
    const manifest = parseManifest((entries.get('manifest.json') as Buffer).toString('utf8'));
    expect([...entries.keys()].sort()).toEqual([...manifest.files.map((file) => file.path), 'manifest.json'].sort());
    for (const file of manifest.files) expect(sha256(entries.get(file.path) as Buffer), file.path).toBe(file.sha256);
    expect(manifest.masterKeyIncluded).toBe(false);
    expect(entries.has('keys/log-signing.key')).toBe(true);
    expect(manifest.eventLog.checkpoint?.size).toBeGreaterThan(0);
    expect(manifest.eventLog.size).toBeGreaterThanOrEqual(manifest.eventLog.checkpoint?.size ?? Infinity);
    expect(manifest.eventLog.verifierKey).toBe(verifierKey);
    expect(entries.get(`recordings/2026-12-01/${ended.id}.cast`)?.toString('utf8')).toBe(ENDED_CAST);
    expect(entries.get(`recordings/2026-12-01/${live.id}.cast`)?.toString('utf8')).toBe(LIVE_LOGGED);
    expect(manifest.liveRecordings).toEqual([{ session: live.id, path: `recordings/2026-12-01/${live.id}.cast`, bytes: LIVE_LOGGED.length, fileBytes: LIVE_LOGGED.length + LIVE_LATER.length }]);

    // Not the key file, nor the key in any form, anywhere in the archive's bytes.
    const key = Buffer.from(masterKey.toString('utf8').trim(), 'base64');
    for (const needle of [masterKey.toString('utf8').trim(), key.toString('hex')]) {
      expect(tar.includes(Buffer.from(needle))).toBe(false);
    }
    expect(tar.includes(key)).toBe(false);

    // Asked for, the key is added here (read from the data directory), with a warning.
    const withKey = path.join(work, 'with-key.tar.gz');
    const keyed = await operator.changegate(['backup', '--include-master-key', withKey]);
    expect(keyed.stderr).toContain('WARNING: this backup holds the master key');
    const keyedEntries = await entriesOf(gunzipSync(readFileSync(withKey)));
    expect(keyedEntries.get('keys/master.key')).toEqual(masterKey);
    const keyedManifest = parseManifest((keyedEntries.get('manifest.json') as Buffer).toString('utf8'));
    expect(keyedManifest.masterKeyIncluded).toBe(true);
    expect(keyedManifest.files.find((file) => file.path === 'keys/master.key')?.sha256).toBe(sha256(masterKey));
  });

  it('refuses a backup to a user without System.Backup, points to pg_dump on PostgreSQL, and over the API never sends the master key nor a private key', async () => {
    const bob = await signInOver(server?.url as string, 'bob', 'a-long-password-123');
    const refused = await bob.post('/backups', {});
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect(refused.body.error.message).toContain('System.Backup');
    const events = (await must(admin.get('/events?limit=1000'), 200, 'the events')).body as Array<{ action: string; actor: string }>;
    expect(events.filter((event) => event.action === 'backup.create').map((event) => event.actor)).toEqual(['admin', 'admin']);

    // On PostgreSQL the command says what to do instead, before touching anything.
    const onPostgres = cliOperator({ ...env, DATABASE_URL: 'postgres://changegate@127.0.0.1:1/changegate' });
    try {
      const said = await onPostgres.changegate(['backup', path.join(work, 'pg.tar.gz')], 1);
      expect(said.stderr).toContain('Back PostgreSQL up with pg_dump');
    } finally {
      onPostgres.remove();
    }

    const answer = await admin.post('/backups', {});
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/x-tar');
    expect(String(answer.body)).toContain('"kind": "changegate-backup"');
    expect(String(answer.body)).not.toContain(masterKey.toString('utf8').trim());
    // Nor any private key: the log's signing key and the gateway's host key are the CLI's to read where it runs.
    for (const key of ['log-signing.key', 'gateway_host_ed25519_key']) {
      const secret = readFileSync(path.join(installation.dataDir, key), 'utf8').trim();
      expect(String(answer.body), key).not.toContain(secret.slice(-40));
    }
    expect(String(answer.body)).not.toContain('keys/');
  });

  it('restores into an empty directory only, refuses a tampered archive writing nothing, and the restored log verifies against the checkpoint kept before', async () => {
    await server?.stop('SIGTERM');
    server = undefined;
    // Wiped: the data directory is empty.
    for (const name of readdirSync(installation.dataDir)) rmSync(path.join(installation.dataDir, name), { recursive: true, force: true });

    // A byte changed in a recording, the archive otherwise whole (plain tar: restore reads either).
    const tar = gunzipSync(readFileSync(archive));
    const at = tar.indexOf('ended-session-marker');
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(tar);
    tampered[at] = 'E'.charCodeAt(0);
    const tamperedFile = path.join(work, 'tampered.tar');
    writeFileSync(tamperedFile, tampered);
    const refused = await operator.changegate(['restore-backup', tamperedFile], 1);
    expect(refused.stderr).toContain(`recordings/2026-12-01/${ended.id}.cast does not match its digest in the manifest`);
    expect(refused.stderr).toContain('Nothing was written');
    expect(readdirSync(installation.dataDir)).toEqual([]);
    expect(readdirSync(path.dirname(installation.dataDir)).filter((name) => name.includes('.restoring-'))).toEqual([]);

    // A directory that holds anything is refused.
    const busy = mkdtempSync(path.join(work, 'busy-'));
    writeFileSync(path.join(busy, 'notes.txt'), 'mine');
    const notEmpty = await operator.changegate(['--data-dir', busy, 'restore-backup', archive], 2);
    expect(notEmpty.stderr).toContain(`${busy} is not empty (notes.txt)`);
    expect(readdirSync(busy)).toEqual(['notes.txt']);

    const restored = await operator.changegate(['restore-backup', archive]);
    expect(restored.stdout).toContain('every digest verified');
    expect(restored.stdout).toContain('Event log verified against the checkpoint');
    expect(restored.stdout).toContain('put your master.key in');
    expect(readFileSync(path.join(installation.dataDir, 'recordings', '2026-12-01', `${live.id}.cast`), 'utf8')).toBe(LIVE_LOGGED);
    expect(statSync(path.join(installation.dataDir, 'log-signing.key')).mode & 0o777).toBe(0o600);

    // The user puts the master key back; the log verifies against the checkpoint kept before the backup, with the key obtained then.
    writeFileSync(path.join(installation.dataDir, 'master.key'), masterKey, { mode: 0o600 });
    const verified = await operator.changegate(['verify', '--checkpoint', checkpointFile, '--key', verifierKey]);
    expect(verified.stdout).toContain('Event log verified against the checkpoint');

    // The restored instance starts, and the vaulted password opens with the key.
    const core = await openChangegate({ config: loadConfig({ env }) });
    try {
      const started = await core.startBackground();
      expect(started.sshPort).toBeGreaterThan(0);
      const device = await core.database.db.selectFrom('device').select('id').where('name', '=', 'db01').executeTakeFirstOrThrow();
      const [credential] = await core.services.credentials.ofDevice(core.database.db, device.id);
      expect(core.services.credentials.unsealForSession(credential as never)).toMatchObject({ account: 'root', password: 'root-password-of-db01' });
      const events = await core.database.db.selectFrom('event').select('action').where('action', 'in', ['backup.create', 'backup.restore']).execute();
      expect(events.map((event) => event.action)).toEqual(['backup.restore']);
    } finally {
      await core.close();
    }

    // With no server running, the command opens the data directory itself.
    const offline = path.join(work, 'offline.tar.gz');
    expect((await operator.changegate(['backup', offline])).stdout).toContain(`Backup written to ${offline}`);
    const offlineManifest = parseManifest(((await entriesOf(gunzipSync(readFileSync(offline)))).get('manifest.json') as Buffer).toString('utf8'));
    expect(offlineManifest.eventLog.size).toBeGreaterThan(0);
    expect(offlineManifest.eventLog.checkpoint?.size).toBe(offlineManifest.eventLog.size);
  }, 180_000);
});

