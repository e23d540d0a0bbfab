import type { Executor } from '../platform/database.ts';
import type { Filter } from './filter.ts';
import type { ObjectKind } from '../objects/object-store.ts';
import { fromJson } from '../objects/object.ts';
import { objectTable } from '../objects/object-table.ts';

/** Filters as stored: the table maps the shared columns, these the filter's own. */
const filters = objectTable<Filter, 'audit_filter'>('audit_filter', {
  fromRow: (row) => ({ description: row.description, target: row.target, query: row.query, owner: row.owner }),
  toRow: (filter) => ({ description: filter.description, target: filter.target, query: filter.query, owner: filter.owner }),
});

export const findFilter = filters.find;
export const findFiltersNamed = filters.findNamed;
export const findFilterInPartition = filters.findInPartition;

export async function listFilters(db: Executor, scopes: ReadonlyArray<{ target: Filter['target']; partitionIds: 'all' | readonly string[] }>): Promise<Filter[]> {
  const all = await filters.list(db, 'all');
  return all.filter((filter) => scopes.some((scope) => scope.target === filter.target && (scope.partitionIds === 'all' || scope.partitionIds.includes(filter.partitionId))));
}

/** How the object store writes filters. */
export const filterKind: ObjectKind<Filter> = {
  type: 'Filter',
  event: 'filter',
  // Owners edit their own filters; a restore, which may hand one back to another owner, is for user administrators.
  restore: { create: 'User.Admin', edit: 'User.Admin', delete: 'User.Admin', scope: 'system' },
  ...filters.storage,
  placement: {
    countIn: filters.storage.placement.countIn,
    // What a filter filters decides who may see it, so the 409 naming it says which.
    async usersOf(db, applicationId) {
      const rows = await db.selectFrom('audit_filter').select(['partition_id', 'name', 'target']).where('application_id', '=', applicationId).orderBy('name').execute();
      return rows.map((row) => ({ partitionId: row.partition_id, name: row.name, kind: `Filter:${row.target}` }));
    },
  },
  fromSnapshot: (json) => fromJson<Filter>(json),
  references: () => [],
  async keyHolders(db, filter) {
    const holder = await findFilterInPartition(db, filter.partitionId, filter.name);
    return holder && holder.id !== filter.id ? [`another filter is now named ${filter.name} in its partition`] : [];
  },
};

/** The ids of the filters on a user's navigation bar, in order. */
export async function navigationOf(db: Executor, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('navigation_item').select('filter_id').where('user_id', '=', userId).orderBy('position').orderBy('added_at').execute();
  return rows.map((row) => row.filter_id);
}

export async function addToNavigation(db: Executor, userId: string, filterId: string, now: Date): Promise<boolean> {
  const last = await db
    .selectFrom('navigation_item')
    .select((eb) => eb.fn.max('position').as('position'))
    .where('user_id', '=', userId)
    .executeTakeFirst();
  const result = await db
    .insertInto('navigation_item')
    .values({ user_id: userId, filter_id: filterId, position: Number(last?.position ?? 0) + 1, added_at: now })
    .onConflict((conflict) => conflict.columns(['user_id', 'filter_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function removeFromNavigation(db: Executor, userId: string, filterId: string): Promise<boolean> {
  const result = await db.deleteFrom('navigation_item').where('user_id', '=', userId).where('filter_id', '=', filterId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
