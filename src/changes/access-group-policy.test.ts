import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { accessGroupKind } from './access-group.store.ts';
import { buildGroup, eventsWhere } from './changes.test-kit.ts';

const POLICY = {
  rules: [
    { kind: 'deny', syntax: 'glob', pattern: 'rm -rf /*', name: 'Removing from the root' },
    { kind: 'review', syntax: 'regex', pattern: '^systemctl (stop|restart) ' },
    { kind: 'warn', syntax: 'glob', pattern: 'sudo *' },
  ],
  strict: true,
};

describe.each(DATABASE_KINDS)('an access group\'s command policy and deviation alerts, on %s', (kind) => {
  let t: TestChangegate;
  let approver: Awaited<ReturnType<typeof buildUser>>;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
    approver = await buildUser(t);
  });
  afterAll(() => t.close());

  it('has none until one is set; a group administrator sets rules, strict mode and alerts, and the change is logged', async () => {
    const group = await buildGroup(t, { approvers: [approver.username] });
    expect(group).toMatchObject({ commandPolicy: { rules: [], strict: false }, deviationAlerts: 'off' });
    const set = await t.admin.patch(`/access-groups/${group.name}`, { commandPolicy: POLICY, deviationAlerts: 'extra' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      commandPolicy: { rules: POLICY.rules.map((rule) => ({ name: '', ...rule })), strict: true },
      deviationAlerts: 'extra',
      version: 2,
    });
    expect((await t.admin.get(`/access-groups/${group.name}`)).body).toEqual(set.body);
    const [event] = await eventsWhere(t, { action: 'access_group.update', subject: `access_group:GLOBAL.${group.name}` });
    expect(event?.data).toMatchObject({ changes: { commandPolicy: { before: { rules: [], strict: false }, after: { strict: true } }, deviationAlerts: { before: 'off', after: 'extra' } } });

    const created = await t.admin.post('/access-groups', { name: `${group.name}-2`, approvers: [approver.username], commandPolicy: { rules: POLICY.rules.slice(0, 1) } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ commandPolicy: { rules: [{ pattern: 'rm -rf /*' }], strict: false }, deviationAlerts: 'off' });
  });

  it('refuses a pattern that does not compile, or is given twice, at the rule\'s field, saving nothing', async () => {
    const group = await buildGroup(t, { approvers: [approver.username] });
    const answer = await t.admin.patch(`/access-groups/${group.name}`, {
      commandPolicy: {
        rules: [
          { kind: 'deny', syntax: 'glob', pattern: 'shutdown *' },
          { kind: 'deny', syntax: 'regex', pattern: '(a)\\1' }, // a back-reference: RE2 has none, it cannot run in linear time
          { kind: 'review', syntax: 'glob', pattern: 'shutdown *' },
          { kind: 'warn', syntax: 'regex', pattern: '([' },
        ],
      },
      deviationAlerts: 'every',
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    const paths = (answer.body.error.details.problems as Array<{ path: string; message: string }>).map((problem) => problem.path);
    expect(paths).toEqual(['/commandPolicy/rules/1/pattern', '/commandPolicy/rules/2/pattern', '/commandPolicy/rules/3/pattern']);
    const after = (await t.admin.get(`/access-groups/${group.name}`)).body;
    expect(after).toMatchObject({ commandPolicy: { rules: [] }, deviationAlerts: 'off', version: 1 });
    expect((await t.admin.patch(`/access-groups/${group.name}`, { deviationAlerts: 'sometimes' })).status).toBe(400);
  });

  it('cannot be loosened by the group\'s own executor or approver, nor by a user who may only view it', async () => {
    const executor = await buildUser(t);
    const group = await buildGroup(t, { executors: [executor.username], approvers: [approver.username] });
    expect((await t.admin.patch(`/access-groups/${group.name}`, { commandPolicy: POLICY })).status).toBe(200);
    for (const member of [executor, approver]) {
      const refused = await member.client.patch(`/access-groups/${group.name}`, { commandPolicy: { rules: [], strict: false }, deviationAlerts: 'off' });
      // Without AccessGroup.View they are not even told the group exists.
      expect([refused.status, refused.body.error.code]).toEqual([404, 'not_found']);
    }
    const viewer = await buildUser(t, { grants: [{ privilege: 'AccessGroup.View' }] });
    const seen = await viewer.client.patch(`/access-groups/${group.name}`, { commandPolicy: { rules: [], strict: false } });
    expect([seen.status, seen.body.error.code]).toEqual([403, 'forbidden']);
    expect((await t.admin.get(`/access-groups/${group.name}`)).body).toMatchObject({ commandPolicy: { strict: true, rules: [{}, {}, {}] }, version: 2 });
  });

  it('restores a group saved before policies existed to one without a policy', () => {
    const snapshot = { id: 'g1', name: 'old', description: '', executors: [], approvers: ['u1'], requiresJustification: false, approvalsRequired: 1, plannerMayExecute: false };
    expect(accessGroupKind.fromSnapshot(snapshot)).toMatchObject({ commandPolicy: { rules: [], strict: false }, deviationAlerts: 'off' });
  });
});
