import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { buildDevice } from '../changes/changes.test-kit.ts';
import { findPartitionByName } from '../objects/index.ts';
import { deviceKind } from '../inventory/index.ts';
import { buildApplication, buildPartition, buildRule, entries, history, unique, type EntryView } from './auditing.test-kit.ts';

describe.each(DATABASE_KINDS)('audit rules see both sides of a change on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32' });
    await buildApplication(t, 'GLOBAL', 'trPayments');
    await buildPartition(t, 'trPlant');
    await buildRule(t, { namePattern: '*', applicationRule: 'exact_application', matchApplication: 'GLOBAL.trPayments', level: 'full_audit' });
    await buildRule(t, { objectType: 'Webhook', namePattern: 'audited-*', level: 'full_audit' });
    await buildRule(t, { namePattern: 'trmove-*', partitionPattern: 'GLOBAL', level: 'diff_only' });
  });
  afterAll(() => t.close());

  describe('a rule matches a change when it matches the object before or after it', () => {
    it('audits moving a device out of the rule\'s application in the same PATCH as changing its address', async () => {
      const name = unique('pay');
      await buildDevice(t, { name, application: 'trPayments', hostname: '192.0.2.10' });
      expect((await history(t, 'Device', `GLOBAL.${name}`)).map((entry) => entry.action)).toEqual(['C']);
      const moved = await t.admin.patch(`/devices/${name}`, { application: null, hostname: '192.0.2.77', port: 2022 });
      expect(moved.status).toBe(200);
      const [, escape] = await history(t, 'Device', `GLOBAL.${name}`);
      expect(escape).toMatchObject({ action: 'M', level: 2, user: 'admin', before: { hostname: '192.0.2.10', port: 22 }, after: { hostname: '192.0.2.77', applicationId: null } });
      expect(escape?.diff).toMatchObject({ hostname: { before: '192.0.2.10', after: '192.0.2.77' }, port: { before: 22, after: 2022 }, applicationId: { after: null } });
      // Out of the application, the device is no longer the rule's: its next change is not audited.
      expect((await t.admin.patch(`/devices/${name}`, { hostname: '192.0.2.78' })).status).toBe(200);
      expect(await history(t, 'Device', `GLOBAL.${name}`)).toHaveLength(2);
      // And moving one in is audited by the state after it.
      const outsider = unique('pay');
      await buildDevice(t, { name: outsider });
      expect((await t.admin.patch(`/devices/${outsider}`, { application: 'trPayments' })).status).toBe(200);
      expect((await history(t, 'Device', `GLOBAL.${outsider}`)).map((entry) => entry.action)).toEqual(['M']);
    });

    it('audits a rename out of the rule\'s name pattern', async () => {
      const created = await t.admin.post('/webhooks', { name: unique('audited-hook'), url: 'http://127.0.0.1:9/hook' });
      expect(created.status).toBe(201);
      const { id, name } = created.body.webhook;
      const renamed = unique('quiet-hook');
      expect((await t.admin.patch(`/webhooks/${id}`, { name: renamed, enabled: false })).status).toBe(200);
      const [rename] = await entries(t, `o:Webhook k:GLOBAL.${renamed}`, t.admin, true);
      expect(rename).toMatchObject({ action: 'M', level: 2, businessKey: `GLOBAL.${renamed}`, diff: { name: { before: name, after: renamed }, enabled: { before: true, after: false } } });
      expect((await t.admin.patch(`/webhooks/${id}`, { name: unique('quiet-hook') })).status).toBe(200);
      expect(await entries(t, `o:Webhook k:GLOBAL.quiet-hook*`)).toHaveLength(1);
    });

    it('audits a move out of the rule\'s partition (written through the object store: no API moves objects between partitions)', async () => {
      const name = unique('trmove-');
      await buildDevice(t, { name });
      const db = t.cg.database.db;
      const admin = { userId: (await t.admin.get('/me')).body.user.id as string, username: 'admin' };
      await db.transaction().execute(async (trx) => {
        const plant = await findPartitionByName(trx, 'trPlant');
        const device = await trx.selectFrom('device').select('id').where('name', '=', name).executeTakeFirstOrThrow();
        const current = await deviceKind.find(trx, device.id);
        if (!plant || !current) throw new Error('the partition or device is missing');
        await t.cg.objects.update(trx, deviceKind, current, { partitionId: plant.id, hostname: '192.0.2.99' }, admin);
      });
      const [move] = await entries(t, `o:Device k:trPlant.${name}`);
      expect(move).toMatchObject({ action: 'M', level: 1, businessKey: `trPlant.${name}`, diff: { hostname: { before: '192.0.2.10', after: '192.0.2.99' } } });
    });
  });

  describe('entries about an audit rule are visible only to users who may view the rule', () => {
    let auditor: TestClient;
    let insider: { username: string; client: TestClient };
    let secret: { businessKey: string; name: string; id: string };
    let open: { businessKey: string };

    const seqsOf = (found: readonly EntryView[], key: string) => found.filter((entry) => entry.businessKey === key).map((entry) => entry.seq);

    beforeAll(async () => {
      const privileges = ['AuditTrail.View', 'AuditTrail.Restore', 'AuditingRule.View', 'AuditingRule.Edit'].map((privilege) => ({ privilege }));
      auditor = (await buildUser(t, { grants: privileges })).client;
      insider = await buildUser(t, { grants: privileges });
      secret = await buildRule(t, { name: unique('trSecret'), description: 'who we watch', security: { view: ['admin', insider.username], edit: ['admin', insider.username] } });
      expect((await t.admin.patch(`/audit/rules/${secret.businessKey}`, { description: 'who we watch, and why', reason: 'quiet investigation' })).status).toBe(200);
      open = await buildRule(t, { name: unique('trOpen') });
    });

    it('leaves them out of the search (IntelliSearch, and a saved filter) for the others, as if they did not exist', async () => {
      const mine = seqsOf(await entries(t, `o:AuditRule k:${secret.businessKey}`, insider.client), secret.businessKey);
      expect(mine).toHaveLength(2);
      expect(seqsOf(await entries(t, `o:AuditRule k:${secret.businessKey}`, t.admin), secret.businessKey)).toEqual(mine);
      for (const q of [`o:AuditRule k:${secret.businessKey}`, 'o:AuditRule', 'r:"quiet investigation"', secret.name, '']) {
        const seen = await entries(t, q, auditor);
        expect(seqsOf(seen, secret.businessKey)).toEqual([]);
      }
      // Entries about rules the auditor may view are there as before.
      expect(seqsOf(await entries(t, 'o:AuditRule', auditor), open.businessKey)).toHaveLength(1);
      const filter = await auditor.post('/audit/filters', { name: unique('trRules'), target: 'AuditEntry', query: 'o:AuditRule' });
      expect(filter.status).toBe(201);
      const filtered = await auditor.get(`/audit/entries?filter=${encodeURIComponent(filter.body.businessKey)}&limit=500`);
      expect(filtered.status).toBe(200);
      expect(seqsOf(filtered.body.entries, secret.businessKey)).toEqual([]);
      expect(seqsOf(filtered.body.entries, open.businessKey)).toHaveLength(1);
      // The rule's permalinks and export are the insider's; its trail link, followed by the auditor, shows nothing.
      const links = await insider.client.get(`/audit/rules/${secret.businessKey}/permalinks`);
      expect(links.status).toBe(200);
      expect((await auditor.get(`/audit/rules/${secret.businessKey}/permalinks`)).status).toBe(404);
      expect((await auditor.get(`/audit/permalinks/AuditRule/${secret.businessKey}/export`)).status).toBe(404);
      const trailLink = new URL(links.body.links.auditTrail, 'http://changegate.test');
      const followed = await auditor.get(`${trailLink.pathname}${trailLink.search}`);
      expect(followed.status).toBe(200);
      expect(followed.body.entries).toEqual([]);
      expect(seqsOf((await insider.client.get(`${trailLink.pathname}${trailLink.search}`)).body.entries, secret.businessKey)).toEqual(mine);
    });

    it('needs AuditingRule.View as well, even for a rule whose view list is open to all', async () => {
      const trailOnly = (await buildUser(t, { grants: [{ privilege: 'AuditTrail.View' }] })).client;
      const seqs = seqsOf(await entries(t, `o:AuditRule k:${open.businessKey}`, auditor), open.businessKey);
      expect(seqs).toHaveLength(1);
      expect(seqsOf(await entries(t, 'o:AuditRule', trailOnly), open.businessKey)).toEqual([]);
      expect(seqsOf(await entries(t, '', trailOnly), open.businessKey)).toEqual([]);
      expect((await trailOnly.get(`/audit/entries/${seqs[0]}`)).status).toBe(404);
      expect((await trailOnly.get(`/audit/rules/${open.businessKey}`)).status).toBe(404);
    });

    it('answers a direct fetch or a restore of one with 404, as for an entry that does not exist', async () => {
      const [created, edited] = [...seqsOf(await entries(t, `k:${secret.businessKey}`, insider.client), secret.businessKey)].reverse();
      for (const seq of [created, edited]) {
        const fetched = await auditor.get(`/audit/entries/${seq}`);
        expect([fetched.status, fetched.body.error.code]).toEqual([404, 'not_found']);
        expect(fetched.body.error.message).toBe((await auditor.get('/audit/entries/999999999')).body.error.message.replace('999999999', String(seq)));
        expect((await insider.client.get(`/audit/entries/${seq}`)).body).toMatchObject({ seq, businessKey: secret.businessKey });
      }
      const restored = await auditor.post(`/audit/entries/${edited}/restore-before`, {});
      expect([restored.status, restored.body.error.code]).toEqual([404, 'not_found']);
      expect((await t.admin.get(`/audit/rules/${secret.businessKey}`)).body).toMatchObject({ description: 'who we watch, and why', version: 2 });
    });

    it('follows the rule\'s security as it changes, and a deleted rule\'s last security in the Trash Can', async () => {
      const rule = await buildRule(t, { name: unique('trShifting'), security: { view: ['admin'] } });
      expect(seqsOf(await entries(t, `k:${rule.businessKey}`, auditor), rule.businessKey)).toEqual([]);
      expect((await t.admin.patch(`/audit/rules/${rule.businessKey}/security`, { view: null })).status).toBe(200);
      expect(seqsOf(await entries(t, `k:${rule.businessKey}`, auditor), rule.businessKey)).toHaveLength(2);
      expect((await t.admin.patch(`/audit/rules/${rule.businessKey}/security`, { view: ['admin', insider.username] })).status).toBe(200);
      expect(seqsOf(await entries(t, `k:${rule.businessKey}`, auditor), rule.businessKey)).toEqual([]);

      expect((await t.admin.delete(`/audit/rules/${rule.businessKey}`)).status).toBe(204);
      const trash = (client: TestClient) => client.get(`/audit/trash?q=${encodeURIComponent(`o:AuditRule k:${rule.businessKey}`)}`);
      const insiderTrash = await trash(insider.client);
      expect(insiderTrash.body.entries).toHaveLength(1);
      expect((await trash(auditor)).body.entries).toEqual([]);
      expect(seqsOf(await entries(t, `k:${rule.businessKey}`, auditor), rule.businessKey)).toEqual([]);
      const seq = insiderTrash.body.entries[0].seq;
      expect((await auditor.get(`/audit/entries/${seq}`)).status).toBe(404);
      expect((await auditor.post(`/audit/trash/${seq}/restore`, {})).status).toBe(404);
    });
  });
});
