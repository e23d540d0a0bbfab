/**
 * Migration 0007 on an installation that ran 0001–0006: existing credentials are confirmed for
 * their device's current key (nothing stops working), and every system-wide User.Admin
 * administrator gets Device.Pin and Request.Revoke, so someone can still pin and revoke.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createEmptyPostgresDatabase, DATABASE_KINDS } from '../../test/databases.ts';
import { migrate, openDatabase, type Database, type DatabaseHandle, type DatabaseKind } from '../platform/database.ts';

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'platform', 'migrations');
const THIS_MIGRATION = '0007_device_trust.sql';

/** An empty database of the kind, and how to drop it. */
async function emptyDatabase(kind: DatabaseKind): Promise<{ handle: DatabaseHandle; drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite' });
    return { handle, drop: () => handle.close() };
  }
  const empty = await createEmptyPostgresDatabase();
  const handle = await openDatabase({ kind: 'postgres', url: empty.url });
  return {
    handle,
    drop: async () => {
      await handle.close();
      await empty.drop();
    },
  };
}

/** Applies the migrations before this one, as an installation from before it has them. */
async function migrateBefore(db: Kysely<Database>): Promise<void> {
  await sql`CREATE TABLE schema_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL)`.execute(db);
  for (const name of (await readdir(MIGRATIONS)).filter((file) => file.endsWith('.sql') && file < THIS_MIGRATION).sort()) {
    await sql.raw(await readFile(path.join(MIGRATIONS, name), 'utf8')).execute(db);
    await db.insertInto('schema_migration').values({ name, applied_at: new Date() }).execute();
  }
}

describe.each(DATABASE_KINDS)('migration 0007 (device trust) on %s', (kind) => {
  it("confirms existing credentials for their device's key and gives system-wide User.Admin administrators Device.Pin and Request.Revoke", async () => {
    const { handle, drop } = await emptyDatabase(kind);
    const { db } = handle;
    try {
      await migrateBefore(db);
      const now = new Date('2026-01-01T00:00:00Z');
      const meta = { version: 1, created_at: now, created_by: 'seed', updated_at: now, updated_by: 'seed' };
      const partition = randomUUID();
      const plant = randomUUID();
      await db
        .insertInto('partition')
        .values([
          { id: partition, name: 'GLOBAL', description: '', ...meta },
          { id: plant, name: 'Plant', description: '', ...meta },
        ])
        .execute();
      const user = async (username: string, grants: Array<{ privilege: string; level: 'access' | 'admin'; partitionId: string | null }>) => {
        const id = randomUUID();
        await db.insertInto('app_user').values({ id, username, display_name: username, email: null, time_zone: 'UTC', password_hash: null, disabled_at: null, failed_logins: 0, locked_until: null, totp_secret: null, totp_enabled_at: null, totp_last_step: null, ...meta }).execute();
        for (const grant of grants) {
          await db.insertInto('privilege_grant').values({ id: randomUUID(), user_id: id, privilege: grant.privilege, level: grant.level, partition_id: grant.partitionId, granted_at: now, granted_by: 'seed' }).execute();
        }
        return id;
      };
      const boss = await user('boss', [{ privilege: 'User.Admin', level: 'admin', partitionId: null }]);
      const second = await user('second', [
        { privilege: 'User.Admin', level: 'admin', partitionId: null },
        { privilege: 'Device.Edit', level: 'admin', partitionId: null },
      ]);
      const accessOnly = await user('access-only', [{ privilege: 'User.Admin', level: 'access', partitionId: null }]);
      const plantAdmin = await user('plant-admin', [{ privilege: 'User.Admin', level: 'admin', partitionId: plant }]);
      const deviceAdmin = await user('device-admin', [{ privilege: 'Device.Edit', level: 'admin', partitionId: null }]);

      const device = async (name: string, fingerprint: string | null) => {
        const id = randomUUID();
        await db
          .insertInto('device')
          .values({ id, partition_id: partition, name, application_id: null, hostname: '192.0.2.1', port: 22, protocol: 'ssh', description: '', tags: '[]', host_key: fingerprint && 'ssh-ed25519 AAAA', host_key_fingerprint: fingerprint, ...meta })
          .execute();
        // Inserted with the columns 0002 made: the new column does not exist yet.
        await sql`INSERT INTO credential (id, partition_id, name, application_id, device_id, account, kind, secret, passphrase, description, version, created_at, created_by, updated_at, updated_by)
                  VALUES (${randomUUID()}, ${partition}, ${`root@${name}`}, NULL, ${id}, 'root', 'password', 'v1.k.sealed', NULL, '', 1, ${now}, 'seed', ${now}, 'seed')`.execute(db);
        return id;
      };
      const pinned = await device('web01', 'SHA256:pinned-before-the-upgrade');
      const unpinned = await device('web02', null);

      expect(await migrate(db)).toContain(THIS_MIGRATION);

      const credentials = await db.selectFrom('credential').select(['device_id', 'host_key_fingerprint']).execute();
      expect(new Map(credentials.map((row) => [row.device_id, row.host_key_fingerprint]))).toEqual(
        new Map([
          [pinned, 'SHA256:pinned-before-the-upgrade'],
          [unpinned, null],
        ]),
      );

      const grants = await db.selectFrom('privilege_grant').select(['user_id', 'privilege', 'level', 'partition_id', 'granted_by']).where('privilege', 'in', ['Device.Pin', 'Request.Revoke']).execute();
      const held = grants.map((grant) => `${grant.user_id}:${grant.privilege}:${grant.level}:${grant.partition_id ?? '*'}`).sort();
      expect(held).toEqual([`${boss}:Device.Pin:admin:*`, `${boss}:Request.Revoke:admin:*`, `${second}:Device.Pin:admin:*`, `${second}:Request.Revoke:admin:*`].sort());
      expect(grants.every((grant) => grant.granted_by === 'migration:0007_device_trust')).toBe(true);
      for (const left of [accessOnly, plantAdmin, deviceAdmin]) expect(grants.some((grant) => grant.user_id === left)).toBe(false);

      // Applied once: a second start migrates nothing.
      expect(await migrate(db)).toEqual([]);
    } finally {
      await drop();
    }
    // Opening a fresh PGlite and running every migration takes a while on a busy machine.
  }, 120_000);
});
