import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { buildChange, buildDevice, buildGroup, fromNow, HOUR } from './changes.test-kit.ts';

type User = Awaited<ReturnType<typeof buildUser>>;

const PASSWORD = 'root-password-of-the-device';

describe.each(DATABASE_KINDS)('Credentials ➔ All: the device accounts a user may start a session on, on %s', (kind) => {
  let t: TestChangegate;
  // alice executes, bob approves, dave is in no group.
  let alice: User;
  let bob: User;
  let dave: User;
  let device: { name: string; partition: string };
  let open: { name: string; startAt: string; dueAt: string };
  let scheduled: { name: string; startAt: string; dueAt: string };

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    [alice, bob, dave] = [await buildUser(t), await buildUser(t), await buildUser(t)];
    device = await buildDevice(t);
    for (const account of ['root', 'deploy']) {
      const vaulted = await t.admin.post('/credentials', { device: device.name, account, secret: { password: PASSWORD } });
      expect(vaulted.status, JSON.stringify(vaulted.body)).toBe(201);
    }
    const group = await buildGroup(t, { executors: [alice.username], approvers: [bob.username], requiresJustification: true });
    open = await buildChange(t, { accessGroup: group.name, devices: [device.name], title: 'Rotate the logs' });
    scheduled = await buildChange(t, { accessGroup: group.name, devices: [device.name], startAt: fromNow(t, 2 * HOUR), dueAt: fromNow(t, 3 * HOUR) });
    const cancelled = await buildChange(t, { accessGroup: group.name, devices: [device.name] });
    expect((await t.admin.post(`/changes/${cancelled.name}/cancel`, { reason: 'not needed' })).status).toBe(200);
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists each account of each device of the executor’s open and scheduled changes, with what starting a session will ask', async () => {
    const answer = await alice.client.get('/session-targets');
    expect(answer.status).toBe(200);
    const rows = answer.body as Array<Record<string, unknown>>;
    expect(rows.map((row) => `${String(row.change)} ${String(row.account)} ${String(row.changeStatus)}`)).toEqual([
      `${open.name} deploy open`,
      `${open.name} root open`,
      `${scheduled.name} deploy scheduled`,
      `${scheduled.name} root scheduled`,
    ]);
    expect(rows[1]).toMatchObject({
      device: device.name,
      partition: device.partition,
      changeTitle: 'Rotate the logs',
      justificationRequired: true,
      approvers: [bob.username],
      approvalsRequired: 1,
      target: `${device.partition}.${device.name}:root+${open.name}`,
      startAt: open.startAt,
      dueAt: open.dueAt,
      request: null,
    });
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });

  it('shows the executor’s latest request on each row', async () => {
    const asked = await alice.client.post('/requests', { device: device.name, change: open.name, justification: 'log rotation is stuck' });
    expect(asked.status).toBe(201);
    const rows = (await alice.client.get('/session-targets')).body as Array<{ change: string; request: unknown }>;
    for (const row of rows.filter((candidate) => candidate.change === open.name)) expect(row.request).toEqual({ number: asked.body.request.number, status: 'pending' });
    for (const row of rows.filter((candidate) => candidate.change === scheduled.name)) expect(row.request).toBeNull();
  });

  it('shows an approver, or a user in no group, no device account at all', async () => {
    for (const user of [bob, dave]) {
      const answer = await user.client.get('/session-targets');
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual([]);
    }
  });

  it('leaves out a change its planner may not execute, as the broker would refuse it', async () => {
    const carol = await buildUser(t);
    for (const privilege of ['Change.Create', 'AccessGroup.View', 'Device.View']) {
      expect((await t.admin.post('/grants', { username: carol.username, privilege })).status).toBe(201);
    }
    const group = await buildGroup(t, { executors: [carol.username], approvers: [bob.username], plannerMayExecute: false });
    const own = await buildChange(t, { accessGroup: group.name, devices: [device.name] }, carol.client);
    const other = await buildChange(t, { accessGroup: group.name, devices: [device.name] });
    const rows = (await carol.client.get('/session-targets')).body as Array<{ change: string }>;
    expect(new Set(rows.map((row) => row.change))).toEqual(new Set([other.name]));
    expect(own.name).not.toBe(other.name);
  });

  it('refuses a caller not signed in', async () => {
    expect((await new TestClient(t.cg, undefined).get('/session-targets')).status).toBe(401);
  });
});
