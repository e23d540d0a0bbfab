import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildChange, buildDevice, buildGroup } from '../changes/changes.test-kit.ts';
import { findChangeByName } from '../changes/index.ts';
import { buildApplication, buildPartition, buildRule, entries, history, rowCounts, unique } from './auditing.test-kit.ts';
import { OBJECT_TYPES } from '../objects/object.ts';

describe.each(DATABASE_KINDS)('audit rules on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32' });
    await buildPartition(t, 'Plant-A');
    await buildPartition(t, 'Plant-B');
    await buildApplication(t, 'GLOBAL', 'Finance');
    await buildApplication(t, 'GLOBAL', 'Finance/Reporting');
    await buildApplication(t, 'GLOBAL', 'HR');
    await buildApplication(t, 'Plant-A', 'Finance');
    await buildApplication(t, 'Plant-A', 'Finance/Reporting');
  });
  afterAll(() => t.close());

  describe('the built-in rule', () => {
    it('audits every audit rule at Full, from the first start', async () => {
      const rules = await t.admin.get('/audit/rules?q=n:AUDIT_RULES');
      expect(rules.status).toBe(200);
      expect(rules.body).toEqual([
        expect.objectContaining({ name: 'AUDIT_RULES', partition: 'GLOBAL', objectType: 'AuditRule', level: 'full_audit', applicationRule: 'all_objects', partitionPattern: '*', enabled: true, builtin: true, createdBy: 'system' }),
      ]);
      const rule = await buildRule(t, { description: 'watch devices' });
      const [created] = await history(t, 'AuditRule', rule.businessKey);
      expect(created).toMatchObject({ action: 'C', level: 2, user: 'admin', before: null, after: expect.objectContaining({ name: rule.name, description: 'watch devices' }) });
    });

    it.each([
      ['edit', 'PATCH', '/audit/rules/GLOBAL.AUDIT_RULES', { level: 'diff_only' }],
      ['disable', 'POST', '/audit/rules/AUDIT_RULES/disable', undefined],
      ['delete', 'DELETE', '/audit/rules/GLOBAL.AUDIT_RULES', undefined],
      ['edit security', 'PATCH', '/audit/rules/GLOBAL.AUDIT_RULES/security', { view: ['admin'] }],
    ] as const)('refuses to %s it: nobody can escape auditing', async (_label, method, url, body) => {
      const before = await rowCounts(t);
      const answer = await t.admin.request(method, `/api/v1${url}`, body);
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('builtin_rule');
      expect(answer.body.error.message).toContain('nobody can escape auditing');
      expect(await rowCounts(t)).toEqual(before);
      expect((await t.admin.get('/audit/rules/GLOBAL.AUDIT_RULES')).body).toMatchObject({ enabled: true, level: 'full_audit', version: 1 });
    });

    it('is guarded by the database too', async () => {
      await expect(sql`UPDATE audit_rule SET enabled = false WHERE builtin`.execute(t.cg.database.db)).rejects.toThrow(/nobody can escape auditing/);
      await expect(sql`DELETE FROM audit_rule WHERE builtin`.execute(t.cg.database.db)).rejects.toThrow(/cannot be changed/);
    });

    it('audits edits, disabling and deleting of other rules at Full, with before and after', async () => {
      const rule = await buildRule(t);
      expect((await t.admin.patch(`/audit/rules/${rule.businessKey}`, { namePattern: 'web*', reason: 'only web servers' })).status).toBe(200);
      expect((await t.admin.post(`/audit/rules/${rule.businessKey}/disable`)).body.enabled).toBe(false);
      expect((await t.admin.delete(`/audit/rules/${rule.businessKey}?reason=obsolete`)).status).toBe(204);
      const trail = await history(t, 'AuditRule', rule.businessKey);
      expect(trail.map((entry) => [entry.action, entry.level, entry.reason])).toEqual([
        ['C', 2, null],
        ['M', 2, 'only web servers'],
        ['M', 2, null],
        ['D', 2, 'obsolete'],
      ]);
      expect(trail[1]?.diff).toEqual({ namePattern: { before: rule.namePattern, after: 'web*' } });
      expect(trail[3]?.before).toMatchObject({ namePattern: 'web*', enabled: false });
    });
  });

  describe('which writes are audited, and at which level', () => {
    // Each case is a rule on devices whose names start with its own prefix, and the devices written under it.
    const cases: Array<{ label: string; rule: Record<string, unknown>; devices: Array<[string, Record<string, unknown>, 1 | 2 | null]> }> = [
      {
        label: 'All Objects',
        rule: { namePattern: 'all-*', applicationRule: 'all_objects' },
        devices: [['all-1', {}, 1], ['all-2', { application: 'HR' }, 1]],
      },
      {
        label: 'Any Object In An Application',
        rule: { namePattern: 'any-*', applicationRule: 'any_application' },
        devices: [['any-1', {}, null], ['any-2', { application: 'HR' }, 1]],
      },
      {
        label: 'No Application',
        rule: { namePattern: 'none-*', applicationRule: 'no_application' },
        devices: [['none-1', {}, 1], ['none-2', { application: 'HR' }, null]],
      },
      {
        label: 'Exact Application',
        rule: { namePattern: 'exact-*', applicationRule: 'exact_application', matchApplication: 'GLOBAL.Finance' },
        devices: [['exact-1', { application: 'Finance' }, 1], ['exact-2', { application: 'Finance/Reporting' }, null], ['exact-3', {}, null], ['exact-4', { partition: 'Plant-A', application: 'Finance' }, null]],
      },
      {
        label: 'Sub Application',
        rule: { namePattern: 'sub-*', applicationRule: 'sub_application', matchApplication: 'Finance' },
        devices: [['sub-1', { application: 'Finance/Reporting' }, 1], ['sub-2', { application: 'Finance' }, null], ['sub-3', { application: 'HR' }, null], ['sub-4', { partition: 'Plant-A', application: 'Finance/Reporting' }, null]],
      },
      {
        label: 'GLOB, case-sensitive',
        rule: { namePattern: 'GlobCs-?x*' },
        devices: [['GlobCs-1x', {}, 1], ['globcs-2x', {}, null], ['GlobCs-33x', {}, null]],
      },
      {
        label: 'GLOB, case-insensitive',
        rule: { namePattern: 'globci-*', nameMatch: 'glob_ignore_case' },
        devices: [['GLOBCI-1', {}, 1], ['globci-2', {}, 1], ['xglobci-3', {}, null]],
      },
      {
        label: 'regular expression, case-sensitive',
        rule: { namePattern: 'Rx-[0-9]+', nameMatch: 'regex' },
        devices: [['Rx-12', {}, 1], ['rx-13', {}, null], ['Rx-1a', {}, null]],
      },
      {
        label: 'regular expression, case-insensitive',
        rule: { namePattern: 'rxi-(db|web)[0-9]', nameMatch: 'regex_ignore_case' },
        devices: [['RXI-DB1', {}, 1], ['rxi-web2', {}, 1], ['rxi-app3', {}, null]],
      },
      {
        label: 'partition GLOB',
        rule: { namePattern: 'part-*', partitionPattern: 'Plant-*' },
        devices: [['part-1', { partition: 'Plant-A' }, 1], ['part-2', { partition: 'Plant-B' }, 1], ['part-3', {}, null]],
      },
      {
        label: 'partition regular expression, case-insensitive',
        rule: { namePattern: 'pre-*', partitionPattern: 'plant-a|global', partitionMatch: 'regex_ignore_case' },
        devices: [['pre-1', { partition: 'Plant-A' }, 1], ['pre-2', {}, 1], ['pre-3', { partition: 'Plant-B' }, null]],
      },
    ];

    it.each(cases)('$label', async ({ rule, devices }) => {
      await buildRule(t, rule);
      for (const [name, fields] of devices) await buildDevice(t, { name, ...fields });
      for (const [name, fields, level] of devices) {
        const key = `${String(fields.partition ?? 'GLOBAL')}.${name}`;
        const trail = await history(t, 'Device', key);
        expect(trail.map((entry) => entry.level), key).toEqual(level === null ? [] : [level]);
      }
    });

    it('takes the highest level when several rules match', async () => {
      await buildRule(t, { namePattern: 'lvl-*', level: 'diff_only' });
      await buildRule(t, { namePattern: 'lvl-hi*', level: 'full_audit' });
      await buildRule(t, { namePattern: 'lvl-*', level: 'diff_only', nameMatch: 'glob_ignore_case' });
      await buildDevice(t, { name: 'lvl-low' });
      await buildDevice(t, { name: 'lvl-high' });
      const low = await history(t, 'Device', 'GLOBAL.lvl-low');
      const high = await history(t, 'Device', 'GLOBAL.lvl-high');
      expect(low.map((entry) => [entry.level, entry.after === null])).toEqual([[1, true]]);
      expect(high.map((entry) => entry.level)).toEqual([2]);
      expect(high[0]?.after).toMatchObject({ name: 'lvl-high', hostname: '192.0.2.10' });
    });

    it('audits the deletion of an audited object at Full, even under a Diff only rule, and puts it in the Trash Can', async () => {
      await buildRule(t, { namePattern: 'del-*', level: 'diff_only' });
      await buildDevice(t, { name: 'del-1', description: 'to be removed' });
      expect((await t.admin.patch('/devices/del-1', { port: 2022 })).status).toBe(200);
      expect((await t.admin.delete('/devices/del-1')).status).toBe(204);
      const trail = await history(t, 'Device', 'GLOBAL.del-1');
      expect(trail.map((entry) => [entry.action, entry.level])).toEqual([
        ['C', 1],
        ['M', 1],
        ['D', 2],
      ]);
      expect(trail[1]?.diff).toEqual({ port: { before: 22, after: 2022 } });
      expect(trail[2]?.before).toMatchObject({ name: 'del-1', port: 2022, description: 'to be removed' });
      expect(trail[2]?.restore).toEqual({ before: true, after: false });
      const trash = await t.admin.get('/audit/trash?q=k:GLOBAL.del-');
      expect(trash.body.entries.map((entry: { businessKey: string }) => entry.businessKey)).toEqual(['GLOBAL.del-1']);
    });

    it('does not audit the deletion of an object no rule matches', async () => {
      await buildDevice(t, { name: 'unwatched-1' });
      expect((await t.admin.delete('/devices/unwatched-1')).status).toBe(204);
      expect(await history(t, 'Device', 'GLOBAL.unwatched-1')).toEqual([]);
    });

    it('audits nothing under a disabled rule, and again once it is enabled', async () => {
      const rule = await buildRule(t, { namePattern: 'toggle-*' });
      expect((await t.admin.post(`/audit/rules/${rule.businessKey}/disable`, { reason: 'quiet week' })).status).toBe(200);
      await buildDevice(t, { name: 'toggle-1' });
      expect(await history(t, 'Device', 'GLOBAL.toggle-1')).toEqual([]);
      expect((await t.admin.post(`/audit/rules/${rule.businessKey}/enable`)).body.enabled).toBe(true);
      await buildDevice(t, { name: 'toggle-2' });
      expect((await history(t, 'Device', 'GLOBAL.toggle-2')).map((entry) => entry.action)).toEqual(['C']);
    });

    it('does not audit a change the system makes', async () => {
      await buildRule(t, { objectType: 'Change', level: 'full_audit', namePattern: 'CHG-*' });
      const device = await buildDevice(t, { name: unique('sysdev') });
      const group = await buildGroup(t, { approvers: ['admin'] });
      const change = await buildChange(t, { accessGroup: group.name, devices: [device.name] });
      const stored = await findChangeByName(t.cg.database.db, change.name);
      if (!stored) throw new Error('the change is missing');
      const frozen = await t.cg.database.db.transaction().execute((trx) => t.cg.services.changes.freezeScript(trx, stored));
      expect(frozen.scriptFrozenAt).not.toBeNull();
      const trail = await history(t, 'Change', `GLOBAL.${change.name}`);
      expect(trail.map((entry) => [entry.action, entry.user])).toEqual([['C', 'admin']]);
      const events = await t.admin.get(`/events?action=change.script.freeze&subject=${encodeURIComponent(`change:${change.name}`)}`);
      expect(events.body.map((event: { actor: string }) => event.actor)).toEqual(['system']);
    });
  });

  it('audits every type of configuration object', async () => {
    for (const objectType of OBJECT_TYPES) await buildRule(t, { objectType, level: 'full_audit', namePattern: 'every*', nameMatch: 'glob_ignore_case' });
    expect((await t.admin.post('/partitions', { name: 'EveryPlant' })).status).toBe(201);
    expect((await t.admin.post('/applications', { name: 'EveryApp' })).status).toBe(201);
    const user = await t.admin.post('/users', { username: 'everyone1', password: 'a-password-for-everyone', timeZone: 'Europe/Paris' });
    expect(user.status).toBe(201);
    const device = await buildDevice(t, { name: 'every-device' });
    expect((await t.admin.post('/credentials', { device: device.name, account: 'everyroot', secret: { password: 'the-vaulted-password' } })).status).toBe(201);
    const group = await buildGroup(t, { name: 'every group', approvers: ['admin'] });
    await buildChange(t, { name: 'every-change', accessGroup: group.name, devices: [device.name] });
    await buildRule(t, { name: 'everyRule' });
    expect((await t.admin.post('/audit/filters', { name: 'everyFilter', target: 'AuditEntry', query: 'u:admin' })).status).toBe(201);
    expect((await t.admin.post('/webhooks', { name: 'every-hook', url: 'http://127.0.0.1:9/T0K3N' })).status).toBe(201);

    const found = await entries(t, 'a:C', t.admin, true);
    const typesAudited = new Set(found.filter((entry) => /\.every/i.test(entry.businessKey)).map((entry) => entry.objectType));
    expect([...typesAudited].sort()).toEqual([...OBJECT_TYPES].sort());

    // Snapshots hold no password hash or TOTP secret, and a vaulted secret only sealed, which the API does not show.
    const userEntry = found.find((entry) => entry.objectType === 'User');
    expect(userEntry?.businessKey).toBe('GLOBAL.everyone1');
    expect(Object.keys(userEntry?.after ?? {}).sort()).toEqual(
      ['applicationId', 'createdAt', 'createdBy', 'disabledAt', 'displayName', 'email', 'id', 'name', 'partitionId', 'timeZone', 'updatedAt', 'updatedBy', 'version'].sort(),
    );
    const stored = await t.cg.database.db.selectFrom('audit_entry').select(['after', 'object_type']).where('object_type', 'in', ['User', 'Credential', 'Webhook']).execute();
    const text = JSON.stringify(stored);
    expect(text).not.toMatch(/scrypt|password_hash|totp|the-vaulted-password/i);
    expect(text).toMatch(/"secret":"v1\./);
    const credential = found.find((entry) => entry.objectType === 'Credential');
    expect(credential?.after?.secret).toBe('(secret)');
    expect(credential?.diff.secret).toEqual({ before: null, after: '(secret)' });
    expect(JSON.stringify(found)).not.toContain('T0K3N');
    expect(found.find((entry) => entry.objectType === 'Partition')?.businessKey).toBe('GLOBAL.EveryPlant');
  });

  describe('rule fields', () => {
    it.each([
      [{ namePattern: '(unclosed', nameMatch: 'regex' }, '/namePattern', /missing closing \)/],
      [{ partitionPattern: 'a(?=b)', partitionMatch: 'regex_ignore_case' }, '/partitionPattern', /Perl syntax/],
      [{ applicationRule: 'exact_application' }, '/matchApplication', /needs the application/],
      [{ applicationRule: 'sub_application', matchApplication: 'GLOBAL.Nowhere' }, '/matchApplication', /no application/],
      [{ name: 'has space' }, '/name', /letters/],
    ])('refuses %j on save, with the reason', async (fields, path, message) => {
      const answer = await t.admin.post('/audit/rules', { name: unique('Bad'), objectType: 'Device', level: 'full_audit', ...fields });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('validation_failed');
      const problem = answer.body.error.details.problems.find((p: { path: string }) => p.path === path);
      expect(problem?.message).toMatch(message);
    });

    it('refuses an unknown object type at the edge', async () => {
      const answer = await t.admin.post('/audit/rules', { name: unique('Bad'), objectType: 'ChainDefinition', level: 'full_audit' });
      expect([answer.status, answer.body.error.code]).toEqual([400, 'validation_failed']);
    });

    it('clears the matched application when the application rule no longer needs one', async () => {
      const rule = await buildRule(t, { applicationRule: 'exact_application', matchApplication: 'Plant-A.Finance' });
      expect(rule.matchApplication).toBe('Plant-A.Finance');
      const edited = await t.admin.patch(`/audit/rules/${rule.businessKey}`, { applicationRule: 'any_application' });
      expect(edited.body).toMatchObject({ applicationRule: 'any_application', matchApplication: null, version: 2 });
    });

    it('refuses a stale version with 409', async () => {
      const rule = await buildRule(t);
      expect((await t.admin.patch(`/audit/rules/${rule.businessKey}`, { description: 'one' })).status).toBe(200);
      const stale = await t.admin.patch(`/audit/rules/${rule.businessKey}`, { description: 'two', expectedVersion: 1 });
      expect([stale.status, stale.body.error.code]).toEqual([409, 'conflict']);
    });

    it('answers permalinks by business key that resolve to the rule', async () => {
      const rule = await buildRule(t);
      const links = await t.admin.get(`/audit/rules/${rule.id}/permalinks`);
      expect(links.body).toEqual({
        businessKey: rule.businessKey,
        links: {
          self: `/api/v1/audit/permalinks/AuditRule/${rule.businessKey}`,
          export: `/api/v1/audit/permalinks/AuditRule/${rule.businessKey}/export`,
          exportWithRelated: `/api/v1/audit/permalinks/AuditRule/${rule.businessKey}/export?related=true`,
          auditTrail: `/api/v1/audit/entries?q=${encodeURIComponent(`o:AuditRule k:${rule.businessKey}`)}`,
        },
      });
      const resolved = await t.admin.get(links.body.links.self);
      expect(resolved.body).toMatchObject({ type: 'AuditRule', businessKey: rule.businessKey, rule: { id: rule.id } });
      const exported = await t.admin.get(links.body.links.export);
      expect(exported.body.objects.map((object: { businessKey: string }) => object.businessKey)).toEqual([rule.businessKey]);
      const trail = await t.admin.get(links.body.links.auditTrail);
      expect(trail.body.entries.map((entry: { businessKey: string }) => entry.businessKey)).toEqual([rule.businessKey]);
    });
  });

  describe('privileges and rule security', () => {
    it('needs AuditingRule privileges in the rule\'s partition', async () => {
      const { client } = await buildUser(t, {
        grants: ['AuditingRule.View', 'AuditingRule.Create', 'AuditingRule.Edit'].map((privilege) => ({ privilege, partition: 'Plant-A' })),
      });
      const mine = await client.post('/audit/rules', { name: unique('PlantRule'), partition: 'Plant-A', objectType: 'Device', level: 'full_audit' });
      expect(mine.status).toBe(201);
      const elsewhere = await client.post('/audit/rules', { name: unique('GlobalRule'), objectType: 'Device', level: 'full_audit' });
      expect([elsewhere.status, elsewhere.body.error.code]).toEqual([403, 'forbidden']);
      const listed = (await client.get('/audit/rules')).body as Array<{ partition: string }>;
      expect(new Set(listed.map((rule) => rule.partition))).toEqual(new Set(['Plant-A']));
      expect((await client.get('/audit/rules/GLOBAL.AUDIT_RULES')).status).toBe(404);
      const deletion = await client.delete(`/audit/rules/${mine.body.businessKey}`);
      expect([deletion.status, deletion.body.error.code]).toEqual([403, 'forbidden']);
      const { client: nobody } = await buildUser(t);
      expect((await nobody.get('/audit/rules')).status).toBe(403);
    });

    it('restricts viewing, editing and deleting to the users a rule lists', async () => {
      const grants = ['AuditingRule.View', 'AuditingRule.Edit', 'AuditingRule.Delete'].map((privilege) => ({ privilege }));
      const alice = await buildUser(t, { grants });
      const bob = await buildUser(t, { grants });
      const rule = await buildRule(t, { security: { view: [alice.username, 'admin'], edit: [alice.username, 'admin'], delete: ['admin'] } });
      expect(rule.security).toEqual({ view: ['admin', alice.username].sort(), edit: ['admin', alice.username].sort(), delete: ['admin'] });
      expect((await bob.client.get(`/audit/rules/${rule.businessKey}`)).status).toBe(404);
      expect((await bob.client.get('/audit/rules')).body.map((r: { name: string }) => r.name)).not.toContain(rule.name);
      expect((await alice.client.patch(`/audit/rules/${rule.businessKey}`, { description: 'by alice' })).status).toBe(200);
      const refused = await alice.client.delete(`/audit/rules/${rule.businessKey}`);
      expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);

      const lockout = await alice.client.patch(`/audit/rules/${rule.businessKey}/security`, { edit: ['admin'] });
      expect([lockout.status, lockout.body.error.details.problems[0].path]).toEqual([400, '/edit']);
      const unknown = await t.admin.patch(`/audit/rules/${rule.businessKey}/security`, { view: ['nobody-here'] });
      expect([unknown.status, unknown.body.error.details.problems[0].path]).toEqual([400, '/security/view']);
      const opened = await alice.client.patch(`/audit/rules/${rule.businessKey}/security`, { view: null, reason: 'everyone may look' });
      expect(opened.body.security.view).toBeNull();
      expect((await bob.client.get(`/audit/rules/${rule.businessKey}`)).status).toBe(200);
      const trail = await history(t, 'AuditRule', rule.businessKey);
      expect(trail.at(-1)).toMatchObject({ action: 'M', level: 2, user: alice.username, reason: 'everyone may look', diff: { security: expect.any(Object) } });
    });
  });
});
