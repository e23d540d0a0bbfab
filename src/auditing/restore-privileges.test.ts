import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { keyPair, ssh } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { buildChange, buildDevice, buildGroup, eventsWhere } from '../changes/changes.test-kit.ts';
import { buildRule, history, rowCounts, unique, type EntryView } from './auditing.test-kit.ts';
import type { ObjectMeta } from '../objects/object.ts';
import { AuditTrailService, type RestoreConsequences } from './audit-trail.service.ts';
import { restoreNeeds } from './restore-privileges.ts';
import { timeZoneOf } from '../identity/index.ts';

const object = (fields: Partial<ObjectMeta> & Record<string, unknown>): ObjectMeta =>
  ({ id: 'o1', partitionId: 'p1', name: 'web01', applicationId: null, version: 1, createdAt: new Date(0), createdBy: 'a', updatedAt: new Date(0), updatedBy: 'a', ...fields }) as ObjectMeta;

const DEVICE = {
  create: 'Device.Create',
  edit: 'Device.Edit',
  delete: 'Device.Delete',
  guarded: { fields: ['hostname', 'port', 'hostKeyFingerprint'], onCreate: ['hostKeyFingerprint'], privilege: 'Device.Pin', what: 'address' },
} as const;

describe('what a restore needs (the rule alone)', () => {
  it('an edit needs the edit privilege where the object is, and where it moves to', () => {
    expect(restoreNeeds(DEVICE, 'device', object({ port: 22 }), object({ port: 22, description: 'x' }))).toEqual([
      { privilege: 'Device.Edit', partitionId: 'p1', because: 'changes the device' },
    ]);
    expect(restoreNeeds(DEVICE, 'device', object({}), object({ partitionId: 'p2' })).map((need) => [need.privilege, need.partitionId])).toEqual([
      ['Device.Edit', 'p1'],
      ['Device.Edit', 'p2'],
    ]);
  });

  it('a change of a guarded field needs its privilege too', () => {
    expect(restoreNeeds(DEVICE, 'device', object({ port: 22 }), object({ port: 2222 })).map((need) => need.privilege)).toEqual(['Device.Edit', 'Device.Pin']);
  });

  it('bringing an object back is a create, taking it away a delete', () => {
    expect(restoreNeeds(DEVICE, 'device', undefined, object({}))).toEqual([{ privilege: 'Device.Create', partitionId: 'p1', because: 'brings the device back' }]);
    expect(restoreNeeds(DEVICE, 'device', object({}), undefined)).toEqual([{ privilege: 'Device.Delete', partitionId: 'p1', because: 'deletes the device' }]);
    // Brought back with a pinned key, as creating it with one needs the guarded privilege.
    expect(restoreNeeds(DEVICE, 'device', undefined, object({ hostKeyFingerprint: 'SHA256:x' })).map((need) => need.privilege)).toEqual(['Device.Create', 'Device.Pin']);
  });

  it('holds system-wide privileges system-wide, and a partition\'s in the partition itself', () => {
    const user = { create: 'User.Admin', edit: 'User.Admin', delete: 'User.Admin', scope: 'system' } as const;
    expect(restoreNeeds(user, 'user', object({}), object({ email: 'x' }))[0]?.partitionId).toBeNull();
    const partition = { create: 'Partition.Create', edit: 'Partition.Edit', delete: 'Partition.Delete', scope: 'self' } as const;
    expect(restoreNeeds(partition, 'partition', object({ id: 'plant' }), object({ id: 'plant' }))[0]?.partitionId).toBe('plant');
    expect(restoreNeeds(partition, 'partition', undefined, object({ id: 'plant' }))[0]).toMatchObject({ privilege: 'Partition.Create', partitionId: null });
  });
});

describe.each(DATABASE_KINDS)('restore obeys the privilege model on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  let sshPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-restore-'));
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32' });
    sshPort = (await t.cg.startBackground()).sshPort;
    for (const objectType of ['User', 'Device', 'Credential', 'AccessGroup', 'Change', 'Partition', 'Application', 'Webhook']) {
      await buildRule(t, { objectType, namePattern: objectType === 'Change' ? 'CHG-*' : 'tr*', level: 'full_audit' });
    }
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A user holding these privileges (system-wide unless a partition is given), signed in. */
  const holder = (...grants: Array<string | { privilege: string; partition: string }>) =>
    buildUser(t, { grants: grants.map((grant) => (typeof grant === 'string' ? { privilege: grant } : grant)) });
  const grant = async (username: string, privilege: string, partition?: string) =>
    expect((await t.admin.post('/grants', { username, privilege, level: 'access', ...(partition && { partition }) })).status).toBe(201);
  const restoreOf = (client: TestClient, entry: EntryView | undefined, side: 'before' | 'after') => client.post(`/audit/entries/${entry?.seq}/restore-${side}`, {});

  /** Everything a refused restore must leave as it was: row counts, the newest event and entry, and the rows named. */
  type Table = 'app_user' | 'device' | 'access_group' | 'credential' | 'change' | 'partition' | 'application' | 'webhook' | 'audit_rule' | 'api_token' | 'ssh_public_key';
  async function world(rows: Array<{ table: Table; column?: 'id' | 'user_id'; id: string }> = []) {
    const db = t.cg.database.db;
    const newest = async (table: 'event' | 'audit_entry') => Number((await db.selectFrom(table).select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirstOrThrow()).seq);
    const read = [];
    for (const row of rows) {
      read.push(await db.selectFrom(row.table).selectAll().where(row.column ?? 'id', '=', row.id).orderBy('id').execute());
    }
    return { counts: await rowCounts(t), event: await newest('event'), entry: await newest('audit_entry'), rows: JSON.stringify(read) };
  }

  function expectRefused(answer: { status: number; body: { error: { code: string; message: string; details?: { privilege?: string } } } }, privilege: string) {
    expect([answer.status, answer.body.error.code, answer.body.error.details?.privilege]).toEqual([403, 'forbidden', privilege]);
    expect(answer.body.error.message).toContain(`needs the ${privilege} privilege`);
  }

  describe('the issue\'s attack: re-enabling a disabled user by restoring the entry before the disable', () => {
    let victim: { username: string; id: string; token: TestClient; keyFile: string };
    let disabled: EntryView;

    /** Whether the victim's key still signs in at the gateway: signed in, it is told no change lets it onto the device. */
    const keySignsIn = async () => {
      const result = await ssh(sshPort, `${victim.username}@tr-gw`, 'true', { key: victim.keyFile });
      if (result.code === 255) {
        expect(result.stderr).toMatch(/Permission denied/);
        return false;
      }
      expect([result.code, result.stderr]).toEqual([1, expect.stringContaining('No change lets you onto device tr-gw')]);
      return true;
    };

    beforeAll(async () => {
      await buildDevice(t, { name: 'tr-gw', hostname: '127.0.0.1', port: 9 });
      const user = await buildUser(t, { username: unique('tr-victim') });
      const token = await user.client.post('/tokens', { name: 'laptop' });
      expect(token.status).toBe(201);
      const key = keyPair(dir, `${user.username}-key`);
      expect((await user.client.post('/me/ssh-keys', { name: 'laptop', publicKey: key.publicKey })).status).toBe(201);
      victim = { username: user.username, id: (await user.client.get('/me')).body.user.id, token: new TestClient(t.cg, { bearer: token.body.token }), keyFile: key.file };
      expect((await victim.token.get('/me')).status).toBe(200);
      expect(await keySignsIn()).toBe(true);

      expect((await t.admin.patch(`/users/${victim.username}`, { displayName: 'Victim Before' })).status).toBe(200);
      expect((await t.admin.post(`/users/${victim.username}/disable`)).status).toBe(200);
      expect((await t.admin.patch(`/users/${victim.username}`, { displayName: 'Victim After' })).status).toBe(200);
      const found = (await history(t, 'User', `GLOBAL.${victim.username}`)).find((entry) => entry.action === 'M' && 'disabledAt' in entry.diff);
      if (!found) throw new Error('the disable was not audited');
      disabled = found;
      expect(disabled.before).toMatchObject({ disabledAt: null, displayName: 'Victim Before' });
      expect((await victim.token.get('/me')).status).toBe(401);
      expect(await keySignsIn()).toBe(false);
    });

    const victimRows = () =>
      world([
        { table: 'app_user', id: victim.id },
        { table: 'api_token', column: 'user_id', id: victim.id },
        { table: 'ssh_public_key', column: 'user_id', id: victim.id },
      ]);

    it('refuses a holder of AuditTrail.Restore alone with 403 naming User.Admin, writing nothing; the token and key still fail', async () => {
      const attacker = await holder('AuditTrail.View', 'AuditTrail.Restore');
      const before = await victimRows();
      expectRefused(await restoreOf(attacker.client, disabled, 'before'), 'User.Admin');
      expectRefused(await restoreOf(attacker.client, disabled, 'after'), 'User.Admin');
      expect(await victimRows()).toEqual(before);
      expect((await victim.token.get('/me')).status).toBe(401);
      expect(await keySignsIn()).toBe(false);
    });

    it('lets a user administrator restore the profile, but the account stays disabled and its token and key still fail', async () => {
      const userAdmin = await holder('AuditTrail.View', 'AuditTrail.Restore', 'User.Admin');
      const tokensAndKeys = await world([
        { table: 'api_token', column: 'user_id', id: victim.id },
        { table: 'ssh_public_key', column: 'user_id', id: victim.id },
      ]);
      const answer = await restoreOf(userAdmin.client, disabled, 'before');
      expect(answer.status).toBe(200);
      expect(answer.body.entry).toMatchObject({ user: userAdmin.username, diff: { displayName: { before: 'Victim After', after: 'Victim Before' } } });
      expect(answer.body.entry.diff).not.toHaveProperty('disabledAt');
      expect((await t.admin.get(`/users/${victim.username}`)).body).toMatchObject({ displayName: 'Victim Before', disabled: true });
      expect((await world([
        { table: 'api_token', column: 'user_id', id: victim.id },
        { table: 'ssh_public_key', column: 'user_id', id: victim.id },
      ])).rows).toEqual(tokensAndKeys.rows);
      expect((await victim.token.get('/me')).status).toBe(401);
      expect(await keySignsIn()).toBe(false);
    });
  });

  describe('a user administrator restores only the profile of a user they could edit directly', () => {
    it('refuses the profile of a more privileged user with 403 more_privileged_user, writing nothing', async () => {
      const boss = await buildUser(t, { username: unique('tr-boss'), grants: [{ privilege: 'Device.Pin' }] });
      expect((await t.admin.patch(`/users/${boss.username}`, { email: 'boss@example.com' })).status).toBe(200);
      const [, edited] = await history(t, 'User', `GLOBAL.${boss.username}`);
      expect(edited).toMatchObject({ action: 'M', level: 2 });
      const userAdmin = await holder('AuditTrail.View', 'AuditTrail.Restore', 'User.Admin');
      const id = (await t.admin.get(`/users/${boss.username}`)).body.id;
      const before = await world([{ table: 'app_user', id }]);
      const refused = await restoreOf(userAdmin.client, edited, 'before');
      expect([refused.status, refused.body.error.code, refused.body.error.details?.privilege]).toEqual([403, 'more_privileged_user', 'Device.Pin']);
      expect(await world([{ table: 'app_user', id }])).toEqual(before);
      expect((await t.admin.get(`/users/${boss.username}`)).body).toMatchObject({ email: 'boss@example.com' });
    });
  });

  describe('devices: Device.Edit, Device.Pin for the address or host key, Device.Create to bring one back', () => {
    it('needs Device.Pin to put back a hostname, port or host key, and only Device.Edit for the rest', async () => {
      const name = unique('tr-dev');
      await buildDevice(t, { name, hostname: '192.0.2.10', port: 22 });
      const pinned = keyPair(dir, `${name}-host`).publicKey;
      expect((await t.admin.patch(`/devices/${name}`, { hostname: '192.0.2.66', port: 2022, hostKey: pinned })).status).toBe(200);
      expect((await t.admin.patch(`/devices/${name}`, { description: 'edited' })).status).toBe(200);
      const [, moved, described] = await history(t, 'Device', `GLOBAL.${name}`);
      const id = (await t.admin.get(`/devices/${name}`)).body.id;

      const editor = await holder('AuditTrail.View', 'AuditTrail.Restore', { privilege: 'Device.Edit', partition: 'GLOBAL' });
      const before = await world([{ table: 'device', id }]);
      const refused = await restoreOf(editor.client, moved, 'before');
      expectRefused(refused, 'Device.Pin');
      expect(refused.body.error.message).toContain('hostname, port or host key');
      expect(await world([{ table: 'device', id }])).toEqual(before);
      // To after the move, only the description changes back, not the address: Device.Edit is enough.
      expect((await restoreOf(editor.client, moved, 'after')).status).toBe(200);
      expect((await t.admin.get(`/devices/${name}`)).body).toMatchObject({ hostname: '192.0.2.66', port: 2022, description: '' });

      const withoutEdit = await holder('AuditTrail.View', 'AuditTrail.Restore', { privilege: 'Device.Pin', partition: 'GLOBAL' });
      expectRefused(await restoreOf(withoutEdit.client, described, 'before'), 'Device.Edit');
      const elsewhere = await holder('AuditTrail.View', 'AuditTrail.Restore', { privilege: 'Device.Edit', partition: (await t.admin.post('/partitions', { name: unique('trPlant') })).body.name });
      expectRefused(await restoreOf(elsewhere.client, described, 'before'), 'Device.Edit');

      await grant(editor.username, 'Device.Pin', 'GLOBAL');
      const done = await restoreOf(editor.client, moved, 'before');
      expect(done.status).toBe(200);
      expect((await t.admin.get(`/devices/${name}`)).body).toMatchObject({ hostname: '192.0.2.10', port: 22, hostKeyFingerprint: null });
    });

    it('a restore that moves a device does what the same edit does: its open request is cancelled and the move logged', async () => {
      const name = unique('tr-dev');
      await buildDevice(t, { name, hostname: '192.0.2.10', port: 22 });
      expect((await t.admin.patch(`/devices/${name}`, { port: 2022 })).status).toBe(200);
      const [, moved] = await history(t, 'Device', `GLOBAL.${name}`);
      const executor = await holder();
      const group = await buildGroup(t, { executors: [executor.username] });
      await buildChange(t, { accessGroup: group.name, devices: [name] });
      const asked = await executor.client.post('/requests', { device: name });
      expect(asked.status).toBe(201);

      const restorer = await holder('AuditTrail.View', 'AuditTrail.Restore', 'Device.Edit', 'Device.Pin');
      expect((await restoreOf(restorer.client, moved, 'before')).status).toBe(200);
      expect((await t.admin.get(`/devices/${name}`)).body).toMatchObject({ port: 22 });
      const request = await executor.client.get(`/requests/${asked.body.request.number}`);
      expect(request.body).toMatchObject({ status: 'cancelled' });
      expect(request.body.closeReason).toContain(name);
      const events = await eventsWhere(t, { action: 'device.identity.change', subject: `device:GLOBAL.${name}` });
      expect(events.map((event) => [event.actor, (event.data.before as { port: number }).port, (event.data.after as { port: number }).port])).toEqual([
        ['admin', 22, 2022],
        [restorer.username, 2022, 22],
      ]);
    });

    it('needs Device.Create to bring a deleted device back, from the Trash Can or the trail', async () => {
      const name = unique('tr-gone');
      await buildDevice(t, { name });
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const deleted = (await history(t, 'Device', `GLOBAL.${name}`)).at(-1);
      const editor = await holder('AuditTrail.View', 'AuditTrail.Restore', 'Device.Edit', 'Device.Pin', 'Device.Delete');
      const before = await world();
      expectRefused(await editor.client.post(`/audit/trash/${deleted?.seq}/restore`, {}), 'Device.Create');
      expectRefused(await restoreOf(editor.client, deleted, 'before'), 'Device.Create');
      expect(await world()).toEqual(before);
      expect((await t.admin.get(`/devices/${name}`)).status).toBe(404);

      await grant(editor.username, 'Device.Create');
      expect((await editor.client.post(`/audit/trash/${deleted?.seq}/restore`, {})).status).toBe(200);
      expect((await t.admin.get(`/devices/${name}`)).status).toBe(200);
    });

    it('needs Device.Pin as well to bring back a device with its host key pinned', async () => {
      const name = unique('tr-pinned');
      await buildDevice(t, { name, hostKey: keyPair(dir, `${name}-host`).publicKey });
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const deleted = (await history(t, 'Device', `GLOBAL.${name}`)).at(-1);
      const creator = await holder('AuditTrail.View', 'AuditTrail.Restore', 'Device.Create', 'Device.Edit');
      const before = await world();
      expectRefused(await creator.client.post(`/audit/trash/${deleted?.seq}/restore`, {}), 'Device.Pin');
      expect(await world()).toEqual(before);
      await grant(creator.username, 'Device.Pin');
      expect((await creator.client.post(`/audit/trash/${deleted?.seq}/restore`, {})).status).toBe(200);
      expect((await t.admin.get(`/devices/${name}`)).body.hostKeyFingerprint).toMatch(/^SHA256:/);
    });
  });

  describe('every other kind: the privilege that allows the same change directly, in the object\'s partition', () => {
    /** Each kind: make an audited object, edit it, and the grant a restore of the edit needs. */
    const kinds: Array<{ type: string; table: Table; privilege: string; partition?: (key: string) => string; make: () => Promise<string> }> = [
      {
        type: 'AccessGroup',
        table: 'access_group',
        privilege: 'AccessGroup.Edit',
        make: async () => {
          const group = await buildGroup(t, { name: unique('tr-group') });
          expect((await t.admin.patch(`/access-groups/${encodeURIComponent(group.name)}`, { description: 'edited' })).status).toBe(200);
          return `GLOBAL.${group.name}`;
        },
      },
      {
        type: 'Credential',
        table: 'credential',
        privilege: 'Credential.Edit',
        make: async () => {
          const device = await buildDevice(t, { name: unique('tr-host') });
          const created = await t.admin.post('/credentials', { device: device.name, account: 'tr-deploy', secret: { password: 'correct horse battery' } });
          expect(created.status).toBe(201);
          expect((await t.admin.patch(`/credentials/${created.body.id}`, { description: 'edited' })).status).toBe(200);
          return `GLOBAL.${created.body.name}`;
        },
      },
      {
        type: 'Change',
        table: 'change',
        privilege: 'Change.Edit',
        make: async () => {
          const device = await buildDevice(t, { name: unique('tr-chg-host') });
          const group = await buildGroup(t, { name: unique('tr-chg-group') });
          const change = await buildChange(t, { accessGroup: group.name, devices: [device.name] });
          expect((await t.admin.patch(`/changes/${change.name}`, { description: 'edited' })).status).toBe(200);
          return `GLOBAL.${change.name}`;
        },
      },
      {
        type: 'Application',
        table: 'application',
        privilege: 'Application.Edit',
        make: async () => {
          const name = unique('trApp');
          expect((await t.admin.post('/applications', { partition: 'GLOBAL', name })).status).toBe(201);
          expect((await t.admin.patch(`/applications/GLOBAL/${name}`, { description: 'edited' })).status).toBe(200);
          return `GLOBAL.${name}`;
        },
      },
      {
        type: 'Partition',
        table: 'partition',
        privilege: 'Partition.Edit',
        // A partition's privileges are held in the partition itself.
        partition: (key) => key.slice('GLOBAL.'.length),
        make: async () => {
          const name = unique('trPart');
          expect((await t.admin.post('/partitions', { name })).status).toBe(201);
          expect((await t.admin.patch(`/partitions/${name}`, { description: 'edited' })).status).toBe(200);
          return `GLOBAL.${name}`;
        },
      },
      {
        type: 'AuditRule',
        table: 'audit_rule',
        privilege: 'AuditingRule.Edit',
        make: async () => {
          const rule = await buildRule(t, { name: unique('trRule') });
          expect((await t.admin.patch(`/audit/rules/${rule.businessKey}`, { description: 'edited' })).status).toBe(200);
          return rule.businessKey;
        },
      },
      {
        type: 'Webhook',
        table: 'webhook',
        privilege: 'User.Admin',
        make: async () => {
          const created = await t.admin.post('/webhooks', { name: unique('tr-hook'), url: 'http://127.0.0.1:9/hook' });
          expect(created.status).toBe(201);
          expect((await t.admin.patch(`/webhooks/${created.body.webhook.id}`, { enabled: false })).status).toBe(200);
          return `GLOBAL.${created.body.webhook.name}`;
        },
      },
    ];

    it.each(kinds.map((entry) => [entry.type, entry] as const))('%s', async (type, { table, privilege, partition, make }) => {
      const key = await make();
      const [, edited] = await history(t, type, key);
      expect(edited).toMatchObject({ action: 'M', level: 2 });
      // Entries about an audit rule are shown only to those who may view the rule.
      const restorer = await holder('AuditTrail.View', 'AuditTrail.Restore', ...(type === 'AuditRule' ? ['AuditingRule.View'] : []));
      const row = [{ table, id: edited?.objectId as string }];
      const before = await world(row);
      expectRefused(await restoreOf(restorer.client, edited, 'before'), privilege);
      expect(await world(row)).toEqual(before);
      await grant(restorer.username, privilege, privilege === 'User.Admin' ? undefined : (partition?.(key) ?? 'GLOBAL'));
      const done = await restoreOf(restorer.client, edited, 'before');
      expect(done.status).toBe(200);
      expect(done.body.entry).toMatchObject({ user: restorer.username, restoredFrom: edited?.seq });
    });

    it('an audit rule\'s own security applies too', async () => {
      const rule = await buildRule(t, { name: unique('trGuarded'), security: { edit: ['admin'] } });
      expect((await t.admin.patch(`/audit/rules/${rule.businessKey}`, { description: 'edited' })).status).toBe(200);
      const [, edited] = await history(t, 'AuditRule', rule.businessKey);
      const restorer = await holder('AuditTrail.View', 'AuditTrail.Restore', 'AuditingRule.View', 'AuditingRule.Edit');
      const before = await world();
      const answer = await restoreOf(restorer.client, edited, 'before');
      expect([answer.status, answer.body.error.code]).toEqual([403, 'forbidden']);
      expect(answer.body.error.message).toMatch(/security of audit rule .* does not let you edit it/);
      expect(await world()).toEqual(before);
      expect((await restoreOf(t.admin, edited, 'before')).status).toBe(200);
    });
  });

  describe('what a restore sets off, as the object\'s own service would', () => {
    it('hands the write to the consequences inside its transaction, and runs what they return once committed', async () => {
      const name = unique('tr-effects');
      await buildDevice(t, { name, hostname: '192.0.2.10' });
      expect((await t.admin.patch(`/devices/${name}`, { hostname: '192.0.2.66' })).status).toBe(200);
      const [, moved] = await history(t, 'Device', `GLOBAL.${name}`);
      const admin = { userId: (await t.admin.get('/me')).body.user.id as string, username: 'admin' };
      const seen: string[] = [];
      const consequences: RestoreConsequences = {
        async afterRestore(trx, actor, write) {
          const inside = await trx.selectFrom('device').select('hostname').where('id', '=', write.after.id).executeTakeFirstOrThrow();
          seen.push(`${actor.username} ${write.type} ${String((write.before as { hostname?: string }).hostname)} -> ${inside.hostname}`);
          return async () => {
            const committed = await t.cg.database.db.selectFrom('device').select('hostname').where('id', '=', write.after.id).executeTakeFirstOrThrow();
            seen.push(`after commit: ${committed.hostname}`);
          };
        },
      };
      const trail = new AuditTrailService({ db: t.cg.database.db, clock: t.clock, objects: t.cg.objects, users: { timeZoneOf }, consequences });
      await trail.restoreBefore(admin, moved?.seq as number);
      expect(seen).toEqual(['admin Device 192.0.2.66 -> 192.0.2.10', 'after commit: 192.0.2.10']);

      // Consequences that refuse undo the restore: nothing is written.
      const refusing = new AuditTrailService({
        db: t.cg.database.db,
        clock: t.clock,
        objects: t.cg.objects,
        users: { timeZoneOf },
        consequences: { afterRestore: async () => Promise.reject(new Error('refused')) },
      });
      const before = await world();
      await expect(refusing.restoreAfter(admin, moved?.seq as number)).rejects.toThrow('refused');
      expect(await world()).toEqual(before);
      expect((await t.admin.get(`/devices/${name}`)).body.hostname).toBe('192.0.2.10');
    });
  });

  describe('the Trash Can restores only deletions of objects still deleted', () => {
    it('answers 409 not_in_trash for a non-deletion entry and for an object brought back already, writing nothing', async () => {
      const name = unique('tr-trash');
      await buildDevice(t, { name });
      expect((await t.admin.patch(`/devices/${name}`, { description: 'edited' })).status).toBe(200);
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const [created, edited, deleted] = await history(t, 'Device', `GLOBAL.${name}`);
      const before = await world();
      for (const entry of [created, edited]) {
        const answer = await t.admin.post(`/audit/trash/${entry?.seq}/restore`, {});
        expect([answer.status, answer.body.error.code]).toEqual([409, 'not_in_trash']);
        expect(answer.body.error.message).toMatch(/not a deletion/);
      }
      expect(await world()).toEqual(before);

      expect((await t.admin.post(`/audit/trash/${deleted?.seq}/restore`, {})).status).toBe(200);
      const after = await world();
      const again = await t.admin.post(`/audit/trash/${deleted?.seq}/restore`, {});
      expect([again.status, again.body.error.code]).toEqual([409, 'not_in_trash']);
      expect(again.body.error.message).toMatch(/brought back or changed since/);
      expect(await world()).toEqual(after);
      expect((await t.admin.get(`/audit/trash?q=k:GLOBAL.${name}`)).body.entries).toEqual([]);
    });

    it('answers 409 not_in_trash for an object deleted again since: only its newest deletion is in the Trash Can', async () => {
      const name = unique('tr-twice');
      await buildDevice(t, { name });
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const first = (await history(t, 'Device', `GLOBAL.${name}`)).at(-1);
      expect((await restoreOf(t.admin, first, 'before')).status).toBe(200);
      expect((await t.admin.delete(`/devices/${name}`)).status).toBe(204);
      const second = (await history(t, 'Device', `GLOBAL.${name}`)).at(-1);
      const before = await world();
      const stale = await t.admin.post(`/audit/trash/${first?.seq}/restore`, {});
      expect([stale.status, stale.body.error.code]).toEqual([409, 'not_in_trash']);
      expect(await world()).toEqual(before);
      expect((await t.admin.post(`/audit/trash/${second?.seq}/restore`, {})).status).toBe(200);
    });
  });
});
