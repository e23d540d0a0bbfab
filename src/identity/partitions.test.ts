import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';

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

const names = (list: Array<{ name: string }>) => list.map((item) => item.name);
const keys = (list: Array<{ partition: string; name: string }>) => list.map((item) => `${item.partition}.${item.name}`);

describe.each(DATABASE_KINDS)('partitions on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  it('has the GLOBAL partition from the first start', async () => {
    const list = await t.admin.get('/partitions');
    expect(list.status).toBe(200);
    expect(names(list.body)).toContain('GLOBAL');
    const global = await t.admin.get('/partitions/GLOBAL');
    expect(global.status).toBe(200);
    expect(global.body).toMatchObject({ name: 'GLOBAL', createdBy: 'system' });
  });

  it('creates a partition, shows it, and logs who created it', async () => {
    const created = await t.admin.post('/partitions', { name: 'Plant-A', description: 'The first plant' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Plant-A', description: 'The first plant', version: 1, createdBy: 'admin', updatedBy: 'admin' });
    expect((await t.admin.get('/partitions/Plant-A')).body).toEqual(created.body);
    expect(names((await t.admin.get('/partitions')).body)).toEqual(expect.arrayContaining(['GLOBAL', 'Plant-A']));
    const events = await eventsWhere(t, { action: 'partition.create', subject: 'partition:Plant-A' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'admin', data: { version: 1, changes: { description: { before: null, after: 'The first plant' } } } });
  });

  it.each(['Plant.B', 'Plant B', '-Plant', 'Plant/B', 'P'.repeat(65)])('refuses the partition name %j with 400', async (name) => {
    const answer = await t.admin.post('/partitions', { name });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.details.problems[0].path).toMatch(/\/name$/);
    expect(names((await t.admin.get('/partitions')).body)).not.toContain(name);
  });

  it('refuses a second partition of the same name with 409 already_exists', async () => {
    expect((await t.admin.post('/partitions', { name: 'Twice' })).status).toBe(201);
    const again = await t.admin.post('/partitions', { name: 'Twice', description: 'again' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_exists');
    expect((await t.admin.get('/partitions/Twice')).body.description).toBe('');
  });

  it('edits a description, bumping the version, and logs it', async () => {
    expect((await t.admin.post('/partitions', { name: 'Edited' })).status).toBe(201);
    const edited = await t.admin.patch('/partitions/Edited', { description: 'Now described' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ description: 'Now described', version: 2, updatedBy: 'admin' });
    expect((await t.admin.get('/partitions/Edited')).body).toMatchObject({ description: 'Now described', version: 2 });
    const events = await eventsWhere(t, { action: 'partition.update', subject: 'partition:Edited' });
    expect(events.map((event) => [event.actor, event.data.changes])).toEqual([['admin', { description: { before: '', after: 'Now described' } }]]);
  });

  it('never deletes GLOBAL', async () => {
    const answer = await t.admin.delete('/partitions/GLOBAL');
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('conflict');
    expect((await t.admin.get('/partitions/GLOBAL')).status).toBe(200);
  });

  it('builds applications as a hierarchy: the parent first', async () => {
    expect((await t.admin.post('/partitions', { name: 'Fin' })).status).toBe(201);
    const orphan = await t.admin.post('/applications', { partition: 'Fin', name: 'Finance/Reporting' });
    expect(orphan.status).toBe(400);
    expect(orphan.body.error.code).toBe('validation_failed');
    expect(orphan.body.error.message).toContain('"Finance"');
    expect(orphan.body.error.details.problems).toEqual([{ path: '/name', message: expect.stringContaining('Finance') }]);
    expect((await t.admin.get('/applications?partition=Fin')).body).toEqual([]);

    const parent = await t.admin.post('/applications', { partition: 'Fin', name: 'Finance', description: 'Money' });
    expect(parent.status).toBe(201);
    expect(parent.body).toMatchObject({ partition: 'Fin', name: 'Finance', parent: null, description: 'Money', createdBy: 'admin' });
    const child = await t.admin.post('/applications', { partition: 'Fin', name: 'Finance/Reporting' });
    expect(child.status).toBe(201);
    expect(child.body).toMatchObject({ partition: 'Fin', name: 'Finance/Reporting', parent: 'Finance' });

    const listed = (await t.admin.get('/applications?partition=Fin')).body as Array<{ name: string; parent: string | null }>;
    expect(listed.map((app) => [app.name, app.parent])).toEqual([
      ['Finance', null],
      ['Finance/Reporting', 'Finance'],
    ]);
    const one = await t.admin.get('/applications/Fin/Finance/Reporting');
    expect(one.status).toBe(200);
    expect(one.body).toEqual(child.body);

    const twice = await t.admin.post('/applications', { partition: 'Fin', name: 'Finance/Reporting' });
    expect([twice.status, twice.body.error.code]).toEqual([409, 'already_exists']);

    const created = await eventsWhere(t, { action: 'application.create' });
    expect(created.filter((event) => event.subject.startsWith('application:Fin.')).map((event) => [event.actor, event.subject])).toEqual([
      ['admin', 'application:Fin.Finance'],
      ['admin', 'application:Fin.Finance/Reporting'],
    ]);
  });

  it('puts an application without a partition into GLOBAL', async () => {
    const created = await t.admin.post('/applications', { name: 'Intranet' });
    expect(created.status).toBe(201);
    expect(created.body.partition).toBe('GLOBAL');
    expect((await t.admin.get('/applications/GLOBAL/Intranet')).status).toBe(200);
  });

  it.each(['/Leading', 'Trailing/', 'Double//Slash', '.hidden', 'a'.repeat(65)])('refuses the application name %j with 400', async (name) => {
    const answer = await t.admin.post('/applications', { partition: 'GLOBAL', name });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
  });

  it('answers 404 for an application in a partition that does not exist (administrator)', async () => {
    const answer = await t.admin.post('/applications', { partition: 'NoSuchPlant', name: 'X' });
    expect([answer.status, answer.body.error.code]).toEqual([404, 'not_found']);
  });

  it('refuses to delete a parent before its children, and a partition before its applications', async () => {
    expect((await t.admin.post('/partitions', { name: 'Doomed' })).status).toBe(201);
    expect((await t.admin.post('/applications', { partition: 'Doomed', name: 'Finance' })).status).toBe(201);
    expect((await t.admin.post('/applications', { partition: 'Doomed', name: 'Finance/Reporting' })).status).toBe(201);

    const parent = await t.admin.delete('/applications/Doomed/Finance');
    expect([parent.status, parent.body.error.code]).toEqual([409, 'conflict']);
    const partition = await t.admin.delete('/partitions/Doomed');
    expect([partition.status, partition.body.error.code]).toEqual([409, 'conflict']);
    expect(names((await t.admin.get('/applications?partition=Doomed')).body)).toEqual(['Finance', 'Finance/Reporting']);

    expect((await t.admin.delete('/applications/Doomed/Finance/Reporting')).status).toBe(204);
    expect((await t.admin.delete('/applications/Doomed/Finance')).status).toBe(204);
    expect((await t.admin.delete('/partitions/Doomed')).status).toBe(204);
    expect((await t.admin.get('/partitions/Doomed')).status).toBe(404);
    expect(names((await t.admin.get('/partitions')).body)).not.toContain('Doomed');

    expect((await eventsWhere(t, { action: 'application.delete' })).filter((e) => e.subject.startsWith('application:Doomed.')).map((e) => e.subject)).toEqual([
      'application:Doomed.Finance/Reporting',
      'application:Doomed.Finance',
    ]);
    expect((await eventsWhere(t, { action: 'partition.delete', subject: 'partition:Doomed' })).map((e) => e.actor)).toEqual(['admin']);
  });

  it('treats "_" and "%" in a name literally when looking for sub-applications', async () => {
    expect((await t.admin.post('/applications', { partition: 'GLOBAL', name: 'A_B' })).status).toBe(201);
    expect((await t.admin.post('/applications', { partition: 'GLOBAL', name: 'AxB' })).status).toBe(201);
    expect((await t.admin.post('/applications', { partition: 'GLOBAL', name: 'AxB/Child' })).status).toBe(201);
    expect((await t.admin.delete('/applications/GLOBAL/A_B')).status).toBe(204);
    expect((await t.admin.get('/applications/GLOBAL/AxB/Child')).status).toBe(200);
  });

  it('edits an application description and logs it', async () => {
    expect((await t.admin.post('/applications', { partition: 'GLOBAL', name: 'Mail' })).status).toBe(201);
    const edited = await t.admin.patch('/applications/GLOBAL/Mail', { description: 'Outgoing mail' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ description: 'Outgoing mail', version: 2 });
    expect((await eventsWhere(t, { action: 'application.update', subject: 'application:GLOBAL.Mail' })).map((e) => e.actor)).toEqual(['admin']);
  });
});

describe.each(DATABASE_KINDS)('who sees which partitions and applications on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
    for (const name of ['North', 'South']) expect((await t.admin.post('/partitions', { name })).status).toBe(201);
    for (const [partition, name] of [
      ['North', 'Billing'],
      ['North', 'Billing/Invoices'],
      ['South', 'Payroll'],
      ['GLOBAL', 'Intranet'],
    ]) {
      expect((await t.admin.post('/applications', { partition, name })).status).toBe(201);
    }
  });
  afterAll(() => t.close());

  it('shows a user with Application.View for one partition only that partition’s applications', async () => {
    const { client } = await buildUser(t, { grants: [{ privilege: 'Application.View', partition: 'North' }] });
    expect(keys((await client.get('/applications')).body)).toEqual(['North.Billing', 'North.Billing/Invoices']);
    expect((await client.get('/applications?partition=South')).body).toEqual([]);
    expect((await client.get('/applications/North/Billing/Invoices')).status).toBe(200);
    for (const url of ['/applications/South/Payroll', '/applications/GLOBAL/Intranet', '/applications/South/NoSuchApp']) {
      const answer = await client.get(url);
      expect([url, answer.status, answer.body.error.code]).toEqual([url, 404, 'not_found']);
    }
    // Application.View is not Partition.View.
    expect((await client.get('/partitions')).body).toEqual([]);
  });

  it('shows a user with Partition.View for one partition only that partition', async () => {
    const { client } = await buildUser(t, { grants: [{ privilege: 'Partition.View', partition: 'South' }] });
    expect(names((await client.get('/partitions')).body)).toEqual(['South']);
    expect((await client.get('/partitions/South')).status).toBe(200);
    const hidden = await client.get('/partitions/North');
    expect([hidden.status, hidden.body.error.code]).toEqual([404, 'not_found']);
    // Seeing a partition is not deleting or editing it.
    const denied = await client.delete('/partitions/South');
    expect([denied.status, denied.body.error.code]).toEqual([403, 'forbidden']);
    expect((await client.patch('/partitions/South', { description: 'mine' })).status).toBe(403);
    expect((await t.admin.get('/partitions/South')).body.description).toBe('');
  });

  it('shows a system-wide Application.View every application', async () => {
    const { client } = await buildUser(t, { grants: [{ privilege: 'Application.View' }] });
    expect(keys((await client.get('/applications')).body)).toEqual(['GLOBAL.Intranet', 'North.Billing', 'North.Billing/Invoices', 'South.Payroll']);
  });

  it('lets Application.Create, Edit and Delete for one partition act there and nowhere else', async () => {
    const { username, client } = await buildUser(t, {
      grants: ['Application.View', 'Application.Create', 'Application.Edit', 'Application.Delete'].map((privilege) => ({ privilege, partition: 'North' })),
    });
    const created = await client.post('/applications', { partition: 'North', name: 'Billing/Reminders' });
    expect(created.status).toBe(201);
    expect(created.body.createdBy).toBe(username);
    expect((await client.post('/applications', { partition: 'South', name: 'Reminders' })).status).toBe(403);
    expect((await client.patch('/applications/North/Billing/Reminders', { description: 'Dunning' })).status).toBe(200);
    expect((await client.patch('/applications/South/Payroll', { description: 'mine' })).status).toBe(404);
    expect((await client.delete('/applications/South/Payroll')).status).toBe(404);
    expect((await client.delete('/applications/North/Billing/Reminders')).status).toBe(204);
    expect((await t.admin.get('/applications/South/Payroll')).body.description).toBe('');
    expect((await eventsWhere(t, { actor: username })).map((e) => e.action)).toEqual([
      'auth.login.success',
      'application.create',
      'application.update',
      'application.delete',
    ]);
  });

  it('lets a user who may view but not edit an application read it only', async () => {
    const { client } = await buildUser(t, { grants: [{ privilege: 'Application.View', partition: 'South' }] });
    const answer = await client.patch('/applications/South/Payroll', { description: 'mine' });
    expect([answer.status, answer.body.error.code]).toEqual([403, 'forbidden']);
    expect((await client.delete('/applications/South/Payroll')).status).toBe(403);
    expect((await t.admin.get('/applications/South/Payroll')).status).toBe(200);
  });

  it('drops grants for a deleted partition: a new partition of the same name is not visible', async () => {
    expect((await t.admin.post('/partitions', { name: 'Temporary' })).status).toBe(201);
    const { client } = await buildUser(t, { grants: [{ privilege: 'Partition.View', partition: 'Temporary' }] });
    expect(names((await client.get('/partitions')).body)).toEqual(['Temporary']);
    expect((await t.admin.delete('/partitions/Temporary')).status).toBe(204);
    expect((await client.get('/me')).body.grants).toEqual([]);
    expect((await t.admin.post('/partitions', { name: 'Temporary' })).status).toBe(201);
    expect((await client.get('/partitions')).body).toEqual([]);
    expect((await client.get('/partitions/Temporary')).status).toBe(404);
  });

  it('does not reveal through POST /applications which partitions exist', async () => {
    const { client } = await buildUser(t);
    const existing = await client.post('/applications', { partition: 'North', name: 'Probe' });
    const missing = await client.post('/applications', { partition: 'NoSuchPlant', name: 'Probe' });
    expect(existing.status).toBe(403);
    expect([missing.status, missing.body.error.code]).toEqual([existing.status, existing.body.error.code]);
  });
});
