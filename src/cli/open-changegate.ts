import { openChangegate, type ChangegateCore } from '../changegate.ts';
import { findUserByName, type Actor } from '../identity/index.ts';
import { firstStartNotes } from './banner.ts';
import { CommandError } from './command-error.ts';
import { loadCliConfig, type GlobalOptions } from './global-options.ts';

/**
 * Opens Changegate's database and services for one command, resolves the `--as` user, runs the
 * command as that user and closes the database whatever happens: the embedded database stays
 * locked by this process while it is open.
 */
export async function withChangegate<T>(globals: GlobalOptions, run: (core: ChangegateCore, actor: Actor) => Promise<T>): Promise<T> {
  const core = await openChangegate({ config: loadCliConfig(globals) });
  try {
    // A first start can happen through any command; its one-time notes go to stderr, apart from the output.
    for (const note of firstStartNotes(core)) process.stderr.write(`${note}\n`);
    return await run(core, await resolveActor(core, globals.as));
  } finally {
    await core.close();
  }
}

/** The user a command acts as; an unknown or disabled user cannot act. */
export async function resolveActor(core: Pick<ChangegateCore, 'database'>, username: string): Promise<Actor> {
  const user = await findUserByName(core.database.db, username);
  if (!user) throw new CommandError(`There is no Changegate user "${username}" to act as: name one with --as or CHANGEGATE_CLI_USER.`);
  if (user.disabled_at) {
    throw new CommandError(`User "${username}" is disabled and cannot act: choose another user with --as, or enable them (changegate user enable ${username}).`);
  }
  return { userId: user.id, username: user.username };
}
