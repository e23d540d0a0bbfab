import type { Selectable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { ApplicationTable, PartitionTable } from '../platform/database-schema.ts';

export type PartitionRow = Selectable<PartitionTable>;
export type ApplicationRow = Selectable<ApplicationTable>;

export async function findPartitionByName(db: Executor, name: string): Promise<PartitionRow | undefined> {
  return db.selectFrom('partition').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listPartitions(db: Executor, only: 'all' | readonly string[]): Promise<PartitionRow[]> {
  if (only !== 'all' && only.length === 0) return [];
  let query = db.selectFrom('partition').selectAll();
  if (only !== 'all') query = query.where('id', 'in', only);
  return query.orderBy('name').execute();
}

export async function insertPartition(db: Executor, row: PartitionRow): Promise<void> {
  await db.insertInto('partition').values(row).execute();
}

export async function updatePartition(db: Executor, id: string, patch: { description: string; updated_at: Date; updated_by: string }): Promise<void> {
  await db
    .updateTable('partition')
    .set((eb) => ({ ...patch, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .execute();
}

export async function deletePartition(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('partition').where('id', '=', id).execute();
}

export async function countApplicationsIn(db: Executor, partitionId: string): Promise<number> {
  const row = await db
    .selectFrom('application')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('partition_id', '=', partitionId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export interface ApplicationWithPartition extends ApplicationRow {
  readonly partition_name: string;
}

function applicationQuery(db: Executor) {
  return db.selectFrom('application as a').innerJoin('partition as p', 'p.id', 'a.partition_id').selectAll('a').select('p.name as partition_name');
}

export async function findApplication(db: Executor, partitionId: string, name: string): Promise<ApplicationWithPartition | undefined> {
  return applicationQuery(db).where('a.partition_id', '=', partitionId).where('a.name', '=', name).executeTakeFirst();
}

export async function listApplications(db: Executor, only: 'all' | readonly string[], partitionId?: string): Promise<ApplicationWithPartition[]> {
  if (only !== 'all' && only.length === 0) return [];
  let query = applicationQuery(db);
  if (only !== 'all') query = query.where('a.partition_id', 'in', only);
  if (partitionId) query = query.where('a.partition_id', '=', partitionId);
  return query.orderBy('p.name').orderBy('a.name').execute();
}

export async function hasSubApplications(db: Executor, partitionId: string, name: string): Promise<boolean> {
  const row = await db
    .selectFrom('application')
    .select('id')
    .where('partition_id', '=', partitionId)
    .where('name', 'like', `${name.replace(/[\\%_]/g, '\\$&')}/%`)
    .executeTakeFirst();
  return row !== undefined;
}

export async function insertApplication(db: Executor, row: ApplicationRow): Promise<void> {
  await db.insertInto('application').values(row).execute();
}

export async function updateApplication(db: Executor, id: string, patch: { description: string; updated_at: Date; updated_by: string }): Promise<void> {
  await db
    .updateTable('application')
    .set((eb) => ({ ...patch, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .execute();
}

export async function deleteApplication(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('application').where('id', '=', id).execute();
}
