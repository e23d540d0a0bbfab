import { ApiClient, normalizeServerUrl } from './api-client.ts';
import { cliIo } from './cli-io.ts';
import { CommandError } from './command-error.ts';
import { loginFile, readLogin } from './login-store.ts';

/** The server and token a command uses, and where they came from (for the messages). */
export interface Connection {
  readonly api: ApiClient;
  readonly url: string;
  /** Known from the stored login; with CHANGEGATE_TOKEN, ask `GET /me`. */
  readonly username: string | undefined;
}

export const NOT_SIGNED_IN =
  'You are not signed in: run `changegate login <URL>` (such as `changegate login http://localhost:8080`), or set CHANGEGATE_URL and CHANGEGATE_TOKEN.';

/**
 * The server and API token of the signed-in user: CHANGEGATE_URL and CHANGEGATE_TOKEN when set,
 * else what `changegate login` stored. A stored token is only ever sent to the server it came from.
 */
export async function connect(): Promise<Connection> {
  const { env } = cliIo();
  const stored = await readLogin(env);
  const url = env.CHANGEGATE_URL ? normalizeServerUrl(env.CHANGEGATE_URL) : stored?.url;
  if (env.CHANGEGATE_TOKEN) {
    if (!url) throw new CommandError('CHANGEGATE_TOKEN is set but not CHANGEGATE_URL: set it to the address of the server that issued the token.');
    return { api: new ApiClient(url, { token: env.CHANGEGATE_TOKEN }, 'Create another (changegate token create) and set CHANGEGATE_TOKEN to it, or unset it and sign in: changegate login.'), url, username: undefined };
  }
  if (!url) throw new CommandError(NOT_SIGNED_IN);
  if (!stored || stored.url !== url) {
    throw new CommandError(`You are not signed in to ${url}: run \`changegate login ${url}\`${stored ? ` (your stored login ${loginFile(env)} is for ${stored.url})` : ''}.`);
  }
  return { api: new ApiClient(url, { token: stored.token }, `Sign in again: changegate login ${url}`), url, username: stored.username };
}

/** Runs a command's work against the API as the signed-in user. */
export async function withApi<T>(run: (api: ApiClient, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await connect();
  return run(connection.api, connection);
}

/** The signed-in user's name: from the stored login, else asked of the server. */
export async function usernameOf(connection: Connection): Promise<string> {
  if (connection.username) return connection.username;
  return (await connection.api.get<{ user: { username: string } }>('/me')).user.username;
}
