import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { newInstallation, runChangegate, startServer, type Installation } from './cli-process.testing.ts';
import { localOperator } from './open-changegate.ts';

type OnTestFinished = TestContext['onTestFinished'];

describe.concurrent('changegate serve', () => {
  // Tests run side by side, so each cleans up after itself when it finishes.
  const install = async (onTestFinished: OnTestFinished, ...args: Parameters<typeof newInstallation>) => {
    const installation = await newInstallation(...args);
    onTestFinished(() => installation.remove());
    return installation;
  };
  const start = async (onTestFinished: OnTestFinished, installation: Installation) => {
    const server = await startServer(installation);
    // Only what a failed test left running: stopping an ended process changes nothing.
    onTestFinished(async () => void (await server.stop('SIGKILL')));
    return server;
  };

  // Real processes throughout: the server, and the CLI beside it, as an operator runs them.
  it.for(DATABASE_KINDS)(
    'on %s prints the URL, and the admin password on the first start only; the CLI signs in and works beside it; serves until SIGTERM or SIGINT, then exits 0 and unlocks the data directory; the break-glass reset works while it is stopped',
    { timeout: 300_000 },
    async (kind, { onTestFinished }) => {
      const configHome = mkdtempSync(path.join(tmpdir(), 'changegate-config-'));
      onTestFinished(() => rmSync(configHome, { recursive: true, force: true }));
      const installation = await install(onTestFinished, kind, { XDG_CONFIG_HOME: configHome, HOME: configHome });
      const pidFile = path.join(installation.dataDir, 'changegate.pid');
      const first = await start(onTestFinished, installation);
      expect(first.url).toMatch(/^http:\/\/localhost:\d+$/);
      expect(first.stdout()).toContain(`API docs:        ${first.url}/api/docs`);
      expect(first.stdout()).toContain(kind === 'pglite' ? `embedded PGlite in ${path.join(installation.dataDir, 'db')}` : 'PostgreSQL 127.0.0.1');
      const password = /^Sign in as "admin" with password: (\S+)$/m.exec(first.stdout())?.[1] as string;
      expect(password).toBeDefined();
      expect(first.stdout()).toContain('shown only once');

      const health = await fetch(`${first.url}/api/v1/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', database: kind });
      // The CLI, a process of its own, signs in while the server runs (on the embedded database too),
      // keeps its token where only this user can read it, and acts through the API.
      const login = await runChangegate(installation, ['login', first.url, '--username', 'admin', '--password-stdin'], `${password}\n`);
      expect(login.code, login.stderr).toBe(0);
      const loginFile = path.join(configHome, 'changegate', 'login.json');
      expect(statSync(loginFile).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(loginFile)).mode & 0o777).toBe(0o700);
      expect(readFileSync(loginFile, 'utf8')).not.toContain(password);
      const users = await runChangegate(installation, ['user', 'list', '--json']);
      expect(users.code, users.stderr).toBe(0);
      expect(JSON.parse(users.stdout)).toEqual([expect.objectContaining({ username: 'admin' })]);
      const token = (JSON.parse(readFileSync(loginFile, 'utf8')) as { token: string }).token;

      if (kind === 'pglite') {
        // The break-glass reset opens the database itself: the embedded one belongs to the server now.
        expect(existsSync(pidFile)).toBe(true);
        const refused = await runChangegate(installation, ['admin', 'reset-password', 'admin']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/^error: Another Changegate process \(pid \d+\) is using the embedded database/);
      }

      // Locked out: five wrong passwords.
      for (let attempt = 0; attempt < 5; attempt += 1) await signInStatus(first.url, 'wrong-password-for-the-lockout');
      expect(await signInStatus(first.url, password)).toBe(423);

      const stopped = await first.stop('SIGTERM');
      expect(stopped.code).toBe(0);
      expect(stopped.stdout).toContain('Stopping…');
      expect(existsSync(pidFile)).toBe(false);

      // Break glass, where the database and the master key are: a new password, the lockout lifted,
      // the old token revoked, and an event naming the operating-system user and host.
      const reset = await runChangegate(installation, ['admin', 'reset-password', 'admin']);
      expect(reset.code, reset.stderr).toBe(0);
      expect(reset.stdout).toMatch(new RegExp(`^Reset the password of admin and lifted the lockout, as ${localOperator().replace(/[.]/g, '\\.')} \\(written to the event log\\)\\.\nPassword: [A-Za-z0-9_-]{24}\n`));
      expect(reset.stdout).toContain('Revoked 1 API token(s) of admin');
      const newPassword = /^Password: (\S+)$/m.exec(reset.stdout)?.[1] as string;

      const second = await start(onTestFinished, installation);
      expect(second.stdout()).not.toContain('Sign in as');
      expect(second.stdout()).not.toContain(password);
      const me = await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(401);
      expect(await signInStatus(second.url, password)).toBe(401);
      expect(await signInStatus(second.url, newPassword)).toBe(200);
      const relogin = await runChangegate(installation, ['login', second.url, '--username', 'admin', '--password-stdin'], `${newPassword}\n`);
      expect(relogin.code, relogin.stderr).toBe(0);
      expect((await runChangegate(installation, ['whoami'])).stdout).toMatch(/^admin /);
      const newToken = (JSON.parse(readFileSync(loginFile, 'utf8')) as { token: string }).token;
      const resets = await fetch(`${second.url}/api/v1/events?action=user.password.reset`, { headers: { authorization: `Bearer ${newToken}` } });
      expect(await resets.json()).toEqual([
        expect.objectContaining({ actor: localOperator(), subject: 'user:admin', data: { breakGlass: true, lockoutCleared: true, revokedTokens: 1 } }),
      ]);
      const starts = await fetch(`${second.url}/api/v1/events?action=server.start`, { headers: { authorization: `Bearer ${newToken}` } });
      expect(await starts.json()).toEqual([expect.objectContaining({ actor: localOperator() }), expect.objectContaining({ actor: localOperator() })]);

      expect((await second.stop('SIGINT')).code).toBe(0);
      expect(existsSync(pidFile)).toBe(false);
    },
  );

  it('refuses a bad setting with exit code 2 and a message naming it, without a stack trace', async () => {
    const result = await runChangegate({ env: { CHANGEGATE_HTTP_PORT: 'abc' } }, ['serve']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'Changegate cannot start: the configuration is not valid.\n  - CHANGEGATE_HTTP_PORT = "abc" is not valid: expected a port number from 0 to 65535.\n',
    );
    expect(result.stdout).toBe('');
  }, 60_000);
});

/** The status of a sign-in attempt as admin: 200, 401, or 423 while locked. */
async function signInStatus(url: string, password: string): Promise<number> {
  const answer = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
  return answer.status;
}
