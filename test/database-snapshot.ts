/**
 * A migrated database made once and copied for each test: opening an empty PGlite runs initdb,
 * seconds each time, and then the migrations; a PostgreSQL database migrated from scratch costs
 * many more round trips than a copy of a template. Both are named by a hash of what makes them
 * (the migration files and the PGlite version), so a changed migration makes a new one, and runs
 * of other branches on the same machine each find their own.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { migrate, openDatabase, type Database } from '../src/platform/database.ts';
import { PGlitePool } from '../src/platform/pglite-pool.ts';

/** The PostgreSQL server of the tests, with a database to connect to while creating the others. */
export const TEST_POSTGRES_URL = process.env.CHANGEGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

const MIGRATIONS_DIR = fileURLToPath(new URL('../src/platform/migrations/', import.meta.url));
const SNAPSHOT_DIR = path.join(tmpdir(), 'changegate-test-snapshots');
/** Snapshots of other migrations are removed once this old: another branch's run may still use a recent one. */
const STALE_MS = 24 * 60 * 60 * 1000;

/**
 * A hash of what the migrated database is made of: the migration files, by name and content; the
 * code that applies them and makes the copies (database.ts, this file); and the PGlite that dumps it.
 */
export async function migrationsKey(): Promise<string> {
  const hash = createHash('sha256');
  const manifest = fileURLToPath(new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url));
  hash.update(`pglite ${(JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version}\n`);
  for (const code of ['./database-snapshot.ts', '../src/platform/database.ts']) hash.update(await readFile(fileURLToPath(new URL(code, import.meta.url))));
  for (const name of (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort()) {
    hash.update(`${name}\n`);
    hash.update(await readFile(path.join(MIGRATIONS_DIR, name)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The settings a PGlite snapshot turns off, for test databases only; `openMigratedPgliteIn` can turn them back on. */
export const DURABILITY_SETTINGS = ['fsync', 'synchronous_commit', 'full_page_writes'] as const;

/**
 * The file holding a dump of a migrated PGlite data directory; made now, unless an earlier run
 * with the same migrations made it. Its time is that of its last use, by which the dumps no run
 * used for a day are removed.
 */
export async function pgliteSnapshot(key: string): Promise<string> {
  const file = path.join(SNAPSHOT_DIR, `pglite-${key}.tar`);
  await mkdir(SNAPSHOT_DIR, { recursive: true });
  await removeStaleSnapshots(file);
  if (await exists(file)) {
    const now = new Date();
    await utimes(file, now, now);
    return file;
  }
  const pglite = await PGlite.create('memory://');
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new PGlitePool(pglite) }) });
  try {
    await migrate(db);
    // A test's data is small: a smaller buffer pool than PGlite's 128 MB starts a third quicker.
    await pglite.exec("ALTER SYSTEM SET shared_buffers = '16MB'");
    // A test database lives in memory and is thrown away: it needs no durability, and writing no
    // full pages into the write-ahead log halves what each write costs in the WebAssembly
    // PostgreSQL. Changegate's own databases keep the defaults.
    for (const setting of DURABILITY_SETTINGS) await pglite.exec(`ALTER SYSTEM SET ${setting} = off`);
    // Nothing in a test makes a database from a template: without the two, a copy is a third smaller and opens twice as fast.
    for (const template of ['template1', 'template0']) {
      await pglite.exec(`ALTER DATABASE ${template} IS_TEMPLATE false`);
      await pglite.exec(`DROP DATABASE ${template}`);
    }
    await pglite.exec('CHECKPOINT');
    const dump = await pglite.dumpDataDir('none');
    // Written aside and renamed, so a run starting meanwhile never reads half a file.
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await db.destroy();
  }
  return file;
}

async function removeStaleSnapshots(keep: string): Promise<void> {
  for (const name of await readdir(SNAPSHOT_DIR)) {
    const file = path.join(SNAPSHOT_DIR, name);
    if (file === keep) continue;
    const { mtimeMs } = await stat(file).catch(() => ({ mtimeMs: Date.now() }));
    if (Date.now() - mtimeMs > STALE_MS) await rm(file, { force: true });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The name of a migrated PostgreSQL database to copy (`CREATE DATABASE … TEMPLATE`); made now,
 * unless an earlier run with the same migrations made it. It is made under another name and
 * renamed when complete, so a copy never starts from half a migration, and no one stays connected
 * to it (a copy needs its template idle). Its comment is the time of its last use, by which the
 * templates no run used for a day are dropped.
 */
export async function postgresTemplate(serverUrl: string, key: string): Promise<string> {
  const name = `changegate_template_${key}`;
  const templates = await adminQuery(
    serverUrl,
    "SELECT datname, shobj_description(oid, 'pg_database') AS used FROM pg_database WHERE datname LIKE 'changegate\\_template\\_%'",
  );
  for (const row of templates.rows as Array<{ datname: string; used: string | null }>) {
    // Refused while someone copies it: then it is not stale after all.
    if (row.datname !== name && !(Date.now() - Date.parse(row.used ?? '') <= STALE_MS)) await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${row.datname}`).catch(() => undefined);
  }
  if (!templates.rows.some((row: { datname: string }) => row.datname === name)) await createTemplate(serverUrl, key, name);
  await adminQuery(serverUrl, `COMMENT ON DATABASE ${name} IS '${new Date().toISOString()}'`);
  return name;
}

async function createTemplate(serverUrl: string, key: string, name: string): Promise<void> {
  const building = `changegate_building_${key}_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${building}`);
  try {
    const handle = await openDatabase({ kind: 'postgres', url: withDatabase(serverUrl, building) });
    try {
      await migrate(handle.db);
    } finally {
      await handle.close();
    }
    await adminQuery(serverUrl, `ALTER DATABASE ${building} RENAME TO ${name}`);
  } catch (error) {
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
    // Another run made it meanwhile: theirs is as good.
    if ((error as { code?: string }).code === '42P04') return;
    throw error;
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** One statement on the server's maintenance database given in `serverUrl`. */
export async function adminQuery(serverUrl: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverUrl });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL does not answer at ${serverUrl} (set CHANGEGATE_TEST_PG): ${(error as Error).message}`);
  }
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
