import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOperator, runCliInProcess, signedInOperator, startCliServer, type CliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, signIn } from '../../test/harness.ts';
import { totpCode } from '../identity/index.ts';

const HOUR = 3_600_000;

/** Everything the CLI's sign-in promises, against a real server over HTTP, on each database. */
describe.each(DATABASE_KINDS)('changegate login, logout and the stored token on %s', (kind) => {
  let server: CliServer;
  beforeAll(async () => {
    server = await startCliServer(kind);
    for (const username of ['bob', 'dave', 'erin']) {
      expect((await server.admin.post('/users', { username, password: `password-of-${username}` })).status).toBe(201);
    }
  });
  afterAll(() => server?.remove());

  it('refuses --as and CHANGEGATE_CLI_USER by name, saying to sign in instead', async () => {
    const operator = cliOperator();
    const asFlag = await operator.changegate(['request', 'approve', '7', '--as', 'carol'], 2);
    expect(asFlag.stderr).toBe(
      'error: --as is gone. Commands no longer act as a user named on the command line: sign in as that user with `changegate login <URL>` (or set CHANGEGATE_URL and CHANGEGATE_TOKEN), and every command acts as them.\n',
    );
    expect((await operator.changegate(['--as=carol', 'user', 'list'], 2)).stderr).toContain('--as is gone');
    expect((await runCliInProcess(['user', 'list'], { env: { ...operator.env, CHANGEGATE_CLI_USER: 'carol' } })).stderr).toMatch(/^error: CHANGEGATE_CLI_USER is gone: unset it\. .*changegate login/);
    // And --as is in no command's help any more.
    expect((await operator.changegate(['request', 'approve', '--help'])).stdout).not.toContain('--as');
    operator.remove();
  });

  it('a command without a login says how to sign in, and acts as nobody', async () => {
    const operator = cliOperator();
    const refused = await operator.changegate(['request', 'approve', '1'], 1);
    expect(refused.stderr).toBe(
      'error: You are not signed in: run `changegate login <URL>` (such as `changegate login http://localhost:8080`), or set CHANGEGATE_URL and CHANGEGATE_TOKEN.\n',
    );
    expect((await operator.changegate(['user', 'list'], 1, undefined)).stderr).toContain('changegate login');
    operator.remove();
  });

  it('signs in with the password, keeps the token in a file only its owner can read, and acts as that user', async () => {
    const admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
    const file = path.join(admin.configHome, 'changegate', 'login.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { url: string; username: string; token: string; tokenName: string };
    expect(stored).toMatchObject({ url: server.url, username: 'admin', token: expect.stringMatching(/^cg_/), tokenName: `changegate CLI on ${hostname()}` });
    expect((await admin.changegate(['whoami'])).stdout).toBe(`admin (Administrator) on ${server.url}\n`);

    // The web session login signed in with to create the token is signed out again; only the token stays.
    const bob = await signedInOperator(server, 'bob', 'password-of-bob');
    expect((await bob.changegate(['whoami'])).stdout).toMatch(/^bob /);
    const { db } = server.cg.database;
    const bobId = (await db.selectFrom('app_user').select('id').where('username', '=', 'bob').executeTakeFirstOrThrow()).id;
    expect(await db.selectFrom('web_session').select('id').where('user_id', '=', bobId).execute()).toEqual([]);
    // bob's privileges apply, not the administrator's.
    expect((await bob.changegate(['user', 'list'], 1)).stderr).toBe('error: You need the User.Admin privilege system-wide.\n');
    expect(await admin.json<Array<{ username: string }>>(['user', 'list', '--json'])).toEqual(expect.arrayContaining([expect.objectContaining({ username: 'bob' })]));
    const events = (await server.admin.get('/events?action=auth.login.success&limit=1000')).body as Array<{ actor: string }>;
    expect(events.filter((event) => event.actor === 'bob')).toHaveLength(1);
    expect(JSON.stringify((await server.admin.get('/events?limit=1000')).body)).not.toContain('password-of-bob');
    admin.remove();
    bob.remove();
  });

  it('a wrong password stores nothing', async () => {
    const operator = cliOperator();
    const refused = await operator.changegate(['login', server.url, '--username', 'dave', '--password-stdin'], 1, 'not-the-password\n');
    expect(refused.stderr).toBe('error: The username, password or one-time code is not correct.\n');
    expect(() => statSync(path.join(operator.configHome, 'changegate', 'login.json'))).toThrow();
    expect((await operator.changegate(['whoami'], 1)).stderr).toContain('You are not signed in');
    operator.remove();
  });

  it('asks for the one-time code of an account that uses two-factor sign-in', async () => {
    const erin = await signIn(server.cg, 'erin', 'password-of-erin');
    const { secret } = (await erin.post('/me/totp')).body as { secret: string };
    expect((await erin.post('/me/totp/confirm', { code: totpCode(secret, server.clock.now()) })).status).toBe(204);
    server.clock.advance(60_000);

    const operator = cliOperator();
    const args = ['login', server.url, '--username', 'erin', '--password-stdin'];
    expect((await operator.changegate(args, 2, 'password-of-erin\n')).stderr).toBe('error: erin signs in with a one-time code: give it with --totp <code> (or CHANGEGATE_TOTP).\n');
    expect((await operator.changegate([...args, '--totp', '000000'], 1, 'password-of-erin\n')).stderr).toContain('not correct');
    await operator.changegate([...args, '--totp', totpCode(secret, server.clock.now())], 0, 'password-of-erin\n');
    expect((await operator.changegate(['whoami'])).stdout).toMatch(/^erin /);
    operator.remove();
  });

  it('CHANGEGATE_URL and CHANGEGATE_TOKEN work without a login, and win over one', async () => {
    const bob = await signedInOperator(server, 'bob', 'password-of-bob');
    // token create signs in with the password again: a token cannot make tokens.
    const made = JSON.parse((await bob.changegate(['token', 'create', 'ci', '--password-stdin', '--json'], 0, 'password-of-bob\n')).stdout) as { token: string };
    const fresh = cliOperator({ CHANGEGATE_URL: server.url, CHANGEGATE_TOKEN: made.token });
    expect((await fresh.changegate(['whoami'])).stdout).toBe(`bob (bob) on ${server.url}\n`);
    const admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD, { CHANGEGATE_TOKEN: made.token });
    expect((await admin.changegate(['whoami'])).stdout).toMatch(/^bob /);
    const onlyToken = cliOperator({ CHANGEGATE_TOKEN: made.token });
    expect((await onlyToken.changegate(['whoami'], 1)).stderr).toContain('CHANGEGATE_TOKEN is set but not CHANGEGATE_URL');
    for (const operator of [bob, fresh, admin, onlyToken]) operator.remove();
  });

  it('a revoked or expired token is refused with what to do; a new login revokes the one it replaces', async () => {
    const dave = await signedInOperator(server, 'dave', 'password-of-dave');
    const first = JSON.parse(readFileSync(path.join(dave.configHome, 'changegate', 'login.json'), 'utf8')) as { tokenId: string };
    await dave.changegate(['login', server.url, '--username', 'dave', '--password-stdin'], 0, 'password-of-dave\n');
    const tokens = await dave.json<Array<{ id: string; revokedAt: string | null }>>(['token', 'list', '--json']);
    expect(tokens.find((token) => token.id === first.tokenId)?.revokedAt).not.toBeNull();
    expect(tokens.filter((token) => token.revokedAt === null)).toHaveLength(1);

    // Revoked by an administrator: the next command says so, and how to sign in again.
    const [active] = tokens.filter((token) => token.revokedAt === null);
    expect((await server.admin.delete(`/tokens/${active?.id}`)).status).toBe(200);
    expect((await dave.changegate(['token', 'list'], 1)).stderr).toBe(
      `error: The API token is not valid: it is unknown, expired or revoked. Sign in again: changegate login ${server.url}\n`,
    );

    // Expired: a token for one day, two days later.
    await dave.changegate(['login', server.url, '--username', 'dave', '--password-stdin', '--expires-in-days', '1'], 0, 'password-of-dave\n');
    expect((await dave.changegate(['whoami'])).stdout).toMatch(/^dave /);
    server.clock.advance(48 * HOUR);
    expect((await dave.changegate(['whoami'], 1)).stderr).toContain('not valid: it is unknown, expired or revoked. Sign in again');
    dave.remove();
  });

  it('logout revokes the token and forgets it', async () => {
    const bob = await signedInOperator(server, 'bob', 'password-of-bob');
    const file = path.join(bob.configHome, 'changegate', 'login.json');
    const { tokenId } = JSON.parse(readFileSync(file, 'utf8')) as { tokenId: string };
    expect((await bob.changegate(['logout'])).stdout).toBe(`Signed out of ${server.url} (bob). Its API token "changegate CLI on ${hostname()}" is revoked.\n`);
    expect(() => statSync(file)).toThrow();
    const bobApi = await signIn(server.cg, 'bob', 'password-of-bob');
    expect(((await bobApi.get('/tokens')).body as Array<{ id: string; revokedAt: string | null }>).find((token) => token.id === tokenId)?.revokedAt).not.toBeNull();
    expect((await bob.changegate(['token', 'list'], 1)).stderr).toContain('You are not signed in');
    expect((await bob.changegate(['logout'])).stdout).toContain('You are not signed in here');
    bob.remove();
  });
});
