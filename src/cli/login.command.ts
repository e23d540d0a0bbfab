import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ApiClient, normalizeServerUrl, segment, TokenRejected } from './api-client.ts';
import { connect } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { CommandError } from './command-error.ts';
import { loginFile, readLogin, removeLogin, writeLogin, type StoredLogin } from './login-store.ts';
import { wholeNumber } from './option-values.ts';
import { printJson, printLines, shortTime } from './output.ts';
import { inPasswordSession } from './password-sign-in.ts';

const DEFAULT_URL = 'http://localhost:8080';

interface LoginOptions {
  readonly username?: string;
  readonly passwordStdin?: boolean;
  readonly totp?: string;
  readonly tokenName?: string;
  readonly expiresInDays?: number;
}

interface CreatedToken {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly token: string;
  readonly expiresAt: string | null;
}

const LOGIN_HELP = `
Signs in with your password (and your one-time code when you use two-factor sign-in), creates an
API token for this machine, and keeps the address and the token in ${'$'}XDG_CONFIG_HOME/changegate/login.json
(else ~/.config/changegate/login.json), readable by you alone. Every other command then acts as you.

In a script: changegate login URL --username alice --password-stdin < password-file
(or CHANGEGATE_USERNAME, CHANGEGATE_PASSWORD, CHANGEGATE_TOTP). Or skip login altogether: set
CHANGEGATE_URL and CHANGEGATE_TOKEN to a token from \`changegate token create\`.`;

/** `changegate login|logout|whoami`: who the other commands act as. */
export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('sign in to a Changegate server and keep an API token for the other commands (asks for what it needs)')
    .argument('[url]', `the server's address (default: CHANGEGATE_URL, else the one you last signed in to, else ${DEFAULT_URL})`)
    .option('--username <name>', 'your username (else CHANGEGATE_USERNAME, else asked)')
    .option('--password-stdin', 'read the password from one line of standard input (else CHANGEGATE_PASSWORD, else asked without echo)')
    .option('--totp <code>', 'the current one-time code, when your account uses two-factor sign-in (else CHANGEGATE_TOTP, else asked)')
    .option('--token-name <name>', 'the name the token is listed under (default: "changegate CLI on <this host>")')
    .option('--expires-in-days <days>', "days until the token expires, 1 to 3650 (default: the server's, 90)", wholeNumber('a number of days', 1, 3650))
    .addHelpText('after', LOGIN_HELP)
    .action((url: string | undefined, options: LoginOptions) => login(url, options));

  program
    .command('logout')
    .description('revoke the API token `changegate login` stored, and forget it')
    .option('--local', 'only forget it, without asking the server to revoke it (when the server is gone for good)')
    .action((options: { local?: boolean }) => logout(options));

  program
    .command('whoami')
    .description('the user the commands act as, and the server')
    .option('--json', 'print the user and their grants as JSON')
    .action(async (options: { json?: boolean }) => {
      const { api, url } = await connect();
      const me = await api.get<{ user: { username: string; displayName: string } }>('/me');
      if (options.json) return printJson(me);
      printLines(`${me.user.username} (${me.user.displayName}) on ${url}`);
    });
}

async function login(rawUrl: string | undefined, options: LoginOptions): Promise<void> {
  const { env } = cliIo();
  const previous = await readLogin(env);
  const url = normalizeServerUrl(rawUrl ?? env.CHANGEGATE_URL ?? previous?.url ?? DEFAULT_URL);
  const tokenName = options.tokenName ?? `changegate CLI on ${hostname()}`;
  // Creating a token takes a web session signed in with the password just now, never another token.
  const { created, username } = await inPasswordSession(url, options, async (session) => ({
    username: session.username,
    created: await session.api.post<CreatedToken>('/tokens', { name: tokenName, ...(options.expiresInDays !== undefined && { expiresInDays: options.expiresInDays }) }),
  }));
  if (previous) await revokeQuietly(previous);
  const file = await writeLogin(env, {
    url,
    username,
    token: created.token,
    tokenId: created.id,
    tokenName: created.name,
    expiresAt: created.expiresAt,
    signedInAt: new Date().toISOString(),
  });
  printLines(
    `Signed in to ${url} as ${username}.`,
    `Your API token "${created.name}" (${created.prefix}…, expires ${shortTime(created.expiresAt)}) is kept in ${file}; \`changegate logout\` revokes it.`,
  );
  if (env.CHANGEGATE_TOKEN) printLines('CHANGEGATE_TOKEN is set in your environment and wins over this login: unset it to act as the user you signed in as.');
}

/** The token a new login replaces is revoked, so logins do not pile up live tokens; one already dead is fine. */
async function revokeQuietly(login: StoredLogin): Promise<void> {
  await new ApiClient(login.url, { token: login.token }).delete(`/tokens/${segment(login.tokenId)}`).catch(() => undefined);
}

async function logout(options: { local?: boolean }): Promise<void> {
  const { env } = cliIo();
  const stored = await readLogin(env);
  if (!stored) {
    printLines(`You are not signed in here (there is no ${loginFile(env)}).`);
    if (env.CHANGEGATE_TOKEN) printLines('CHANGEGATE_TOKEN is set in your environment: unset it, and revoke that token with `changegate token revoke` if it is no longer needed.');
    return;
  }
  let revoked = 'It was not revoked (--local): revoke it from another sign-in with `changegate token revoke`.';
  if (!options.local) {
    try {
      await new ApiClient(stored.url, { token: stored.token }).delete(`/tokens/${segment(stored.tokenId)}`);
      revoked = `Its API token "${stored.tokenName}" is revoked.`;
    } catch (error) {
      // A token the server no longer accepts cannot act: forgetting it is enough.
      if (!(error instanceof TokenRejected)) {
        throw new CommandError(`${error instanceof Error ? error.message : String(error)} Your login is kept, to try again; \`changegate logout --local\` forgets it without revoking.`);
      }
      revoked = 'Its API token was no longer valid.';
    }
  }
  await removeLogin(env);
  printLines(`Signed out of ${stored.url} (${stored.username}). ${revoked}`);
}
