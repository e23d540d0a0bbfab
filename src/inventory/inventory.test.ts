import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase } from '../../test/databases.ts';
import { ADMIN_PASSWORD, buildUser, signIn, TEST_MASTER_KEY, type TestChangegate } from '../../test/harness.ts';
import { startSshd } from '../../test/sshd.ts';
import { createChangegate } from '../changegate.ts';
import { ManualClock } from '../platform/clock.ts';
import { loadConfig } from '../platform/config.ts';
import type { DatabaseKind } from '../platform/database.ts';
import { createLogger } from '../platform/logger.ts';

type Event = { seq: number; actor: string; action: string; subject: string; data: Record<string, unknown> };

/**
 * As `startTestChangegate`, but logging every request at trace level into `lines`, so a test can
 * grep the log for a secret the way an operator's log shipper would see it.
 */
async function startLoggedChangegate(kind: DatabaseKind, lines: string[]): Promise<TestChangegate> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'changegate-inventory-'));
  const database = await openTestDatabase(kind);
  const clock = new ManualClock();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const config = loadConfig({ env: { CHANGEGATE_DATA_DIR: dataDir, CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY, CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const cg = await createChangegate({ config, clock, database, logger: createLogger('trace', sink) });
  const admin = await signIn(cg, 'admin', ADMIN_PASSWORD);
  return {
    cg,
    clock,
    admin,
    close: async () => {
      await cg.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh ed25519 key pair from ssh-keygen, its private half encrypted with `passphrase` (or clear
 * when empty). Two rounds of the key derivation instead of ssh-keygen's 16: still an encrypted key
 * (the same format and cipher), which each check of the credential opens in an eighth of the time.
 */
function sshKeyPair(passphrase: string): { privateKey: string; publicKey: string; fingerprint: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-key-'));
  try {
    const file = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-a', '2', '-N', passphrase, '-C', 'test key', '-f', file]);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`]).toString().split(/\s+/)[1] ?? '';
    return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let deviceCounter = 0;
const deviceName = () => `web${(deviceCounter += 1).toString().padStart(2, '0')}`;

describe.each(DATABASE_KINDS)('inventory on %s', (kind) => {
  let t: TestChangegate;
  const logLines: string[] = [];
  beforeAll(async () => {
    t = await startLoggedChangegate(kind, logLines);
  });
  afterAll(() => t.close());

  async function eventsWhere(query: Record<string, string>): Promise<Event[]> {
    const answer = await t.admin.get(`/events?${new URLSearchParams({ ...query, limit: '1000' })}`);
    expect(answer.status).toBe(200);
    return answer.body;
  }

  describe('devices', () => {
    it('creates, lists, gets, edits and deletes a device, logging each write', async () => {
      const name = deviceName();
      const created = await t.admin.post('/devices', {
        name,
        hostname: 'web.example.com',
        port: 2222,
        description: 'Public web server',
        tags: ['prod', 'web', 'prod'],
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name,
        hostname: 'web.example.com',
        port: 2222,
        protocol: 'ssh',
        description: 'Public web server',
        partition: 'GLOBAL',
        application: null,
        tags: ['prod', 'web'],
        hostKey: null,
        hostKeyFingerprint: null,
        version: 1,
        createdBy: 'admin',
      });

      expect((await t.admin.get(`/devices/${name}`)).body).toEqual(created.body);
      expect((await t.admin.get(`/devices/GLOBAL.${name}`)).body).toEqual(created.body);
      expect((await t.admin.get('/devices')).body.map((device: { name: string }) => device.name)).toContain(name);
      expect((await t.admin.get('/devices?search=web.example')).body.map((device: { name: string }) => device.name)).toContain(name);

      const defaults = await t.admin.post('/devices', { name: deviceName(), hostname: '10.0.0.5' });
      expect(defaults.body).toMatchObject({ port: 22, description: '', tags: [] });

      const patched = await t.admin.patch(`/devices/${name}`, { hostname: '192.0.2.20', port: 22, description: 'moved', expectedVersion: 1 });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ hostname: '192.0.2.20', port: 22, description: 'moved', version: 2, tags: ['prod', 'web'] });
      const stale = await t.admin.patch(`/devices/${name}`, { description: 'from an old form', expectedVersion: 1 });
      expect(stale.status).toBe(409);
      expect((await t.admin.get(`/devices/${name}`)).body.description).toBe('moved');

      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      expect((await t.admin.get(`/devices/${name}`)).status).toBe(404);

      const events = await eventsWhere({ subject: `device:GLOBAL.${name}` });
      // Moving the device is also logged with its old and new address (see device-trust.test.ts).
      expect(events.map((event) => event.action)).toEqual(['device.create', 'device.update', 'device.identity.change', 'device.delete']);
      expect(events[1]?.data.changes).toMatchObject({ hostname: expect.anything(), port: expect.anything() });
    });

    it('keeps names unique per partition: the same name in two partitions is fine, then the bare name is ambiguous', async () => {
      const name = deviceName();
      expect((await t.admin.post('/partitions', { name: 'Plant-A' })).status).toBe(201);
      expect((await t.admin.post('/devices', { name, hostname: '192.0.2.1' })).status).toBe(201);
      const again = await t.admin.post('/devices', { name, hostname: '192.0.2.2' });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('already_exists');
      expect(again.body.error.message).toContain(`GLOBAL.${name}`);

      const elsewhere = await t.admin.post('/devices', { name, hostname: '192.0.2.3', partition: 'Plant-A' });
      expect(elsewhere.status).toBe(201);
      expect(elsewhere.body.partition).toBe('Plant-A');

      const ambiguous = await t.admin.get(`/devices/${name}`);
      expect(ambiguous.status).toBe(409);
      expect(ambiguous.body.error.details.choices).toEqual([`GLOBAL.${name}`, `Plant-A.${name}`]);
      expect(ambiguous.body.error.message).toContain(`GLOBAL.${name}`);
      expect(ambiguous.body.error.message).toContain(`Plant-A.${name}`);

      const exact = await t.admin.get(`/devices/Plant-A.${name}`);
      expect(exact.status).toBe(200);
      expect(exact.body).toMatchObject({ name, partition: 'Plant-A', hostname: '192.0.2.3' });
      expect((await t.admin.get(`/devices/GLOBAL.${name}`)).body.hostname).toBe('192.0.2.1');
      expect((await t.admin.get('/devices?partition=Plant-A')).body.map((device: { name: string }) => device.name)).toEqual([name]);
    });

    it.each([
      ['a bad host name', { hostname: 'web_01!.example' }, '/hostname'],
      ['port 0', { port: 0 }, '/port'],
      ['port 70000', { port: 70000 }, '/port'],
      ['a port that is not a number', { port: 'ssh' }, '/port'],
      ['a tag with a space', { tags: ['ok', 'not ok'] }, '/tags/1'],
      ['a name with @', { name: 'root@web' }, '/name'],
    ])('refuses %s with 400 naming the field', async (_what, fields, field) => {
      const before = (await t.admin.get('/devices')).body.length;
      const answer = await t.admin.post('/devices', { name: deviceName(), hostname: '192.0.2.9', ...fields });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('validation_failed');
      const paths: string[] = answer.body.error.details.problems.map((problem: { path: string }) => problem.path);
      expect(paths.some((problemPath) => problemPath.endsWith(field))).toBe(true);
      expect((await t.admin.get('/devices')).body.length).toBe(before);
    });

    it('refuses a bad host name, port or host key on edit too, and leaves the device as it was', async () => {
      const device = await t.admin.post('/devices', { name: deviceName(), hostname: '192.0.2.30' });
      for (const [patch, field] of [
        [{ hostname: 'not a host' }, '/hostname'],
        [{ port: 65536 }, '/port'],
        [{ hostKey: 'ssh-ed25519 not-base64!' }, '/hostKey'],
      ] as const) {
        const answer = await t.admin.patch(`/devices/${device.body.name}`, patch);
        expect(answer.status).toBe(400);
        expect(answer.body.error.details.problems[0].path).toBe(field);
      }
      expect((await t.admin.get(`/devices/${device.body.name}`)).body).toEqual(device.body);
    });

    it('filters the list by tag', async () => {
      const tagged = deviceName();
      const other = deviceName();
      await t.admin.post('/devices', { name: tagged, hostname: '192.0.2.40', tags: ['dmz', 'linux'] });
      await t.admin.post('/devices', { name: other, hostname: '192.0.2.41', tags: ['linux'] });
      const dmz = await t.admin.get('/devices?tag=dmz');
      expect(dmz.status).toBe(200);
      expect(dmz.body.map((device: { name: string }) => device.name)).toEqual([tagged]);
      const linux = (await t.admin.get('/devices?tag=linux')).body.map((device: { name: string }) => device.name);
      expect(linux).toEqual(expect.arrayContaining([tagged, other]));
    });

    it('enforces the Device privileges: 403 on create without the grant, 404 on what the user may not see', async () => {
      expect((await t.admin.post('/partitions', { name: 'Plant-B' })).status).toBe(201);
      const hidden = deviceName();
      const shown = deviceName();
      await t.admin.post('/devices', { name: hidden, hostname: '192.0.2.50' });
      await t.admin.post('/devices', { name: shown, hostname: '192.0.2.51', partition: 'Plant-B' });

      const nobody = await buildUser(t);
      const refused = await nobody.client.post('/devices', { name: deviceName(), hostname: '192.0.2.52' });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('forbidden');
      expect(refused.body.error.message).toContain('Device.Create');
      expect((await nobody.client.get('/devices')).body).toEqual([]);

      const viewer = await buildUser(t, { grants: [{ privilege: 'Device.View', partition: 'Plant-B' }] });
      expect((await viewer.client.get('/devices')).body.map((device: { name: string }) => device.name)).toEqual([shown]);
      expect((await viewer.client.get(`/devices/${shown}`)).status).toBe(200);
      const invisible = await viewer.client.get(`/devices/${hidden}`);
      expect(invisible.status).toBe(404);
      expect(invisible.body.error.code).toBe('not_found');
      // Missing and forbidden read the same.
      const missing = await viewer.client.get('/devices/no-such-device');
      expect(missing.status).toBe(404);
      expect(invisible.body.error.message.replace(hidden, 'X')).toBe(missing.body.error.message.replace('no-such-device', 'X'));
      expect((await viewer.client.get(`/devices/GLOBAL.${hidden}`)).status).toBe(404);
      expect((await viewer.client.patch(`/devices/${shown}`, { description: 'mine now' })).status).toBe(403);
      expect((await viewer.client.delete(`/devices/${shown}`)).status).toBe(403);
      expect((await viewer.client.post(`/devices/${shown}/test-connection`)).status).toBe(403);

      const creator = await buildUser(t, { grants: [{ privilege: 'Device.Create', partition: 'Plant-B' }] });
      expect((await creator.client.post('/devices', { name: deviceName(), hostname: '192.0.2.53' })).status).toBe(403);
      const inB = await creator.client.post('/devices', { name: deviceName(), hostname: '192.0.2.53', partition: 'Plant-B' });
      expect(inB.status).toBe(201);
      expect(inB.body.createdBy).toBe(creator.username);
    });

    it('pins the SSH host key of a real sshd on the first test connection, matches it after, and refuses and logs another key', async () => {
      const sshd = await startSshd();
      try {
        const name = deviceName();
        expect((await t.admin.post('/devices', { name, hostname: '127.0.0.1', port: sshd.port })).status).toBe(201);
        const expectedFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', path.join(sshd.dir, 'host_ed25519.pub')]).toString().split(/\s+/)[1];

        const first = await t.admin.post(`/devices/${name}/test-connection`);
        expect(first.status).toBe(200);
        expect(first.body.hostKeyStatus).toBe('pinned');
        expect(first.body.hostKeyFingerprint).toBe(expectedFingerprint);
        expect(first.body.device).toMatchObject({ hostKey: sshd.hostKey, hostKeyFingerprint: expectedFingerprint });
        expect((await t.admin.get(`/devices/${name}`)).body.hostKey).toBe(sshd.hostKey);

        const second = await t.admin.post(`/devices/${name}/test-connection`);
        expect(second.status).toBe(200);
        expect(second.body.hostKeyStatus).toBe('matched');
        expect(second.body.device.version).toBe(first.body.device.version);

        const impostor = sshKeyPair('');
        const repinned = await t.admin.patch(`/devices/${name}`, { hostKey: impostor.publicKey });
        expect(repinned.status).toBe(200);
        expect(repinned.body.hostKeyFingerprint).toBe(impostor.fingerprint);

        const mismatch = await t.admin.post(`/devices/${name}/test-connection`);
        expect(mismatch.status).toBe(409);
        expect(mismatch.body.error.code).toBe('host_key_mismatch');
        expect(mismatch.body.error.details).toEqual({ pinned: impostor.fingerprint, offered: expectedFingerprint });
        expect(mismatch.body.error.message).toContain(expectedFingerprint);
        expect((await t.admin.get(`/devices/${name}`)).body.hostKeyFingerprint).toBe(impostor.fingerprint);

        const logged = await eventsWhere({ action: 'device.hostkey.mismatch', subject: `device:GLOBAL.${name}` });
        expect(logged).toHaveLength(1);
        expect(logged[0]).toMatchObject({ actor: 'admin', data: { pinned: impostor.fingerprint, offered: expectedFingerprint, hostname: '127.0.0.1', port: sshd.port } });

        // An administrator who trusts the new key unpins; the next test connection pins what it sees.
        expect((await t.admin.patch(`/devices/${name}`, { hostKey: null })).body).toMatchObject({ hostKey: null, hostKeyFingerprint: null });
        const repinnedByTest = await t.admin.post(`/devices/${name}/test-connection`);
        expect(repinnedByTest.body).toMatchObject({ hostKeyStatus: 'pinned', hostKeyFingerprint: expectedFingerprint });

        const updates = await eventsWhere({ action: 'device.update', subject: `device:GLOBAL.${name}` });
        expect(updates[0]?.data.reason).toBe('host key pinned on the first test connection');

        // An explicitly pinned key at creation is checked from the first connection.
        const pinnedAhead = deviceName();
        expect((await t.admin.post('/devices', { name: pinnedAhead, hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey })).status).toBe(201);
        expect((await t.admin.post(`/devices/${pinnedAhead}/test-connection`)).body.hostKeyStatus).toBe('matched');
      } finally {
        await sshd.stop();
      }
    });

    it('answers 502 device_unreachable when nothing listens, and pins nothing', async () => {
      const name = deviceName();
      await t.admin.post('/devices', { name, hostname: '127.0.0.1', port: 1 });
      const answer = await t.admin.post(`/devices/${name}/test-connection`);
      expect(answer.status).toBe(502);
      expect(answer.body.error.code).toBe('device_unreachable');
      expect((await t.admin.get(`/devices/${name}`)).body.hostKey).toBeNull();
    });

    it('refuses to delete a device while it has credentials', async () => {
      const name = deviceName();
      await t.admin.post('/devices', { name, hostname: '192.0.2.60' });
      const credential = await t.admin.post('/credentials', { device: name, account: 'root', secret: { password: 'delete-me-not' } });
      expect(credential.status).toBe(201);
      const refused = await t.admin.delete(`/devices/${name}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toContain(`root@${name}`);
      expect((await t.admin.get(`/devices/${name}`)).status).toBe(200);

      expect((await t.admin.delete(`/credentials/${credential.body.id}`)).status).toBe(204);
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
    });
  });

  describe('credentials', () => {
    const password = 'Tr0ub4dor&3-correct-horse';
    const passphrase = 'secretpass';
    let key: ReturnType<typeof sshKeyPair>;
    const answers: unknown[] = [];
    let device: string;

    beforeAll(async () => {
      key = sshKeyPair(passphrase);
      device = deviceName();
      await t.admin.post('/devices', { name: device, hostname: '192.0.2.70' });
    });

    /** Calls the API and keeps the answer, to search every answer for secrets at the end. */
    const keep = <T>(answer: T): T => {
      answers.push(answer);
      return answer;
    };

    it('vaults a password: the answer describes it without the secret, sealed under a named key', async () => {
      const created = keep(await t.admin.post('/credentials', { device, account: 'root', secret: { password }, description: 'break glass' }));
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: `root@${device}`, device, partition: 'GLOBAL', account: 'root', kind: 'password', hasPassphrase: false, description: 'break glass', version: 1 });
      expect(created.body.sealedWithKey).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Object.keys(created.body)).not.toContain('secret');

      expect(keep(await t.admin.get(`/credentials/${created.body.id}`)).body).toEqual(created.body);
      const listed = keep(await t.admin.get(`/credentials?device=${device}`));
      expect(listed.body.map((credential: { account: string }) => credential.account)).toContain('root');

      const duplicate = keep(await t.admin.post('/credentials', { device, account: 'root', secret: { password: 'another' } }));
      expect(duplicate.status).toBe(409);

      const patched = keep(await t.admin.patch(`/credentials/${created.body.id}`, { secret: { password: `${password}-rotated` }, description: 'rotated' }));
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ version: 2, description: 'rotated', kind: 'password' });

      const events = await eventsWhere({ subject: `credential:GLOBAL.root@${device}` });
      expect(events.map((event) => event.action)).toEqual(['credential.create', 'credential.update']);
      expect(events[1]?.data.changes).toMatchObject({ secret: 'changed' });
    });

    it('vaults a private key with its passphrase; a wrong passphrase, a missing one, or a public key are refused with 400', async () => {
      const wrong = keep(await t.admin.post('/credentials', { device, account: 'deploy', secret: { privateKey: key.privateKey, passphrase: 'not-the-passphrase' } }));
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.details.problems[0].path).toBe('/secret/privateKey');

      const without = keep(await t.admin.post('/credentials', { device, account: 'deploy', secret: { privateKey: key.privateKey } }));
      expect(without.status).toBe(400);
      expect(without.body.error.details.problems[0].path).toBe('/secret/privateKey');

      const publicOnly = keep(await t.admin.post('/credentials', { device, account: 'deploy', secret: { privateKey: key.publicKey } }));
      expect(publicOnly.status).toBe(400);
      expect(publicOnly.body.error.details.problems[0]).toEqual({ path: '/secret/privateKey', message: 'is a public key; give the private key' });

      const garbage = keep(await t.admin.post('/credentials', { device, account: 'deploy', secret: { privateKey: 'not a key at all' } }));
      expect(garbage.status).toBe(400);
      expect((await t.admin.get(`/credentials?device=${device}`)).body.map((credential: { account: string }) => credential.account)).not.toContain('deploy');

      const created = keep(await t.admin.post('/credentials', { device, account: 'deploy', secret: { privateKey: key.privateKey, passphrase } }));
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ account: 'deploy', kind: 'private_key', hasPassphrase: true });

      const badAccount = keep(await t.admin.post('/credentials', { device, account: 'bad account', secret: { password } }));
      expect(badAccount.status).toBe(400);
      expect(badAccount.body.error.details.problems[0].path).toBe('/account');
    });

    it('opens the secret only for the session gateway, in memory', async () => {
      const deviceRow = await t.cg.database.db.selectFrom('device').select('id').where('name', '=', device).executeTakeFirstOrThrow();
      const credentials = await t.cg.services.credentials.ofDevice(t.cg.database.db, deviceRow.id);
      const byAccount = new Map(credentials.map((credential) => [credential.account, credential]));
      const root = byAccount.get('root');
      const deploy = byAccount.get('deploy');
      if (!root || !deploy) throw new Error('the credentials of the earlier tests are missing');
      expect(t.cg.services.credentials.unsealForSession(root)).toEqual({ account: 'root', password: `${password}-rotated` });
      expect(t.cg.services.credentials.unsealForSession(deploy)).toEqual({ account: 'deploy', privateKey: key.privateKey, passphrase });
    });

    it('stores only sealed secrets: the credential table holds no password, key or passphrase in clear', async () => {
      const rows = await sql<{ secret: string; passphrase: string | null }>`SELECT secret, passphrase FROM credential`.execute(t.cg.database.db);
      expect(rows.rows.length).toBeGreaterThanOrEqual(2);
      const stored = JSON.stringify(rows.rows);
      for (const secret of [password, passphrase, 'PRIVATE KEY', key.privateKey.split('\n')[1] ?? 'x']) expect(stored).not.toContain(secret);
      for (const row of rows.rows) {
        expect(row.secret.startsWith('v1.')).toBe(true);
        if (row.passphrase !== null) expect(row.passphrase.startsWith('v1.')).toBe(true);
      }
    });

    it('never shows a secret in any answer, event or log line', async () => {
      keep(await t.admin.get('/credentials'));
      const events = keep(await t.admin.get('/events?limit=1000'));
      expect(events.body.some((event: Event) => event.action === 'credential.create')).toBe(true);
      const keyBody = key.privateKey.split('\n').slice(1, -2).join('');
      const secrets = [password, `${password}-rotated`, passphrase, 'not-the-passphrase', ...key.privateKey.split('\n').slice(1, 3), keyBody.slice(0, 40)];
      const haystacks = { answers: JSON.stringify(answers), events: JSON.stringify(events.body), log: logLines.join('') };
      expect(haystacks.log).toContain('/api/v1/credentials');
      for (const [where, text] of Object.entries(haystacks)) {
        for (const secret of secrets) expect({ where, found: text.includes(secret) }).toEqual({ where, found: false });
      }
      // The sealed secret does not leave either.
      const sealed = await t.cg.database.db.selectFrom('credential').select('secret').execute();
      for (const row of sealed) for (const text of Object.values(haystacks)) expect(text).not.toContain(row.secret.slice(-30));
    });
  });

  it('leaves an event log that verifies', async () => {
    const verified = await t.admin.post('/events/verify');
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ ok: true });
    expect(verified.body.verified).toBeGreaterThan(10);
  });
});
