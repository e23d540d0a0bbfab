import type { Selectable } from 'kysely';
import { fromJson, tableWriter, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { AccessGroupTable } from '../platform/tables/changes.ts';
import type { AccessGroup } from './access-group.ts';

type AccessGroupRow = Selectable<AccessGroupTable>;

function toGroup(row: AccessGroupRow): AccessGroup {
  return {
    id: row.id,
    partitionId: row.partition_id,
    name: row.name,
    applicationId: row.application_id,
    description: row.description,
    executors: row.executors,
    approvers: row.approvers,
    requiresJustification: row.requires_justification,
    approvalsRequired: row.approvals_required,
    plannerMayExecute: row.planner_may_execute,
    version: row.version,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function toRow(group: AccessGroup) {
  return {
    partition_id: group.partitionId,
    name: group.name,
    application_id: group.applicationId,
    description: group.description,
    executors: JSON.stringify(group.executors),
    approvers: JSON.stringify(group.approvers),
    requires_justification: group.requiresJustification,
    approvals_required: group.approvalsRequired,
    planner_may_execute: group.plannerMayExecute,
    version: group.version,
    updated_at: group.updatedAt,
    updated_by: group.updatedBy,
  };
}

/** How the object store writes access groups. */
export const accessGroupKind: ObjectKind<AccessGroup> = {
  type: 'AccessGroup',
  event: 'access_group',
  restore: { create: 'AccessGroup.Create', edit: 'AccessGroup.Edit', delete: 'AccessGroup.Delete' },
  ...tableWriter('access_group', toRow),
  find: (db, id) => findAccessGroup(db, id),
  fromSnapshot: (json) => fromJson<AccessGroup>(json),
  references: (group) => [
    ...group.executors.map((id) => ({ type: 'User' as const, id, what: 'an executor' })),
    ...group.approvers.map((id) => ({ type: 'User' as const, id, what: 'an approver' })),
  ],
  async keyHolders(db, group) {
    const holders = (await findAccessGroupsNamed(db, group.name)).filter((other) => other.partitionId === group.partitionId && other.id !== group.id);
    return holders.length > 0 ? [`another access group is now named ${group.name} in its partition`] : [];
  },
};

export async function findAccessGroup(db: Executor, id: string): Promise<AccessGroup | undefined> {
  const row = await db.selectFrom('access_group').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toGroup(row);
}

export async function findAccessGroupsNamed(db: Executor, name: string): Promise<AccessGroup[]> {
  return (await db.selectFrom('access_group').selectAll().where('name', '=', name).execute()).map(toGroup);
}

export async function findAccessGroupsByIds(db: Executor, ids: readonly string[]): Promise<AccessGroup[]> {
  if (ids.length === 0) return [];
  return (await db.selectFrom('access_group').selectAll().where('id', 'in', ids).execute()).map(toGroup);
}

export async function listAccessGroups(db: Executor, partitionIds: 'all' | readonly string[]): Promise<AccessGroup[]> {
  if (partitionIds !== 'all' && partitionIds.length === 0) return [];
  let query = db.selectFrom('access_group').selectAll();
  if (partitionIds !== 'all') query = query.where('partition_id', 'in', partitionIds);
  return (await query.orderBy('name').execute()).map(toGroup);
}

/** Maps user ids to usernames, for presenting members. */
export async function usernamesOf(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('app_user').select(['id', 'username']).where('id', 'in', [...new Set(ids)]).execute();
  return new Map(rows.map((row) => [row.id, row.username]));
}

/** Resolves usernames to ids; returns the names that do not exist too. */
export async function userIdsOf(db: Executor, usernames: readonly string[]): Promise<{ ids: string[]; unknown: string[] }> {
  if (usernames.length === 0) return { ids: [], unknown: [] };
  const rows = await db.selectFrom('app_user').select(['id', 'username']).where('username', 'in', [...new Set(usernames)]).execute();
  const byName = new Map(rows.map((row) => [row.username, row.id]));
  return { ids: [...new Set(usernames)].map((name) => byName.get(name)).filter((id): id is string => id !== undefined), unknown: usernames.filter((name) => !byName.has(name)) };
}
