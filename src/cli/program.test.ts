import { afterEach, describe, expect, it, vi } from 'vitest';
import { VERSION } from '../changegate.ts';
import { runChangegate } from './cli-process.testing.ts';
import { runCli } from './program.ts';

/** Runs the program in this process (no database is opened for help and usage errors) and captures its output. */
async function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const code = await runCli(args);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

describe('changegate --help', () => {
  afterEach(() => vi.restoreAllMocks());

  const HELP: Array<[string, readonly string[]]> = [
    ['', ['serve', 'migrate', 'user', 'grant', 'revoke', 'grants', 'token', 'verify', '--config <file>', '--data-dir <dir>', '--as <username>', 'CHANGEGATE_HTTP_PORT']],
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
    ['token create', ['<name>', '--expires-in-days <days>', '--json']],
    ['token list', ['--json']],
    ['token revoke', ['<id>']],
    ['verify', ['--json', 'EventLog.Verify']],
  ];

  it.each(HELP)('changegate %s --help exits 0 and names its options and the global ones', async (command, mentions) => {
    const { code, stdout } = await run([...command.split(' ').filter(Boolean), '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: changegate${command ? ` ${command}` : ''} `));
    for (const mention of [...mentions, '--as <username>']) expect(stdout).toContain(mention);
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
