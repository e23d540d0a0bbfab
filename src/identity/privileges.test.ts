import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, TestClient, type Answer, type TestChangegate, startTestChangegate } from '../../test/harness.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Every event matching the query, paging past the 1000-entry limit. */
async function eventsWhere(t: TestChangegate, query: Record<string, string> = {}): Promise<Array<Record<string, unknown> & { seq: number; actor: string; data: Record<string, unknown> }>> {
  const all = [];
  let after = 0;
  for (;;) {
    const page = await t.admin.get(`/events?${new URLSearchParams({ ...query, after: String(after), limit: '1000' })}`);
    expect(page.status).toBe(200);
    all.push(...page.body);
    if (page.body.length < 1000) return all;
    after = page.body[page.body.length - 1].seq;
  }
}

/** A fresh ed25519 public key line, as `ssh-keygen` writes it to `id_ed25519.pub`. */
function newPublicKey(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-key-'));
  try {
    execFileSync('ssh-keygen', ['-t', 'ed25519', '-N', '', '-C', 'test-key', '-f', path.join(dir, 'k'), '-q']);
    return readFileSync(path.join(dir, 'k.pub'), 'utf8').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const privilegesOf = (me: Answer) => (me.body.grants as Array<{ privilege: string; level: string; partition: string | null }>).map((g) => `${g.privilege}@${g.partition ?? '*'}:${g.level}`);

describe.each(DATABASE_KINDS)('privileged routes refuse a user without grants on %s', (kind) => {
  let t: TestChangegate;
  let nobody: Awaited<ReturnType<typeof buildUser>>;
  let other: Awaited<ReturnType<typeof buildUser>>;
  let otherGrantId: string;
  let publicKey: string;

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    nobody = await buildUser(t);
    other = await buildUser(t, { grants: [{ privilege: 'Device.View' }] });
    otherGrantId = (await t.admin.get(`/grants?username=${other.username}`)).body[0].id;
    publicKey = newPublicKey();
    expect((await t.admin.post('/applications', { partition: 'GLOBAL', name: 'Some' })).status).toBe(201);
    expect((await t.admin.post('/applications', { partition: 'GLOBAL', name: 'Some/App' })).status).toBe(201);
  });
  afterAll(() => t.close());

  /**
   * Routes that name a user: the answer for a real user must equal the answer for one that does
   * not exist, so a denial never tells a caller which usernames exist.
   */
  const userRoutes: Array<{ method: Method; path: (username: string) => string; body?: () => unknown; status?: number }> = [
    { method: 'GET', path: (u) => `/users/${u}`, status: 404 },
    { method: 'PATCH', path: (u) => `/users/${u}`, body: () => ({ displayName: 'Taken over' }), status: 404 },
    { method: 'POST', path: (u) => `/users/${u}/disable` },
    { method: 'POST', path: (u) => `/users/${u}/enable` },
    { method: 'POST', path: (u) => `/users/${u}/password`, body: () => ({ password: 'a-password-of-my-choosing' }) },
    { method: 'DELETE', path: (u) => `/users/${u}/totp` },
    { method: 'GET', path: (u) => `/users/${u}/ssh-keys` },
    { method: 'POST', path: (u) => `/users/${u}/ssh-keys`, body: () => ({ name: 'mine', publicKey }) },
  ];

  it.each(userRoutes.map((route) => [`${route.method} ${route.path(':username')}`, route] as const))(
    '%s of another user is denied exactly as for a user that does not exist',
    async (_label, route) => {
      const real = await nobody.client.request(route.method, `/api/v1${route.path(other.username)}`, route.body?.());
      const ghost = await nobody.client.request(route.method, `/api/v1${route.path('ghost-who-never-was')}`, route.body?.());
      expect([real.status, real.body.error?.code]).toEqual([ghost.status, ghost.body.error?.code]);
      if (route.status !== undefined) expect(real.status).toBe(route.status);
      expect([403, 404]).toContain(real.status);
      expect(real.body.error.code).toBe(real.status === 404 ? 'not_found' : 'forbidden');
    },
  );

  const objectRoutes: Array<{ label: string; method: Method; url: string; body?: unknown; status: number; code?: string; data?: unknown }> = [
    { label: 'list users', method: 'GET', url: '/users', status: 403, code: 'forbidden' },
    { label: 'create a user', method: 'POST', url: '/users', body: { username: 'made-by-nobody', password: 'long-enough-password' }, status: 403, code: 'forbidden' },
    { label: 'grant a privilege', method: 'POST', url: '/grants', body: { username: 'admin', privilege: 'Device.View' }, status: 403, code: 'forbidden' },
    { label: 'grant oneself a privilege', method: 'POST', url: '/grants', body: { username: '$self', privilege: 'User.Admin', level: 'admin' }, status: 403, code: 'forbidden' },
    { label: 'list partitions', method: 'GET', url: '/partitions', status: 200, data: [] },
    { label: 'create a partition', method: 'POST', url: '/partitions', body: { name: 'Mine' }, status: 403, code: 'forbidden' },
    { label: 'list applications', method: 'GET', url: '/applications', status: 200, data: [] },
    { label: 'list applications of GLOBAL', method: 'GET', url: '/applications?partition=GLOBAL', status: 200, data: [] },
    { label: 'create an application in GLOBAL', method: 'POST', url: '/applications', body: { partition: 'GLOBAL', name: 'Mine' }, status: 403, code: 'forbidden' },
    { label: 'read the event log', method: 'GET', url: '/events', status: 403, code: 'forbidden' },
    { label: 'verify the event log', method: 'POST', url: '/events/verify', status: 403, code: 'forbidden' },
  ];

  it.each(objectRoutes.map((route) => [route.label, route] as const))('%s is refused or shows nothing', async (_label, route) => {
    const body = route.body && JSON.parse(JSON.stringify(route.body).replace('$self', nobody.username));
    const answer = await nobody.client.request(route.method, `/api/v1${route.url}`, body);
    expect(answer.status).toBe(route.status);
    if (route.code) expect(answer.body.error.code).toBe(route.code);
    if (route.data) expect(answer.body).toEqual(route.data);
  });

  /** Object routes: no Partition.View / Application.View must look exactly like a missing object. */
  const hiddenObjects: Array<{ method: Method; existing: string; missing: string; body?: unknown }> = [
    { method: 'GET', existing: '/partitions/GLOBAL', missing: '/partitions/NOPE' },
    { method: 'PATCH', existing: '/partitions/GLOBAL', missing: '/partitions/NOPE', body: { description: 'mine now' } },
    { method: 'DELETE', existing: '/partitions/GLOBAL', missing: '/partitions/NOPE' },
    { method: 'GET', existing: '/applications/GLOBAL/Some/App', missing: '/applications/GLOBAL/No/Such' },
    { method: 'PATCH', existing: '/applications/GLOBAL/Some/App', missing: '/applications/GLOBAL/No/Such', body: { description: 'mine now' } },
    { method: 'DELETE', existing: '/applications/GLOBAL/Some/App', missing: '/applications/GLOBAL/No/Such' },
    { method: 'DELETE', existing: '/grants/$grant', missing: '/grants/00000000-0000-4000-8000-000000000000' },
  ];

  it.each(hiddenObjects.map((route) => [`${route.method} ${route.existing}`, route] as const))('%s answers 404 not_found, as for a missing one', async (_label, route) => {
    const existing = await nobody.client.request(route.method, `/api/v1${route.existing.replace('$grant', otherGrantId)}`, route.body);
    const missing = await nobody.client.request(route.method, `/api/v1${route.missing}`, route.body);
    expect(existing.status).toBe(404);
    expect(existing.body.error.code).toBe('not_found');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
  });

  it('lets the user see their own record but nobody else’s grants', async () => {
    expect((await nobody.client.get(`/users/${nobody.username}`)).body.username).toBe(nobody.username);
    const grants = await nobody.client.get('/grants');
    expect(grants.status).toBe(200);
    expect(grants.body).toEqual([]);
  });

  it('leaves everything as it was after the denials, and no event by the denied user but their sign-in', async () => {
    for (const route of [...userRoutes]) await nobody.client.request(route.method, `/api/v1${route.path(other.username)}`, route.body?.());
    const seen = await t.admin.get(`/users/${other.username}`);
    expect(seen.body).toMatchObject({ displayName: expect.not.stringMatching(/Taken over/), disabled: false, version: 1 });
    expect((await t.admin.get(`/users/${other.username}/ssh-keys`)).body).toEqual([]);
    expect((await new TestClient(t.cg, undefined).post('/auth/login', { username: other.username, password: other.password })).status).toBe(200);
    expect((await t.admin.get('/users/made-by-nobody')).status).toBe(404);
    expect((await t.admin.get('/partitions/Mine')).status).toBe(404);
    expect((await t.admin.get('/applications/GLOBAL/Some/App')).body.description).toBe('');
    expect((await t.admin.get(`/grants?username=${other.username}`)).body.map((g: { id: string }) => g.id)).toEqual([otherGrantId]);
    expect(privilegesOf(await nobody.client.get('/me'))).toEqual([]);
    const byNobody = await eventsWhere(t, { actor: nobody.username });
    expect(byNobody.map((event) => event.action)).toEqual(['auth.login.success']);
  });

  it.each([
    ['GET', '/me', undefined],
    ['GET', '/users', undefined],
    ['PATCH', '/users/admin', { displayName: 'Anonymous' }],
    ['POST', '/grants', { username: 'admin', privilege: 'Device.View' }],
    ['DELETE', '/grants/00000000-0000-4000-8000-000000000000', undefined],
    ['GET', '/partitions', undefined],
    ['POST', '/applications', { partition: 'GLOBAL', name: 'Anonymous' }],
    ['GET', '/events', undefined],
    ['POST', '/events/verify', undefined],
  ] as const)('an unauthenticated %s %s answers 401 unauthenticated', async (method, url, body) => {
    for (const client of [new TestClient(t.cg, undefined), new TestClient(t.cg, { bearer: 'cg_not-a-real-token' })]) {
      const answer = await client.request(method, `/api/v1${url}`, body);
      expect(answer.status).toBe(401);
      expect(answer.body.error.code).toBe('unauthenticated');
    }
  });

  it('answers 401, not a validation error, to an unauthenticated request whatever its body', async () => {
    const anonymous = new TestClient(t.cg, undefined);
    for (const [method, url] of [['POST', '/users'], ['POST', '/grants'], ['PATCH', '/partitions/GLOBAL']] as const) {
      const answer = await anonymous.request(method, `/api/v1${url}`, {});
      expect([url, answer.status, answer.body.error.code]).toEqual([url, 401, 'unauthenticated']);
    }
  });
});

describe.each(DATABASE_KINDS)('granting and revoking privileges on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
    expect((await t.admin.post('/partitions', { name: 'Plant1' })).status).toBe(201);
  });
  afterAll(() => t.close());

  it('does not let a privilege held at Access level be passed on', async () => {
    const a = await buildUser(t, { grants: [{ privilege: 'Device.View', level: 'access' }] });
    const b = await buildUser(t);
    for (const level of ['access', 'admin']) {
      const answer = await a.client.post('/grants', { username: b.username, privilege: 'Device.View', level });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('forbidden');
    }
    expect(privilegesOf(await b.client.get('/me'))).toEqual([]);
    expect(await eventsWhere(t, { action: 'grant.create', actor: a.username })).toEqual([]);
  });

  it('lets a holder at Admin level grant it, and the grantee then holds it', async () => {
    const a = await buildUser(t, { grants: [{ privilege: 'Device.View', level: 'admin' }] });
    const b = await buildUser(t);
    const granted = await a.client.post('/grants', { username: b.username, privilege: 'Device.View' });
    expect(granted.status).toBe(201);
    expect(granted.body).toMatchObject({ username: b.username, privilege: 'Device.View', level: 'access', partition: null, grantedBy: a.username });
    const me = await b.client.get('/me');
    expect(privilegesOf(me)).toEqual(['Device.View@*:access']);
    expect(me.body.grants[0].grantedBy).toBe(a.username);

    const events = await eventsWhere(t, { action: 'grant.create', subject: `user:${b.username}` });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: a.username, data: { privilege: 'Device.View', level: 'access', partition: null } });

    // Admin level over Device.View is not Admin level over anything else.
    const other = await a.client.post('/grants', { username: b.username, privilege: 'Device.Edit' });
    expect(other.status).toBe(403);
  });

  it('lets a partition-scoped Admin grant for that partition only', async () => {
    const a = await buildUser(t, { grants: [{ privilege: 'Application.Create', level: 'admin', partition: 'Plant1' }] });
    const b = await buildUser(t);
    const granted = await a.client.post('/grants', { username: b.username, privilege: 'Application.Create', partition: 'Plant1' });
    expect(granted.status).toBe(201);
    expect(granted.body.partition).toBe('Plant1');

    for (const partition of [null, undefined, 'GLOBAL']) {
      const answer = await a.client.post('/grants', { username: b.username, privilege: 'Application.Create', ...(partition !== undefined && { partition }) });
      expect([partition, answer.status, answer.body.error?.code]).toEqual([partition, 403, 'forbidden']);
    }
    expect(privilegesOf(await b.client.get('/me'))).toEqual(['Application.Create@Plant1:access']);

    // The grant works where it applies and nowhere else.
    expect((await b.client.post('/applications', { partition: 'Plant1', name: `App-${b.username}` })).status).toBe(201);
    expect((await b.client.post('/applications', { partition: 'GLOBAL', name: `App-${b.username}` })).status).toBe(403);
  });

  it('refuses to grant a system-only privilege for a partition', async () => {
    const b = await buildUser(t);
    for (const privilege of ['User.Admin', 'Partition.Create', 'EventLog.View', 'EventLog.Verify']) {
      for (const partition of ['GLOBAL', 'Plant1']) {
        const answer = await t.admin.post('/grants', { username: b.username, privilege, partition });
        expect([privilege, partition, answer.status, answer.body.error?.code]).toEqual([privilege, partition, 400, 'validation_failed']);
        expect(answer.body.error.details.problems).toEqual([expect.objectContaining({ path: '/partition' })]);
      }
    }
    expect(privilegesOf(await b.client.get('/me'))).toEqual([]);
    // System-wide, the same grant is fine.
    expect((await t.admin.post('/grants', { username: b.username, privilege: 'EventLog.View' })).status).toBe(201);
  });

  it('refuses an unknown privilege name with validation_failed', async () => {
    const b = await buildUser(t);
    for (const privilege of ['Device.Reboot', 'device.view', 'Device.View ', '*']) {
      const answer = await t.admin.post('/grants', { username: b.username, privilege });
      expect([privilege, answer.status, answer.body.error.code]).toEqual([privilege, 400, 'validation_failed']);
      expect(answer.body.error.details.problems[0].path).toBe('/privilege');
    }
    expect(privilegesOf(await b.client.get('/me'))).toEqual([]);
  });

  it('answers 404 for a grant to a user that does not exist', async () => {
    const answer = await t.admin.post('/grants', { username: 'ghost-who-never-was', privilege: 'Device.View' });
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });

  it('changes the level of an existing grant instead of adding a second one', async () => {
    const b = await buildUser(t, { grants: [{ privilege: 'Change.View' }] });
    expect((await t.admin.post('/grants', { username: b.username, privilege: 'Change.View', level: 'admin' })).status).toBe(201);
    expect(privilegesOf(await b.client.get('/me'))).toEqual(['Change.View@*:admin']);
  });

  it('stops a revoked privilege working at once, and logs the revocation', async () => {
    const b = await buildUser(t, { grants: [{ privilege: 'EventLog.View' }] });
    expect((await b.client.get('/events')).status).toBe(200);
    const grantId = (await b.client.get('/me')).body.grants[0].id;

    expect((await t.admin.delete(`/grants/${grantId}`)).status).toBe(204);
    const after = await b.client.get('/events');
    expect(after.status).toBe(403);
    expect(after.body.error.code).toBe('forbidden');
    expect(privilegesOf(await b.client.get('/me'))).toEqual([]);
    expect((await t.admin.delete(`/grants/${grantId}`)).status).toBe(404);

    const granted = await eventsWhere(t, { action: 'grant.create', subject: `user:${b.username}` });
    expect(granted.map((event) => [event.actor, event.data.privilege])).toEqual([['admin', 'EventLog.View']]);
    const revoked = await eventsWhere(t, { action: 'grant.revoke', subject: `user:${b.username}` });
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ actor: 'admin', data: { privilege: 'EventLog.View', level: 'access', partition: null } });
  });

  it('lets a partition admin revoke grants in their partition but not system-wide ones', async () => {
    const a = await buildUser(t, { grants: [{ privilege: 'Device.Edit', level: 'admin', partition: 'Plant1' }] });
    const b = await buildUser(t, { grants: [{ privilege: 'Device.Edit', partition: 'Plant1' }, { privilege: 'Device.Edit' }] });
    const grants = (await b.client.get('/me')).body.grants as Array<{ id: string; partition: string | null }>;
    const inPlant = grants.find((g) => g.partition === 'Plant1');
    const systemWide = grants.find((g) => g.partition === null);
    const denied = await a.client.delete(`/grants/${systemWide?.id}`);
    expect([denied.status, denied.body.error.code]).toEqual([404, 'not_found']);
    expect((await a.client.delete(`/grants/${inPlant?.id}`)).status).toBe(204);
    expect(privilegesOf(await b.client.get('/me'))).toEqual(['Device.Edit@*:access']);
  });

  it('lists for a non-administrator only their own grants and those they administer', async () => {
    const a = await buildUser(t, { grants: [{ privilege: 'Session.View', level: 'admin' }] });
    const b = await buildUser(t, { grants: [{ privilege: 'Session.View' }, { privilege: 'Session.Watch' }] });
    const seen = (await a.client.get('/grants')).body as Array<{ username: string; privilege: string }>;
    expect(seen.filter((g) => g.username === b.username).map((g) => g.privilege)).toEqual(['Session.View']);
    expect(seen.some((g) => g.username === 'admin' && g.privilege !== 'Session.View')).toBe(false);
  });

  it('does not reveal through POST /grants which partitions exist', async () => {
    const { client } = await buildUser(t);
    const existing = await client.post('/grants', { username: 'admin', privilege: 'Device.View', partition: 'Plant1' });
    const missing = await client.post('/grants', { username: 'admin', privilege: 'Device.View', partition: 'NoSuchPlant' });
    expect(existing.status).toBe(403);
    expect([missing.status, missing.body.error.code]).toEqual([existing.status, existing.body.error.code]);
  });
});
