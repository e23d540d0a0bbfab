import { hostname, userInfo } from 'node:os';
import type { ChangegateCore } from '../changegate.ts';
import { firstStartNotes } from './banner.ts';
import { cliIo } from './cli-io.ts';
import { loadCliConfig, type GlobalOptions } from './global-options.ts';

/**
 * Who runs a command that opens the database itself, as the event log names them:
 * `cli:<operating-system user>@<host>`. Such a command acts by holding the database and the master
 * key, not as a Changegate user: the log says who held them.
 */
export function localOperator(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A uid without a passwd entry (some containers).
    user = `uid${process.getuid?.() ?? 'unknown'}`;
  }
  return `cli:${user}@${hostname()}`;
}

/**
 * Opens Changegate's database and services for one of the commands that work beside the server
 * rather than through it (`verify`, `admin`, `vault`), runs the command and closes the database
 * whatever happens: the embedded database stays locked by this process while it is open.
 */
export async function withLocalChangegate<T>(globals: GlobalOptions, run: (core: ChangegateCore, operator: string) => Promise<T>): Promise<T> {
  const config = loadCliConfig(globals);
  // Loaded here, not at start: the commands that go through the API never need the server's modules.
  const { openChangegate } = await import('../changegate.ts');
  const core = await openChangegate({ config });
  try {
    // A first start can happen through any of them; its one-time notes go to stderr, apart from the output.
    for (const note of firstStartNotes(core)) cliIo().stderr.write(`${note}\n`);
    return await run(core, localOperator());
  } finally {
    await core.close();
  }
}
