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
 */
const CATALOG = `
  SELECT md5(string_agg(entry, E'\\n' ORDER BY entry)) AS catalog FROM (
    SELECT 'class ' || oid || ' ' || relname || ' ' || relkind::text FROM pg_class
    UNION ALL SELECT 'column ' || attrelid || ' ' || attnum || ' ' || attname || ' ' || atttypid || ' ' || attnotnull || ' ' || attisdropped FROM pg_attribute
    UNION ALL SELECT 'trigger ' || oid || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger
    UNION ALL SELECT 'function ' || oid || ' ' || md5(prosrc) FROM pg_proc
    UNION ALL SELECT 'constraint ' || oid || ' ' || conname FROM pg_constraint
    UNION ALL SELECT 'default ' || oid || ' ' || pg_get_expr(adbin, adrelid) FROM pg_attrdef
    UNION ALL SELECT 'policy ' || oid || ' ' || polname FROM pg_policy
    UNION ALL SELECT 'rule ' || oid || ' ' || rulename FROM pg_rewrite
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
  return { tables, rows, sequences, catalog: await catalogOf(pglite) };
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
      // The event log's tables refuse TRUNCATE by trigger; a replica session fires no triggers.
      await tx.exec('SET LOCAL session_replication_role = replica');
      await tx.exec(`TRUNCATE ${state.tables.join(', ')}`);
      for (const [table, rows] of state.rows) {
        await tx.query(`INSERT INTO ${table} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::${table}, $1)`, [rows]);
      }
      for (const sequence of state.sequences) await tx.query('SELECT setval($1, $2, $3)', [sequence.name, sequence.lastValue, sequence.isCalled]);
    });
    return true;
  } catch {
    return false;
  }
}
