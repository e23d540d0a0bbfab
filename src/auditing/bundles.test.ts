import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildApplication, buildPartition, buildRule, history } from './auditing.test-kit.ts';

type Item = { type: string; businessKey: string };
const keys = (items: Item[]) => items.map((item) => `${item.type} ${item.businessKey}`);

describe.each(DATABASE_KINDS)('export, import and promotion on %s', (kind) => {
  /** The source and the target: two installations, each with its own database. */
  let source: TestChangegate;
  let target: TestChangegate;
  let targetUrl: string;
  let targetToken: string;

  beforeAll(async () => {
    [source, target] = await Promise.all([startTestChangegate(kind), startTestChangegate(kind)]);
    await buildPartition(source, 'Finance');
    await buildApplication(source, 'Finance', 'Billing');
    await buildApplication(source, 'Finance', 'Billing/Dunning');
    await buildRule(source, {
      name: 'DunningDevices',
      partition: 'Finance',
      objectType: 'Device',
      level: 'full_audit',
      namePattern: 'dun-.*',
      nameMatch: 'regex_ignore_case',
      applicationRule: 'sub_application',
      matchApplication: 'Finance.Billing',
      partitionPattern: 'Fin*',
      description: 'every device of the dunning runs',
    });
    // The target listens on a real port, as another instance would.
    await target.cg.app.listen({ port: 0, host: '127.0.0.1' });
    targetUrl = `http://127.0.0.1:${(target.cg.app.server.address() as AddressInfo).port}`;
    targetToken = (await target.admin.post('/tokens', { name: 'promotion from test' })).body.token;
  });
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close()]);
  });

  it('exports a rule alone, or with its partition and the applications it names, parents first', async () => {
    const alone = await source.admin.get('/audit/rules/Finance.DunningDevices/export');
    expect(alone.status).toBe(200);
    expect(keys(alone.body.objects)).toEqual(['AuditRule Finance.DunningDevices']);
    expect(alone.body.objects[0].snapshot).toEqual({
      partition: 'Finance',
      name: 'DunningDevices',
      application: null,
      description: 'every device of the dunning runs',
      objectType: 'Device',
      level: 'full_audit',
      namePattern: 'dun-.*',
      nameMatch: 'regex_ignore_case',
      applicationRule: 'sub_application',
      matchApplication: 'Finance.Billing',
      partitionPattern: 'Fin*',
      partitionMatch: 'glob',
      enabled: true,
      security: { view: null, edit: null, delete: null },
    });
    const related = await source.admin.get('/audit/rules/Finance.DunningDevices/export?related=true');
    expect(keys(related.body.objects)).toEqual(['Partition GLOBAL.Finance', 'Application Finance.Billing', 'AuditRule Finance.DunningDevices']);
    expect(JSON.stringify(related.body)).not.toMatch(/"id"|[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it('imports into a second database, idempotently, and reports conflicts', async () => {
    const bundle = (await source.admin.get('/audit/rules/Finance.DunningDevices/export?related=true')).body;
    const dry = await target.admin.post('/audit/import?dryRun=true', bundle);
    expect(dry.body).toMatchObject({ dryRun: true, conflicts: [] });
    expect(keys(dry.body.created)).toHaveLength(3);
    expect((await target.admin.get('/audit/rules/Finance.DunningDevices')).status).toBe(404);

    const first = await target.admin.post('/audit/import', bundle);
    expect(first.status).toBe(200);
    expect(keys(first.body.created)).toEqual(['Partition GLOBAL.Finance', 'Application Finance.Billing', 'AuditRule Finance.DunningDevices']);
    expect(first.body).toMatchObject({ dryRun: false, updated: [], unchanged: [], conflicts: [] });
    const imported = await target.admin.get('/audit/rules/Finance.DunningDevices');
    expect(imported.body).toMatchObject({ matchApplication: 'Finance.Billing', applicationRule: 'sub_application', namePattern: 'dun-.*', createdBy: 'admin' });
    const [created] = await history(target, 'AuditRule', 'Finance.DunningDevices');
    expect(created?.reason).toMatch(/^imported from another Changegate \(exported .* by admin\)$/);

    const again = await target.admin.post('/audit/import', bundle);
    expect(again.body).toMatchObject({ created: [], updated: [], conflicts: [] });
    expect(keys(again.body.unchanged)).toEqual(keys(first.body.created));

    expect((await target.admin.patch('/audit/rules/Finance.DunningDevices', { level: 'diff_only', enabled: false })).status).toBe(200);
    const conflicting = await target.admin.post('/audit/import', bundle);
    expect(conflicting.body.conflicts).toEqual([
      { type: 'AuditRule', businessKey: 'Finance.DunningDevices', message: expect.stringContaining('exists here with other values'), fields: ['enabled', 'level'] },
    ]);
    expect((await target.admin.get('/audit/rules/Finance.DunningDevices')).body.level).toBe('diff_only');
    const overwritten = await target.admin.post('/audit/import?overwrite=true', bundle);
    expect(keys(overwritten.body.updated)).toEqual(['AuditRule Finance.DunningDevices']);
    expect((await target.admin.get('/audit/rules/Finance.DunningDevices')).body).toMatchObject({ level: 'full_audit', enabled: true });
  });

  it('reports what cannot be imported, and imports the rest', async () => {
    const bundle = (await source.admin.get('/audit/rules/Finance.DunningDevices/export')).body;
    const rule = bundle.objects[0];
    const orphan = { ...rule, businessKey: 'Nowhere.Orphan', snapshot: { ...rule.snapshot, partition: 'Nowhere', name: 'Orphan' } };
    const strangers = { ...rule, businessKey: 'GLOBAL.Strangers', snapshot: { ...rule.snapshot, partition: 'GLOBAL', name: 'Strangers', matchApplication: 'Finance.Billing', security: { view: ['ghost'], edit: null, delete: null } } };
    const badPattern = { ...rule, businessKey: 'GLOBAL.BadPattern', snapshot: { ...rule.snapshot, partition: 'GLOBAL', name: 'BadPattern', namePattern: '(?<=x)' } };
    const fine = { ...rule, businessKey: 'GLOBAL.Fine', snapshot: { ...rule.snapshot, partition: 'GLOBAL', name: 'Fine' } };
    const builtin = (await source.admin.get('/audit/rules/GLOBAL.AUDIT_RULES/export')).body.objects[0];
    const changedBuiltin = { ...builtin, snapshot: { ...builtin.snapshot, enabled: false } };
    const report = await target.admin.post('/audit/import', { ...bundle, objects: [orphan, strangers, badPattern, fine, changedBuiltin] });
    expect(report.status).toBe(200);
    expect(keys(report.body.created)).toEqual(['AuditRule GLOBAL.Fine']);
    expect(report.body.conflicts.map((conflict: Item & { message: string }) => [conflict.businessKey, conflict.message])).toEqual([
      ['Nowhere.Orphan', expect.stringContaining('Partition Nowhere does not exist here')],
      ['GLOBAL.Strangers', expect.stringContaining('ghost')],
      ['GLOBAL.BadPattern', expect.stringContaining('/namePattern')],
      ['GLOBAL.AUDIT_RULES', expect.stringContaining('nobody can escape auditing')],
    ]);
    expect((await target.admin.post('/audit/import', { ...bundle, objects: [builtin] })).body.unchanged).toEqual([{ type: 'AuditRule', businessKey: 'GLOBAL.AUDIT_RULES' }]);
  });

  it('refuses what is not a bundle with 400', async () => {
    const answer = await target.admin.post('/audit/import', { format: 'car', version: 1, objects: [] });
    expect([answer.status, answer.body.error.code]).toEqual([400, 'validation_failed']);
    const service = target.cg.services.bundles;
    const admin = { userId: (await target.admin.get('/me')).body.user.id, username: 'admin' };
    await expect(service.import(admin, { format: 'changegate-bundle', version: 2, objects: [] })).rejects.toThrow(/bundle version 2/);
  });

  it('promotes a rule to another running instance with that instance\'s token', async () => {
    await buildRule(source, { name: 'PromotedRule', partition: 'Finance', objectType: 'Change', level: 'full_audit', namePattern: 'CHG-*', applicationRule: 'exact_application', matchApplication: 'Finance.Billing/Dunning' });
    const dry = await source.admin.post('/audit/rules/Finance.PromotedRule/promote', { url: targetUrl, token: targetToken, related: true, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body.report).toMatchObject({ dryRun: true });
    expect((await target.admin.get('/audit/rules/Finance.PromotedRule')).status).toBe(404);

    const promoted = await source.admin.post('/audit/rules/Finance.PromotedRule/promote', { url: targetUrl, token: targetToken, related: true });
    expect(promoted.status).toBe(200);
    expect(promoted.body.target).toBe(targetUrl);
    expect(keys(promoted.body.report.created)).toEqual(['Application Finance.Billing/Dunning', 'AuditRule Finance.PromotedRule']);
    expect(keys(promoted.body.report.unchanged)).toEqual(['Partition GLOBAL.Finance', 'Application Finance.Billing']);
    expect((await target.admin.get('/audit/rules/Finance.PromotedRule')).body).toMatchObject({ matchApplication: 'Finance.Billing/Dunning', objectType: 'Change' });

    const events = await source.admin.get('/events?action=audit.promote');
    expect(events.body.at(-1)).toMatchObject({ actor: 'admin', subject: `instance:${targetUrl}`, data: { created: 2, dryRun: false } });
    expect(JSON.stringify(events.body)).not.toContain(targetToken);
  });

  it('edits the set of exported objects further, then promotes it', async () => {
    const bundle = (await source.admin.get('/audit/rules/Finance.DunningDevices/export?related=true')).body;
    const rule = bundle.objects.find((object: Item) => object.type === 'AuditRule');
    const edited = {
      ...bundle,
      objects: [{ ...rule, businessKey: 'Finance.DunningCopy', snapshot: { ...rule.snapshot, name: 'DunningCopy', description: 'edited before promotion' } }],
    };
    const promoted = await source.admin.post('/audit/promote', { url: targetUrl, token: targetToken, bundle: edited });
    expect(promoted.status).toBe(200);
    expect(keys(promoted.body.report.created)).toEqual(['AuditRule Finance.DunningCopy']);
    expect((await target.admin.get('/audit/rules/Finance.DunningCopy')).body.description).toBe('edited before promotion');
  });

  it('says why a promotion failed: a wrong token, an address that does not answer', async () => {
    const wrongToken = await source.admin.post('/audit/rules/Finance.DunningDevices/promote', { url: targetUrl, token: 'cg_not-a-token' });
    expect([wrongToken.status, wrongToken.body.error.code]).toEqual([502, 'promote_failed']);
    expect(wrongToken.body.error.message).toMatch(/refused the import \(401\)/);
    expect(wrongToken.body.error.details).toMatchObject({ status: 401, error: { code: 'unauthenticated' } });
    const nowhere = await source.admin.post('/audit/rules/Finance.DunningDevices/promote', { url: 'http://127.0.0.1:9', token: targetToken });
    expect([nowhere.status, nowhere.body.error.code]).toEqual([502, 'promote_failed']);
    const notHttp = await source.admin.post('/audit/rules/Finance.DunningDevices/promote', { url: 'file:///etc/passwd', token: targetToken });
    expect([notHttp.status, notHttp.body.error.code]).toEqual([400, 'validation_failed']);
  });
});
