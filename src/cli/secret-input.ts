import { createInterface } from 'node:readline';
import { CommandError, EXIT } from './command-error.ts';

/** Reads one line from standard input, such as a password piped in by a script; the line break is dropped. */
export async function readLine(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) return line;
  } finally {
    lines.close();
  }
  throw new CommandError('Standard input is empty: pipe the password in, e.g. `printf "%s\\n" "$PASSWORD" | changegate …`.');
}

/**
 * Asks on the terminal without echoing what is typed. Raw mode hands us every key: Enter ends,
 * Backspace deletes, Ctrl+C cancels with exit code 130.
 */
export function promptHidden(question: string, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed: string[] = [];
    const finish = () => {
      stdin.off('data', onKeys);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
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

/**
 * A new password: one line of standard input when asked for (`--password-stdin`) or when it is not
 * a terminal; otherwise typed twice at the terminal without echo.
 */
export async function readNewPassword(options: { readonly fromStdin: boolean }): Promise<string> {
  if (options.fromStdin || !process.stdin.isTTY) return readLine();
  const first = await promptHidden('New password: ');
  const second = await promptHidden('Repeat the new password: ');
  if (first !== second) throw new CommandError('The two passwords differ: nothing was changed.');
  return first;
}
