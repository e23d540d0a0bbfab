import type { Command } from 'commander';
import { appendEvent, verifyEventLog } from '../eventlog/index.ts';
import { systemClock } from '../platform/clock.ts';
import { cliIo } from './cli-io.ts';
import { CommandFailed } from './command-error.ts';
import { globalOptionsOf } from './global-options.ts';
import { withLocalChangegate } from './open-changegate.ts';
import { printJson, printLines } from './output.ts';

/**
 * `changegate verify`: recomputes the event log's hashes from the database itself and names the
 * first entry that does not match. It reads the database directly rather than asking a server, so
 * a compromised server cannot answer for the log; the run is itself logged, naming the OS user.
 */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('verify the tamper-evident event log from its first entry, reading the database itself; exits 1 naming the first entry that does not match')
    .option('--json', 'print the verification report as JSON')
    .addHelpText('after', '\nRuns where the database can be read (the data directory, or DATABASE_URL); through the API, POST /api/v1/events/verify (EventLog.Verify) does the same.')
    .action((options: { json?: boolean }, command: Command) =>
      withLocalChangegate(globalOptionsOf(command), async (core, operator) => {
        const { stderr } = cliIo();
        const showProgress = !options.json && stderr.isTTY === true;
        const report = await verifyEventLog(core.database.db, (verified) => {
          if (showProgress) stderr.write(`\rVerified ${verified} entries…`);
        });
        if (showProgress) stderr.write('\r\u001b[K');
        await core.database.db.transaction().execute((trx) =>
          appendEvent(trx, {
            actor: operator,
            action: 'eventlog.verify',
            subject: 'eventlog',
            data: { ok: report.ok, verified: report.verified, headSeq: report.headSeq, ...(report.failure && { failedAt: report.failure.seq }) },
            time: systemClock.now(),
          }),
        );
        if (options.json) printJson(report);
        else if (report.ok) printLines(`Event log verified: ${report.verified} entries; head ${report.headSeq} ${report.headChainHash}`);
        else {
          const seq = report.failure?.seq ?? report.headSeq + 1;
          printLines(`Event log verification FAILED at entry ${seq}: ${report.failure?.message ?? 'it does not match'}`);
        }
        if (!report.ok) throw new CommandFailed();
      }),
    );
}
