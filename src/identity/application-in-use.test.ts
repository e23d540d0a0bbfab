import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { MAX_USERS_LISTED } from './partition.service.ts';

/**
 * Deleting an application that objects still use is a 409 naming them (those the caller may see),
 * never a 500 from the foreign key, and nothing changes.
 */
describe.each(DATABASE_KINDS)('deleting an application still in use on %s', (kind) => {
  let t: TestChangegate;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000).toISOString();
  const applicationEvents = async () => (await t.admin.get('/events?action=application.delete')).body.length;
  const version = async (name: string) => (await t.admin.get(`/applications/GLOBAL/${name}`)).body.version;

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    for (const name of ['Billing', 'Spare', 'Crowded']) expect((await t.admin.post('/applications', { partition: 'GLOBAL', name })).status).toBe(201);
    expect((await t.admin.post('/devices', { name: 'bill01', hostname: '192.0.2.1', application: 'Billing' })).status).toBe(201);
    expect((await t.admin.post('/devices', { name: 'plain01', hostname: '192.0.2.2' })).status).toBe(201);
    expect((await t.admin.post('/access-groups', { name: 'billing-ops', application: 'Billing', executors: ['admin'], approvers: ['admin'] })).status).toBe(201);
    const change = await t.admin.post('/changes', {
      name: 'CHG-BILL',
      title: 'Billing upgrade',
      application: 'Billing',
      startAt: at(10),
      dueAt: at(70),
      accessGroup: 'billing-ops',
      devices: ['plain01'],
      script: 'uptime',
    });
    expect(change.status).toBe(201);
    const rule = await t.admin.post('/audit/rules', { name: 'WatchBilling', objectType: 'Device', level: 'full_audit', applicationRule: 'exact_application', matchApplication: 'Billing' });
    expect(rule.status).toBe(201);
    for (let k = 0; k < MAX_USERS_LISTED + 5; k++) {
      expect((await t.admin.post('/devices', { name: `crowd${String(k).padStart(2, '0')}`, hostname: '192.0.2.3', application: 'Crowded' })).status).toBe(201);
    }
  });
  afterAll(() => t.close());

  it('answers 409 application_in_use naming each object by type and business key, and deletes nothing', async () => {
    const events = await applicationEvents();
    const before = await version('Billing');
    const answer = await t.admin.delete('/applications/GLOBAL/Billing');
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('application_in_use');
    expect(answer.body.error.details).toEqual({
      count: 4,
      objects: [
        { type: 'AccessGroup', businessKey: 'GLOBAL.billing-ops' },
        { type: 'AuditRule', businessKey: 'GLOBAL.WatchBilling' },
        { type: 'Change', businessKey: 'GLOBAL.CHG-BILL' },
        { type: 'Device', businessKey: 'GLOBAL.bill01' },
      ],
    });
    expect(answer.body.error.message).toContain('Application GLOBAL.Billing is still used by 4 object(s): AccessGroup GLOBAL.billing-ops, AuditRule GLOBAL.WatchBilling');
    expect(answer.body.error.message).toContain('Move them to another application');
    expect((await t.admin.get('/applications/GLOBAL/Billing')).status).toBe(200);
    expect(await version('Billing')).toBe(before);
    expect((await t.admin.get('/devices/bill01')).body.application).toBe('Billing');
    expect(await applicationEvents()).toBe(events);
  });

  it('names at most a bounded number of objects, and counts them all', async () => {
    const answer = await t.admin.delete('/applications/GLOBAL/Crowded');
    expect(answer.status).toBe(409);
    expect(answer.body.error.details.count).toBe(MAX_USERS_LISTED + 5);
    expect(answer.body.error.details.objects).toHaveLength(MAX_USERS_LISTED);
    expect(answer.body.error.details.objects[0]).toEqual({ type: 'Device', businessKey: 'GLOBAL.crowd00' });
    expect(answer.body.error.message).toContain('and 5 more');
  });

  it('names to a caller only the objects they may see, counting the others', async () => {
    const { client } = await buildUser(t, { grants: [{ privilege: 'Application.View' }, { privilege: 'Application.Delete' }, { privilege: 'Device.View' }] });
    const answer = await client.delete('/applications/GLOBAL/Billing');
    expect(answer.status).toBe(409);
    expect(answer.body.error.details).toEqual({ count: 4, objects: [{ type: 'Device', businessKey: 'GLOBAL.bill01' }] });
    expect(answer.body.error.message).not.toMatch(/CHG-BILL|billing-ops|WatchBilling/);
    expect(answer.body.error.message).toContain('and 3 more');
  });

  it('deletes the application once nothing uses it any more', async () => {
    expect((await t.admin.patch('/devices/bill01', { application: null })).status).toBe(200);
    expect((await t.admin.delete('/changes/CHG-BILL')).status).toBe(204);
    expect((await t.admin.delete('/access-groups/billing-ops')).status).toBe(204);
    expect((await t.admin.delete('/audit/rules/WatchBilling')).status).toBe(204);
    const events = await applicationEvents();
    expect((await t.admin.delete('/applications/GLOBAL/Billing')).status).toBe(204);
    expect((await t.admin.get('/applications/GLOBAL/Billing')).status).toBe(404);
    expect(await applicationEvents()).toBe(events + 1);
    expect((await t.admin.delete('/applications/GLOBAL/Spare')).status).toBe(204);
  });
});
