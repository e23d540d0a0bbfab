import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { CommandError } from './command-error.ts';

/** What `changegate login` keeps: the server and an API token of the user who signed in. */
export interface StoredLogin {
  readonly url: string;
  readonly username: string;
  readonly token: string;
  readonly tokenId: string;
  readonly tokenName: string;
  readonly expiresAt: string | null;
  readonly signedInAt: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `$XDG_CONFIG_HOME/changegate`, else `~/.config/changegate` (the XDG base directory rule). */
export function configDirectory(env: Env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || homedir(), '.config');
  return path.join(base, 'changegate');
}

/** The file holding the stored login: the token in it acts as you, so only you may read it (0600). */
export const loginFile = (env: Env): string => path.join(configDirectory(env), 'login.json');

/** The stored login, or `undefined` when nobody signed in here. */
export async function readLogin(env: Env): Promise<StoredLogin | undefined> {
  const file = loginFile(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CommandError(`Cannot read your stored login ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  try {
    const login = JSON.parse(text) as Partial<StoredLogin>;
    if (typeof login.url === 'string' && typeof login.token === 'string' && typeof login.username === 'string' && typeof login.tokenId === 'string') return login as StoredLogin;
  } catch {
    // Reported below, as for a file of the wrong shape.
  }
  throw new CommandError(`Your stored login ${file} is damaged: sign in again with \`changegate login <URL>\`.`);
}

/**
 * Writes the login so that only its owner can read it: the directory 0700, the file 0600 from its
 * first byte (written beside it under that mode, then renamed over the old one).
 */
export async function writeLogin(env: Env, login: StoredLogin): Promise<string> {
  const file = loginFile(env);
  const directory = path.dirname(file);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await chmod(directory, 0o700);
  const partial = `${file}.${process.pid}.partial`;
  try {
    await writeFile(partial, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'w' });
    await chmod(partial, 0o600);
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return file;
}

/** Forgets the stored login; true when there was one. */
export async function removeLogin(env: Env): Promise<boolean> {
  const file = loginFile(env);
  const existed = await stat(file).then(
    () => true,
    () => false,
  );
  await rm(file, { force: true });
  return existed;
}
