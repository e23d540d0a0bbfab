import type { Executor } from '../platform/database.ts';

/**
 * The names of the given partitions, by id, in name order (the database's): how other modules
 * show the partition an object sits in without reading the partition table. Unknown ids are left out.
 */
export async function partitionNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('partition').select(['id', 'name']).where('id', 'in', [...new Set(ids)]).orderBy('name').execute();
  return new Map(rows.map((row) => [row.id, row.name]));
}

/** The name of one partition, or undefined when there is none with that id. */
export async function partitionName(db: Executor, id: string): Promise<string | undefined> {
  return (await partitionNames(db, [id])).get(id);
}
