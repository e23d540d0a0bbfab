import { sql } from 'kysely';
import { fromJson, objectTable, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { Change, ChangeStatus } from './change.ts';

/** Changes as stored: the table maps the shared columns, these the change's own. */
const changes = objectTable<Change, 'change'>('change', {
  fromRow: (row) => ({
    title: row.title,
    description: row.description,
    startAt: row.start_at,
    dueAt: row.due_at,
    accessGroupId: row.access_group_id,
    devices: row.devices,
    script: row.script,
    cancelledAt: row.cancelled_at,
    cancelledBy: row.cancelled_by,
    cancelReason: row.cancel_reason,
    scriptFrozenAt: row.script_frozen_at,
  }),
  toRow: (change) => ({
    title: change.title,
    description: change.description,
    start_at: change.startAt,
    due_at: change.dueAt,
    access_group_id: change.accessGroupId,
    devices: JSON.stringify(change.devices),
    script: change.script,
    cancelled_at: change.cancelledAt,
    cancelled_by: change.cancelledBy,
    cancel_reason: change.cancelReason,
    script_frozen_at: change.scriptFrozenAt,
  }),
});

export const findChange = changes.find;

/** The change as stored, its row locked until the transaction ends: for a write that depends on what it finds. */
export async function lockChange(trx: Executor, id: string): Promise<Change | undefined> {
  await trx.selectFrom('change').select('id').where('id', '=', id).forUpdate().execute();
  return findChange(trx, id);
}
/** The change with this change ID: change IDs are unique everywhere. */
export const findChangeByName = changes.findByName;

/** How the object store writes changes. */
export const changeKind: ObjectKind<Change> = {
  type: 'Change',
  event: 'change',
  restore: { create: 'Change.Create', edit: 'Change.Edit', delete: 'Change.Delete' },
  ...changes.storage,
  fromSnapshot: (json) => fromJson<Change>(json, ['startAt', 'dueAt', 'cancelledAt', 'scriptFrozenAt']),
  references: (change) => [
    { type: 'AccessGroup', id: change.accessGroupId, what: 'its access group' },
    ...change.devices.map((id) => ({ type: 'Device' as const, id, what: 'one of its devices' })),
  ],
  async keyHolders(db, change) {
    const holder = await findChangeByName(db, change.name);
    return holder && holder.id !== change.id ? [`another change now has the change ID ${change.name}`] : [];
  },
  // The script freezes when the first session starts: a restore leaves that mark as it is.
  keptOnRestore: ['scriptFrozenAt'],
  async restoreProblems(_db, target, current) {
    const problems: string[] = [];
    if (current?.cancelledAt) problems.push(`change ${current.name} was cancelled on ${current.cancelledAt.toISOString()}, and a cancelled change stays as it was`);
    if (current?.scriptFrozenAt && target.script !== current.script) {
      problems.push(`the script of ${current.name} is frozen since ${current.scriptFrozenAt.toISOString()}, when its first session started`);
    }
    return problems;
  },
};

export interface ChangeFilter {
  readonly partitionIds: 'all' | readonly string[];
  readonly status?: ChangeStatus;
  readonly deviceId?: string;
  readonly now: Date;
}

export async function listChanges(db: Executor, filter: ChangeFilter): Promise<Change[]> {
  return changes.list(db, filter.partitionIds, (selected) => {
    let query = selected;
    if (filter.deviceId) query = query.where(sql<boolean>`devices @> ${JSON.stringify([filter.deviceId])}::jsonb`);
    switch (filter.status) {
      case 'cancelled':
        query = query.where('cancelled_at', 'is not', null);
        break;
      case 'scheduled':
        query = query.where('cancelled_at', 'is', null).where('start_at', '>', filter.now);
        break;
      case 'open':
        query = query.where('cancelled_at', 'is', null).where('start_at', '<=', filter.now).where('due_at', '>', filter.now);
        break;
      case 'closed':
        query = query.where('cancelled_at', 'is', null).where('due_at', '<=', filter.now);
        break;
    }
    return query.orderBy('start_at', 'desc').orderBy('name');
  });
}

/** The changes of these access groups that are neither cancelled nor past their due date. */
export async function unfinishedChangesOfGroups(db: Executor, accessGroupIds: readonly string[], now: Date): Promise<Change[]> {
  if (accessGroupIds.length === 0) return [];
  return changes.list(db, 'all', (query) =>
    query.where('access_group_id', 'in', accessGroupIds).where('cancelled_at', 'is', null).where('due_at', '>', now).orderBy('start_at').orderBy('name'),
  );
}

/** Every change, in any state, whose device list holds the device. */
export async function changesCoveringDevice(db: Executor, deviceId: string): Promise<Change[]> {
  return listChanges(db, { partitionIds: 'all', deviceId, now: new Date(0) });
}
