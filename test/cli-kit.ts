/**
 * Test support for the `changegate` command line, run in-process: `runCli` against a real
 * Changegate listening on a loopback port, so each command goes over real HTTP like the installed
 * CLI, without the second or so a spawned `changegate` process costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'vitest';
import { createChangegate, type Changegate, type ChangegateOptions } from '../src/changegate.ts';
import { runCli } from '../src/cli/program.ts';
import { ManualClock } from '../src/platform/clock.ts';
import { loadConfig } from '../src/platform/config.ts';
import type { DatabaseKind } from '../src/platform/database.ts';
import { dropLater } from './database-drops.ts';
import { createMigratedPostgresDatabase, openMigratedPgliteIn, openTestDatabase } from './databases.ts';
import { ADMIN_PASSWORD, signIn, TEST_MASTER_KEY, type TestClient } from './harness.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What a command printed, for a failed expectation to show. */
export const shown = (args: readonly string[], result: CliResult): string => `changegate ${args.join(' ')} → ${result.code}\n${result.stdout}${result.stderr}`;

/** Runs one command line in this process with its own streams and environment; `input` is its standard input (not a terminal). */
export async function runCliInProcess(args: readonly string[], options: { readonly env: Readonly<Record<string, string>>; readonly input?: string }): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli(args, { env: { PATH: process.env.PATH ?? '', ...options.env }, stdout, stderr, stdin: Readable.from(options.input === undefined ? [] : [options.input]) });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * A Changegate for CLI tests, listening on a loopback port, on a migrated database of its own (a
 * copy, see test/databases.ts). On PostgreSQL the commands opening the database themselves
 * (`verify`, `admin`, `vault`) can share it with the server; PGlite runs in memory as in the
 * harness, or with `onDisk` in the data directory, for those commands once the server stopped.
 * The clock moves only when told, as in the harness.
 */
export interface CliServer {
  readonly kind: DatabaseKind;
  readonly url: string;
  readonly cg: Changegate;
  /** The server's clock, which moves only when told (unless started with `realTime`). */
  readonly clock: ManualClock;
  readonly dataDir: string;
  /** The settings of the installation, for a command that opens its database. */
  readonly settings: Readonly<Record<string, string>>;
  /** Signed in to the API as the first administrator (cookie session), for setting things up. */
  readonly admin: TestClient;
  /** Stops the server; the data stays until `remove`. */
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export async function startCliServer(
  kind: DatabaseKind,
  settings: Record<string, string> = {},
  options: Pick<ChangegateOptions, 'hostKeys' | 'upstream'> & {
    /** Follow the system clock, as a gateway session with a real sshd needs; `clock` is then not the server's. */
    readonly realTime?: boolean;
    /**
     * PGlite in the data directory, for a test that runs the commands opening the database
     * themselves once the server stopped; otherwise PGlite runs in memory, many times quicker.
     */
    readonly onDisk?: boolean;
  } = {},
): Promise<CliServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'changegate-cli-'));
  const database = kind === 'postgres' ? await createMigratedPostgresDatabase() : undefined;
  const pglite = kind === 'pglite' ? await (options.onDisk ? openMigratedPgliteIn(dataDir) : openTestDatabase('pglite')) : undefined;
  const all: Record<string, string> = {
    CHANGEGATE_DATA_DIR: dataDir,
    CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY,
    CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    CHANGEGATE_LOG_LEVEL: 'silent',
    CHANGEGATE_SSH_PORT: '0',
    ...(database && { DATABASE_URL: database.url }),
    ...settings,
  };
  const clock = new ManualClock();
  const { realTime, onDisk: _onDisk, ...changegateOptions } = options;
  const cg = await createChangegate({ ...changegateOptions, config: loadConfig({ env: all }), ...(!realTime && { clock }), ...(pglite && { database: pglite }) });
  await cg.app.listen({ port: 0, host: '127.0.0.1' });
  const address = cg.app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  let running = true;
  const stop = async () => {
    if (!running) return;
    running = false;
    await cg.close();
    await pglite?.close();
  };
  return {
    kind,
    url,
    cg,
    clock,
    dataDir,
    settings: all,
    admin: await signIn(cg, 'admin', all.CHANGEGATE_ADMIN_PASSWORD as string),
    stop,
    remove: async () => {
      await stop();
      if (database) dropLater(database.drop);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Someone at a shell with their own config directory: runs commands, expecting each exit code. */
export interface CliOperator {
  /** The environment each command sees: the config directory (XDG_CONFIG_HOME), plus what was given. */
  readonly env: Readonly<Record<string, string>>;
  readonly configHome: string;
  changegate(args: readonly string[], expectedCode?: number, input?: string): Promise<CliResult>;
  /** Runs a command that must succeed without a word on stderr, and parses its JSON output. */
  json<T>(args: readonly string[]): Promise<T>;
  remove(): void;
}

export function cliOperator(env: Record<string, string> = {}): CliOperator {
  const configHome = mkdtempSync(path.join(tmpdir(), 'changegate-config-'));
  const all = { HOME: configHome, XDG_CONFIG_HOME: configHome, ...env };
  const changegate = async (args: readonly string[], expectedCode = 0, input?: string) => {
    const result = await runCliInProcess(args, { env: all, input });
    expect(result.code, shown(args, result)).toBe(expectedCode);
    return result;
  };
  return {
    env: all,
    configHome,
    changegate,
    json: async <T>(args: readonly string[]) => {
      const result = await changegate(args);
      expect(result.stderr, shown(args, result)).toBe('');
      return JSON.parse(result.stdout) as T;
    },
    remove: () => rmSync(configHome, { recursive: true, force: true }),
  };
}

/** An operator signed in to the server as `username` with `changegate login`. */
export async function signedInOperator(server: Pick<CliServer, 'url'>, username: string, password: string, env: Record<string, string> = {}): Promise<CliOperator> {
  const operator = cliOperator(env);
  const login = await operator.changegate(['login', server.url, '--username', username, '--password-stdin'], 0, `${password}\n`);
  expect(login.stdout).toContain(`Signed in to ${server.url} as ${username}.`);
  return operator;
}
