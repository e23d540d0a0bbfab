/**
 * Test support: runs the real `changegate` command as a child process against a fresh data
 * directory (embedded PGlite) or a fresh PostgreSQL database, the way an operator would: the
 * compiled program in dist/, which the suite's global setup (test/build-dist.ts) builds first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmptyPostgresDatabase, createMigratedPostgresDatabase, openMigratedPgliteIn } from '../../test/databases.ts';
import { TEST_MASTER_KEY } from '../../test/harness.ts';
import type { DatabaseKind } from '../platform/database.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the bin and `npm start` run, without the bin's check that dist/ matches the sources (done once for the suite). */
const MAIN = path.join('dist', 'cli', 'main.js');
/** Only a guard against a hang: every wait below ends on a condition long before. */
const START_TIMEOUT_MS = 150_000;

/** One installation: a data directory and, for PostgreSQL, its own database. */
export interface Installation {
  readonly kind: DatabaseKind;
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string>>;
  remove(): Promise<void>;
}

/**
 * A fresh installation; settings the caller passes win over the defaults. Its database is empty,
 * so the first start creates it, unless `migrated`: then it starts as a copy of one migrated
 * already (with the durability settings a server has), for tests about what comes after the
 * first start.
 */
export async function newInstallation(kind: DatabaseKind, settings: Record<string, string> = {}, { migrated = false } = {}): Promise<Installation> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'changegate-cli-'));
  const database = kind === 'postgres' ? await (migrated ? createMigratedPostgresDatabase() : createEmptyPostgresDatabase()) : undefined;
  if (kind === 'pglite' && migrated) {
    // A server's embedded database keeps every commit, as this one must for the crash it may be killed in.
    await (await openMigratedPgliteIn(dataDir, { durable: true })).close();
  }
  return {
    kind,
    dataDir,
    env: {
      CHANGEGATE_DATA_DIR: dataDir,
      CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY,
      CHANGEGATE_LOG_LEVEL: 'warn',
      // Any free port: tests run side by side.
      CHANGEGATE_SSH_PORT: '0',
      ...(database && { DATABASE_URL: database.url }),
      ...settings,
    },
    remove: async () => {
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `changegate <args>` to its end, with `input` on standard input; `entry` may name the package bin instead. */
export async function runChangegate(
  installation: Pick<Installation, 'env'> | undefined,
  args: readonly string[],
  input = '',
  entry: string = MAIN,
): Promise<CliResult> {
  const child = spawnChangegate(installation, args, entry);
  child.stdin?.end(input);
  return finished(child);
}

export interface RunningServer {
  /** The URL the banner printed, with the port actually bound. */
  readonly url: string;
  readonly pid: number;
  /** Everything printed to stdout so far. */
  stdout(): string;
  /** Sends the signal and waits for the process to end. */
  stop(signal: NodeJS.Signals): Promise<CliResult>;
}

/** Starts `changegate serve --http-port 0` and waits until its banner names the URL; `node` is the Node.js that runs it (this one unless given). */
export async function startServer(installation: Pick<Installation, 'env'>, args: readonly string[] = [], node = process.execPath): Promise<RunningServer> {
  const child = spawnChangegate(installation, ['serve', '--http-port', '0', ...args], MAIN, node);
  const ended = finished(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no URL within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    let started = false;
    const fail = (why: string) => {
      if (started) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`changegate serve did not start: ${why}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    };
    // The banner is written in one piece once the server listens; the line ends with the port.
    child.stdout?.on('data', () => {
      const match = /^\s*URL:\s+(http:\/\/\S+)$/m.exec(stdout);
      if (match?.[1] && stdout.includes('Press Ctrl+C to stop.')) {
        started = true;
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void ended.then((result) => fail(`it exited with ${result.code ?? result.signal}`));
  });
  return {
    url,
    pid: child.pid as number,
    stdout: () => stdout,
    stop: async (signal) => {
      child.kill(signal);
      return ended;
    },
  };
}

function spawnChangegate(installation: Pick<Installation, 'env'> | undefined, args: readonly string[], entry = MAIN, node = process.execPath): ChildProcess {
  return spawn(node, [entry, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...inheritedEnv(), ...installation?.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** The test runner's environment without any Changegate setting, so only the installation's apply. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHANGEGATE_') && name !== 'DATABASE_URL'));
}

function finished(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
