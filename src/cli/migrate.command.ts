import type { Command } from 'commander';
import { systemClock } from '../platform/clock.ts';
import { describeDatabase } from './banner.ts';
import { globalOptionsOf, loadCliConfig, type GlobalOptions } from './global-options.ts';
import { localOperator } from './open-changegate.ts';
import { printLines } from './output.ts';

/** `changegate migrate`: applies the database migrations that have not run yet. */
export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply the database migrations that have not run yet (serve also applies them at start)')
    .action((_options: object, command: Command) => migrateDatabase(globalOptionsOf(command)));
}

async function migrateDatabase(globals: GlobalOptions): Promise<void> {
  const config = loadCliConfig(globals);
  const { migrate, openDatabase } = await import('../platform/database.ts');
  const { appendEvent } = await import('../eventlog/index.ts');
  const database = await openDatabase(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir });
  try {
    printLines(`Database: ${describeDatabase(config)}`);
    const applied = await migrate(database.db);
    // After the migrations the log exists; who ran them with the database in hand is logged, even when nothing was left to apply.
    await database.db.transaction().execute((trx) =>
      appendEvent(trx, { actor: localOperator(), action: 'database.migrate', subject: 'database', data: { applied }, time: systemClock.now() }),
    );
    printLines(...(applied.length === 0 ? ['The database is up to date.'] : applied.map((name) => `Applied ${name}`)));
  } finally {
    await database.close();
  }
}
