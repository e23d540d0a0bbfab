import type { Command } from 'commander';
import type { UserView } from '../identity/index.ts';
import { generatePassword } from '../identity/password.ts';
import { segment } from './api-client.ts';
import { connect, usernameOf, withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { CommandError, EXIT } from './command-error.ts';
import { printJson, printLines, printTable, yesNo } from './output.ts';
import { inPasswordSession } from './password-sign-in.ts';
import { readLine, readNewPassword, stdinIsTerminal } from './secret-input.ts';

interface AddOptions {
  readonly displayName?: string;
  readonly email?: string;
  readonly timeZone?: string;
  readonly passwordStdin?: boolean;
  readonly json?: boolean;
}

/** `changegate user add|list|disable|enable|passwd`: administering users needs User.Admin. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('add, list, disable and enable users, and set their passwords (needs User.Admin)');

  user
    .command('add')
    .description('add a user; without --password-stdin a password is generated and printed once')
    .argument('<username>', 'lower-case letters, digits, ".", "_" or "-", starting with a letter')
    .option('--display-name <name>', 'name shown to people (default: the username)')
    .option('--email <address>', 'e-mail address for notifications')
    .option('--time-zone <zone>', 'IANA time zone such as Europe/Berlin (default: UTC)')
    .option('--password-stdin', 'read the password from one line of standard input')
    .option('--json', 'print the user (and any generated password) as JSON')
    .action(async (username: string, options: AddOptions) => {
      const password = options.passwordStdin ? await readLine() : generatePassword();
      await withApi(async (api) => {
        const created = await api.post<UserView>('/users', {
          username,
          password,
          displayName: options.displayName,
          email: options.email,
          timeZone: options.timeZone,
        });
        const generated = options.passwordStdin ? undefined : password;
        if (options.json) return printJson({ user: created, ...(generated && { generatedPassword: generated }) });
        printLines(`Added user ${created.username}.`);
        if (generated) printLines(`Password: ${generated}`, 'It is shown only once: hand it over safely; the user can change it after signing in.');
      });
    });

  user
    .command('list')
    .description('list every user, disabled ones included')
    .option('--json', 'print the users as JSON')
    .action((options: { json?: boolean }) =>
      withApi(async (api) => {
        const users = await api.get<UserView[]>('/users', { includeDisabled: true });
        if (options.json) return printJson(users);
        printTable(['username', 'display name', 'email', 'time zone', 'disabled', 'TOTP'], users.map(userRow), 'There are no users.');
      }),
    );

  for (const disabled of [true, false]) {
    user
      .command(disabled ? 'disable' : 'enable')
      .description(disabled ? 'disable a user: their web sessions end and no password, token or key lets them in' : 'enable a disabled user again')
      .argument('<username>', 'the user')
      .action((username: string) =>
        withApi(async (api) => {
          await api.post(`/users/${segment(username)}/${disabled ? 'disable' : 'enable'}`);
          printLines(`${disabled ? 'Disabled' : 'Enabled'} user ${username}.`);
        }),
      );
  }

  user
    .command('passwd')
    .description(
      "set a user's password (also lifts a lockout): asks for your own password first (a token cannot set passwords), then the new one, typed twice at a terminal, else one line of standard input",
    )
    .argument('<username>', 'the user')
    .option('--password-stdin', 'read the new password from one line of standard input, even at a terminal; your own then comes from CHANGEGATE_PASSWORD')
    .option('--totp <code>', 'your current one-time code, when you use two-factor sign-in (else CHANGEGATE_TOTP, else asked)')
    .action(async (username: string, options: { passwordStdin?: boolean; totp?: string }) => {
      const newFromStdin = options.passwordStdin === true || !stdinIsTerminal();
      if (newFromStdin && !cliIo().env.CHANGEGATE_PASSWORD) {
        throw new CommandError(
          'Setting a password needs your own password too, and standard input carries the new one: give yours in CHANGEGATE_PASSWORD, or run this at a terminal.',
          EXIT.usage,
        );
      }
      const connection = await connect();
      const me = await usernameOf(connection);
      await inPasswordSession(connection.url, { username: me, totp: options.totp }, async (session) => {
        const password = await readNewPassword({ fromStdin: newFromStdin });
        await session.api.post(`/users/${segment(username)}/password`, { password });
      });
      printLines(`Set the password of ${username}.`);
    });
}

const userRow = (user: UserView): string[] => [user.username, user.displayName, user.email ?? '-', user.timeZone, yesNo(user.disabled), yesNo(user.totpEnabled)];
