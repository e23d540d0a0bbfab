import { createInterface } from 'node:readline';
import { cliIo, type CliIo } from './cli-io.ts';
import { CommandError, EXIT } from './command-error.ts';

/** Reads one line from standard input, such as a password piped in by a script; the line break is dropped. */
export async function readLine(input: NodeJS.ReadableStream = cliIo().stdin): Promise<string> {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) return line;
  } finally {
    lines.close();
  }
  throw new CommandError('Standard input is empty: pipe the password in, e.g. `printf "%s\\n" "$PASSWORD" | changegate …`.');
}

/** Reads standard input to its end: a script, a bundle. */
export async function readAll(input: NodeJS.ReadableStream = cliIo().stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string));
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether standard input is a terminal a person types at (raw mode lets a prompt hide what is typed). */
export function stdinIsTerminal(io: CliIo = cliIo()): boolean {
  return io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
}

/**
 * Asks on the terminal without echoing what is typed. Raw mode hands us every key: Enter ends,
 * Backspace deletes, Ctrl+C cancels with exit code 130.
 */
export function promptHidden(question: string): Promise<string> {
  const { stdin, stderr } = cliIo();
  stderr.write(question);
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed: string[] = [];
    const finish = () => {
      stdin.off('data', onKeys);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
    };
    const onKeys = (keys: string) => {
      for (const key of keys) {
        if (key === '\r' || key === '\n' || key === '\u0004') {
          finish();
          resolve(typed.join(''));
          return;
        }
        if (key === '\u0003') {
          finish();
          reject(new CommandError('Cancelled: nothing was changed.', EXIT.interrupted));
          return;
        }
        if (key === '\u007f' || key === '\b') typed = typed.slice(0, -1);
        else if (key >= ' ') typed.push(key);
      }
    };
    stdin.on('data', onKeys);
  });
}

/** Asks on the terminal and shows what is typed: a username, a one-time code. */
export async function promptVisible(question: string): Promise<string> {
  const { stdin, stderr } = cliIo();
  const lines = createInterface({ input: stdin, output: stderr, terminal: false });
  try {
    stderr.write(question);
    for await (const line of lines) return line.trim();
  } finally {
    lines.close();
  }
  throw new CommandError('Cancelled: nothing was typed.', EXIT.interrupted);
}

/**
 * A new password: one line of standard input when asked for (`--password-stdin`) or when it is not
 * a terminal; otherwise typed twice at the terminal without echo.
 */
export async function readNewPassword(options: { readonly fromStdin: boolean }): Promise<string> {
  if (options.fromStdin || !stdinIsTerminal()) return readLine();
  const first = await promptHidden('New password: ');
  const second = await promptHidden('Repeat the new password: ');
  if (first !== second) throw new CommandError('The two passwords differ: nothing was changed.');
  return first;
}
