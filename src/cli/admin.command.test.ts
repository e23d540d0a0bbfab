import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOperator, runCliInProcess, signedInOperator, startCliServer, type CliOperator, type CliServer } from '../../test/cli-kit.ts';
import { createEmptyPostgresDatabase, DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, TEST_MASTER_KEY } from '../../test/harness.ts';
import { localOperator } from './open-changegate.ts';

// Each block is one operator's session on its own installation, step after step, in this process
// against a server listening on a loopback port.
describe.each(DATABASE_KINDS)('users, grants, tokens and verification on %s', (kind) => {
  let server: CliServer;
  let admin: CliOperator;
  beforeAll(async () => {
    server = await startCliServer(kind, {}, { onDisk: true });
    admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    admin?.remove();
    await server?.remove();
  });

  it('adds and lists users, grants and revokes, creates and lists tokens, and verifies the log', async () => {
    const { changegate, json } = admin;

    // user add: a generated password, printed once.
    const alice = await changegate(['user', 'add', 'alice', '--display-name', 'Alice Liddell', '--email', 'alice@example.com', '--time-zone', 'Europe/Berlin']);
    expect(alice.stdout).toMatch(/^Added user alice\.\nPassword: [A-Za-z0-9_-]{24}\nIt is shown only once/);
    const users = await json<Array<Record<string, unknown>>>(['user', 'list', '--json']);
    expect(users.map((user) => user.username)).toEqual(['admin', 'alice']);
    expect(users[1]).toMatchObject({ displayName: 'Alice Liddell', email: 'alice@example.com', timeZone: 'Europe/Berlin', disabled: false, totpEnabled: false });
    expect(JSON.stringify(users)).not.toMatch(/password|scrypt/i);
    // The generated password is alice's: she signs in with it.
    const generated = /^Password: (\S+)$/m.exec(alice.stdout)?.[1] as string;
    (await signedInOperator(server, 'alice', generated)).remove();

    // user passwd: the administrator's own password first (a token cannot set passwords), then the new one.
    const refusedPasswd = await changegate(['user', 'passwd', 'alice', '--password-stdin'], 2, 'alice-new-password\n');
    expect(refusedPasswd.stderr).toContain('give yours in CHANGEGATE_PASSWORD');
    const wrongOwn = await runCliInProcess(['user', 'passwd', 'alice', '--password-stdin'], {
      env: { ...admin.env, CHANGEGATE_PASSWORD: 'not-the-admin-password' },
      input: 'alice-new-password\n',
    });
    expect([wrongOwn.code, wrongOwn.stderr]).toEqual([1, 'error: The username, password or one-time code is not correct.\n']);
    const passwd = await runCliInProcess(['user', 'passwd', 'alice', '--password-stdin'], { env: { ...admin.env, CHANGEGATE_PASSWORD: ADMIN_PASSWORD }, input: 'alice-new-password\n' });
    expect([passwd.code, passwd.stdout]).toEqual([0, 'Set the password of alice.\n']);
    (await signedInOperator(server, 'alice', 'alice-new-password')).remove();

    // grant, grants, revoke.
    expect((await changegate(['grant', 'alice', 'Change.Edit', '--level', 'admin', '--partition', 'GLOBAL'])).stdout).toBe('Granted Change.Edit (admin) to alice in partition GLOBAL.\n');
    expect(await json(['grants', '--user', 'alice', '--json'])).toEqual([
      expect.objectContaining({ username: 'alice', privilege: 'Change.Edit', level: 'admin', partition: 'GLOBAL', grantedBy: 'admin' }),
    ]);
    expect((await changegate(['revoke', 'alice', 'Change.Edit', '--partition', 'GLOBAL'])).stdout).toBe('Revoked Change.Edit (admin) from alice in partition GLOBAL.\n');
    expect(await json(['grants', '--user', 'alice', '--json'])).toEqual([]);

    // token create asks for the password again (a token cannot make tokens) and prints the token once;
    // token list shows it, never the token itself.
    const created = await changegate(['token', 'create', 'ci', '--expires-in-days', '7', '--password-stdin'], 0, `${ADMIN_PASSWORD}\n`);
    const token = /^cg_[A-Za-z0-9_-]{43}$/m.exec(created.stdout)?.[0] as string;
    expect(token, created.stdout).toBeDefined();
    expect(created.stdout).toMatch(/^Created API token "ci" \([0-9a-f-]{36}\) for admin, expiring \S+ \S+:\n/);
    expect(created.stdout).toContain('it cannot be shown again');
    expect((await changegate(['token', 'create', 'ci2', '--password-stdin'], 1, 'wrong-password\n')).stderr).toBe('error: The username, password or one-time code is not correct.\n');
    const tokens = await changegate(['token', 'list', '--json']);
    expect(JSON.parse(tokens.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'ci', prefix: token.slice(0, 9), revokedAt: null })]));
    expect(JSON.parse(tokens.stdout)).toHaveLength(2);
    expect(tokens.stdout).not.toContain(token);
    expect((await changegate(['token', 'revoke', token.slice(0, 9)])).stdout).toBe(`Revoked API token "ci" (${token.slice(0, 9)}…).\n`);

    // verify opens the database itself: beside the server on PostgreSQL; on PGlite, which one
    // process holds, once the server stopped. Every step above appended to the log, which verifies;
    // each run is itself logged, naming the operating-system user and host.
    const local = cliOperator(server.settings);
    if (kind === 'pglite') await server.stop();
    const first = await local.changegate(['verify']);
    expect(first.stdout).toMatch(/^Event log verified: (\d+) entries; head \1 [0-9a-f]{64}\n$/);
    const second = await local.changegate(['verify', '--json']);
    const count = Number(/verified: (\d+)/.exec(first.stdout)?.[1]);
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, verified: count + 1 });
    if (kind === 'postgres') {
      expect((await server.admin.get('/events?action=eventlog.verify')).body).toEqual([
        expect.objectContaining({ actor: localOperator(), subject: 'eventlog', data: { ok: true, verified: count, headSeq: count } }),
        expect.objectContaining({ actor: localOperator(), data: { ok: true, verified: count + 1, headSeq: count + 1 } }),
      ]);
    }
    expect(localOperator()).toMatch(/^cli:[^@\s]+@\S+$/);
    local.remove();
  });
});

describe('migrate, --password-stdin, and acting as the signed-in user', () => {
  let server: CliServer | undefined;
  afterAll(() => server?.remove());

  it('on postgres', async () => {
    // migrate on an empty database, before any server: applies every migration, then nothing is left to apply.
    const database = await createEmptyPostgresDatabase();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'changegate-migrate-'));
    const settings = { DATABASE_URL: database.url, CHANGEGATE_DATA_DIR: dataDir, CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY, CHANGEGATE_ADMIN_PASSWORD: 'configured-admin-password', CHANGEGATE_LOG_LEVEL: 'silent' };
    const local = cliOperator(settings);
    try {
      expect((await local.changegate(['migrate'])).stdout).toMatch(/^Database: PostgreSQL 127\.0\.0\.1:5432\/changegate_test_\w+\nApplied 0001_foundation\.sql\n/);
      expect((await local.changegate(['migrate'])).stdout).toMatch(/\nThe database is up to date\.\n$/);
      // Each run is logged with the operating-system user and host, as the verify below sees.
      // The first command to open the installation creates the administrator; a configured password is never printed.
      const verified = await local.changegate(['verify']);
      expect(verified.stderr).toBe(
        'Created the administrator "admin" with the configured password (CHANGEGATE_ADMIN_PASSWORD).\n' +
          `Created the event log's signing key ${path.join(dataDir, 'log-signing.key')}: back it up and keep it secret, apart from the database; it signs the log's checkpoints.\n`,
      );
      expect(verified.stderr).not.toContain('configured-admin-password');
      const report = JSON.parse((await local.changegate(['verify', '--json'])).stdout) as { verified: number };
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ actor: string; action: string; data: { applied: string[] } }>(
          "SELECT actor, action, data FROM event WHERE action IN ('database.migrate', 'eventlog.verify') ORDER BY seq",
        );
        expect(rows.map((row) => [row.action, row.actor])).toEqual([
          ['database.migrate', localOperator()],
          ['database.migrate', localOperator()],
          ['eventlog.verify', localOperator()],
          ['eventlog.verify', localOperator()],
        ]);
        expect(rows[0]?.data.applied).toContain('0001_foundation.sql');
        expect(rows[1]?.data.applied).toEqual([]);
      } finally {
        await client.end();
      }
      expect(report.verified).toBeGreaterThan(4);
    } finally {
      local.remove();
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    }

    server = await startCliServer('postgres', { CHANGEGATE_ADMIN_PASSWORD: 'configured-admin-password' });
    const admin = await signedInOperator(server, 'admin', 'configured-admin-password');
    // --password-stdin reads one line.
    expect((await admin.changegate(['user', 'add', 'bob', '--password-stdin'], 0, 'a-long-enough-password\n')).stdout).toBe('Added user bob.\n');

    // Signed in as bob, commands act as bob, whose privileges and state apply.
    const bob = await signedInOperator(server, 'bob', 'a-long-enough-password');
    expect((await bob.changegate(['user', 'list'], 1)).stderr).toBe('error: You need the User.Admin privilege system-wide.\n');
    expect((await admin.changegate(['user', 'disable', 'bob'])).stdout).toBe('Disabled user bob.\n');
    expect((await bob.changegate(['token', 'list'], 1)).stderr).toContain('The API token is not valid');
    expect(await admin.json(['user', 'list', '--json'])).toEqual([
      expect.objectContaining({ username: 'admin', disabled: false }),
      expect.objectContaining({ username: 'bob', disabled: true }),
    ]);

    // The break-glass reset, beside the server on the shared PostgreSQL: a weak password or an
    // unknown user changes nothing; a disabled user stays disabled, and the output says so.
    const breakGlass = cliOperator(server.settings);
    const before = ((await server.admin.get('/events?action=user.password.reset')).body as unknown[]).length;
    expect((await breakGlass.changegate(['admin', 'reset-password', 'bob', '--password-stdin'], 1, 'short\n')).stderr).toMatch(/^error: The new password /);
    expect((await breakGlass.changegate(['admin', 'reset-password', 'nobody'], 1)).stderr).toBe('error: No user "nobody" exists, or you may not see it.\n');
    expect((await server.admin.get('/events?action=user.password.reset')).body).toHaveLength(before);
    const reset = await breakGlass.changegate(['admin', 'reset-password', 'bob', '--password-stdin', '--json'], 0, 'bobs-new-long-password\n');
    // Disabling bob already revoked his token: the reset finds none left to revoke.
    expect(JSON.parse(reset.stdout)).toEqual({ username: 'bob', wasLocked: false, disabled: true, revokedTokens: 0, operator: localOperator() });
    expect(reset.stdout).not.toContain('bobs-new-long-password');
    expect((await admin.changegate(['user', 'enable', 'bob'])).stdout).toBe('Enabled user bob.\n');
    // Re-enabled, bob's old token stays revoked; the new password signs in.
    expect((await bob.changegate(['whoami'], 1)).stderr).toContain('The API token is not valid');
    (await signedInOperator(server, 'bob', 'bobs-new-long-password')).remove();
    breakGlass.remove();
    admin.remove();
    bob.remove();
  });
});
