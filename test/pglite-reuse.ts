/**
 * PGlite test databases, used again within a worker. Making one from the migrated snapshot costs
 * most of a second of CPU (the untar into its file system, the start of the WebAssembly
 * PostgreSQL, and the pages its memory touches); putting a closed one back as it was costs a few
 * hundredths. A closed database goes back to the migrated state (every table emptied and its
 * migrated rows put back, every sequence set back) and is handed to the next test, unless its
 * schema, roles or settings differ from the migrated ones (a test that planted a trigger, say):
 * then it is thrown away.
 */
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { PGLITE_PARSERS, type Database, type DatabaseHandle } from '../src/platform/database.ts';
import { PGlitePool } from '../src/platform/pglite-pool.ts';
import { PGliteNotifications } from '../src/platform/notifications.ts';

/** Idle databases a worker keeps: more than a file holds open at once, fewer than would cost memory. */
const IDLE_LIMIT = 3;

export interface ReusedPglite extends DatabaseHandle {
  /** Handed out before, to a test that closed it. */
  readonly reused: boolean;
}

/** What a migrated database holds: the state a closed one is put back to, and checked against. */
interface MigratedState {
  readonly tables: readonly string[];
  /** The rows of the tables the migrations fill, as JSON arrays. */
  readonly rows: ReadonlyMap<string, string>;
  readonly sequences: ReadonlyArray<{ readonly name: string; readonly lastValue: number; readonly isCalled: boolean }>;
  /** For each table, the tables whose foreign keys refer to it: a TRUNCATE must name them too. */
  readonly referencedBy: ReadonlyMap<string, readonly string[]>;
  readonly catalog: string;
}

const idle: PGlite[] = [];
let migrated: Promise<MigratedState> | undefined;

/** A PGlite in the migrated state: an idle one, or a new one from `snapshot`. */
export async function openReusedPglite(snapshot: Blob): Promise<ReusedPglite> {
  const again = idle.pop();
  const pglite = again ?? (await PGlite.create('memory://', { parsers: PGLITE_PARSERS, loadDataDir: snapshot }));
  // Read from the first new one, before any test has written to it.
  migrated ??= readState(pglite);
  const state = await migrated;
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new BorrowedPglitePool(pglite) }) });
  const notifications = new PGliteNotifications(pglite);
  let closed: Promise<void> | undefined;
  return {
    db,
    kind: 'pglite',
    notifications,
    reused: again !== undefined,
    close: () => {
      closed ??= (async () => {
        await notifications.close();
        await db.destroy();
        if (idle.length < IDLE_LIMIT && (await putBack(pglite, state))) idle.push(pglite);
        else await pglite.close();
      })();
      return closed;
    },
  };
}

/** Kysely ends its pool on `destroy`: this one leaves the database open, to be put back. */
class BorrowedPglitePool extends PGlitePool {
  override async end(): Promise<void> {}
}

/**
 * Every user table, trigger, function, constraint, default, role and setting: what a test may
 * change besides rows. Object ids stay when a table is emptied, and any object made anew gets one.
 * Only objects made after initdb (ids from 16384, PostgreSQL's FirstNormalObjectId) are read: the
 * thousands of built-in ones were most of the check's cost, and no test changes them.
 */
const CATALOG = `
  SELECT md5(string_agg(entry, E'\\n' ORDER BY entry)) AS catalog FROM (
    SELECT 'class ' || oid || ' ' || relname || ' ' || relkind::text FROM pg_class WHERE oid >= 16384
    UNION ALL SELECT 'column ' || attrelid || ' ' || attnum || ' ' || attname || ' ' || atttypid || ' ' || attnotnull || ' ' || attisdropped FROM pg_attribute WHERE attrelid >= 16384
    UNION ALL SELECT 'trigger ' || oid || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE oid >= 16384
    UNION ALL SELECT 'function ' || oid || ' ' || md5(prosrc) FROM pg_proc WHERE oid >= 16384
    UNION ALL SELECT 'constraint ' || oid || ' ' || conname FROM pg_constraint WHERE oid >= 16384
    UNION ALL SELECT 'default ' || oid || ' ' || pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE oid >= 16384
    UNION ALL SELECT 'policy ' || oid || ' ' || polname FROM pg_policy WHERE oid >= 16384
    UNION ALL SELECT 'rule ' || oid || ' ' || rulename FROM pg_rewrite WHERE oid >= 16384
    UNION ALL SELECT 'role ' || oid || ' ' || rolname || ' ' || rolsuper FROM pg_authid
    -- Not those of a module, which appear when it is first loaded (PL/pgSQL's).
    UNION ALL SELECT 'setting ' || name || '=' || coalesce(setting, '') FROM pg_settings WHERE name NOT LIKE '%.%'
  ) AS catalog(entry)`;

async function readState(pglite: PGlite): Promise<MigratedState> {
  await pglite.exec('DISCARD ALL');
  const tables = (await pglite.query<{ name: string }>("SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((row) => row.name);
  const rows = new Map<string, string>();
  for (const table of tables) {
    const [filled] = (await pglite.query<{ rows: string | null }>(`SELECT json_agg(t)::text AS rows FROM ${table} AS t`)).rows;
    if (filled?.rows) rows.set(table, filled.rows);
  }
  const sequences: Array<MigratedState['sequences'][number]> = [];
  for (const { name } of (await pglite.query<{ name: string }>("SELECT quote_ident(sequencename) AS name FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1")).rows) {
    const [value] = (await pglite.query<{ last_value: number; is_called: boolean }>(`SELECT last_value, is_called FROM ${name}`)).rows;
    sequences.push({ name, lastValue: Number(value?.last_value), isCalled: value?.is_called === true });
  }
  const referencedBy = new Map<string, string[]>();
  const references = await pglite.query<{ referencing: string; referenced: string }>(
    "SELECT conrelid::regclass::text AS referencing, confrelid::regclass::text AS referenced FROM pg_constraint WHERE contype = 'f'",
  );
  for (const { referencing, referenced } of references.rows) referencedBy.set(referenced, [...(referencedBy.get(referenced) ?? []), referencing]);
  return { tables, rows, sequences, referencedBy, catalog: await catalogOf(pglite) };
}

/** The tables whose rows are not the migrated ones: those with rows that had none, and those whose rows differ. */
async function changedTables(tx: Pick<PGlite, 'query'>, state: MigratedState): Promise<string[]> {
  const migratedRows: string[] = [];
  const probes = state.tables.map((table) => {
    const rows = state.rows.get(table);
    if (rows === undefined) return `SELECT '${table}' AS name WHERE EXISTS (SELECT FROM ${table})`;
    migratedRows.push(rows);
    return `SELECT '${table}' AS name WHERE (SELECT json_agg(t)::text FROM ${table} AS t) IS DISTINCT FROM $${migratedRows.length}`;
  });
  return (await tx.query<{ name: string }>(probes.join(' UNION ALL '), migratedRows)).rows.map((row) => row.name);
}

/** The tables and every table that refers to one of them, directly or through others. */
function withReferencing(tables: readonly string[], state: MigratedState): string[] {
  const all = new Set(tables);
  for (const table of all) for (const referencing of state.referencedBy.get(table) ?? []) all.add(referencing);
  return [...all];
}

async function catalogOf(pglite: PGlite): Promise<string> {
  return (await pglite.query<{ catalog: string }>(CATALOG)).rows[0]?.catalog ?? '';
}

/** Puts a closed database back to the migrated state; false when it cannot be (it is then thrown away). */
async function putBack(pglite: PGlite, state: MigratedState): Promise<boolean> {
  try {
    // Session state a test may leave: settings, temporary tables, prepared statements, locks.
    await pglite.exec('DISCARD ALL');
    if ((await catalogOf(pglite)) !== state.catalog) return false;
    await pglite.transaction(async (tx) => {
      // Only the tables the test changed, and those that refer to them (a TRUNCATE must name them
      // together): a TRUNCATE makes new files for each table and its indexes, which for all of them
      // was most of the cost of putting a database back.
      const written = withReferencing(await changedTables(tx, state), state);
      // The event log's tables refuse TRUNCATE by trigger; a replica session fires no triggers.
      await tx.exec('SET LOCAL session_replication_role = replica');
      if (written.length > 0) await tx.exec(`TRUNCATE ${written.join(', ')}`);
      for (const table of written) {
        const rows = state.rows.get(table);
        if (rows) await tx.query(`INSERT INTO ${table} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::${table}, $1)`, [rows]);
      }
      for (const sequence of state.sequences) await tx.query('SELECT setval($1, $2, $3)', [sequence.name, sequence.lastValue, sequence.isCalled]);
    });
    return true;
  } catch {
    return false;
  }
}
