import { sql, type Selectable } from 'kysely';
import type { ObjectKind } from './object-store.ts';
import type { Executor } from '../platform/database.ts';
import { bookkeeping, tableWriter } from './object-table.ts';
import type { ApplicationTable, PartitionTable } from '../platform/database-schema.ts';
import { reviveDates, type Application, type Partition } from './partition.ts';

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

export async function deleteApplication(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('application').where('id', '=', id).execute();
}

/** The id of the GLOBAL partition, where system-wide objects (partitions, users, webhooks) sit. */
export async function globalPartitionId(db: Executor): Promise<string> {
  const row = await db.selectFrom('partition').select('id').where('name', '=', 'GLOBAL').executeTakeFirst();
  if (!row) throw new Error('the GLOBAL partition is missing');
  return row.id;
}

const partitionObject = (row: PartitionRow, globalId: string): Partition => ({
  id: row.id,
  partitionId: globalId,
  name: row.name,
  applicationId: null,
  description: row.description,
  ...bookkeeping(row),
});

export async function findPartitionObject(db: Executor, id: string): Promise<Partition | undefined> {
  const row = await db.selectFrom('partition').selectAll().where('id', '=', id).executeTakeFirst();
  return row && partitionObject(row, row.name === 'GLOBAL' ? row.id : await globalPartitionId(db));
}

export async function findPartitionObjectByName(db: Executor, name: string): Promise<Partition | undefined> {
  const row = await findPartitionByName(db, name);
  return row && partitionObject(row, row.name === 'GLOBAL' ? row.id : await globalPartitionId(db));
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

/** What still lives in a partition besides applications, as `2 device(s)`: it cannot be deleted then. */
export async function objectsInPartition(db: Executor, partitionId: string): Promise<string[]> {
  const tables = [
    ['device', 'device(s)'],
    ['credential', 'credential(s)'],
    ['access_group', 'access group(s)'],
    ['change', 'change(s)'],
    ['audit_rule', 'audit rule(s)'],
    ['audit_filter', 'filter(s)'],
  ] as const;
  const held: string[] = [];
  for (const [table, what] of tables) {
    const { rows } = await sql<{ count: number }>`SELECT count(*)::int AS count FROM ${sql.table(table)} WHERE partition_id = ${partitionId}`.execute(db);
    const count = Number(rows[0]?.count ?? 0);
    if (count > 0) held.push(`${count} ${what}`);
  }
  return held;
}

/** What an object that sits in (or, for an audit rule, matches) an application is, for the 409 naming it. */
export type ApplicationUserKind = 'Device' | 'Credential' | 'AccessGroup' | 'Change' | 'Webhook' | 'AuditRule' | 'Filter:AuditEntry' | 'Filter:AuditRule';

/** How many objects of one kind in one partition use an application. */
export interface ApplicationUserGroup {
  readonly kind: ApplicationUserKind;
  readonly partitionId: string;
  readonly count: number;
}

/**
 * Every object that refers to an application: the tables whose `application_id` references it,
 * and audit rules that match it (`match_application_id`, no foreign key, but a rule left matching
 * a deleted application would match nothing). Filters carry their target, which decides who may see them.
 */
function applicationUsers(applicationId: string) {
  return sql<{ kind: ApplicationUserKind; partition_id: string; name: string }>`
    SELECT 'Device' AS kind, partition_id, name FROM device WHERE application_id = ${applicationId}
    UNION ALL SELECT 'Credential', partition_id, name FROM credential WHERE application_id = ${applicationId}
    UNION ALL SELECT 'AccessGroup', partition_id, name FROM access_group WHERE application_id = ${applicationId}
    UNION ALL SELECT 'Change', partition_id, name FROM change WHERE application_id = ${applicationId}
    UNION ALL SELECT 'Webhook', partition_id, name FROM webhook WHERE application_id = ${applicationId}
    UNION ALL SELECT 'AuditRule', partition_id, name FROM audit_rule WHERE application_id = ${applicationId} OR match_application_id = ${applicationId}
    UNION ALL SELECT 'Filter:' || target, partition_id, name FROM audit_filter WHERE application_id = ${applicationId}`;
}

/** The objects that use an application, counted by kind and partition; empty when none does. */
export async function countApplicationUsers(db: Executor, applicationId: string): Promise<ApplicationUserGroup[]> {
  const { rows } = await sql<{ kind: ApplicationUserKind; partition_id: string; count: number }>`
    SELECT used.kind, used.partition_id, count(*)::int AS count FROM (${applicationUsers(applicationId)}) AS used
    GROUP BY used.kind, used.partition_id ORDER BY used.kind`.execute(db);
  return rows.map((row) => ({ kind: row.kind, partitionId: row.partition_id, count: Number(row.count) }));
}

/** The first `limit` objects of the given groups that use an application: kind, partition name and name, in that order. */
export async function listApplicationUsers(
  db: Executor,
  applicationId: string,
  groups: readonly Pick<ApplicationUserGroup, 'kind' | 'partitionId'>[],
  limit: number,
): Promise<{ kind: ApplicationUserKind; partitionName: string; name: string }[]> {
  if (groups.length === 0) return [];
  const wanted = sql.join(
    groups.map((group) => sql`(used.kind = ${group.kind} AND used.partition_id = ${group.partitionId})`),
    sql` OR `,
  );
  const { rows } = await sql<{ kind: ApplicationUserKind; partition_name: string; name: string }>`
    SELECT used.kind, p.name AS partition_name, used.name FROM (${applicationUsers(applicationId)}) AS used
    JOIN partition p ON p.id = used.partition_id
    WHERE ${wanted}
    ORDER BY used.kind, p.name, used.name LIMIT ${limit}`.execute(db);
  return rows.map((row) => ({ kind: row.kind, partitionName: row.partition_name, name: row.name }));
}
