import { describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../test/cli-kit.ts';
import { VERSION } from '../changegate.ts';
import { runChangegate } from './cli-process.testing.ts';

/** Runs the program in this process (no database is opened for help and usage errors) and captures its output. */
const run = (args: readonly string[]) => runCliInProcess(args, { env: {} });

describe('changegate --help', () => {
  const HELP: Array<[string, readonly string[]]> = [
    ['', ['login', 'logout', 'whoami', 'serve', 'migrate', 'admin', 'user', 'grant', 'revoke', 'grants', 'token', 'verify', '--config <file>', '--data-dir <dir>', 'CHANGEGATE_HTTP_PORT', 'CHANGEGATE_TOKEN']],
    ['login', ['[url]', '--username <name>', '--password-stdin', '--totp <code>', '--token-name <name>', '--expires-in-days <days>', 'CHANGEGATE_URL', 'login.json']],
    ['logout', ['--local']],
    ['admin reset-password', ['<username>', '--password-stdin', 'cli:<your OS user>@<host>', 'lockout']],
    ['serve', ['--http-port <port>', '--http-host <host>', 'SIGTERM']],
    ['migrate', ['migrations']],
    ['user', ['add', 'list', 'disable', 'enable', 'passwd']],
    ['user add', ['<username>', '--display-name <name>', '--email <address>', '--time-zone <zone>', '--password-stdin', '--json']],
    ['user list', ['--json']],
    ['user disable', ['<username>']],
    ['user enable', ['<username>']],
    ['user passwd', ['<username>', '--password-stdin']],
    ['grant', ['<username>', '<privilege>', '--level <level>', '"access", "admin"', '--partition <name>', '--json', 'EventLog.Verify']],
    ['revoke', ['<username>', '<privilege>', '--partition <name>']],
    ['grants', ['--user <username>', '--privilege <privilege>', '--json']],
    ['token', ['create', 'list', 'revoke']],
    ['token create', ['<name>', '--expires-in-days <days>', '--password-stdin', '--totp <code>', '--json']],
    ['token list', ['--json']],
    ['token revoke', ['<id>']],
    ['verify', ['--json', 'EventLog.Verify', 'reading the database itself']],
  ];

  it.each(HELP)('changegate %s --help exits 0 and names its options and the global ones, and no --as', async (command, mentions) => {
    const { code, stdout } = await run([...command.split(' ').filter(Boolean), '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: changegate${command ? ` ${command}` : ''} `));
    for (const mention of [...mentions, '--data-dir <dir>']) expect(stdout.replace(/\s+/g, ' ')).toContain(mention);
    expect(stdout).not.toMatch(/--as\b|CHANGEGATE_CLI_USER/);
  });

  it('prints the version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('answers a mistake on the command line with exit code 2 before opening any database', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown command 'frobnicate'");
    const missing = await run(['grant', 'alice']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'privilege'");
    const days = await run(['token', 'create', 'ci', '--expires-in-days', 'soon']);
    expect(days.code).toBe(2);
    expect(days.stderr).toContain('expected a whole number of days');
    const level = await run(['grant', 'alice', 'Change.Edit', '--level', 'owner']);
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('Allowed choices are access, admin');
  });

  it('runs through the package bin, bin/changegate.js', async () => {
    const result = await runChangegate(undefined, ['--help'], '', 'bin/changegate.js');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: changegate \[options\] \[command\]/);
  }, 30_000);
});
