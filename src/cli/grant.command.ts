import { Option, type Command } from 'commander';
import { isPrivilege, PRIVILEGES, type GrantLevel } from '../access/privilege.ts';
import type { GrantView } from '../identity/index.ts';
import { CommandError } from './command-error.ts';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';

const PRIVILEGE_HELP = `\nPrivileges:\n${wrap(PRIVILEGES.join(', '), 96, '  ')}`;

/**
 * `changegate grant`, `revoke` and `grants`. Listing is its own command (`grants`) rather than
 * `grant list`, which would read as granting a privilege called "list".
 */
export function registerGrantCommands(program: Command): void {
  program
    .command('grant')
    .description('grant a privilege to a user, system-wide or in one partition (needs that privilege at admin level)')
    .argument('<username>', 'the user who receives it')
    .argument('<privilege>', 'such as Change.Edit; see the list below')
    .addOption(new Option('--level <level>', 'access uses the privilege; admin may also grant it to others').choices(['access', 'admin']).default('access'))
    .option('--partition <name>', 'only in this partition (default: system-wide)')
    .option('--json', 'print the grant as JSON')
    .addHelpText('after', PRIVILEGE_HELP)
    .action((username: string, privilege: string, options: { level: GrantLevel; partition?: string; json?: boolean }) =>
      withApi(async (api) => {
        const grant = await api.post<GrantView>('/grants', { username, privilege, level: options.level, partition: options.partition ?? null });
        if (options.json) return printJson(grant);
        printLines(`Granted ${grant.privilege} (${grant.level}) to ${grant.username} ${scopeText(grant.partition)}.`);
      }),
    );

  program
    .command('revoke')
    .description('revoke a privilege from a user, system-wide or in one partition')
    .argument('<username>', 'the user who holds it')
    .argument('<privilege>', 'such as Change.Edit')
    .option('--partition <name>', 'the partition the grant is for (default: the system-wide grant)')
    .addHelpText('after', PRIVILEGE_HELP)
    .action((username: string, privilege: string, options: { partition?: string }) =>
      withApi(async (api) => {
        if (!isPrivilege(privilege)) throw new CommandError(`"${privilege}" is not a privilege: \`changegate revoke --help\` lists them.`);
        const partition = options.partition ?? null;
        const grant = (await api.get<GrantView[]>('/grants', { username, privilege })).find((candidate) => candidate.partition === partition);
        if (!grant) {
          throw new CommandError(`${username} holds no ${privilege} grant ${scopeText(partition)} that you may see: \`changegate grants --user ${username}\` lists theirs.`);
        }
        await api.delete(`/grants/${segment(grant.id)}`);
        printLines(`Revoked ${grant.privilege} (${grant.level}) from ${grant.username} ${scopeText(grant.partition)}.`);
      }),
    );

  program
    .command('grants')
    .description('list the grants you may see: all of them with User.Admin, else your own and those of privileges you administer')
    .option('--user <username>', "only this user's grants")
    .option('--privilege <privilege>', 'only grants of this privilege')
    .option('--json', 'print the grants as JSON')
    .action((options: { user?: string; privilege?: string; json?: boolean }) =>
      withApi(async (api) => {
        const grants = await api.get<GrantView[]>('/grants', { username: options.user, privilege: options.privilege });
        if (options.json) return printJson(grants);
        printTable(['user', 'privilege', 'level', 'partition', 'granted', 'granted by'], grants.map(grantRow), 'No grants match.');
      }),
    );
}

const scopeText = (partition: string | null): string => (partition === null ? 'system-wide' : `in partition ${partition}`);

const grantRow = (grant: GrantView): string[] => [
  grant.username,
  grant.privilege,
  grant.level,
  grant.partition ?? '(system-wide)',
  shortTime(grant.grantedAt),
  grant.grantedBy,
];

/** Breaks a comma-separated list into indented lines of at most `width` characters, for help text. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}
