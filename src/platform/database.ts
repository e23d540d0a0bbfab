import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './database-schema.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { PGliteNotifications, PostgresNotifications, type DatabaseNotifications } from './notifications.ts';
import { PGlitePool } from './pglite-pool.ts';

export type { Database } from './database-schema.ts';

/** A database handle or an open transaction: stores accept either, services pass the transaction. */
export type Executor = Kysely<Database> | Transaction<Database>;
export type Tx = Transaction<Database>;

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /** LISTEN/NOTIFY between the instances sharing the database. */
  readonly notifications: DatabaseNotifications;
  /**
   * PGlite only: a tar of the database's directory (PGlite's `dumpDataDir`), what a backup holds.
   * Call it holding the one connection (`db.connection()`), after a CHECKPOINT, so that no
   * transaction is half-way and every commit is in the files.
   */
  readonly dumpDataDir?: () => Promise<Blob>;
  close(): Promise<void>;
}

export type DatabaseTarget =
  | { readonly kind: 'postgres'; readonly url: string }
  /**
   * The database lives in `<dataDir>/db`; `dataDir` undefined keeps it in memory (tests).
   * `startFrom` is a dump of a data directory (`dumpDataDir`) to begin with when there is none
   * yet: tests start from a migrated one instead of running initdb and the migrations each time.
   */
  | { readonly kind: 'pglite'; readonly dataDir?: string; readonly startFrom?: Blob };

const INT8 = 20;
const NUMERIC = 1700;

/** Both drivers return int8 and numeric as JS numbers: sequences and counters stay far below 2^53. */
const toNumber = (value: string) => Number(value);

/** The type parsers every PGlite Changegate opens is created with. */
export const PGLITE_PARSERS = { [INT8]: toNumber, [NUMERIC]: toNumber };

/** Opens the embedded PGlite database or a PostgreSQL server, with the same Kysely interface. */
export async function openDatabase(target: DatabaseTarget): Promise<DatabaseHandle> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8 || oid === NUMERIC ? toNumber : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const notifications = new PostgresNotifications(target.url);
    return {
      db,
      kind: 'postgres',
      notifications,
      close: async () => {
        await notifications.close();
        await db.destroy();
      },
    };
  }
  let unlock = () => {};
  if (target.dataDir) {
    await mkdir(target.dataDir, { recursive: true });
    unlock = lockDataDir(target.dataDir);
  }
  try {
    const pglite = await PGlite.create(target.dataDir ? path.join(target.dataDir, 'db') : 'memory://', {
      parsers: PGLITE_PARSERS,
      ...(target.startFrom && { loadDataDir: target.startFrom }),
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new PGlitePool(pglite) }) });
    const notifications = new PGliteNotifications(pglite);
    return {
      db,
      kind: 'pglite',
      notifications,
      dumpDataDir: () => pglite.dumpDataDir('none'),
      close: async () => {
        await notifications.close();
        await db.destroy();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Any constant shared by every instance: migrations run one instance at a time. */
const MIGRATION_LOCK = 7_311_001;

/**
 * Applies the plain-SQL migrations in `migrations/` that have not run yet, in name order, each in
 * its own transaction, under an advisory lock so instances starting together do not race.
 * Returns the names applied.
 */
export async function migrate(db: Kysely<Database>): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL)`.execute(trx);
    const done = new Set((await trx.selectFrom('schema_migration').select('name').execute()).map((row) => row.name));
    const applied: string[] = [];
    for (const name of files) {
      if (done.has(name)) continue;
      const text = await readFile(path.join(MIGRATIONS_DIR, name), 'utf8');
      await sql.raw(text).execute(trx);
      await trx.insertInto('schema_migration').values({ name, applied_at: new Date() }).execute();
      applied.push(name);
    }
    return applied;
  });
}

/**
 * The migrations this version has that the database lacks (a newer instance not done migrating, or
 * an older database this one has not migrated): none when it is current. The readiness check asks.
 */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
  const applied = await sql<{ name: string }>`SELECT name FROM schema_migration`.execute(db).then(
    (result) => new Set(result.rows.map((row) => row.name)),
    (error: unknown) => {
      // No table yet: nothing was ever applied.
      if ((error as { code?: unknown }).code === '42P01') return new Set<string>();
      throw error;
    },
  );
  return files.filter((name) => !applied.has(name));
}

/** True when a statement failed on a UNIQUE constraint (SQLSTATE 23505), on either database. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
