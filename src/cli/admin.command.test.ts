import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { newInstallation, runChangegate, type CliResult, type Installation } from './cli-process.testing.ts';

/** What a command printed, for a failed expectation to show. */
const shown = (args: readonly string[], result: CliResult) => `changegate ${args.join(' ')} → ${result.code}\n${result.stdout}${result.stderr}`;

/** Runs commands on one installation, expecting each to end with the given exit code. */
function operator(installation: Installation) {
  const changegate = async (args: readonly string[], expectedCode = 0, input?: string) => {
    const result = await runChangegate(installation, args, input);
    expect(result.code, shown(args, result)).toBe(expectedCode);
    return result;
  };
  const json = async <T>(args: readonly string[]): Promise<T> => {
    const result = await changegate(args);
    expect(result.stderr, shown(args, result)).toBe('');
    return JSON.parse(result.stdout) as T;
  };
  return { changegate, json };
}

// Each test is one operator's session on its own installation, step after step; the tests run side
// by side to keep the file quick, as every step is a process that opens the database.
describe.concurrent('users, grants, tokens and verification', () => {
  it.for(DATABASE_KINDS)('on %s', { timeout: 90_000 }, async (kind, { onTestFinished }) => {
    const installation = await newInstallation(kind);
    onTestFinished(() => installation.remove());
    const { changegate, json } = operator(installation);

    // user add: a generated password, printed once. The first command of an installation also
    // creates the administrator and gives its generated password, on stderr.
    const alice = await changegate(['user', 'add', 'alice', '--display-name', 'Alice Liddell', '--email', 'alice@example.com', '--time-zone', 'Europe/Berlin']);
    expect(alice.stdout).toMatch(/^Added user alice\.\nPassword: [A-Za-z0-9_-]{24}\nIt is shown only once/);
    expect(alice.stderr).toMatch(/^Sign in as "admin" with password: \S+$/m);
    const users = await json<Array<Record<string, unknown>>>(['user', 'list', '--json']);
    expect(users.map((user) => user.username)).toEqual(['admin', 'alice']);
    expect(users[1]).toMatchObject({ displayName: 'Alice Liddell', email: 'alice@example.com', timeZone: 'Europe/Berlin', disabled: false, totpEnabled: false });
    expect(JSON.stringify(users)).not.toMatch(/password|scrypt/i);

    // grant, grants, revoke.
    expect((await changegate(['grant', 'alice', 'Change.Edit', '--level', 'admin', '--partition', 'GLOBAL'])).stdout).toBe(
      'Granted Change.Edit (admin) to alice in partition GLOBAL.\n',
    );
    expect(await json(['grants', '--user', 'alice', '--json'])).toEqual([
      expect.objectContaining({ username: 'alice', privilege: 'Change.Edit', level: 'admin', partition: 'GLOBAL', grantedBy: 'admin' }),
    ]);
    expect((await changegate(['revoke', 'alice', 'Change.Edit', '--partition', 'GLOBAL'])).stdout).toBe(
      'Revoked Change.Edit (admin) from alice in partition GLOBAL.\n',
    );
    expect(await json(['grants', '--user', 'alice', '--json'])).toEqual([]);

    // token create prints the token once; token list shows it, never the token itself.
    const created = await changegate(['token', 'create', 'ci', '--expires-in-days', '7']);
    const token = /^cg_[A-Za-z0-9_-]{43}$/m.exec(created.stdout)?.[0] as string;
    expect(token, created.stdout).toBeDefined();
    expect(created.stdout).toContain('it cannot be shown again');
    const tokens = await changegate(['token', 'list', '--json']);
    expect(JSON.parse(tokens.stdout)).toEqual([expect.objectContaining({ name: 'ci', prefix: token.slice(0, 9), revokedAt: null })]);
    expect(tokens.stdout).not.toContain(token);

    // verify: every step above appended to the log, which verifies.
    expect((await changegate(['verify'])).stdout).toMatch(/^Event log verified: (\d+) entries; head \1 [0-9a-f]{64}\n$/);
  });

  // What does not depend on the database runs once, on the quicker one to open.
  it('migrate, --password-stdin, and acting --as a user whose privileges and state apply', { timeout: 90_000 }, async ({ onTestFinished }) => {
    const installation = await newInstallation('postgres', { CHANGEGATE_ADMIN_PASSWORD: 'configured-admin-password' });
    onTestFinished(() => installation.remove());
    const { changegate, json } = operator(installation);

    // migrate on an empty database applies every migration, and then there is nothing left to apply.
    expect((await changegate(['migrate'])).stdout).toMatch(/^Database: PostgreSQL 127\.0\.0\.1:5432\/changegate_test_\w+\nApplied 0001_foundation\.sql\n/);
    expect((await changegate(['migrate'])).stdout).toMatch(/\nThe database is up to date\.\n$/);

    // --password-stdin reads one line; a configured admin password is never printed.
    const bob = await changegate(['user', 'add', 'bob', '--password-stdin'], 0, 'a-long-enough-password\n');
    expect(bob.stdout).toBe('Added user bob.\n');
    expect(bob.stderr).toBe('Created the administrator "admin" with the configured password (CHANGEGATE_ADMIN_PASSWORD).\n');

    // --as: the command acts as that user, whose privileges apply; an unknown or disabled user cannot act.
    expect((await changegate(['user', 'list', '--as', 'bob'], 1)).stderr).toBe('error: You need the User.Admin privilege system-wide.\n');
    expect((await changegate(['verify', '--as', 'nobody'], 1)).stderr).toContain('There is no Changegate user "nobody" to act as');
    expect((await changegate(['user', 'disable', 'bob'])).stdout).toBe('Disabled user bob.\n');
    expect((await changegate(['token', 'list', '--as', 'bob'], 1)).stderr).toContain('User "bob" is disabled and cannot act');
    expect(await json(['user', 'list', '--json'])).toEqual([
      expect.objectContaining({ username: 'admin', disabled: false }),
      expect.objectContaining({ username: 'bob', disabled: true }),
    ]);
  });
});
