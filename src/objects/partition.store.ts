import type { Selectable } from 'kysely';
import type { ApplicationUser, ObjectKind } from './object-store.ts';
import type { Executor } from '../platform/database.ts';
import { bookkeeping, tableWriter } from './object-table.ts';
import type { ApplicationTable, PartitionTable } from '../platform/database-schema.ts';
import { GLOBAL_PARTITION, reviveDates, type Application, type Partition } from './partition.ts';

type PartitionRow = Selectable<PartitionTable>;
type ApplicationRow = Selectable<ApplicationTable>;

/** An application with the name of its partition, for what names it `PARTITION.Path`. */
export interface ApplicationWithPartition extends Application {
  readonly partitionName: string;
}

/** Partitions, each with the id of GLOBAL, where partitions sit as objects. */
function partitionQuery(db: Executor) {
  return db
    .selectFrom('partition')
    .selectAll('partition')
    .select((eb) => eb.selectFrom('partition as g').select('g.id').where('g.name', '=', GLOBAL_PARTITION).as('global_id'));
}

export async function findPartitionByName(db: Executor, name: string): Promise<Partition | undefined> {
  const row = await partitionQuery(db).where('partition.name', '=', name).executeTakeFirst();
  return row && partitionObject(row);
}

export async function listPartitions(db: Executor, only: 'all' | readonly string[]): Promise<Partition[]> {
  if (only !== 'all' && only.length === 0) return [];
  let query = partitionQuery(db);
  if (only !== 'all') query = query.where('partition.id', 'in', only);
  return (await query.orderBy('partition.name').execute()).map(partitionObject);
}

/**
 * The names of the partitions with these ids, in the database's order of names: a caller sorting
 * by partition name sorts by the position here, as an `ORDER BY` over a join would.
 */
export async function partitionNamesByIds(db: Executor, ids: Iterable<string>): Promise<Map<string, string>> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom('partition').select(['id', 'name']).where('id', 'in', wanted).orderBy('name').execute();
  return new Map(rows.map((row) => [row.id, row.name]));
}

/** The name of one partition, or undefined when there is none with that id. */
export async function partitionName(db: Executor, id: string): Promise<string | undefined> {
  return (await partitionNamesByIds(db, [id])).get(id);
}

export async function insertPartition(db: Executor, row: PartitionRow): Promise<void> {
  await db.insertInto('partition').values(row).execute();
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

function applicationQuery(db: Executor) {
  return db.selectFrom('application as a').innerJoin('partition as p', 'p.id', 'a.partition_id').selectAll('a').select('p.name as partition_name');
}

const applicationWithPartition = (row: ApplicationRow & { partition_name: string }): ApplicationWithPartition => ({ ...applicationObject(row), partitionName: row.partition_name });

export async function findApplication(db: Executor, partitionId: string, name: string): Promise<ApplicationWithPartition | undefined> {
  const row = await applicationQuery(db).where('a.partition_id', '=', partitionId).where('a.name', '=', name).executeTakeFirst();
  return row && applicationWithPartition(row);
}

export async function listApplications(db: Executor, only: 'all' | readonly string[], partitionId?: string): Promise<ApplicationWithPartition[]> {
  if (only !== 'all' && only.length === 0) return [];
  let query = applicationQuery(db);
  if (only !== 'all') query = query.where('a.partition_id', 'in', only);
  if (partitionId) query = query.where('a.partition_id', '=', partitionId);
  return (await query.orderBy('p.name').orderBy('a.name').execute()).map(applicationWithPartition);
}

/** The applications with these ids that exist, each with its partition's name. */
export async function findApplicationsByIds(db: Executor, ids: Iterable<string>): Promise<ApplicationWithPartition[]> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return [];
  return (await applicationQuery(db).where('a.id', 'in', wanted).execute()).map(applicationWithPartition);
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

export async function deleteApplication(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('application').where('id', '=', id).execute();
}

/** The id of the GLOBAL partition, where system-wide objects (partitions, users, webhooks) sit. */
export async function globalPartitionId(db: Executor): Promise<string> {
  const row = await db.selectFrom('partition').select('id').where('name', '=', GLOBAL_PARTITION).executeTakeFirst();
  if (!row) throw new Error('the GLOBAL partition is missing');
  return row.id;
}

function partitionObject(row: PartitionRow & { global_id: string | null }): Partition {
  if (row.global_id === null) throw new Error('the GLOBAL partition is missing');
  return { id: row.id, partitionId: row.global_id, name: row.name, applicationId: null, description: row.description, ...bookkeeping(row) };
}

export async function findPartitionObject(db: Executor, id: string): Promise<Partition | undefined> {
  const row = await partitionQuery(db).where('partition.id', '=', id).executeTakeFirst();
  return row && partitionObject(row);
}

/** How the object store writes partitions. Their name never changes; events name them `partition:<name>`. */
export const partitionKind: ObjectKind<Partition> = {
  type: 'Partition',
  event: 'partition',
  restore: { create: 'Partition.Create', edit: 'Partition.Edit', delete: 'Partition.Delete', scope: 'self' },
  // Its name is set once; its place is GLOBAL, not a column.
  ...tableWriter<Partition, 'partition'>('partition', { toRow: (partition) => ({ description: partition.description }), created: (partition) => ({ name: partition.name }) }),
  find: findPartitionObject,
  fromSnapshot: (json) => reviveDates<Partition>(json, []),
  references: () => [],
  async keyHolders(db, partition) {
    const holder = await findPartitionByName(db, partition.name);
    return holder && holder.id !== partition.id ? [`another partition is now named ${partition.name}`] : [];
  },
  subject: (partition) => `partition:${partition.name}`,
};

const applicationObject = (row: ApplicationRow): Application => ({
  id: row.id,
  partitionId: row.partition_id,
  name: row.name,
  applicationId: null,
  description: row.description,
  ...bookkeeping(row),
});

export async function findApplicationObject(db: Executor, id: string): Promise<Application | undefined> {
  const row = await db.selectFrom('application').selectAll().where('id', '=', id).executeTakeFirst();
  return row && applicationObject(row);
}

/** How the object store writes applications. Their name (the path) never changes. */
export const applicationKind: ObjectKind<Application> = {
  type: 'Application',
  event: 'application',
  restore: { create: 'Application.Create', edit: 'Application.Edit', delete: 'Application.Delete' },
  // Its partition and name (the path) are set once.
  ...tableWriter<Application, 'application'>('application', {
    toRow: (application) => ({ description: application.description }),
    created: (application) => ({ partition_id: application.partitionId, name: application.name }),
  }),
  find: findApplicationObject,
  fromSnapshot: (json) => reviveDates<Application>(json, []),
  references: () => [],
  async keyHolders(db, application) {
    const holder = await findApplication(db, application.partitionId, application.name);
    return holder && holder.id !== application.id ? [`another application is now named ${application.name} in its partition`] : [];
  },
  async restoreProblems(db, application) {
    const parent = application.name.includes('/') ? application.name.slice(0, application.name.lastIndexOf('/')) : undefined;
    return parent && !(await findApplication(db, application.partitionId, parent)) ? [`its parent application ${parent} is gone`] : [];
  },
};

/** What an object that sits in (or, for an audit rule, matches) an application is, for the 409 naming it. */
export type ApplicationUserKind = 'Device' | 'Credential' | 'AccessGroup' | 'Change' | 'Webhook' | 'AuditRule' | 'Filter:AuditEntry' | 'Filter:AuditRule';

/** How many objects of one kind in one partition use an application. */
export interface ApplicationUserGroup {
  readonly kind: string;
  readonly partitionId: string;
  readonly count: number;
}

/** The objects that use an application (`ObjectStore.applicationUsers`), counted by kind and partition, by kind; empty when none does. */
export function groupApplicationUsers(users: readonly ApplicationUser[]): ApplicationUserGroup[] {
  const groups = new Map<string, { kind: string; partitionId: string; count: number }>();
  for (const user of users) {
    const key = `${user.kind}/${user.partitionId}`;
    const group = groups.get(key) ?? { kind: user.kind, partitionId: user.partitionId, count: 0 };
    group.count += 1;
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => compareText(a.kind, b.kind));
}

/**
 * The first `limit` of the users in the given groups: kind, partition name and name, in that order
 * (each kind's users come by name from its owner; partitions are ordered as the database orders their names).
 */
export async function listApplicationUsers(
  db: Executor,
  users: readonly ApplicationUser[],
  groups: readonly Pick<ApplicationUserGroup, 'kind' | 'partitionId'>[],
  limit: number,
): Promise<{ kind: string; partitionName: string; name: string }[]> {
  const wanted = users.filter((user) => groups.some((group) => group.kind === user.kind && group.partitionId === user.partitionId));
  const names = await partitionNamesByIds(db, wanted.map((user) => user.partitionId));
  const rank = new Map([...names.keys()].map((id, index) => [id, index]));
  const place = (user: ApplicationUser) => rank.get(user.partitionId) ?? names.size;
  // A stable sort: within a kind and a partition, users stay in their owner's order of names.
  return [...wanted]
    .sort((a, b) => compareText(a.kind, b.kind) || place(a) - place(b))
    .slice(0, limit)
    .map((user) => ({ kind: user.kind, partitionName: names.get(user.partitionId) ?? user.partitionId, name: user.name }));
}

/** Kinds are ASCII words: compared by code unit, as the database compares them. */
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
