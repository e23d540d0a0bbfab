import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, buildUser, signIn, startTestChangegate, TEST_MASTER_KEY, type TestChangegate } from '../../test/harness.ts';
import { createChangegate } from '../changegate.ts';
import { totpCode } from '../identity/index.ts';
import { credentialSealContext } from '../inventory/credential.ts';
import { findCredential } from '../inventory/credential.store.ts';
import { secretContext } from '../notifications/webhook.ts';
import { loadConfig } from './config.ts';
import { parseMasterKey, parseMasterKeys, SecretBox, writeKeyFile } from './secret-box.ts';
import { SEALED_COLUMNS } from '../changegate.ts';
import { rotateVault } from './vault-rotation.ts';

const SEALED = /^v1\.[0-9a-f]{16}\./;
const keyIdOf = (key: Buffer) => new SecretBox([key]).currentKeyId;

/** An ed25519 private key encrypted with `passphrase`, from ssh-keygen (two rounds of its key derivation: opened faster, encrypted all the same). */
function encryptedPrivateKey(passphrase: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-a', '2', '-N', passphrase, '-f', path.join(dir, 'id')]);
    return readFileSync(path.join(dir, 'id'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(DATABASE_KINDS)('vault rotation on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  /** The key that sealed everything last: the test key at first, then each rotation's new key. */
  let current = parseMasterKey(TEST_MASTER_KEY) as Buffer;
  const secrets = { password: 'password-of-root-on-db01', privateKey: encryptedPrivateKey('pass phrase of the key'), passphrase: 'pass phrase of the key', webhook: 'hmac-secret-of-the-ops-webhook' };
  const ids = { password: '', privateKey: '', webhook: '' };
  let totp: { username: string; password: string; secret: string };

  /** Every sealed value of every column, with the id of the key that sealed it. */
  const sealedKeyIds = async () => {
    const found: string[] = [];
    for (const { table, column } of SEALED_COLUMNS) {
      const rows = await sql<{ value: string }>`SELECT ${sql.ref(column)} AS value FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NOT NULL`.execute(t.cg.database.db);
      found.push(...rows.rows.map((row) => SecretBox.keyIdOf(row.value) as string));
    }
    return found;
  };

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32' });
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-vault-'));
    expect((await t.admin.post('/devices', { name: 'db01', hostname: '127.0.0.1' })).status).toBe(201);
    const password = await t.admin.post('/credentials', { device: 'db01', account: 'root', secret: { password: secrets.password } });
    const privateKey = await t.admin.post('/credentials', { device: 'db01', account: 'deploy', secret: { privateKey: secrets.privateKey, passphrase: secrets.passphrase } });
    const webhook = await t.admin.post('/webhooks', { name: 'ops', url: 'http://127.0.0.1:9/hook', secret: secrets.webhook });
    expect([password.status, privateKey.status, webhook.status]).toEqual([201, 201, 201]);
    ids.password = password.body.id;
    ids.privateKey = privateKey.body.id;
    ids.webhook = webhook.body.webhook.id;
    const user = await buildUser(t);
    const enrolment = await user.client.post('/me/totp');
    expect((await user.client.post('/me/totp/confirm', { code: totpCode(enrolment.body.secret, t.clock.now()) })).status).toBe(204);
    totp = { username: user.username, password: user.password, secret: enrolment.body.secret };
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every column that holds sealed values', async () => {
    const columns = await sql<{ table_name: string; column_name: string }>`
      SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> 'event'`.execute(t.cg.database.db);
    const holding: string[] = [];
    for (const { table_name: table, column_name: column } of columns.rows) {
      const found = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE ${sql.ref(column)} ~ ${SEALED.source}`.execute(t.cg.database.db);
      if ((found.rows[0]?.n ?? 0) > 0) holding.push(`${table}.${column}`);
    }
    expect(holding.sort()).toEqual(SEALED_COLUMNS.map(({ table, column }) => `${table}.${column}`).sort());
  });

  it('refuses a single key from the setting, saying how to give the new one, and moves nothing', async () => {
    const refused = rotateVault({ columns: SEALED_COLUMNS, db: t.cg.database.db, source: { kind: 'setting', keys: [current, current] } });
    await expect(refused).rejects.toMatchObject({ code: 'vault_rotation_needs_keys' });
    await expect(refused).rejects.toThrow('NEW=$(openssl rand -base64 32)\n  CHANGEGATE_MASTER_KEY="$NEW,<old key>" changegate vault rotate\n');
    expect(new Set(await sealedKeyIds())).toEqual(new Set([keyIdOf(current)]));
  });

  it('moves nothing when the transaction fails, and leaves a key file that opens every value', async () => {
    const file = path.join(dir, 'failing.key');
    await writeKeyFile(file, [current]);
    const failing = rotateVault({ columns: SEALED_COLUMNS, db: t.cg.database.db,
      source: { kind: 'file', file },
      record: async () => {
        throw new Error('the event log is full');
      },
    });
    await expect(failing).rejects.toThrow(/^Nothing was re-sealed: the event log is full\. .*failing\.key lists the new key first and the old ones after it/);
    expect(new Set(await sealedKeyIds())).toEqual(new Set([keyIdOf(current)]));
    const ring = parseMasterKeys(readFileSync(file, 'utf8')) as Buffer[];
    expect(ring).toHaveLength(2);
    expect(ring[1]?.equals(current)).toBe(true);
  });

  it('with the key file: a new key first, every value re-sealed and logged in one transaction, then the new key alone', async () => {
    const file = path.join(dir, 'master.key');
    await writeKeyFile(file, [current]);
    const recorded: unknown[] = [];
    const rotation = await rotateVault({ columns: SEALED_COLUMNS, db: t.cg.database.db,
      source: { kind: 'file', file },
      record: async (trx, done) => {
        // Inside the transaction, the values have already moved.
        const inside = await sql<{ secret: string }>`SELECT secret FROM credential WHERE id = ${ids.password}`.execute(trx);
        recorded.push({ ...done, sealedInside: SecretBox.keyIdOf(inside.rows[0]?.secret ?? '') });
      },
    });
    const ring = parseMasterKeys(readFileSync(file, 'utf8')) as Buffer[];
    expect(ring).toHaveLength(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const next = ring[0] as Buffer;
    expect(rotation).toEqual({
      source: 'file',
      newKeyId: keyIdOf(next),
      previousKeyIds: [keyIdOf(current)],
      moved: 5,
      movedByColumn: { 'credential.secret': 2, 'credential.passphrase': 1, 'app_user.totp_secret': 1, 'webhook.secret': 1 },
      leftUnderOldKeys: 0,
      previousKeysDropped: true,
    });
    expect(recorded).toEqual([{ source: 'file', newKeyId: keyIdOf(next), previousKeyIds: [keyIdOf(current)], moved: 5, movedByColumn: rotation.movedByColumn, sealedInside: keyIdOf(next) }]);
    expect(JSON.stringify(recorded)).not.toContain(next.toString('base64'));
    expect(new Set(await sealedKeyIds())).toEqual(new Set([keyIdOf(next)]));
    current = next;
  });

  it('leaves values that open with the new key alone, under the contexts their modules seal them with', async () => {
    const box = new SecretBox([current]);
    const db = t.cg.database.db;
    const webhook = await sql<{ secret: string }>`SELECT secret FROM webhook WHERE id = ${ids.webhook}`.execute(db);
    expect(box.open(webhook.rows[0]?.secret ?? '', secretContext(ids.webhook))).toBe(secrets.webhook);
    const deploy = await findCredential(db, ids.privateKey);
    expect(box.open(deploy?.passphrase ?? '', credentialSealContext(ids.privateKey, 'passphrase'))).toBe(secrets.passphrase);

    // A server started with the new key alone opens the credentials and checks TOTP codes.
    const config = loadConfig({ env: { CHANGEGATE_DATA_DIR: dir, CHANGEGATE_MASTER_KEY: current.toString('base64'), CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, CHANGEGATE_LOG_LEVEL: 'silent' } });
    const restarted = await createChangegate({ config, clock: t.clock, database: t.cg.database });
    try {
      const credentials = restarted.services.credentials;
      expect(credentials.unsealForSession((await findCredential(db, ids.password)) as NonNullable<typeof deploy>)).toEqual({ account: 'root', password: secrets.password });
      expect(credentials.unsealForSession(deploy as NonNullable<typeof deploy>)).toEqual({ account: 'deploy', privateKey: secrets.privateKey, passphrase: secrets.passphrase });
      t.clock.advance(60_000); // past the step of the enrolment code, which cannot be replayed
      await signIn(restarted, totp.username, totp.password, totpCode(totp.secret, t.clock.now()));
    } finally {
      await restarted.close();
    }
  });

  it('with keys from the setting, new first: re-seals under the first, and a second run has nothing left to move', async () => {
    const next = Buffer.alloc(32, 0x5c);
    const rotation = await rotateVault({ columns: SEALED_COLUMNS, db: t.cg.database.db, source: { kind: 'setting', keys: [next, current] } });
    expect(rotation).toMatchObject({ source: 'setting', newKeyId: keyIdOf(next), previousKeyIds: [keyIdOf(current)], moved: 5, leftUnderOldKeys: 0, previousKeysDropped: false });
    expect(new Set(await sealedKeyIds())).toEqual(new Set([keyIdOf(next)]));
    expect((await rotateVault({ columns: SEALED_COLUMNS, db: t.cg.database.db, source: { kind: 'setting', keys: [next, current] } })).moved).toBe(0);
  });
});
