import { InvalidArgumentError, type Command } from 'commander';
import type { RecordingStoreKind } from '../platform/tables/sessions.ts';
import { systemClock } from '../platform/clock.ts';
import { CommandError, EXIT } from './command-error.ts';
import { globalOptionsOf } from './global-options.ts';
import { withLocalChangegate } from './open-changegate.ts';
import { printLines } from './output.ts';

const MIGRATE_HELP = `
Each ended session's recording is copied to the store, read back, and its SHA-256 compared with the
one logged at the session's end before the session is pointed at the copy and the original removed.
A recording that differs (changed since it was logged) or is missing stays where it is and is
listed; the command then exits with 1. Live sessions are left where they started; run it again once
they have ended. Running it twice moves nothing the second time.

It opens the database itself: run it where the data directory (or DATABASE_URL) can be read, with
the server stopped when the database is the embedded one. The run is logged as one
recordings.migrate entry, naming you as cli:<OS user>@<host>. Set CHANGEGATE_RECORDING_STORE to the
same store so that new sessions are recorded there too.`;

const storeKind = (value: string): RecordingStoreKind => {
  if (value === 'files' || value === 'database') return value;
  throw new InvalidArgumentError('expected files or database.');
};

/** `changegate recordings migrate --to database|files`: moves ended sessions' recordings between stores. */
export function registerRecordingsCommands(program: Command): void {
  const recordings = program.command('recordings').description('where session recordings are kept: files in the data directory, or the database');

  recordings
    .command('migrate')
    .description('move every ended session\'s recording to the files or the database store, verifying each (opens the database itself)')
    .requiredOption('--to <store>', 'files or database', storeKind)
    .addHelpText('after', MIGRATE_HELP)
    .action((options: { to: RecordingStoreKind }, command: Command) =>
      withLocalChangegate(globalOptionsOf(command), async (core, operator) => {
        const { migrateRecordings } = await import('../sessions/recording-migration.ts');
        const report = await migrateRecordings(
          {
            db: core.database.db,
            clock: systemClock,
            stores: core.recordings,
            actor: operator,
            onProgress: (done, total, session, move) =>
              printLines(`${done} of ${total}: session ${session.number} ${move.outcome === 'moved' ? `moved to ${options.to}` : `left where it is: ${move.why}`}`),
          },
          options.to,
        );
        const lines = [
          report.found === 0
            ? `No ended session has its recording outside the ${options.to} store: nothing to move.`
            : `Moved ${report.moved} of ${report.found} recordings to the ${options.to} store.`,
        ];
        if (report.live.length > 0) {
          lines.push(`Skipped ${report.live.length} live session(s) (${report.live.join(', ')}): their recordings stay where they started; run this again once they have ended.`);
        }
        printLines(...lines, `Logged as event-log entry ${report.eventSeq}.`);
        if (report.refused.length > 0) {
          throw new CommandError(`${report.refused.length} recording(s) were not moved: sessions ${report.refused.map((one) => one.number).join(', ')} (see above).`, EXIT.failed);
        }
      }),
    );
}
