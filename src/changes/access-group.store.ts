import { sql } from 'kysely';
import { fromJson, objectTable, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import { NO_COMMAND_POLICY, type AccessGroup } from './access-group.ts';

/** Access groups as stored: the table maps the shared columns, these the group's own. */
const groups = objectTable<AccessGroup, 'access_group'>('access_group', {
  fromRow: (row) => ({
    description: row.description,
    executors: row.executors,
    approvers: row.approvers,
    requiresJustification: row.requires_justification,
    approvalsRequired: row.approvals_required,
    plannerMayExecute: row.planner_may_execute,
    commandPolicy: row.command_policy,
    deviationAlerts: row.deviation_alerts,
  }),
  toRow: (group) => ({
    description: group.description,
    executors: JSON.stringify(group.executors),
    approvers: JSON.stringify(group.approvers),
    requires_justification: group.requiresJustification,
    approvals_required: group.approvalsRequired,
    planner_may_execute: group.plannerMayExecute,
    command_policy: JSON.stringify(group.commandPolicy),
    deviation_alerts: group.deviationAlerts,
  }),
});

export const findAccessGroup = groups.find;
export const findAccessGroupsNamed = groups.findNamed;
export const findAccessGroupsByIds = groups.findByIds;

export async function listAccessGroups(db: Executor, partitionIds: 'all' | readonly string[]): Promise<AccessGroup[]> {
  return groups.list(db, partitionIds);
}

/** The access groups a user executes or approves for, by name. */
export async function accessGroupsWithMember(db: Executor, userId: string): Promise<AccessGroup[]> {
  const member = JSON.stringify([userId]);
  return groups.list(db, 'all', (query) =>
    query.where((eb) => eb.or([sql<boolean>`executors @> ${member}::jsonb`, sql<boolean>`approvers @> ${member}::jsonb`])).orderBy('name'),
  );
}

/** How the object store writes access groups. */
export const accessGroupKind: ObjectKind<AccessGroup> = {
  type: 'AccessGroup',
  event: 'access_group',
  restore: { create: 'AccessGroup.Create', edit: 'AccessGroup.Edit', delete: 'AccessGroup.Delete' },
  ...groups.storage,
  // A snapshot taken before groups had command policies restores to a group without one.
  fromSnapshot: (json) => {
    const group = fromJson<AccessGroup>(json);
    return { ...group, commandPolicy: group.commandPolicy ?? NO_COMMAND_POLICY, deviationAlerts: group.deviationAlerts ?? 'off' };
  },
  references: (group) => [
    ...group.executors.map((id) => ({ type: 'User' as const, id, what: 'an executor' })),
    ...group.approvers.map((id) => ({ type: 'User' as const, id, what: 'an approver' })),
  ],
  async keyHolders(db, group) {
    const holders = (await findAccessGroupsNamed(db, group.name)).filter((other) => other.partitionId === group.partitionId && other.id !== group.id);
    return holders.length > 0 ? [`another access group is now named ${group.name} in its partition`] : [];
  },
};
