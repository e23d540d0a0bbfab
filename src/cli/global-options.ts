import type { Command } from 'commander';
import { loadConfig, type Config } from '../platform/config.ts';
import { cliIo } from './cli-io.ts';

/** The options every command accepts, placed before or after the command's name. */
export interface GlobalOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

/** Declares the global options on the root command: they matter to the commands that open the database themselves. */
export function addGlobalOptions(program: Command): Command {
  return program
    .option('--config <file>', 'JSON file of settings such as {"httpPort": 9090} (keys: see changegate --help); for serve, migrate, verify, admin, vault')
    .option('--data-dir <dir>', 'data directory: embedded database, master key (overrides CHANGEGATE_DATA_DIR); for serve, migrate, verify, admin, vault');
}

/** The global options as seen from any command, merged with its own. */
export function globalOptionsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/**
 * The configuration from defaults, the `--config` file, the environment and the command line, in
 * rising priority. Throws `ConfigError` naming every bad setting.
 */
export function loadCliConfig(globals: GlobalOptions, overrides: Partial<Record<keyof Config, string>> = {}): Config {
  return loadConfig({ env: { ...cliIo().env }, file: globals.config, overrides: { dataDir: globals.dataDir, ...overrides } });
}
