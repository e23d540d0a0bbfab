import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildApplication, buildPartition, buildRule, history } from './auditing.test-kit.ts';

type Item = { type: string; businessKey: string };
const keys = (items: Item[]) => items.map((item) => `${item.type} ${item.businessKey}`);

/** An HTTP server that answers every request the same way and counts them: a stand-in for what a promotion may reach. */
async function startResponder(status: number, body: string | Buffer) {
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    request.resume();
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const EMPTY_REPORT = JSON.stringify({ dryRun: false, created: [], updated: [], unchanged: [], conflicts: [] });
/** What a server inside the network might answer: nothing of it may reach the one who promoted. */
const INSIDE_SECRET = 'db_password=hunter2 aws_secret_access_key=AKIA0123456789';

describe.each(DATABASE_KINDS)('export, import and promotion on %s', (kind) => {
  /** The source and the target: two installations, each with its own database. */
  let source: TestChangegate;
  let target: TestChangegate;
  let targetUrl: string;
  let targetToken: string;
  /** Configured targets that are not Changegates: one answers 500 with secrets, one an import report, one a huge answer. */
  let leaky: Awaited<ReturnType<typeof startResponder>>;
  let trap: Awaited<ReturnType<typeof startResponder>>;
  let huge: Awaited<ReturnType<typeof startResponder>>;

  beforeAll(async () => {
    [target, leaky, trap, huge] = await Promise.all([
      startTestChangegate(kind),
      startResponder(500, INSIDE_SECRET),
      startResponder(200, EMPTY_REPORT),
      startResponder(200, Buffer.alloc(5 * 1024 * 1024, 'x')),
    ]);
    // The target listens on a real port, as another instance would.
    await target.cg.app.listen({ port: 0, host: '127.0.0.1' });
    targetUrl = `http://127.0.0.1:${(target.cg.app.server.address() as AddressInfo).port}`;
    targetToken = (await target.admin.post('/tokens', { name: 'promotion from test' })).body.token;
    source = await startTestChangegate(kind, {
      CHANGEGATE_PROMOTE_TARGETS: `staging=${targetUrl}, leaky=${leaky.url}, trap=${trap.url}/, huge=${huge.url}, down=http://127.0.0.1:9`,
    });
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
  });
  afterAll(async () => {
    await Promise.all([source?.close(), target?.close(), leaky?.close(), trap?.close(), huge?.close()]);
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

  it('lists the promotion targets an administrator configured, to those who may view rules', async () => {
    const listed = await source.admin.get('/audit/promote-targets');
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([
      { name: 'staging', url: targetUrl },
      { name: 'leaky', url: leaky.url },
      { name: 'trap', url: trap.url },
      { name: 'huge', url: huge.url },
      { name: 'down', url: 'http://127.0.0.1:9' },
    ]);
    const viewer = await buildUser(source, { grants: [{ privilege: 'AuditingRule.View', partition: 'Finance' }] });
    expect((await viewer.client.get('/audit/promote-targets')).body).toEqual(listed.body);
    const nobody = await buildUser(source);
    expect((await nobody.client.get('/audit/promote-targets')).body.error.code).toBe('forbidden');
    expect((await target.admin.get('/audit/promote-targets')).body).toEqual([]);
  });

  it('promotes a rule to a configured instance with that instance\'s token', async () => {
    await buildRule(source, { name: 'PromotedRule', partition: 'Finance', objectType: 'Change', level: 'full_audit', namePattern: 'CHG-*', applicationRule: 'exact_application', matchApplication: 'Finance.Billing/Dunning' });
    const dry = await source.admin.post('/audit/rules/Finance.PromotedRule/promote', { target: 'staging', token: targetToken, related: true, dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body.report).toMatchObject({ dryRun: true });
    expect((await target.admin.get('/audit/rules/Finance.PromotedRule')).status).toBe(404);

    const promoted = await source.admin.post('/audit/rules/Finance.PromotedRule/promote', { target: 'staging', token: targetToken, related: true });
    expect(promoted.status).toBe(200);
    expect([promoted.body.target, promoted.body.url]).toEqual(['staging', targetUrl]);
    expect(keys(promoted.body.report.created)).toEqual(['Application Finance.Billing/Dunning', 'AuditRule Finance.PromotedRule']);
    expect(keys(promoted.body.report.unchanged)).toEqual(['Partition GLOBAL.Finance', 'Application Finance.Billing']);
    expect((await target.admin.get('/audit/rules/Finance.PromotedRule')).body).toMatchObject({ matchApplication: 'Finance.Billing/Dunning', objectType: 'Change' });

    const events = await source.admin.get('/events?action=audit.promote');
    expect(events.body.at(-1)).toMatchObject({ actor: 'admin', subject: `instance:${targetUrl}`, data: { target: 'staging', created: 2, dryRun: false } });
    expect(JSON.stringify(events.body)).not.toContain(targetToken);
  });

  it('edits the set of exported objects further, then promotes it', async () => {
    const bundle = (await source.admin.get('/audit/rules/Finance.DunningDevices/export?related=true')).body;
    const rule = bundle.objects.find((object: Item) => object.type === 'AuditRule');
    const edited = {
      ...bundle,
      objects: [{ ...rule, businessKey: 'Finance.DunningCopy', snapshot: { ...rule.snapshot, name: 'DunningCopy', description: 'edited before promotion' } }],
    };
    const promoted = await source.admin.post('/audit/promote', { target: 'staging', token: targetToken, bundle: edited });
    expect(promoted.status).toBe(200);
    expect(keys(promoted.body.report.created)).toEqual(['AuditRule Finance.DunningCopy']);
    expect((await target.admin.get('/audit/rules/Finance.DunningCopy')).body.description).toBe('edited before promotion');
  });

  it('needs the privileges to create what it promotes, checked before anything is sent', async () => {
    const promotions = async () => (await source.admin.get('/events?action=audit.promote')).body.length;
    const before = await promotions();
    const viewer = await buildUser(source, { grants: [{ privilege: 'AuditingRule.View', partition: 'Finance' }] });
    const bundle = (await source.admin.get('/audit/rules/Finance.DunningDevices/export')).body;
    const refusals = [
      await viewer.client.post('/audit/rules/Finance.DunningDevices/promote', { target: 'trap', token: 'cg_theirs' }),
      await viewer.client.post('/audit/promote', { target: 'trap', token: 'cg_theirs', bundle }),
    ];
    for (const refused of refusals) {
      expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
      expect(refused.body.error.message).toContain('the AuditingRule.Create privilege for partition Finance');
    }
    // An empty bundle needs no privilege to create anything: it is refused, not sent as a token relay,
    // and the refusal names no target (those who may not see the targets do not learn them here).
    const nobody = await buildUser(source, { grants: [] });
    const empty = await nobody.client.post('/audit/promote', { target: 'trap', token: 'cg_guess', dryRun: true, bundle: { ...bundle, objects: [] } });
    expect([empty.status, empty.body.error.code, empty.body.error.details.problems]).toEqual([400, 'validation_failed', [{ path: '/body/bundle/objects', message: 'must hold at least one object' }]]);
    const unknownTarget = await nobody.client.post('/audit/promote', { target: 'no-such-target', token: 'cg_guess', bundle });
    expect([unknownTarget.status, JSON.stringify(unknownTarget.body)]).toEqual([403, expect.not.stringContaining('trap')]);

    // One who may create rules in Finance promotes a rule of Finance; its partition, not without Partition.Create.
    const author = await buildUser(source, { grants: [{ privilege: 'AuditingRule.View', partition: 'Finance' }, { privilege: 'AuditingRule.Create', partition: 'Finance' }] });
    const withPartition = await author.client.post('/audit/rules/Finance.DunningDevices/promote', { target: 'trap', token: 'cg_theirs', related: true });
    expect([withPartition.status, withPartition.body.error.message]).toEqual([403, expect.stringContaining('the Partition.Create privilege system-wide')]);
    expect(trap.requests).toBe(0);
    expect(await promotions()).toBe(before);

    const allowed = await author.client.post('/audit/rules/Finance.DunningDevices/promote', { target: 'trap', token: 'cg_theirs' });
    expect([allowed.status, allowed.body.target]).toEqual([200, 'trap']);
    expect(trap.requests).toBe(1);
  });

  it('promotes only to a configured target: another name, a URL or no configuration is refused, and nothing is called', async () => {
    const calls = () => [leaky.requests, trap.requests, huge.requests];
    const before = calls();
    const unknown = await source.admin.post('/audit/rules/Finance.DunningDevices/promote', { target: 'elsewhere', token: targetToken });
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'validation_failed']);
    expect(unknown.body.error.details.problems).toEqual([{ path: '/body/target', message: 'must be one of: staging, leaky, trap, huge, down' }]);
    const byUrl = await source.admin.post('/audit/rules/Finance.DunningDevices/promote', { url: trap.url, token: targetToken });
    expect([byUrl.status, byUrl.body.error.code]).toEqual([400, 'validation_failed']);
    const both = await source.admin.post('/audit/rules/Finance.DunningDevices/promote', { target: 'trap', url: 'http://127.0.0.1:1/', token: targetToken });
    expect([both.status, both.body.error.code]).toEqual([400, 'validation_failed']);
    expect(calls()).toEqual(before);

    // The target instance has no targets of its own.
    const bundle = (await source.admin.get('/audit/rules/Finance.DunningDevices/export')).body;
    const unconfigured = await target.admin.post('/audit/promote', { target: 'staging', token: 'cg_theirs', bundle });
    expect([unconfigured.status, unconfigured.body.error.code]).toEqual([400, 'validation_failed']);
    expect(unconfigured.body.error.message).toMatch(/an administrator must list the other Changegate instances in CHANGEGATE_PROMOTE_TARGETS/);
  });

  it('says why a promotion failed by the status or the kind of failure, never with what the other side answered', async () => {
    const promote = (target: string, token = targetToken) => source.admin.post('/audit/rules/Finance.DunningDevices/promote', { target, token });

    const wrongToken = await promote('staging', 'cg_not-a-token');
    expect([wrongToken.status, wrongToken.body.error.code]).toEqual([502, 'promote_failed']);
    expect(wrongToken.body.error.message).toBe(`Promotion to staging (${targetUrl}) failed: the token is not valid there (HTTP 401): give an API token of a user of that instance.`);
    expect(wrongToken.body.error.details).toEqual({ target: 'staging', status: 401 });

    const leaked = await promote('leaky');
    expect(leaked.body.error).toMatchObject({ code: 'promote_failed', message: expect.stringContaining('it failed while importing (HTTP 500)'), details: { target: 'leaky', status: 500 } });
    expect(leaky.requests).toBe(1);
    expect(JSON.stringify(leaked.body)).not.toMatch(/hunter2|AKIA|password/);

    const tooLarge = await promote('huge');
    expect(tooLarge.body.error).toMatchObject({ code: 'promote_failed', details: { target: 'huge', reason: `the answer is larger than ${4 * 1024 * 1024} bytes` } });

    const nowhere = await promote('down');
    expect([nowhere.status, nowhere.body.error.message]).toEqual([502, 'Promotion to down (http://127.0.0.1:9) failed: cannot reach it: connection refused.']);
  });
});
