import { InvalidArgumentError, type Command } from 'commander';
import type { ApiTokenView } from '../identity/index.ts';
import { segment } from './api-client.ts';
import { connect, usernameOf, withApi } from './api-connection.ts';
import { CommandError } from './command-error.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';
import { inPasswordSession } from './password-sign-in.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `changegate token create|list|revoke`: API tokens of the signed-in user, for `Authorization: Bearer`. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('create, list and revoke your API tokens (Authorization: Bearer cg_…)');

  token
    .command('create')
    .description('create an API token and print it once; asks for your password (and one-time code), as a token cannot make tokens')
    .argument('<name>', 'what will use it, such as "ci" or "backup script"')
    .option('--expires-in-days <days>', 'days until it expires, 1 to 3650 (default: 90)', wholeNumber)
    .option('--password-stdin', 'read your password from one line of standard input (else CHANGEGATE_PASSWORD, else asked without echo)')
    .option('--totp <code>', 'your current one-time code, when you use two-factor sign-in (else CHANGEGATE_TOTP, else asked)')
    .option('--json', 'print the token and its details as JSON')
    .action(async (name: string, options: { expiresInDays?: number; passwordStdin?: boolean; totp?: string; json?: boolean }) => {
      const connection = await connect();
      const username = await usernameOf(connection);
      const created = await inPasswordSession(connection.url, { username, passwordStdin: options.passwordStdin, totp: options.totp }, (session) =>
        session.api.post<ApiTokenView & { token: string }>('/tokens', { name, ...(options.expiresInDays !== undefined && { expiresInDays: options.expiresInDays }) }),
      );
      if (options.json) return printJson(created);
      printLines(`Created API token "${created.name}" (${created.id}) for ${username}, expiring ${shortTime(created.expiresAt)}:`, created.token, 'Copy it now: it cannot be shown again.');
    });

  token
    .command('list')
    .description('list your API tokens (never the tokens themselves)')
    .option('--json', 'print the tokens as JSON')
    .action((options: { json?: boolean }) =>
      withApi(async (api, connection) => {
        const tokens = await api.get<ApiTokenView[]>('/tokens');
        if (options.json) return printJson(tokens);
        printTable(['id', 'name', 'prefix', 'created', 'expires', 'revoked', 'last used'], tokens.map(tokenRow), `${await usernameOf(connection)} has no API tokens.`);
      }),
    );

  token
    .command('revoke')
    .description("revoke an API token at once: your own, or anyone's with User.Admin")
    .argument('<id>', 'the token id from `token list` (a UUID), or the prefix of one of your tokens')
    .action((id: string) =>
      withApi(async (api, connection) => {
        let tokenId = id;
        if (!UUID.test(id)) {
          const matching = (await api.get<ApiTokenView[]>('/tokens')).filter((candidate) => candidate.prefix === id && candidate.revokedAt === null);
          if (matching.length !== 1) {
            throw new CommandError(
              matching.length === 0
                ? `"${id}" is neither a token id nor the prefix of an active token of ${await usernameOf(connection)}: \`changegate token list\` shows them.`
                : `Several tokens start with ${id}: revoke by id (\`changegate token list\` shows them).`,
            );
          }
          tokenId = (matching[0] as ApiTokenView).id;
        }
        const revoked = await api.delete<ApiTokenView>(`/tokens/${segment(tokenId)}`);
        printLines(`Revoked API token "${revoked.name}" (${revoked.prefix}…).`);
      }),
    );
}

function wholeNumber(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new InvalidArgumentError('expected a whole number of days.');
  return Number(raw);
}

const tokenRow = (token: ApiTokenView): string[] => [
  token.id,
  token.name,
  token.prefix,
  shortTime(token.createdAt),
  shortTime(token.expiresAt),
  shortTime(token.revokedAt),
  shortTime(token.lastUsedAt),
];
