import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { newInstallation, runChangegate, startServer, type Installation } from './cli-process.testing.ts';

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

  it.for(DATABASE_KINDS)(
    'on %s prints the URL, and the admin password on the first start only; serves until SIGTERM or SIGINT, then exits 0 and unlocks the data directory',
    { timeout: 90_000 },
    async (kind, { onTestFinished }) => {
      const installation = await install(onTestFinished, kind);
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
      if (kind === 'pglite') {
        expect(existsSync(pidFile)).toBe(true);
        const refused = await runChangegate(installation, ['user', 'list']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/^error: Another Changegate process \(pid \d+\) is using the embedded database/);
      }

      const stopped = await first.stop('SIGTERM');
      expect(stopped.code).toBe(0);
      expect(stopped.stdout).toContain('Stopping…');
      expect(existsSync(pidFile)).toBe(false);

      // A token the CLI made while the server was down authenticates against it once it is back.
      const created = await runChangegate(installation, ['token', 'create', 'smoke-test']);
      expect(created.code, created.stderr).toBe(0);
      const token = /^cg_[A-Za-z0-9_-]+$/m.exec(created.stdout)?.[0] as string;
      expect(token).toBeDefined();

      const second = await start(onTestFinished, installation);
      expect(second.stdout()).not.toContain('Sign in as');
      expect(second.stdout()).not.toContain(password);
      const me = await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { user: { username: string } }).user.username).toBe('admin');
      const signIn = await fetch(`${second.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password }),
      });
      expect(signIn.status).toBe(200);

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
