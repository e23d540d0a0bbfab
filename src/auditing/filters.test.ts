import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildDevice } from '../changes/changes.test-kit.ts';
import { buildRule, history, unique } from './auditing.test-kit.ts';

describe.each(DATABASE_KINDS)('filters on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
    await buildRule(t, { name: 'WatchWeb', namePattern: 'fweb*', level: 'full_audit' });
    await buildRule(t, { name: 'WatchDb', namePattern: 'fdb*', level: 'diff_only' });
    await buildDevice(t, { name: 'fweb1' });
    await buildDevice(t, { name: 'fdb1' });
  });
  afterAll(() => t.close());

  it('saves a search of the audit trail, and searches with it', async () => {
    const created = await t.admin.post('/audit/filters', { name: 'FullDevices', target: 'AuditEntry', query: 'o:Device l:2', description: 'restorable devices' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'FullDevices', partition: 'GLOBAL', businessKey: 'GLOBAL.FullDevices', target: 'AuditEntry', query: 'o:Device l:2', owner: 'admin', inNavigation: false, version: 1 });
    const found = await t.admin.get('/audit/entries?filter=FullDevices');
    expect(found.body.entries.map((entry: { businessKey: string }) => entry.businessKey)).toEqual(['GLOBAL.fweb1']);
    const narrowed = await t.admin.get(`/audit/entries?filter=GLOBAL.FullDevices&q=${encodeURIComponent('k:GLOBAL.fdb')}`);
    expect(narrowed.body.entries).toEqual([]);
    // A filter is an object too: its creation is in the trail only when a rule says so.
    expect(await history(t, 'Filter', 'GLOBAL.FullDevices')).toEqual([]);
  });

  it('creates a filter from the current search, refusing one that cannot be read', async () => {
    const bad = await t.admin.post('/audit/filters/from-search', { name: unique('Bad'), target: 'AuditEntry', query: 'u: jdoe' });
    expect([bad.status, bad.body.error.code, bad.body.error.details.column]).toEqual([400, 'search_invalid', 3]);
    const good = await t.admin.post('/audit/filters/from-search', { name: 'Mine', target: 'AuditEntry', query: 'u:admin a:C' });
    expect(good.status).toBe(201);
    expect((await t.admin.get(`/audit/entries?filter=${good.body.id}`)).body.entries.length).toBeGreaterThan(0);
  });

  it('saves a search of the audit rules', async () => {
    const created = await t.admin.post('/audit/filters', { name: 'FullRules', target: 'AuditRule', query: 'l:2 o:Device' });
    expect(created.status).toBe(201);
    const rules = await t.admin.get('/audit/rules?filter=FullRules');
    expect(rules.body.map((rule: { name: string }) => rule.name)).toEqual(['WatchWeb']);
    const wrongTarget = await t.admin.get('/audit/entries?filter=FullRules');
    expect([wrongTarget.status, wrongTarget.body.error.code]).toEqual([400, 'validation_failed']);
    const bad = await t.admin.post('/audit/filters', { name: unique('Bad'), target: 'AuditRule', query: 'o:device' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'search_invalid']);
  });

  it('edits, duplicates and deletes filters; only the owner edits', async () => {
    const owner = await buildUser(t, { grants: [{ privilege: 'AuditTrail.View' }] });
    const other = await buildUser(t, { grants: [{ privilege: 'AuditTrail.View' }] });
    const created = await owner.client.post('/audit/filters', { name: unique('Owned'), target: 'AuditEntry', query: 'a:D' });
    expect(created.status).toBe(201);
    const ref = created.body.businessKey;
    const edited = await owner.client.patch(`/audit/filters/${ref}`, { query: 'a:M', description: 'changes' });
    expect(edited.body).toMatchObject({ query: 'a:M', description: 'changes', version: 2 });
    const badEdit = await owner.client.patch(`/audit/filters/${ref}`, { query: 't:99:99' });
    expect([badEdit.status, badEdit.body.error.code]).toEqual([400, 'search_invalid']);
    const refused = await other.client.patch(`/audit/filters/${ref}`, { query: 'a:C' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect((await other.client.delete(`/audit/filters/${ref}`)).status).toBe(403);

    const copy = await other.client.post(`/audit/filters/${ref}/duplicate`);
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ name: `${created.body.name}_copy`, query: 'a:M', owner: other.username, version: 1 });
    const second = await other.client.post(`/audit/filters/${ref}/duplicate`);
    expect(second.body.name).toBe(`${created.body.name}_copy2`);
    const named = await other.client.post(`/audit/filters/${ref}/duplicate`, { name: 'MyCopy' });
    expect(named.body.name).toBe('MyCopy');

    expect((await owner.client.delete(`/audit/filters/${ref}`)).status).toBe(204);
    expect((await owner.client.get(`/audit/filters/${ref}`)).status).toBe(404);
    expect((await other.client.get(`/audit/filters/${copy.body.id}`)).status).toBe(200);
  });

  it('adds filters to the user\'s own navigation bar, in order', async () => {
    const user = await buildUser(t, { grants: [{ privilege: 'AuditTrail.View' }, { privilege: 'AuditingRule.View' }] });
    expect((await user.client.get('/me/navigation')).body).toEqual([]);
    const first = await user.client.post('/audit/filters/FullRules/navigation');
    expect(first.body.map((filter: { name: string }) => filter.name)).toEqual(['FullRules']);
    await user.client.post('/audit/filters/FullDevices/navigation');
    await user.client.post('/audit/filters/FullRules/navigation');
    const bar = await user.client.get('/me/navigation');
    expect(bar.body.map((filter: { name: string; inNavigation: boolean }) => [filter.name, filter.inNavigation])).toEqual([
      ['FullRules', true],
      ['FullDevices', true],
    ]);
    expect((await t.admin.get('/me/navigation')).body).toEqual([]);
    const removed = await user.client.delete('/audit/filters/FullRules/navigation');
    expect(removed.body.map((filter: { name: string }) => filter.name)).toEqual(['FullDevices']);
  });

  it('shows filters only to those who may view what they search', async () => {
    const ruleViewer = await buildUser(t, { grants: [{ privilege: 'AuditingRule.View' }] });
    const names = (await ruleViewer.client.get('/audit/filters')).body.map((filter: { name: string }) => filter.name);
    expect(names).toContain('FullRules');
    expect(names).not.toContain('FullDevices');
    expect((await ruleViewer.client.get('/audit/filters/FullDevices')).status).toBe(404);
    const refused = await ruleViewer.client.post('/audit/filters', { name: unique('Trail'), target: 'AuditEntry', query: '' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    const nobody = await buildUser(t);
    expect((await nobody.client.get('/audit/filters')).status).toBe(403);
  });

  it('exports a filter with its related objects, and links to it by business key', async () => {
    expect((await t.admin.post('/partitions', { name: 'FilterPlant' })).status).toBe(201);
    expect((await t.admin.post('/applications', { partition: 'FilterPlant', name: 'Ops' })).status).toBe(201);
    const created = await t.admin.post('/audit/filters', { name: 'PlantOps', partition: 'FilterPlant', application: 'Ops', target: 'AuditEntry', query: 'k:FilterPlant.' });
    expect(created.status).toBe(201);
    const plain = await t.admin.get('/audit/filters/FilterPlant.PlantOps/export');
    expect(plain.body).toMatchObject({ format: 'changegate-bundle', version: 1, source: { exportedBy: 'admin' } });
    expect(plain.body.objects.map((object: { type: string; businessKey: string }) => `${object.type} ${object.businessKey}`)).toEqual(['Filter FilterPlant.PlantOps']);
    const related = await t.admin.get('/audit/filters/FilterPlant.PlantOps/export?related=true');
    expect(related.body.objects.map((object: { type: string; businessKey: string }) => `${object.type} ${object.businessKey}`)).toEqual([
      'Partition GLOBAL.FilterPlant',
      'Application FilterPlant.Ops',
      'Filter FilterPlant.PlantOps',
    ]);
    expect(related.body.objects[2].snapshot).toEqual({ partition: 'FilterPlant', name: 'PlantOps', application: 'Ops', description: '', target: 'AuditEntry', query: 'k:FilterPlant.' });
    const links = await t.admin.get('/audit/filters/FilterPlant.PlantOps/permalinks');
    const resolved = await t.admin.get(links.body.links.self);
    expect(resolved.body).toMatchObject({ type: 'Filter', businessKey: 'FilterPlant.PlantOps', filter: { id: created.body.id } });
  });
});
