import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildChange, buildDevice, buildGroup, changeId, eventsWhere, fromNow, HOUR, SCRIPT } from './changes.test-kit.ts';
import { findChangeByName } from './index.ts';

describe.each(DATABASE_KINDS)('access groups and changes on %s', (kind) => {
  let t: TestChangegate;
  let executor: Awaited<ReturnType<typeof buildUser>>;
  let approver: Awaited<ReturnType<typeof buildUser>>;
  beforeAll(async () => {
    // The clock moves hours ahead here; sessions must outlive that.
    t = await startTestChangegate(kind, { CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    executor = await buildUser(t);
    approver = await buildUser(t);
  });
  afterAll(() => t.close());

  /** A device and a group whose executor and approver are this file's users. */
  async function groupAndDevice(fields: Parameters<typeof buildGroup>[1] = {}) {
    const device = await buildDevice(t);
    const group = await buildGroup(t, { executors: [executor.username], approvers: [approver.username], ...fields });
    return { device: device.name, group: group.name };
  }

  describe('access groups', () => {
    it('creates a group with executors, approvers and its approval rule, shown by username', async () => {
      const other = await buildUser(t);
      const created = await t.admin.post('/access-groups', {
        name: 'Web operations',
        description: 'Runs the web tier',
        executors: [executor.username],
        approvers: [approver.username, other.username],
        requiresJustification: true,
        approvalsRequired: 2,
        plannerMayExecute: false,
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name: 'Web operations',
        partition: 'GLOBAL',
        executors: [executor.username],
        approvers: [approver.username, other.username].sort(),
        requiresJustification: true,
        approvalsRequired: 2,
        plannerMayExecute: false,
        version: 1,
      });
      expect((await t.admin.get('/access-groups/Web operations')).body).toEqual(created.body);

      const defaults = await t.admin.post('/access-groups', { name: 'Defaults', approvers: [approver.username] });
      // Separation of duties by default: the planner of a change does not also execute it.
      expect(defaults.body).toMatchObject({ executors: [], requiresJustification: false, approvalsRequired: 1, plannerMayExecute: false });

      const events = await eventsWhere(t, { action: 'access_group.create', subject: 'access_group:GLOBAL.Web operations' });
      expect(events).toHaveLength(1);
    });

    it('needs at least one approver', async () => {
      const answer = await t.admin.post('/access-groups', { name: 'No approvers', executors: [executor.username] });
      expect(answer.status).toBe(400);
      expect(answer.body.error.details.problems).toEqual([expect.objectContaining({ path: '/approvers', message: expect.stringContaining('at least one approver') })]);
      const emptied = await t.admin.post('/access-groups', { name: 'Empty approvers', approvers: [] });
      expect(emptied.status).toBe(400);
      expect((await t.admin.get('/access-groups/No approvers')).status).toBe(404);
    });

    it('refuses more required approvals than approvers, on create and on edit', async () => {
      const answer = await t.admin.post('/access-groups', { name: 'Too strict', approvers: [approver.username], approvalsRequired: 2 });
      expect(answer.status).toBe(400);
      expect(answer.body.error.details.problems).toEqual([{ path: '/approvalsRequired', message: 'expected 1 to 1 (the number of approvers)' }]);

      const group = await buildGroup(t, { approvers: [approver.username, 'admin'], approvalsRequired: 2 });
      const dropped = await t.admin.patch(`/access-groups/${group.name}`, { approvers: [approver.username] });
      expect(dropped.status).toBe(400);
      expect(dropped.body.error.details.problems[0].path).toBe('/approvalsRequired');
      const both = await t.admin.patch(`/access-groups/${group.name}`, { approvers: [approver.username], approvalsRequired: 1 });
      expect(both.status).toBe(200);
      expect(both.body).toMatchObject({ approvers: [approver.username], approvalsRequired: 1, version: 2 });
    });

    it('refuses unknown usernames, naming them', async () => {
      const answer = await t.admin.post('/access-groups', { name: 'Ghosts', executors: ['ghost-one', executor.username], approvers: ['ghost-two'] });
      expect(answer.status).toBe(400);
      const problems: Array<{ path: string; message: string }> = answer.body.error.details.problems;
      expect(problems).toContainEqual({ path: '/executors', message: 'no such user: ghost-one' });
      expect(problems).toContainEqual({ path: '/approvers', message: 'no such user: ghost-two' });
    });
  });

  describe('changes', () => {
    it('registers a change with every field of the seed and logs it', async () => {
      const { device, group } = await groupAndDevice();
      const second = await buildDevice(t);
      const name = changeId();
      const startAt = fromNow(t, 2 * HOUR);
      const dueAt = fromNow(t, 4 * HOUR);
      const created = await t.admin.post('/changes', {
        name,
        title: 'Upgrade nginx on the web tier',
        description: 'Security release',
        startAt,
        dueAt,
        accessGroup: group,
        devices: [device, second.name, device],
        script: SCRIPT,
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name,
        partition: 'GLOBAL',
        title: 'Upgrade nginx on the web tier',
        description: 'Security release',
        startAt,
        dueAt,
        status: 'scheduled',
        accessGroup: group,
        devices: [device, second.name],
        script: SCRIPT,
        scriptFrozen: false,
        scriptFrozenAt: null,
        cancelledAt: null,
        version: 1,
        createdBy: 'admin',
      });
      expect((await t.admin.get(`/changes/${name}`)).body).toEqual(created.body);
      expect((await t.admin.get(`/changes?device=${second.name}`)).body.map((change: { name: string }) => change.name)).toEqual([name]);

      const events = await eventsWhere(t, { action: 'change.create', subject: `change:GLOBAL.${name}` });
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ actor: 'admin' });
    });

    it('refuses a change without devices with a message that says it needs one', async () => {
      const { group } = await groupAndDevice();
      const name = changeId();
      const answer = await t.admin.post('/changes', { name, title: 'Nothing to change', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, devices: [], script: SCRIPT });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('validation_failed');
      expect(answer.body.error.message).toContain('a change needs at least one device');
      expect(answer.body.error.details.problems).toEqual([expect.objectContaining({ path: '/devices' })]);
      expect((await t.admin.get(`/changes/${name}`)).status).toBe(404);

      const missing = await t.admin.post('/changes', { name, title: 'No devices field', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, script: SCRIPT });
      expect(missing.status).toBe(400);
      expect(missing.body.error.details.problems[0].path).toMatch(/\/devices$/);

      const unknown = await t.admin.post('/changes', { name, title: 'Ghost device', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, devices: ['no-such-device'], script: SCRIPT });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details.problems).toEqual([{ path: '/devices/0', message: 'no such device' }]);
    });

    it('refuses a due date before (or at) the start, naming /dueAt', async () => {
      const { device, group } = await groupAndDevice();
      const startAt = fromNow(t, 2 * HOUR);
      for (const dueAt of [fromNow(t, HOUR), startAt]) {
        const answer = await t.admin.post('/changes', { name: changeId(), title: 'Backwards', startAt, dueAt, accessGroup: group, devices: [device], script: SCRIPT });
        expect(answer.status).toBe(400);
        expect(answer.body.error.details.problems).toEqual([{ path: '/dueAt', message: `the due date must be after the start time (${startAt})` }]);
        expect(answer.body.error.message).toContain('/dueAt');
      }
      const change = await buildChange(t, { accessGroup: group, devices: [device] });
      const edited = await t.admin.patch(`/changes/${change.name}`, { dueAt: fromNow(t, -2 * HOUR) });
      expect(edited.status).toBe(400);
      expect(edited.body.error.details.problems[0].path).toBe('/dueAt');
    });

    it('refuses an empty script with script_invalid', async () => {
      const { device, group } = await groupAndDevice();
      for (const script of ['', '   \n\n', '# only a comment\n']) {
        const answer = await t.admin.post('/changes', { name: changeId(), title: 'Empty', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, devices: [device], script });
        expect(answer.status).toBe(400);
        expect(answer.body.error.code).toBe('script_invalid');
        expect(answer.body.error.message).toContain('at least one command');
      }
    });

    it('refuses a script syntax error, giving its line and column in the message and the details', async () => {
      const { device, group } = await groupAndDevice();
      const name = changeId();
      const script = 'systemctl stop nginx\napt-get install -y nginx\ncp {{source /etc/nginx/nginx.conf\nsystemctl start nginx\n';
      const answer = await t.admin.post('/changes', { name, title: 'Broken', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, devices: [device], script });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('script_invalid');
      expect(answer.body.error.message).toContain('line 3, column 4');
      expect(answer.body.error.message).toContain('"{{" is not closed');
      expect(answer.body.error.details.errors).toEqual([{ line: 3, column: 4, message: expect.stringContaining('"{{" is not closed') }]);
      expect((await t.admin.get(`/changes/${name}`)).status).toBe(404);

      // On edit too; the change keeps its script.
      const change = await buildChange(t, { accessGroup: group, devices: [device] });
      const edited = await t.admin.patch(`/changes/${change.name}`, { script: 'ls\n# expect foo\nls\n' });
      expect(edited.status).toBe(400);
      expect(edited.body.error.code).toBe('script_invalid');
      expect(edited.body.error.details.errors[0]).toMatchObject({ line: 2 });
      expect((await t.admin.get(`/changes/${change.name}`)).body.script).toBe(SCRIPT);
    });

    it('refuses a second change with the same ID with 409', async () => {
      const { device, group } = await groupAndDevice();
      const change = await buildChange(t, { accessGroup: group, devices: [device] });
      const again = await t.admin.post('/changes', { name: change.name, title: 'Again', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, devices: [device], script: SCRIPT });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('already_exists');
      expect(again.body.error.message).toContain(change.name);
      expect((await t.admin.get(`/changes/${change.name}`)).body.title).toBe('Upgrade nginx');
    });

    it('derives the status from the clock: scheduled, open, closed; and cancelled after cancel', async () => {
      const { device, group } = await groupAndDevice();
      const change = await buildChange(t, { accessGroup: group, devices: [device], startAt: fromNow(t, HOUR), dueAt: fromNow(t, 2 * HOUR) });
      const other = await buildChange(t, { accessGroup: group, devices: [device], startAt: fromNow(t, HOUR), dueAt: fromNow(t, 3 * HOUR) });
      const status = async (name: string) => (await t.admin.get(`/changes/${name}`)).body.status;
      const listed = async (filter: string) => (await t.admin.get(`/changes?status=${filter}&device=${device}`)).body.map((item: { name: string }) => item.name);

      expect(await status(change.name)).toBe('scheduled');
      expect(await listed('scheduled')).toEqual(expect.arrayContaining([change.name, other.name]));
      t.clock.advance(HOUR);
      expect(await status(change.name)).toBe('open');
      expect(await listed('open')).toEqual(expect.arrayContaining([change.name, other.name]));
      expect(await listed('scheduled')).toEqual([]);
      t.clock.advance(HOUR);
      expect(await status(change.name)).toBe('closed');
      expect(await listed('closed')).toEqual([change.name]);

      const cancelled = await t.admin.post(`/changes/${other.name}/cancel`, { reason: 'vendor postponed the release' });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelledBy: 'admin', cancelReason: 'vendor postponed the release', cancelledAt: t.clock.now().toISOString() });
      expect(await listed('cancelled')).toEqual([other.name]);
      expect(await listed('open')).toEqual([]);

      const edit = await t.admin.patch(`/changes/${other.name}`, { title: 'Revived' });
      expect(edit.status).toBe(409);
      expect(edit.body.error.code).toBe('change_cancelled');
      // Cancelling again changes nothing.
      expect((await t.admin.post(`/changes/${other.name}/cancel`)).body.version).toBe(cancelled.body.version);
    });

    it('freezes the script once a session ran: a script edit answers 409 script_frozen saying why, other edits still work', async () => {
      const { device, group } = await groupAndDevice();
      const change = await buildChange(t, { accessGroup: group, devices: [device] });
      const edited = await t.admin.patch(`/changes/${change.name}`, { script: `${SCRIPT}nginx -t\n` });
      expect(edited.status).toBe(200);

      await t.cg.database.db.transaction().execute(async (trx) => {
        const stored = await findChangeByName(trx, change.name);
        if (!stored) throw new Error(`${change.name} is not stored`);
        await t.cg.services.changes.freezeScript(trx, stored);
      });
      const frozen = await t.admin.get(`/changes/${change.name}`);
      expect(frozen.body).toMatchObject({ scriptFrozen: true, scriptFrozenAt: t.clock.now().toISOString(), updatedBy: 'system' });

      const refused = await t.admin.patch(`/changes/${change.name}`, { script: 'reboot\n' });
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('script_frozen');
      expect(refused.body.error.message).toContain('first session');
      expect(refused.body.error.message).toContain('the audit compares the sessions with it');
      expect((await t.admin.get(`/changes/${change.name}`)).body.script).toBe(`${SCRIPT}nginx -t\n`);

      const retitled = await t.admin.patch(`/changes/${change.name}`, { title: 'Upgrade nginx (extended)', dueAt: fromNow(t, 2 * HOUR) });
      expect(retitled.status).toBe(200);
      expect(retitled.body).toMatchObject({ title: 'Upgrade nginx (extended)', script: `${SCRIPT}nginx -t\n`, scriptFrozen: true });
      // Sending the same script back is not a change of it.
      expect((await t.admin.patch(`/changes/${change.name}`, { script: `${SCRIPT}nginx -t\n`, description: 'same script' })).status).toBe(200);

      const freeze = await eventsWhere(t, { action: 'change.script.freeze', subject: `change:${change.name}` });
      expect(freeze).toHaveLength(1);
      expect(freeze[0]?.actor).toBe('system');
      // A change with a session cannot be deleted either.
      expect((await t.admin.delete(`/changes/${change.name}`)).status).toBe(409);
    });

    it('closes the pending requests of a change when it is cancelled', async () => {
      const { device, group } = await groupAndDevice();
      const change = await buildChange(t, { accessGroup: group, devices: [device] });
      const asked = await executor.client.post('/requests', { device });
      expect(asked.status).toBe(201);
      expect(asked.body.request.status).toBe('pending');

      expect((await t.admin.post(`/changes/${change.name}/cancel`, { reason: 'rolled into another change' })).status).toBe(200);
      const request = await executor.client.get(`/requests/${asked.body.request.number}`);
      expect(request.body).toMatchObject({ status: 'cancelled', closeReason: 'the change was cancelled', closedAt: t.clock.now().toISOString() });
      const history = await eventsWhere(t, { subject: `request:${asked.body.request.number}` });
      expect(history.map((event) => [event.action, event.actor, event.data.reason])).toEqual([
        ['request.create', executor.username, undefined],
        ['request.cancel', 'admin', 'the change was cancelled'],
      ]);

      const again = await executor.client.post('/requests', { device });
      expect(again.status).toBe(403);
      expect(again.body.error.code).toBe('change_cancelled');
      expect(again.body.error.message).toContain('rolled into another change');
      const approve = await approver.client.post(`/requests/${asked.body.request.number}/approve`);
      expect(approve.status).toBe(409);
    });

    it('deletes a change that never had requests, and refuses once one exists', async () => {
      const { device, group } = await groupAndDevice();
      const unused = await buildChange(t, { accessGroup: group, devices: [device], startAt: fromNow(t, HOUR), dueAt: fromNow(t, 2 * HOUR) });
      expect((await t.admin.delete(`/changes/${unused.name}`)).status).toBe(204);
      expect((await t.admin.get(`/changes/${unused.name}`)).status).toBe(404);

      const used = await buildChange(t, { accessGroup: group, devices: [device] });
      expect((await executor.client.post('/requests', { device })).status).toBe(201);
      const refused = await t.admin.delete(`/changes/${used.name}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toContain('cancel it instead');
      expect((await t.admin.get(`/changes/${used.name}`)).status).toBe(200);

      // Neither the device nor the group can go while a change names them.
      const device409 = await t.admin.delete(`/devices/${device}`);
      expect(device409.status).toBe(409);
      expect(device409.body.error.message).toContain(used.name);
      const group409 = await t.admin.delete(`/access-groups/${group}`);
      expect(group409.status).toBe(409);
      expect(group409.body.error.message).toContain(used.name);
    });

    it('lets only holders of Change.Create register changes, and hides changes from those without Change.View', async () => {
      const { device, group } = await groupAndDevice();
      const refused = await executor.client.post('/changes', { name: changeId(), title: 'Mine', startAt: fromNow(t, 0), dueAt: fromNow(t, HOUR), accessGroup: group, devices: [device], script: SCRIPT });
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toContain('Change.Create');
      const change = await buildChange(t, { accessGroup: group, devices: [device] });
      expect((await executor.client.get(`/changes/${change.name}`)).status).toBe(404);
      expect((await executor.client.get('/changes')).body).toEqual([]);
    });
  });

  it('leaves an event log that verifies', async () => {
    const verified = await t.admin.post('/events/verify');
    expect(verified.body).toMatchObject({ ok: true });
    const actions = new Set((await eventsWhere(t)).map((event) => event.action));
    for (const action of ['access_group.create', 'access_group.update', 'change.create', 'change.update', 'change.delete', 'change.script.freeze', 'request.create']) {
      expect(actions).toContain(action);
    }
  });
});
