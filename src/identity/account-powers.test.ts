import { describe, expect, it } from 'vitest';
import { describePower, uncoveredPower, type AccountPower } from './account-powers.ts';

const grant = (privilege: 'User.Admin' | 'Device.View' | 'AccessGroup.Edit', level: 'access' | 'admin', partition: string | null): AccountPower => ({
  kind: 'grant',
  privilege,
  level,
  partitionId: partition && `id-${partition}`,
  partitionName: partition,
});
const role = (which: 'executor' | 'approver', group: string, partition = 'GLOBAL'): AccountPower => ({
  kind: 'role',
  role: which,
  groupId: `id-${group}`,
  group: `${partition}.${group}`,
  partitionId: `id-${partition}`,
});

describe('whether an administrator covers every power of a user', () => {
  it.each([
    ['the same grant', [grant('Device.View', 'access', null)], [grant('Device.View', 'access', null)], undefined],
    ['Admin level over Access', [grant('Device.View', 'access', null)], [grant('Device.View', 'admin', null)], undefined],
    ['not Access over Admin', [grant('User.Admin', 'admin', null)], [grant('User.Admin', 'access', null)], 0],
    ['system-wide over a partition', [grant('Device.View', 'access', 'Plant1')], [grant('Device.View', 'access', null)], undefined],
    ['not a partition over system-wide', [grant('Device.View', 'access', null)], [grant('Device.View', 'access', 'Plant1')], 0],
    ['not another partition', [grant('Device.View', 'access', 'Plant1')], [grant('Device.View', 'access', 'Plant2')], 0],
    ['not another privilege', [grant('Device.View', 'access', null)], [grant('User.Admin', 'admin', null)], 0],
    ['the same role in the same group', [role('executor', 'ops')], [role('executor', 'ops')], undefined],
    ['not another role in the group', [role('executor', 'ops')], [role('approver', 'ops')], 0],
    ['AccessGroup.Edit where the group lives', [role('approver', 'ops')], [grant('AccessGroup.Edit', 'access', 'GLOBAL')], undefined],
    ['not AccessGroup.Edit elsewhere', [role('approver', 'ops')], [grant('AccessGroup.Edit', 'access', 'Plant1')], 0],
    ['the first uncovered of several', [grant('Device.View', 'access', null), role('executor', 'ops')], [grant('Device.View', 'admin', null)], 1],
  ] as const)('%s', (_label, target, administrator, uncovered) => {
    expect(uncoveredPower(target, administrator)).toBe(uncovered === undefined ? undefined : target[uncovered]);
  });

  it('reads as a person would say it', () => {
    expect(describePower(grant('User.Admin', 'admin', null))).toBe('User.Admin at Admin level system-wide');
    expect(describePower(grant('Device.View', 'access', 'Plant1'))).toBe('Device.View at Access level in partition Plant1');
    expect(describePower(role('executor', 'ops'))).toBe('executor in access group GLOBAL.ops');
  });
});
