import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, buildUser, signIn, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';

type Event = { seq: number; actor: string; action: string; subject: string; data: Record<string, unknown> };

/** Every event matching the query, paging past the 1000-entry limit. */
async function eventsWhere(t: TestChangegate, query: Record<string, string> = {}): Promise<Event[]> {
  const all: Event[] = [];
  let after = 0;
  for (;;) {
    const page = await t.admin.get(`/events?${new URLSearchParams({ ...query, after: String(after), limit: '1000' })}`);
    expect(page.status).toBe(200);
    all.push(...page.body);
    if (page.body.length < 1000) return all;
    after = page.body[page.body.length - 1].seq;
  }
}

/** A fresh ed25519 key pair from `ssh-keygen`: the public key line and its fingerprint as `ssh-keygen -l` prints it. */
function newSshKey(comment: string): { line: string; fingerprint: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-key-'));
  try {
    const file = path.join(dir, 'k');
    execFileSync('ssh-keygen', ['-t', 'ed25519', '-N', '', '-C', comment, '-f', file, '-q']);
    const line = readFileSync(`${file}.pub`, 'utf8').trim();
    const fingerprint = /(SHA256:\S+)/.exec(execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }))?.[1];
    if (!fingerprint) throw new Error('ssh-keygen printed no fingerprint');
    return { line, fingerprint };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(DATABASE_KINDS)('users on %s', (kind) => {
  let t: TestChangegate;
  /** Every password and token this block sends; none may ever appear in the event log. */
  const secrets: string[] = [ADMIN_PASSWORD];
  const user = async (fields: Parameters<typeof buildUser>[1] = {}) => {
    const built = await buildUser(t, fields);
    secrets.push(built.password);
    return built;
  };

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_LOCKOUT_THRESHOLD: '3', CHANGEGATE_LOCKOUT_MINUTES: '15' });
  });
  afterAll(() => t.close());

  it('creates a user with a profile, never showing the password, and logs it', async () => {
    const password = 'a-long-password-for-carol';
    secrets.push(password);
    const created = await t.admin.post('/users', { username: 'carol', displayName: 'Carol C.', email: 'carol@example.com', timeZone: 'Europe/Berlin', password });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ username: 'carol', displayName: 'Carol C.', email: 'carol@example.com', timeZone: 'Europe/Berlin', disabled: false, createdBy: 'admin' });
    expect(JSON.stringify(created.body)).not.toMatch(/password|scrypt/i);
    expect((await t.admin.get('/users/carol')).body).toEqual(created.body);
    expect((await signIn(t.cg, 'carol', password).then((c) => c.get('/me'))).body.user.timeZone).toBe('Europe/Berlin');
    const events = await eventsWhere(t, { action: 'user.create', subject: 'user:carol' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'admin', data: { version: 1, changes: { timeZone: { before: null, after: 'Europe/Berlin' }, displayName: { after: 'Carol C.' } } } });
  });

  it.each([
    ['a time zone that does not exist', { username: 'tz-user', timeZone: 'Mars/Olympus_Mons' }, '/timeZone'],
    ['a username with @', { username: 'Alice@x' }, '/username'],
    ['a username with capitals', { username: 'Alice' }, '/username'],
    ['a password shorter than 12 characters', { username: 'short-pw', password: 'elevenchars' }, '/password'],
    ['an e-mail address without a domain', { username: 'bad-mail', email: 'bad@' }, '/email'],
  ])('refuses %s with 400 naming the field', async (_label, body, field) => {
    const answer = await t.admin.post('/users', body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details.problems.map((p: { path: string }) => p.path)).toContain(field);
    expect((await t.admin.get(`/users/${encodeURIComponent(body.username)}`)).status).toBe(404);
  });

  it('refuses a second user of the same name with 409 already_exists', async () => {
    const { username } = await user();
    const again = await t.admin.post('/users', { username, displayName: 'Impostor' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_exists');
    expect((await t.admin.get(`/users/${username}`)).body.displayName).not.toBe('Impostor');
  });

  it('lets a user edit their own profile but not another user’s', async () => {
    const me = await user();
    const other = await user();
    const edited = await me.client.patch('/me', { displayName: 'Mallory M.', timeZone: 'America/New_York', email: 'm@example.com' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ displayName: 'Mallory M.', timeZone: 'America/New_York', email: 'm@example.com', version: 2, updatedBy: me.username });
    expect((await me.client.get('/me')).body.user).toMatchObject({ displayName: 'Mallory M.', timeZone: 'America/New_York' });

    const badZone = await me.client.patch('/me', { timeZone: 'Europe/Atlantis' });
    expect([badZone.status, badZone.body.error.details.problems[0].path]).toEqual([400, '/timeZone']);

    const denied = await me.client.patch(`/users/${other.username}`, { displayName: 'Hacked' });
    expect([denied.status, denied.body.error.code]).toEqual([404, 'not_found']);
    expect((await t.admin.get(`/users/${other.username}`)).body).toMatchObject({ displayName: expect.not.stringMatching(/Hacked/), version: 1 });

    const events = await eventsWhere(t, { action: 'user.update', subject: `user:${me.username}` });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: me.username,
      data: { version: 2, changes: { displayName: { after: 'Mallory M.' }, timeZone: { before: 'UTC', after: 'America/New_York' } } },
    });
    expect(await eventsWhere(t, { action: 'user.update', subject: `user:${other.username}` })).toEqual([]);
  });

  it('lets an administrator edit anyone’s profile', async () => {
    const { username, client } = await user();
    const edited = await t.admin.patch(`/users/${username}`, { displayName: 'Renamed' });
    expect(edited.status).toBe(200);
    expect((await client.get('/me')).body.user).toMatchObject({ displayName: 'Renamed', updatedBy: 'admin' });
  });

  it('lifts a lockout when an administrator sets a new password', async () => {
    const { username, password } = await user();
    const anonymous = new TestClient(t.cg, undefined);
    for (let i = 0; i < 3; i += 1) await anonymous.post('/auth/login', { username, password: `wrong-${i}` });
    const locked = await anonymous.post('/auth/login', { username, password });
    expect([locked.status, locked.body.error.code]).toEqual([423, 'account_locked']);
    expect((await t.admin.get(`/users/${username}`)).body.lockedUntil).toEqual(expect.any(String));

    const tooShort = await t.admin.post(`/users/${username}/password`, { password: 'short' });
    expect([tooShort.status, tooShort.body.error.code]).toEqual([400, 'validation_failed']);

    const fresh = 'a-fresh-password-from-the-admin';
    secrets.push(fresh);
    expect((await t.admin.post(`/users/${username}/password`, { password: fresh })).status).toBe(204);
    expect((await t.admin.get(`/users/${username}`)).body.lockedUntil).toBeNull();
    expect((await anonymous.post('/auth/login', { username, password: fresh })).status).toBe(200);
    expect((await anonymous.post('/auth/login', { username, password })).status).toBe(401);

    const events = await eventsWhere(t, { action: 'user.password.reset', subject: `user:${username}` });
    expect(events.map((event) => event.actor)).toEqual(['admin']);
  });

  it('lets a user change their own password, proving the current one', async () => {
    const { username, password, client } = await user();
    const next = 'my-own-new-password-123';
    secrets.push(next);
    const wrong = await client.post('/me/password', { currentPassword: 'not-my-password', newPassword: next });
    expect([wrong.status, wrong.body.error.code]).toEqual([400, 'validation_failed']);
    expect((await client.post('/me/password', { currentPassword: password, newPassword: 'short' })).status).toBe(400);
    expect((await client.post('/me/password', { currentPassword: password, newPassword: next })).status).toBe(204);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username, password: next })).status).toBe(200);
    expect((await eventsWhere(t, { action: 'user.password.change', subject: `user:${username}` })).map((e) => e.actor)).toEqual([username]);
  });

  it('disables and enables a user, logging both, but never the administrator themself', async () => {
    const { username, password } = await user();
    const disabled = await t.admin.post(`/users/${username}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabled).toBe(true);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username, password })).status).toBe(401);
    expect((await t.admin.post(`/users/${username}/enable`)).body.disabled).toBe(false);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username, password })).status).toBe(200);
    const self = await t.admin.post('/users/admin/disable');
    expect([self.status, self.body.error.code]).toEqual([409, 'conflict']);
    const actions = (await eventsWhere(t, { subject: `user:${username}` })).map((e) => e.action).filter((a) => a.startsWith('user.'));
    expect(actions).toEqual(['user.create', 'user.disable', 'user.enable']);
  });

  it('registers an SSH public key with its SHA256 fingerprint, once', async () => {
    const { username, client } = await user();
    const key = newSshKey(`${username}@laptop`);
    const added = await client.post('/me/ssh-keys', { name: 'laptop', publicKey: key.line });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: 'laptop', algorithm: 'ssh-ed25519', fingerprint: key.fingerprint });
    expect(added.body.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect((await client.get('/me/ssh-keys')).body).toEqual([added.body]);
    expect((await t.admin.get(`/users/${username}/ssh-keys`)).body).toEqual([added.body]);

    const twice = await client.post('/me/ssh-keys', { name: 'again', publicKey: key.line });
    expect([twice.status, twice.body.error.code]).toEqual([409, 'conflict']);
    const viaAdmin = await t.admin.post(`/users/${username}/ssh-keys`, { publicKey: `  ${key.line}\n` });
    expect(viaAdmin.status).toBe(409);
    expect((await client.get('/me/ssh-keys')).body).toHaveLength(1);

    const events = await eventsWhere(t, { action: 'user.sshkey.add', subject: `user:${username}` });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: username, data: { name: 'laptop', fingerprint: key.fingerprint } });

    expect((await client.delete(`/me/ssh-keys/${added.body.id}`)).status).toBe(204);
    expect((await client.get('/me/ssh-keys')).body).toEqual([]);
    expect((await eventsWhere(t, { action: 'user.sshkey.remove', subject: `user:${username}` })).map((e) => e.actor)).toEqual([username]);
  });

  it('names a key after its comment when no name is given, and lets an administrator add one for a user', async () => {
    const { username, client } = await user();
    const key = newSshKey('deploy@ci');
    const added = await t.admin.post(`/users/${username}/ssh-keys`, { publicKey: key.line });
    expect(added.status).toBe(201);
    expect(added.body.name).toBe('deploy@ci');
    expect((await client.get('/me/ssh-keys')).body.map((k: { fingerprint: string }) => k.fingerprint)).toEqual([key.fingerprint]);
  });

  describe('refuses a garbled SSH key with 400', () => {
    const good = newSshKey('garble@test');
    let owner: TestClient;
    beforeAll(async () => {
      owner = (await user()).client;
    });
    const [algorithm = '', blob = ''] = good.line.split(' ');
    it.each([
      ['plain text', 'hello world'],
      ['a private key', '-----BEGIN OPENSSH PRIVATE KEY-----'],
      ['the blob alone', blob],
      ['another algorithm on the line', `ssh-rsa ${blob}`],
      ['base64 with a typo', `${algorithm} ${blob.slice(0, 20)}!${blob.slice(21)}`],
      ['a key cut short while pasting', `${algorithm} ${blob.slice(0, -12)}`],
      ['a key with bytes appended', `${algorithm} ${Buffer.concat([Buffer.from(blob, 'base64'), Buffer.from('extra')]).toString('base64')}`],
    ])('%s', async (_label, publicKey) => {
      const answer = await owner.post('/me/ssh-keys', { publicKey });
      expect([answer.status, answer.body.error?.code]).toEqual([400, 'validation_failed']);
      expect(answer.body.error.details.problems[0].path).toBe('/publicKey');
      expect((await owner.get('/me/ssh-keys')).body).toEqual([]);
    });
  });

  it('lets an administrator remove a user’s two-factor enrolment', async () => {
    const { username, client } = await user();
    expect((await client.post('/me/totp')).status).toBe(200);
    expect((await t.admin.delete(`/users/${username}/totp`)).status).toBe(204);
    expect((await eventsWhere(t, { action: 'user.totp.reset', subject: `user:${username}` })).map((e) => e.actor)).toEqual(['admin']);
  });

  it('never writes a password or token into the event log', async () => {
    const { client } = await user();
    const token = (await client.post('/tokens', { name: 'script' })).body.token as string;
    expect(token).toMatch(/^cg_/);
    secrets.push(token, (await client.get('/me')).body.csrfToken);
    expect((await new TestClient(t.cg, { bearer: token }).get('/me')).status).toBe(200);
    // A failed sign-in with a real password of someone else must not log it either.
    await new TestClient(t.cg, undefined).post('/auth/login', { username: 'carol', password: 'a-long-password-for-carol-typo' });
    secrets.push('a-long-password-for-carol-typo');

    const log = JSON.stringify(await eventsWhere(t));
    expect(log.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(log, `the event log holds "${secret}"`).not.toContain(secret);
  });
});

describe.each(DATABASE_KINDS)('bad input never gives a 500 on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  it.each([
    ['POST', '/users', { username: 'dave', isAdmin: true }, '/body/isAdmin'],
    ['PATCH', '/me', { displayName: 'Dave', role: 'admin' }, '/body/role'],
    ['POST', '/grants', { username: 'admin', privilege: 'Device.View', expires: 'never' }, '/body/expires'],
    ['POST', '/partitions', { name: 'Extra', owner: 'me' }, '/body/owner'],
    ['POST', '/applications', { name: 'Extra', parent: 'Finance' }, '/body/parent'],
  ] as const)('%s %s with an unknown field answers 400 naming it', async (method, url, body, field) => {
    const answer = await t.admin.request(method, `/api/v1${url}`, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details.problems.map((p: { path: string }) => p.path)).toContain(field);
  });

  it('refuses an unknown query parameter and a malformed id with 400', async () => {
    const query = await t.admin.get('/users?role=admin');
    expect([query.status, query.body.error.code]).toEqual([400, 'validation_failed']);
    const id = await t.admin.delete('/grants/not-a-uuid');
    expect([id.status, id.body.error.code]).toEqual([400, 'validation_failed']);
  });

  it.each(['{"displayName":', '{"displayName": "x",}', "{'displayName': 'x'}", '{"displayName": "x"} trailing'])('answers a malformed JSON body %j with 400 invalid_json', async (payload) => {
    const answer = await t.admin.request('PATCH', '/api/v1/me', payload, { 'content-type': 'application/json' });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_json');
  });

  it.each(['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])('answers the content type %s with 415', async (contentType) => {
    const answer = await t.admin.request('PATCH', '/api/v1/me', '{"displayName":"x"}', { 'content-type': contentType });
    expect(answer.status).toBe(415);
    expect(answer.body.error.code).toBe('unsupported_media_type');
    expect((await t.admin.get('/me')).body.user.displayName).not.toBe('x');
  });

  it('answers a text/plain body with 415 too: the API accepts JSON only', async () => {
    const answer = await t.admin.request('PATCH', '/api/v1/me', '{"displayName":"x"}', { 'content-type': 'text/plain' });
    expect([answer.status, answer.body.error.code]).toEqual([415, 'unsupported_media_type']);
  });

  it('names the refused content type in the 415 message', async () => {
    const answer = await t.admin.request('PATCH', '/api/v1/me', '<x/>', { 'content-type': 'application/xml' });
    expect(answer.body.error.message).toContain('application/xml');
  });

  it.each([
    ['GET', '/api/v1/nope'],
    ['DELETE', '/api/v1/events'],
    ['PUT', '/api/v1/users'],
    ['GET', '/api/v2/users'],
  ] as const)('answers the unknown route %s %s with 404 route_not_found', async (method, url) => {
    const response = await t.cg.app.inject({ method, url, headers: { cookie: `changegate_session=${(t.admin.credentials as { cookie: string }).cookie}` } });
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body).error.code).toBe('route_not_found');
  });

  it('answers text holding a NUL character with a 4xx, never a 500, wherever it is sent', async () => {
    const requests = [
      ['GET', '/users/a%00b', undefined],
      ['GET', '/partitions/a%00b', undefined],
      ['GET', '/applications/GLOBAL/a%00b', undefined],
      ['GET', '/grants?username=a%00b', undefined],
      ['GET', '/events?action=a%00b', undefined],
      ['POST', '/users', { username: 'nul-user', displayName: 'a\u0000b' }],
      ['PATCH', '/me', { displayName: 'a\u0000b' }],
      ['POST', '/partitions', { name: 'NulPart', description: 'a\u0000b' }],
      ['POST', '/me/ssh-keys', { name: 'a\u0000b', publicKey: newSshKey('nul@test').line }],
    ] as const;
    const failed: string[] = [];
    for (const [method, url, body] of requests) {
      const answer = await t.admin.request(method, `/api/v1${url}`, body);
      if (answer.status >= 500) failed.push(`${method} ${url} ${JSON.stringify(body ?? '')} -> ${answer.status} ${answer.body.error.code}`);
    }
    expect(failed).toEqual([]);
    expect((await t.admin.get('/me')).body.user.displayName).not.toContain('\u0000');
  });

  it('answers an event sequence number beyond any that can exist with 4xx or an empty page, not a 500', async () => {
    const answer = await t.admin.get('/events?after=100000000000000000000');
    expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500);
  });
});
