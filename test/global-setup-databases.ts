/**
 * Before the test files run: one migrated PGlite data directory and one migrated PostgreSQL
 * template, which test/databases.ts copies for each test database (see test/database-snapshot.ts).
 */
import type { TestProject } from 'vitest/node';
import { migrationsKey, pgliteSnapshot, postgresTemplate, TEST_POSTGRES_URL } from './database-snapshot.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The file holding a dump of a migrated PGlite data directory. */
    pgliteSnapshot: string;
    /** The migrated PostgreSQL database each test database is a copy of. */
    postgresTemplate: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const key = await migrationsKey();
  const [snapshot, template] = await Promise.all([pgliteSnapshot(key), postgresTemplate(TEST_POSTGRES_URL, key)]);
  project.provide('pgliteSnapshot', snapshot);
  project.provide('postgresTemplate', template);
}
