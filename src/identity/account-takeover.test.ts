import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { newPublicKey } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, signIn, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';

type Built = Awaited<ReturnType<typeof buildUser>>;


/**
 * Everything an account takeover would change, read straight from the database: the user row
 * (password hash, TOTP, version), their SSH keys, web sessions and tokens, and the event log's end.
 */
async function accountState(t: TestChangegate, username: string) {
  const db = t.cg.database.db;
  const user = await db.selectFrom('app_user').selectAll().where('username', '=', username).executeTakeFirstOrThrow();
  return {
    user,
    keys: await db.selectFrom('ssh_public_key').selectAll().where('user_id', '=', user.id).orderBy('id').execute(),
    webSessions: await db.selectFrom('web_session').select(['id', 'authenticated_at']).where('user_id', '=', user.id).orderBy('id').execute(),
    tokens: await db.selectFrom('api_token').selectAll().where('user_id', '=', user.id).orderBy('id').execute(),
    lastEvent: (await db.selectFrom('event').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow()).seq,
  };
}

describe.each(DATABASE_KINDS)('a user administrator cannot take over a more privileged account on %s', (kind) => {
  let t: TestChangegate;
  /** `User.Admin` at Access level, plus `Device.View` system-wide: the attacker of the issue. */
  let helpdesk: Built;
  /** An executor of access group ops: no grant at all, yet reaches devices with vaulted credentials. */
  let executor: Built;
  /** Holds `Device.View` in partition Plant1 only: covered by the helpdesk's system-wide grant. */
  let lesser: Built;

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    expect((await t.admin.post('/partitions', { name: 'Plant1' })).status).toBe(201);
    helpdesk = await buildUser(t, { username: 'helpdesk', grants: [{ privilege: 'User.Admin' }, { privilege: 'Device.View' }] });
    executor = await buildUser(t, { username: 'exec1' });
    lesser = await buildUser(t, { username: 'lesser', grants: [{ privilege: 'Device.View', partition: 'Plant1' }] });
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['exec1'], approvers: ['admin'] })).status).toBe(201);
  });
  afterAll(() => t.close());

  it("refuses an Access-level User.Admin resetting the first administrator's password, naming a privilege the administrator holds and they do not", async () => {
    const before = await accountState(t, 'admin');
    const answer = await helpdesk.client.post('/users/admin/password', { password: 'taken-over-by-helpdesk' });
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe('more_privileged_user');
    const { privilege, level, partition } = answer.body.error.details;
    expect(answer.body.error.message).toContain(privilege);
    // The named privilege is one admin holds (every privilege, Admin level, system-wide) and helpdesk lacks.
    expect([level, partition]).toEqual(['admin', null]);
    expect(['User.Admin', 'Device.View']).not.toContain(privilege);
    expect(await accountState(t, 'admin')).toEqual(before);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username: 'admin', password: 'taken-over-by-helpdesk' })).status).toBe(401);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username: 'admin', password: ADMIN_PASSWORD })).status).toBe(200);
    expect((await t.admin.get('/me')).status).toBe(200);
  });

  it.each([
    ['reset their TOTP', 'DELETE', '/users/admin/totp', undefined],
    ['add an SSH key for them', 'POST', '/users/admin/ssh-keys', { name: 'backdoor', publicKey: newPublicKey('backdoor') }],
    ['disable them', 'POST', '/users/admin/disable', undefined],
    ['edit their profile (e-mail for notifications)', 'PATCH', '/users/admin', { email: 'helpdesk@evil.example' }],
  ] as const)('refuses to %s, with nothing changed', async (_label, method, url, body) => {
    const before = await accountState(t, 'admin');
    const answer = await helpdesk.client.request(method, `/api/v1${url}`, body);
    expect([answer.status, answer.body.error.code]).toEqual([403, 'more_privileged_user']);
    expect(await accountState(t, 'admin')).toEqual(before);
  });

  it('compares the level: User.Admin at Access level does not cover User.Admin at Admin level', async () => {
    const peer = await buildUser(t, { grants: [{ privilege: 'User.Admin', level: 'admin' }] });
    const before = await accountState(t, peer.username);
    const answer = await helpdesk.client.post(`/users/${peer.username}/password`, { password: 'a-new-password-for-peer' });
    expect([answer.status, answer.body.error.code]).toEqual([403, 'more_privileged_user']);
    expect(answer.body.error.details).toEqual({ user: peer.username, privilege: 'User.Admin', level: 'admin', partition: null });
    expect(await accountState(t, peer.username)).toEqual(before);
  });

  it('compares the scope: a system-wide grant covers a partition, a partition grant does not cover system-wide', async () => {
    const plantAdmin = await buildUser(t, { grants: [{ privilege: 'User.Admin' }, { privilege: 'Credential.View', partition: 'Plant1' }] });
    const wide = await buildUser(t, { grants: [{ privilege: 'Credential.View' }] });
    const before = await accountState(t, wide.username);
    const answer = await plantAdmin.client.post(`/users/${wide.username}/password`, { password: 'a-new-password-for-wide' });
    expect([answer.status, answer.body.error.code]).toEqual([403, 'more_privileged_user']);
    expect(answer.body.error.details).toEqual({ user: wide.username, privilege: 'Credential.View', level: 'access', partition: null });
    expect(await accountState(t, wide.username)).toEqual(before);
    // A grant for the same partition covers; lacking the privilege altogether does not.
    const narrow = await buildUser(t, { grants: [{ privilege: 'Credential.View', partition: 'Plant1' }] });
    expect((await helpdesk.client.post(`/users/${narrow.username}/password`, { password: 'still-refused-not-held' })).status).toBe(403);
    expect((await plantAdmin.client.post(`/users/${narrow.username}/password`, { password: 'a-new-password-for-narrow' })).status).toBe(204);
  });

  it('refuses adding an SSH key to an executor, naming the access group role the administrator lacks', async () => {
    const before = await accountState(t, executor.username);
    const answer = await helpdesk.client.post(`/users/${executor.username}/ssh-keys`, { name: 'mine', publicKey: newPublicKey('helpdesk') });
    expect([answer.status, answer.body.error.code]).toEqual([403, 'more_privileged_user']);
    expect(answer.body.error.details).toEqual({ user: executor.username, role: 'executor', accessGroup: 'GLOBAL.ops' });
    expect(answer.body.error.message).toContain('executor in access group GLOBAL.ops');
    expect(await accountState(t, executor.username)).toEqual(before);
    expect((await executor.client.get('/me/ssh-keys')).body).toEqual([]);
  });

  it('lets an administrator holding AccessGroup.Edit where the group lives act on its executor: they could join the group anyway', async () => {
    const groupAdmin = await buildUser(t, { grants: [{ privilege: 'User.Admin' }, { privilege: 'AccessGroup.Edit' }] });
    const added = await groupAdmin.client.post(`/users/${executor.username}/ssh-keys`, { name: 'issued', publicKey: newPublicKey('issued') });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ addedBy: groupAdmin.username, addedByAdministrator: true });
    expect((await groupAdmin.client.delete(`/users/${executor.username}/ssh-keys/${added.body.id}`)).status).toBe(204);
  });

  it('lets the full administrator reset a lesser user’s password; the user’s old session and token stop at once', async () => {
    const target = await buildUser(t, { grants: [{ privilege: 'Change.View', level: 'admin' }] });
    const token = new TestClient(t.cg, { bearer: (await target.client.post('/tokens', { name: 'script' })).body.token });
    expect((await token.get('/me')).status).toBe(200);
    const versionBefore = (await accountState(t, target.username)).user.version;

    expect((await t.admin.post(`/users/${target.username}/password`, { password: 'set-by-the-administrator' })).status).toBe(204);
    expect((await target.client.get('/me')).status).toBe(401);
    expect((await token.get('/me')).status).toBe(401);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username: target.username, password: target.password })).status).toBe(401);
    const after = await signIn(t.cg, target.username, 'set-by-the-administrator');
    expect((await after.get('/me')).status).toBe(200);
    expect((await accountState(t, target.username)).user.version).toBe(versionBefore + 1);
    const events = (await t.admin.get(`/events?subject=user:${target.username}&actor=admin`)).body as Array<{ action: string; data: Record<string, unknown> }>;
    expect(events.map((event) => event.action)).toEqual(expect.arrayContaining(['user.password.reset', 'auth.revoke']));
    expect(events.find((event) => event.action === 'auth.revoke')?.data).toMatchObject({ cause: 'user.password.reset', webSessions: 1, apiTokens: [expect.objectContaining({ prefix: expect.stringMatching(/^cg_/) })] });
  });

  it('lets the Access-level User.Admin act on a user they cover, and marks the key and the event as added by an administrator', async () => {
    expect((await helpdesk.client.post(`/users/${lesser.username}/password`, { password: 'reset-by-the-helpdesk' })).status).toBe(204);
    const key = newPublicKey('issued-by-helpdesk');
    const added = await helpdesk.client.post(`/users/${lesser.username}/ssh-keys`, { name: 'issued', publicKey: key });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: 'issued', addedBy: 'helpdesk', addedByAdministrator: true });

    const own = await signIn(t.cg, lesser.username, 'reset-by-the-helpdesk');
    const mine = await own.post('/me/ssh-keys', { name: 'laptop', publicKey: newPublicKey('own') });
    expect(mine.body).toMatchObject({ addedBy: lesser.username, addedByAdministrator: false });
    const listed = (await own.get('/me/ssh-keys')).body as Array<{ name: string; addedByAdministrator: boolean }>;
    expect(listed.map((k) => [k.name, k.addedByAdministrator])).toEqual([
      ['issued', true],
      ['laptop', false],
    ]);
    const events = (await t.admin.get(`/events?action=user.sshkey.add&subject=user:${lesser.username}`)).body as Array<{ actor: string; data: Record<string, unknown> }>;
    expect(events.map((event) => [event.actor, event.data.byAdministrator, event.data.addedBy])).toEqual([
      ['helpdesk', true, 'helpdesk'],
      [lesser.username, false, lesser.username],
    ]);
  });

  it('lets any User.Admin revoke another user’s single API token: it hands over nothing', async () => {
    const target = await buildUser(t, { grants: [{ privilege: 'Credential.Edit', level: 'admin' }] });
    const created = await target.client.post('/tokens', { name: 'leaked' });
    expect((await helpdesk.client.delete(`/tokens/${created.body.id}`)).status).toBe(200);
    expect((await new TestClient(t.cg, { bearer: created.body.token }).get('/me')).status).toBe(401);
  });
});
