import type { Command } from 'commander';
import { generatePassword } from '../identity/password.ts';
import { systemClock } from '../platform/clock.ts';
import { globalOptionsOf } from './global-options.ts';
import { withLocalChangegate } from './open-changegate.ts';
import { printJson, printLines } from './output.ts';
import { readLine } from './secret-input.ts';

const RESET_HELP = `
For an administrator locked out of every account that could reset the password through the API.
It opens the database itself, so it works only on a machine that can read the database and the
master key (the data directory, or DATABASE_URL and CHANGEGATE_MASTER_KEY), and on the embedded
database only while no server runs on it. The event log names you as cli:<your OS user>@<host>.

The user's lockout is lifted, their web sessions end and their API tokens are revoked: sign in
again afterwards with \`changegate login\`.`;

/** `changegate admin reset-password`: the break-glass commands, run where the database is. */
export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('break-glass commands that open the database themselves, for when no administrator can sign in');

  admin
    .command('reset-password')
    .description("set a user's password without signing in, and lift their lockout; a new password is generated and printed unless --password-stdin")
    .argument('<username>', 'the user, such as admin')
    .option('--password-stdin', 'read the new password from one line of standard input')
    .option('--json', 'print the outcome (and any generated password) as JSON')
    .addHelpText('after', RESET_HELP)
    .action(async (username: string, options: { passwordStdin?: boolean; json?: boolean }, command: Command) => {
      // Read before opening the database, which stays locked while open.
      const password = options.passwordStdin ? await readLine() : generatePassword();
      await withLocalChangegate(globalOptionsOf(command), async (core, operator) => {
        const { breakGlassResetPassword } = await import('../identity/index.ts');
        const reset = await breakGlassResetPassword(core.database.db, systemClock, { username, password, operator });
        const generated = options.passwordStdin ? undefined : password;
        if (options.json) return printJson({ ...reset, operator, ...(generated && { generatedPassword: generated }) });
        printLines(`Reset the password of ${reset.username}${reset.wasLocked ? ' and lifted the lockout' : ''}, as ${operator} (written to the event log).`);
        if (generated) printLines(`Password: ${generated}`, 'It is shown only once: sign in with it, then change it.');
        if (reset.revokedTokens > 0) printLines(`Revoked ${reset.revokedTokens} API token(s) of ${reset.username}, and ended their web sessions.`);
        if (reset.disabled) printLines(`${reset.username} is disabled: another administrator must enable them before they can sign in.`);
      });
    });
}
