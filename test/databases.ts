import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { inject } from 'vitest';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from '../src/platform/database.ts';
import { dropLater } from './database-drops.ts';
import { openReusedPglite } from './pglite-reuse.ts';
import { adminQuery, DURABILITY_SETTINGS, migrationsKey, pgliteSnapshot, postgresTemplate, TEST_POSTGRES_URL, withDatabase } from './database-snapshot.ts';

export { TEST_POSTGRES_URL } from './database-snapshot.ts';

/**
 * Every store test runs on both databases. PostgreSQL must answer at CHANGEGATE_TEST_PG (default
 * the machine's server); each call makes a fresh database and drops it on close, so runs never
 * see each other's data. A missing server fails the tests: it is never skipped.
 *
 * A test database starts migrated: a copy of one migrated once per run (test/database-snapshot.ts,
 * made by test/global-setup-databases.ts). `migrate` itself runs from an empty database in the
 * tests of migrations, in the tests that start `changegate` as a process, and with
 * `createEmptyPostgresDatabase`; every Changegate started on a copy still runs it, finding
 * nothing to do.
 */
export const DATABASE_KINDS: readonly DatabaseKind[] = ['pglite', 'postgres'];

export interface TestDatabase extends DatabaseHandle {
  /** A URL another process can use to reach the same database (PostgreSQL only). */
  readonly url?: string;
  /** PGlite only: handed out before, and put back to the migrated state when closed (test/pglite-reuse.ts). */
  readonly reused?: boolean;
}

let migrated: Promise<{ pglite: Blob; postgres: string }> | undefined;

/** The migrated copies to start from: those the global setup made, or made here when a run has none. */
function migratedDatabases(): Promise<{ pglite: Blob; postgres: string }> {
  migrated ??= (async () => {
    const key = provided('pgliteSnapshot') && provided('postgresTemplate') ? undefined : await migrationsKey();
    const snapshot = provided('pgliteSnapshot') ?? (await pgliteSnapshot(key as string));
    const template = provided('postgresTemplate') ?? (await postgresTemplate(TEST_POSTGRES_URL, key as string));
    return { pglite: new SnapshotBlob(await readFile(snapshot)), postgres: template };
  })();
  return migrated;
}

/** What the global setup provided; nothing outside a Vitest run (a benchmark opens its databases with these functions too). */
function provided(key: 'pgliteSnapshot' | 'postgresTemplate'): string | undefined {
  try {
    return inject(key);
  } catch {
    return undefined;
  }
}

/**
 * The PGlite snapshot, read from disk once per worker and handed to every database made from it
 * without a copy: PGlite only reads it (`arrayBuffer()`, then untar into its own file system).
 * A plain Blob of the same bytes is read back through a stream on each open, which cost a third of
 * each PGlite test database's start.
 */
class SnapshotBlob extends Blob {
  private readonly contents: ArrayBuffer;

  constructor(file: Buffer) {
    super([file]);
    this.contents = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.resolve(this.contents);
  }
}

/**
 * A migrated database of the kind that no other test sees: on PostgreSQL a fresh one, on PGlite
 * one in memory, fresh or put back as migrated after an earlier test of the worker closed it.
 */
export async function openTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const start = await migratedDatabases();
  if (kind === 'pglite') return openReusedPglite(start.pglite);
  const database = await createPostgresDatabase(start.postgres);
  const handle = await openDatabase({ kind: 'postgres', url: database.url });
  return {
    ...handle,
    url: database.url,
    close: async () => {
      await handle.close();
      dropLater(database.drop);
    },
  };
}

/** A PGlite in memory made now from the migrated snapshot, never handed out before: to compare a reused one with. */
export async function openNewTestPglite(): Promise<TestDatabase> {
  return openDatabase({ kind: 'pglite', startFrom: (await migratedDatabases()).pglite });
}

/**
 * A fresh, migrated PGlite in the data directory `dataDir` (in `db/`, where Changegate keeps it),
 * for the commands that open it later; `durable` gives it back the durability a server's embedded
 * database has (the snapshot is made without), for a test of a crash.
 */
export async function openMigratedPgliteIn(dataDir: string, { durable = false } = {}): Promise<TestDatabase> {
  const start = await migratedDatabases();
  const database = await openDatabase({ kind: 'pglite', dataDir, startFrom: start.pglite });
  if (durable) for (const setting of DURABILITY_SETTINGS) await sql.raw(`ALTER SYSTEM RESET ${setting}`).execute(database.db);
  return database;
}

/** A fresh, migrated PostgreSQL database for a server started with its URL. */
export async function createMigratedPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  return createPostgresDatabase((await migratedDatabases()).postgres);
}

/** A fresh, empty PostgreSQL database (no migrations) for tests that start a server themselves. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  return createPostgresDatabase();
}

async function createPostgresDatabase(template?: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `changegate_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(TEST_POSTGRES_URL, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  return { url: withDatabase(TEST_POSTGRES_URL, name), drop: () => adminQuery(TEST_POSTGRES_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined) };
}
