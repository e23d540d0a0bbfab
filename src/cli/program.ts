import { Command, CommanderError } from 'commander';
import { VERSION } from '../changegate.ts';
import { describeSettings } from '../platform/config.ts';
import { registerAuditCommands } from './audit.command.ts';
import { registerChangeCommands } from './change.command.ts';
import { EXIT, reportError } from './command-error.ts';
import { registerCredentialCommands } from './credential.command.ts';
import { registerDeviceCommands } from './device.command.ts';
import { registerGrantCommands } from './grant.command.ts';
import { addGlobalOptions } from './global-options.ts';
import { registerGroupCommands } from './group.command.ts';
import { registerMigrateCommand } from './migrate.command.ts';
import { formatTable } from './output.ts';
import { registerRequestCommands } from './request.command.ts';
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
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false });
  addGlobalOptions(program);
  program.addHelpText('after', settingsHelp());
  registerServeCommand(program);
  registerMigrateCommand(program);
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
  registerVerifyCommand(program);
  registerVaultCommands(program);
  return program;
}

/**
 * Runs one command line (without `node` and the script) and returns the exit code: 0 done,
 * 1 failed, 2 a wrong command line or configuration, 130 interrupted.
 */
export async function runCli(args: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...args], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    // Commander has already printed its message (or the help, or the version).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportError(error);
  }
}

function settingsHelp(): string {
  const rows = describeSettings().map((setting) => [setting.env, setting.key, setting.fallback || '-']);
  const table = formatTable(['environment', 'config key', 'default'], rows).map((line) => `  ${line}`);
  return [
    '',
    'Settings come from, in rising priority: defaults, the --config file, the environment, command-line options.',
    ...table,
    '',
    'The embedded database belongs to one process: while `changegate serve` runs on it, other commands',
    'refuse; use the API, stop the server, or share a PostgreSQL database (DATABASE_URL).',
  ].join('\n');
}
