import { Command, CommanderError } from 'commander';
import { VERSION } from '../platform/version.ts';
import { describeSettings } from '../platform/config.ts';
import { registerAdminCommands } from './admin.command.ts';
import { registerAuditCommands } from './audit.command.ts';
import { registerBackupCommand } from './backup.command.ts';
import { registerChangeCommands } from './change.command.ts';
import { cliIo, withCliIo, type CliIo } from './cli-io.ts';
import { CommandError, EXIT, reportError } from './command-error.ts';
import { registerCredentialCommands } from './credential.command.ts';
import { registerDeviceCommands } from './device.command.ts';
import { registerEvidenceCommands } from './evidence.command.ts';
import { registerGrantCommands } from './grant.command.ts';
import { addGlobalOptions } from './global-options.ts';
import { registerGroupCommands } from './group.command.ts';
import { registerLogCommands } from './log.command.ts';
import { registerLoginCommands } from './login.command.ts';
import { registerLogProofCommands } from './log-proof.command.ts';
import { registerMigrateCommand } from './migrate.command.ts';
import { formatTable } from './output.ts';
import { registerRecordingsCommands } from './recordings.command.ts';
import { registerRequestCommands } from './request.command.ts';
import { registerRestoreBackupCommand } from './restore-backup.command.ts';
import { registerServeCommand } from './serve.command.ts';
import { registerSessionCommands } from './session.command.ts';
import { registerTokenCommands } from './token.command.ts';
import { registerUserCommands } from './user.command.ts';
import { registerVaultCommands } from './vault.command.ts';
import { registerVerifyCommand } from './verify.command.ts';

/** The `changegate` command line: global options first, then every command. */
export function buildProgram(): Command {
  const program = new Command('changegate')
    .description('Controlled changes to critical servers: planned, approved, brokered, recorded and audited.')
    .version(VERSION, '-V, --version', 'print the version')
    // Set before the commands are added, so every command inherits them.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({ writeOut: (text) => void cliIo().stdout.write(text), writeErr: (text) => void cliIo().stderr.write(text) });
  addGlobalOptions(program);
  program.addHelpText('after', settingsHelp());
  registerLoginCommands(program);
  registerServeCommand(program);
  registerMigrateCommand(program);
  registerAdminCommands(program);
  registerUserCommands(program);
  registerGrantCommands(program);
  registerTokenCommands(program);
  registerDeviceCommands(program);
  registerCredentialCommands(program);
  registerGroupCommands(program);
  registerChangeCommands(program);
  registerRequestCommands(program);
  registerSessionCommands(program);
  registerAuditCommands(program);
  registerEvidenceCommands(program);
  registerVerifyCommand(program);
  registerLogProofCommands(registerLogCommands(program));
  registerVaultCommands(program);
  registerRecordingsCommands(program);
  registerBackupCommand(program);
  registerRestoreBackupCommand(program);
  return program;
}

/**
 * Runs one command line (without `node` and the script) and returns the exit code: 0 done,
 * 1 failed, 2 a wrong command line or configuration, 130 interrupted. `io` replaces the process's
 * streams and environment for this run (the tests run commands in-process this way).
 */
export async function runCli(args: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  return withCliIo(io, async () => {
    try {
      refuseActingAs(args);
      await buildProgram().parseAsync([...args], { from: 'user' });
      return EXIT.ok;
    } catch (error) {
      // Commander has already printed its message (or the help, or the version).
      if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return reportError(error, cliIo().stderr);
    }
  });
}

const ACT_AS_GONE =
  'Commands no longer act as a user named on the command line: sign in as that user with `changegate login <URL>` (or set CHANGEGATE_URL and CHANGEGATE_TOKEN), and every command acts as them.';

/**
 * `--as` and CHANGEGATE_CLI_USER once let anyone with the database act as any user. They are
 * refused by name, rather than as an unknown option, so whoever still uses them learns what replaced them.
 */
function refuseActingAs(args: readonly string[]): void {
  const end = args.indexOf('--');
  const options = end === -1 ? args : args.slice(0, end);
  if (options.some((arg) => arg === '--as' || arg.startsWith('--as='))) throw new CommandError(`--as is gone. ${ACT_AS_GONE}`, EXIT.usage);
  if (cliIo().env.CHANGEGATE_CLI_USER) throw new CommandError(`CHANGEGATE_CLI_USER is gone: unset it. ${ACT_AS_GONE}`, EXIT.usage);
}

function settingsHelp(): string {
  const rows = describeSettings().map((setting) => [setting.env, setting.key, setting.fallback || '-']);
  const table = formatTable(['environment', 'config key', 'default'], rows).map((line) => `  ${line}`);
  return [
    '',
    'Settings come from, in rising priority: defaults, the --config file, the environment, command-line options.',
    ...table,
    '',
    'These settings are for the commands that open the database themselves: serve, migrate, verify,',
    'admin reset-password, vault rotate, recordings migrate, restore-backup, and backup with no server running.',
    'Every other command is a client of a',
    'server\'s API: sign in with `changegate login <URL>`, or set CHANGEGATE_URL and CHANGEGATE_TOKEN.',
  ].join('\n');
}
