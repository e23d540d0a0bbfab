import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate, openDatabase, type DatabaseHandle, type DatabaseKind } from '../src/platform/database.ts';

/**
 * Every store test runs on both databases. PostgreSQL must answer at CHANGEGATE_TEST_PG (default
 * the machine's server); each call makes a fresh database and drops it on close, so runs never
 * see each other's data. A missing server fails the tests: it is never skipped.
 */
export const TEST_POSTGRES_URL = process.env.CHANGEGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export const DATABASE_KINDS: readonly DatabaseKind[] = ['pglite', 'postgres'];

export interface TestDatabase extends DatabaseHandle {
  /** A URL another process can use to reach the same database (PostgreSQL only). */
  readonly url?: string;
}

export async function openTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite' });
    await migrate(handle.db);
    return handle;
  }
  const name = `changegate_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = withDatabase(TEST_POSTGRES_URL, name);
  const handle = await openDatabase({ kind: 'postgres', url });
  await migrate(handle.db);
  return {
    ...handle,
    url,
    close: async () => {
      await handle.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A fresh, empty PostgreSQL database (no migrations) for tests that start a server themselves. */
export async function createEmptyPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `changegate_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return { url: withDatabase(TEST_POSTGRES_URL, name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL does not answer at ${TEST_POSTGRES_URL} (set CHANGEGATE_TEST_PG): ${(error as Error).message}`);
  }
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
