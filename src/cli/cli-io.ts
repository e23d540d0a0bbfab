import { AsyncLocalStorage } from 'node:async_hooks';

/** Where a command reads and writes: the process's own streams, or a test's. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  /** The environment the command sees: settings, CHANGEGATE_URL, CHANGEGATE_TOKEN, the config directory. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

// One command line runs per call of `runCli`; several may run side by side in one process (the
// tests do), so the streams follow the call through its awaits instead of living in a global.
const current = new AsyncLocalStorage<CliIo>();

const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });

/** The streams and environment of the command running now. */
export function cliIo(): CliIo {
  return current.getStore() ?? processIo();
}

/** Runs `work` with `io` as the command's streams and environment; what is not given is the process's own. */
export function withCliIo<T>(io: Partial<CliIo>, work: () => Promise<T>): Promise<T> {
  return current.run({ ...processIo(), ...io }, work);
}
