import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, signIn, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildChange, buildDevice, buildGroup } from '../changes/changes.test-kit.ts';
import { findChangeByName } from '../changes/index.ts';
import { findCredential } from '../inventory/index.ts';
import { buildRule, history, rowCounts, unique, type EntryView } from './auditing.test-kit.ts';

describe.each(DATABASE_KINDS)('restore on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
    await buildRule(t, { namePattern: 'rs-*', level: 'full_audit' });
    await buildRule(t, { namePattern: 'diff-*', level: 'diff_only' });
    await buildRule(t, { objectType: 'Credential', namePattern: '*', level: 'full_audit' });
    await buildRule(t, { objectType: 'User', namePattern: 'rs-*', level: 'full_audit' });
    await buildRule(t, { objectType: 'Partition', namePattern: 'Rs*', level: 'full_audit' });
    await buildRule(t, { objectType: 'Change', namePattern: 'CHG-RS-*', level: 'full_audit' });
  });
  afterAll(() => t.close());

  const device = async (name: string) => (await t.admin.get(`/devices/${name}`)).body;
  const trail = (name: string) => history(t, 'Device', `GLOBAL.${name}`);
  const restore = (entry: EntryView | undefined, side: 'before' | 'after', body?: unknown) => t.admin.post(`/audit/entries/${entry?.seq}/restore-${side}`, body);

  /** A device created, then its port changed, then its description: three entries. */
  async function editedDevice(): Promise<{ name: string; entries: EntryView[] }> {
    const name = unique('rs-dev');
    await buildDevice(t, { name, description: 'first' });
    expect((await t.admin.patch(`/devices/${name}`, { port: 2022 })).status).toBe(200);
    expect((await t.admin.patch(`/devices/${name}`, { description: 'third' })).status).toBe(200);
    return { name, entries: await trail(name) };
  }

  describe('the seed\'s matrix', () => {
    it('offers after only for a creation, both for a modification, before only for a deletion', async () => {
      const { name, entries } = await editedDevice();
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const all = await trail(name);
      expect(all.map((entry) => [entry.action, entry.restore])).toEqual([
        ['C', { before: false, after: true }],
        ['M', { before: true, after: true }],
        ['M', { before: true, after: true }],
        ['D', { before: true, after: false }],
      ]);
      expect(entries).toHaveLength(3);
    });

    it('created × before: refused, nothing written', async () => {
      const { entries } = await editedDevice();
      const counts = await rowCounts(t);
      const answer = await restore(entries[0], 'before');
      expect([answer.status, answer.body.error.code]).toEqual([409, 'restore_unavailable']);
      expect(answer.body.error.message).toMatch(/creation/);
      expect(await rowCounts(t)).toEqual(counts);
    });

    it('created × after: the object as it was created, a new audited change naming the entry', async () => {
      const { name, entries } = await editedDevice();
      const created = entries[0] as EntryView;
      const answer = await restore(created, 'after', { reason: 'back to square one' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ restoredFrom: created.seq, side: 'after', objectType: 'Device', businessKey: `GLOBAL.${name}`, action: 'M', version: 4 });
      expect(answer.body.entry).toMatchObject({ action: 'M', level: 2, user: 'admin', restoredFrom: created.seq, reason: `restore to after entry #${created.seq}: back to square one` });
      expect(await device(name)).toMatchObject({ port: 22, description: 'first', version: 4, updatedBy: 'admin' });
    });

    it('modified × before: undoes that change and every later one', async () => {
      const { name, entries } = await editedDevice();
      const answer = await restore(entries[1], 'before');
      expect(answer.status).toBe(200);
      expect(await device(name)).toMatchObject({ port: 22, description: 'first', version: 4 });
      expect(answer.body.entry.diff).toEqual({ port: { before: 2022, after: 22 }, description: { before: 'third', after: 'first' } });
    });

    it('modified × after: undoes every later change, keeping that one', async () => {
      const { name, entries } = await editedDevice();
      expect((await restore(entries[1], 'after')).status).toBe(200);
      expect(await device(name)).toMatchObject({ port: 2022, description: 'first', version: 4 });
    });

    it('deleted × before: brings the object back, id and all, and takes it out of the Trash Can', async () => {
      const { name, entries } = await editedDevice();
      const id = (await device(name)).id;
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const deleted = (await trail(name)).at(-1);
      expect((await t.admin.get(`/audit/trash?q=k:GLOBAL.${name}`)).body.entries.map((entry: EntryView) => entry.seq)).toEqual([deleted?.seq]);
      const answer = await t.admin.post(`/audit/trash/${deleted?.seq}/restore`, { reason: 'deleted by mistake' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ action: 'C', objectId: id, version: 4, entry: { action: 'C', level: 2, restoredFrom: deleted?.seq } });
      expect(await device(name)).toMatchObject({ id, port: 2022, description: 'third', version: 4, createdAt: entries[0]?.after?.createdAt });
      expect((await t.admin.get(`/audit/trash?q=k:GLOBAL.${name}`)).body.entries).toEqual([]);
    });

    it('deleted × after: refused, nothing written', async () => {
      const { name } = await editedDevice();
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const counts = await rowCounts(t);
      const answer = await restore((await trail(name)).at(-1), 'after');
      expect([answer.status, answer.body.error.code]).toEqual([409, 'restore_unavailable']);
      expect(answer.body.error.message).toMatch(/deletion/);
      expect(await rowCounts(t)).toEqual(counts);
    });

    it('restores a restore, and that again', async () => {
      const { name, entries } = await editedDevice();
      const first = await restore(entries[1], 'before');
      expect(await device(name)).toMatchObject({ port: 22, description: 'first' });
      const undo = await restore(first.body.entry, 'before');
      expect(undo.status).toBe(200);
      expect(await device(name)).toMatchObject({ port: 2022, description: 'third', version: 5 });
      const redo = await restore(undo.body.entry, 'before');
      expect(redo.status).toBe(200);
      expect(await device(name)).toMatchObject({ port: 22, description: 'first', version: 6 });
      const all = await trail(name);
      expect(all.map((entry) => entry.restoredFrom)).toEqual([null, null, null, entries[1]?.seq, first.body.entry.seq, undo.body.entry.seq]);
      expect(all.slice(3).map((entry) => entry.reason)).toEqual([
        `restore to before entry #${entries[1]?.seq}`,
        `restore to before entry #${first.body.entry.seq}`,
        `restore to before entry #${undo.body.entry.seq}`,
      ]);
    });

    it('restores through the service too: restoreBefore and restoreAfter', async () => {
      const { name, entries } = await editedDevice();
      const admin = { userId: (await t.admin.get('/me')).body.user.id, username: 'admin' };
      const result = await t.cg.services.auditTrail.restoreBefore(admin, entries[2]?.seq as number, 'scripted');
      expect(result).toMatchObject({ side: 'before', action: 'M', version: 4 });
      expect(await device(name)).toMatchObject({ port: 2022, description: 'first' });
      await t.cg.services.auditTrail.restoreAfter(admin, entries[2]?.seq as number);
      expect(await device(name)).toMatchObject({ port: 2022, description: 'third', version: 5 });
    });

    it('cannot restore a Diff only entry: it holds no snapshot', async () => {
      const name = unique('diff-dev');
      await buildDevice(t, { name });
      expect((await t.admin.patch(`/devices/${name}`, { port: 2200 })).status).toBe(200);
      const [, modified] = await trail(name);
      expect(modified).toMatchObject({ level: 1, restore: { before: false, after: false } });
      const answer = await restore(modified, 'before');
      expect([answer.status, answer.body.error.code]).toEqual([409, 'restore_unavailable']);
      expect(answer.body.error.message).toMatch(/Diff only/);
    });
  });

  describe('a restore that cannot apply writes nothing', () => {
    it('when the name is taken by another object now', async () => {
      const name = unique('rs-taken');
      await buildDevice(t, { name });
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const deleted = (await trail(name)).at(-1);
      await buildDevice(t, { name, hostname: '192.0.2.99' });
      const counts = await rowCounts(t);
      const answer = await restore(deleted, 'before');
      expect([answer.status, answer.body.error.code]).toEqual([409, 'restore_blocked']);
      expect(answer.body.error.details.blockers).toEqual([`Device GLOBAL.${name}: another device is now named ${name} in its partition`]);
      expect(answer.body.error.message).toContain('Nothing was written');
      expect(await rowCounts(t)).toEqual(counts);
      expect(await device(name)).toMatchObject({ hostname: '192.0.2.99', version: 1 });
    });

    it('when an object it points at is gone, until that one is restored first', async () => {
      const name = unique('rs-host');
      await buildDevice(t, { name });
      const created = await t.admin.post('/credentials', { device: name, account: 'deploy', secret: { password: 'correct horse battery' } });
      expect(created.status).toBe(201);
      expect((await t.admin.delete(`/credentials/${created.body.id}`)).status).toBe(204);
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const [credentialDeleted] = (await history(t, 'Credential', `GLOBAL.deploy@${name}`)).filter((entry) => entry.action === 'D');
      const counts = await rowCounts(t);
      const blocked = await restore(credentialDeleted, 'before');
      expect([blocked.status, blocked.body.error.code]).toEqual([409, 'restore_blocked']);
      expect(blocked.body.error.details.blockers).toEqual([`its device (Device GLOBAL.${name}) is gone: restore it first, from the Trash Can`]);
      expect(await rowCounts(t)).toEqual(counts);

      expect((await restore((await trail(name)).at(-1), 'before')).status).toBe(200);
      expect((await restore(credentialDeleted, 'before')).status).toBe(200);
      // The secret came back sealed to the same id, so the vault opens it again.
      const credential = await findCredential(t.cg.database.db, created.body.id);
      if (!credential) throw new Error('the credential did not come back');
      expect(t.cg.services.credentials.unsealForSession(credential)).toEqual({ account: 'deploy', password: 'correct horse battery' });
    });

    it('when the change\'s script is frozen since its first session', async () => {
      const host = await buildDevice(t, { name: unique('rs-chg') });
      const group = await buildGroup(t, { approvers: ['admin'] });
      const change = await buildChange(t, { name: unique('CHG-RS-'), accessGroup: group.name, devices: [host.name] });
      expect((await t.admin.patch(`/changes/${change.name}`, { script: 'uptime\n' })).status).toBe(200);
      const stored = await findChangeByName(t.cg.database.db, change.name);
      if (!stored) throw new Error('the change is missing');
      await t.cg.database.db.transaction().execute((trx) => t.cg.services.changes.freezeScript(trx, stored));
      const [, edited] = await history(t, 'Change', `GLOBAL.${change.name}`);
      const counts = await rowCounts(t);
      const answer = await restore(edited, 'before');
      expect([answer.status, answer.body.error.code]).toEqual([409, 'restore_blocked']);
      expect(answer.body.error.details.blockers[0]).toMatch(new RegExp(`^Change GLOBAL\\.${change.name}: .*frozen`));
      expect(await rowCounts(t)).toEqual(counts);
    });
  });

  describe('other objects', () => {
    it('restores a user profile, never touching the password', async () => {
      const { username, password, client } = await buildUser(t, { username: unique('rs-user') });
      expect((await client.patch('/me', { displayName: 'Renamed', timeZone: 'Asia/Tokyo' })).status).toBe(200);
      const [, edited] = await history(t, 'User', `GLOBAL.${username}`);
      expect((await restore(edited, 'before')).status).toBe(200);
      expect((await t.admin.get(`/users/${username}`)).body).toMatchObject({ displayName: expect.stringMatching(/^User /), timeZone: 'UTC' });
      expect((await (await signIn(t.cg, username, password)).get('/me')).status).toBe(200);
    });

    it('brings a deleted partition back from the Trash Can', async () => {
      const name = unique('RsPlant');
      expect((await t.admin.post('/partitions', { name, description: 'plant' })).status).toBe(201);
      expect((await t.admin.delete(`/partitions/${name}`)).status).toBe(204);
      const trash = await t.admin.get(`/audit/trash?q=o:Partition k:GLOBAL.${name}`);
      expect(trash.body.entries).toHaveLength(1);
      expect((await t.admin.post(`/audit/trash/${trash.body.entries[0].seq}/restore`)).status).toBe(200);
      expect((await t.admin.get(`/partitions/${name}`)).body).toMatchObject({ name, description: 'plant' });
    });

    it('restores a deleted audit rule, audited by the built-in rule', async () => {
      const rule = await buildRule(t, { description: 'short-lived' });
      expect((await t.admin.delete(`/audit/rules/${rule.businessKey}`)).status).toBe(204);
      const deleted = (await history(t, 'AuditRule', rule.businessKey)).at(-1);
      expect((await restore(deleted, 'before')).status).toBe(200);
      expect((await t.admin.get(`/audit/rules/${rule.businessKey}`)).body).toMatchObject({ id: rule.id, description: 'short-lived' });
    });
  });

  describe('privileges', () => {
    it('needs AuditTrail.View to see an entry and AuditTrail.Restore to restore it', async () => {
      const { entries } = await editedDevice();
      const viewer = await buildUser(t, { grants: [{ privilege: 'AuditTrail.View' }] });
      const partitionViewer = await buildUser(t, { grants: [{ privilege: 'AuditTrail.View', partition: 'GLOBAL' }] });
      const stranger = await buildUser(t);
      expect((await viewer.client.get(`/audit/entries/${entries[1]?.seq}`)).status).toBe(200);
      const denied = await viewer.client.post(`/audit/entries/${entries[1]?.seq}/restore-before`);
      expect([denied.status, denied.body.error.code]).toEqual([403, 'forbidden']);
      expect((await partitionViewer.client.get(`/audit/entries/${entries[1]?.seq}`)).status).toBe(200);
      const hidden = await stranger.client.post(`/audit/entries/${entries[1]?.seq}/restore-before`);
      expect([hidden.status, hidden.body.error.code]).toEqual([404, 'not_found']);
      expect((await stranger.client.get('/audit/entries/999999999')).status).toBe(404);
      const restorer = await buildUser(t, {
        grants: [
          { privilege: 'AuditTrail.View' },
          { privilege: 'AuditTrail.Restore', partition: 'GLOBAL' },
          // The entry changed the device's port: restoring it changes the port back, Device.Pin's to do.
          { privilege: 'Device.Edit', partition: 'GLOBAL' },
          { privilege: 'Device.Pin', partition: 'GLOBAL' },
        ],
      });
      const done = await restorer.client.post(`/audit/entries/${entries[1]?.seq}/restore-before`);
      expect(done.status).toBe(200);
      expect(done.body.entry.user).toBe(restorer.username);
    });
  });
});
