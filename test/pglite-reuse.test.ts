import { sql, type Kysely } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Database } from '../src/platform/database.ts';
import { openNewTestPglite, openTestDatabase } from './databases.ts';
import { buildUser, startTestChangegate } from './harness.ts';

/** Every row of every table and the state of every sequence, as text to compare. */
async function contents(db: Kysely<Database>): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const tables = await sql<{ name: string }>`SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`.execute(db);
  for (const { name } of tables.rows) {
    const rows = await sql<{ rows: string | null }>`SELECT string_agg(t::text, E'\n' ORDER BY t::text) AS rows FROM ${sql.raw(name)} AS t`.execute(db);
    found[`table ${name}`] = rows.rows[0]?.rows ?? '';
  }
  const sequences = await sql<{ name: string }>`SELECT quote_ident(sequencename) AS name FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`.execute(db);
  for (const { name } of sequences.rows) {
    const value = await sql<{ state: string }>`SELECT last_value || ' ' || is_called AS state FROM ${sql.raw(name)}`.execute(db);
    found[`sequence ${name}`] = value.rows[0]?.state ?? '';
  }
  return found;
}

describe('PGlite test databases used again', () => {
  it('a database a Changegate wrote to is handed to the next test holding exactly what a new one holds', async () => {
    const t = await startTestChangegate('pglite');
    // Rows in most tables: users, grants, sessions, the event log with its tree, notifications.
    const alice = await buildUser(t, { username: 'alice', grants: [{ privilege: 'Device.View' }] });
    expect((await alice.client.get('/me')).status).toBe(200);
    expect((await t.admin.post('/partitions', { name: 'Ops' })).status).toBe(201);
    await t.close();

    const again = await openTestDatabase('pglite');
    const fresh = await openNewTestPglite();
    try {
      expect(again.reused).toBe(true);
      const expected = await contents(fresh.db);
      expect(Object.keys(expected).filter((key) => key.startsWith('table ')).length).toBeGreaterThan(20);
      expect(await contents(again.db)).toEqual(expected);
      // Sequences hand out the same next numbers too.
      const next = async (db: Kysely<Database>) => (await sql<{ n: number }>`SELECT nextval('session_number') AS n`.execute(db)).rows[0]?.n;
      expect(await next(again.db)).toBe(await next(fresh.db));
    } finally {
      await again.close();
      await fresh.close();
    }
  });

  it('a database whose schema a test changed is thrown away, not handed out again', async () => {
    const planted = await openTestDatabase('pglite');
    await sql`CREATE FUNCTION planted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted'; END $$`.execute(planted.db);
    await sql`CREATE TRIGGER planted BEFORE INSERT ON partition FOR EACH ROW EXECUTE FUNCTION planted()`.execute(planted.db);
    await planted.close();

    const next = await openTestDatabase('pglite');
    try {
      const triggers = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'planted'`.execute(next.db);
      expect(triggers.rows[0]?.n).toBe(0);
    } finally {
      await next.close();
    }
  });
});
