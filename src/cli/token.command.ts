import { InvalidArgumentError, type Command } from 'commander';
import type { ApiTokenView } from '../identity/index.ts';
import { CommandError } from './command-error.ts';
import { globalOptionsOf } from './global-options.ts';
import { withChangegate } from './open-changegate.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `changegate token create|list|revoke`: API tokens of the `--as` user, for `Authorization: Bearer`. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('create, list and revoke API tokens of the --as user (Authorization: Bearer cg_…)');

  token
    .command('create')
    .description('create an API token and print it once')
    .argument('<name>', 'what will use it, such as "ci" or "backup script"')
    .option('--expires-in-days <days>', 'days until it expires, 1 to 3650 (default: 90)', wholeNumber)
    .option('--json', 'print the token and its details as JSON')
    .action((name: string, options: { expiresInDays?: number; json?: boolean }, command: Command) =>
      withChangegate(globalOptionsOf(command), async (core, actor) => {
        const created = await core.services.auth.createToken(actor, { name, expiresInDays: options.expiresInDays });
        if (options.json) return printJson(created);
        printLines(
          `Created API token "${created.name}" (${created.id}) for ${actor.username}, expiring ${shortTime(created.expiresAt)}:`,
          created.token,
          'Copy it now: it cannot be shown again.',
        );
      }),
    );

  token
    .command('list')
    .description('list the API tokens of the --as user (never the tokens themselves)')
    .option('--json', 'print the tokens as JSON')
    .action((options: { json?: boolean }, command: Command) =>
      withChangegate(globalOptionsOf(command), async (core, actor) => {
        const tokens = await core.services.auth.listTokens(actor);
        if (options.json) return printJson(tokens);
        printTable(['id', 'name', 'prefix', 'created', 'expires', 'revoked', 'last used'], tokens.map(tokenRow), `${actor.username} has no API tokens.`);
      }),
    );

  token
    .command('revoke')
    .description('revoke an API token at once: your own, or anyone\'s with User.Admin')
    .argument('<id>', 'the token id from `token list` (a UUID), or the prefix of one of your tokens')
    .action((id: string, _options: object, command: Command) =>
      withChangegate(globalOptionsOf(command), async (core, actor) => {
        let tokenId = id;
        if (!UUID.test(id)) {
          const matching = (await core.services.auth.listTokens(actor)).filter((candidate) => candidate.prefix === id && candidate.revokedAt === null);
          if (matching.length !== 1) {
            throw new CommandError(
              matching.length === 0
                ? `"${id}" is neither a token id nor the prefix of an active token of ${actor.username}: \`changegate token list\` shows them.`
                : `Several tokens start with ${id}: revoke by id (\`changegate token list\` shows them).`,
            );
          }
          tokenId = (matching[0] as ApiTokenView).id;
        }
        const revoked = await core.services.auth.revokeToken(actor, tokenId);
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
