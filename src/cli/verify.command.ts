import type { Command } from 'commander';
import { CommandFailed } from './command-error.ts';
import { globalOptionsOf } from './global-options.ts';
import { withChangegate } from './open-changegate.ts';
import { printJson, printLines } from './output.ts';

/** `changegate verify`: recomputes the event log's hashes and names the first entry that does not match. */
export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('verify the tamper-evident event log from its first entry; exits 1 naming the first entry that does not match (needs EventLog.Verify)')
    .option('--json', 'print the verification report as JSON')
    .action((options: { json?: boolean }, command: Command) =>
      withChangegate(globalOptionsOf(command), async (core, actor) => {
        const showProgress = !options.json && process.stderr.isTTY === true;
        const report = await core.services.events.verify(actor, (verified) => {
          if (showProgress) process.stderr.write(`\rVerified ${verified} entries…`);
        });
        if (showProgress) process.stderr.write('\r\u001b[K');
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
