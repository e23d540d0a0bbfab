import type { Insertable, Kysely, Selectable, SelectQueryBuilder, Updateable } from 'kysely';
import type { Database, Executor, Tx } from '../platform/database.ts';
import type { PartitionedObjectColumns } from '../platform/tables/changes.ts';
import type { ObjectColumns } from '../platform/tables/columns.ts';
import type { ObjectMeta } from './object.ts';
import type { ObjectKind, Placement } from './object-store.ts';

/** Tables of configuration objects that live in a partition, by name, and may belong to an application. */
export type PartitionedTable = 'device' | 'credential' | 'access_group' | 'change' | 'webhook' | 'audit_filter' | 'audit_rule';

/** Every table of configuration objects, one object a row with the bookkeeping columns of `ObjectColumns`. */
export type ObjectTableName = PartitionedTable | 'partition' | 'application' | 'app_user';

/** The columns the table maps for every kind: bookkeeping, and where the object sits. */
type SharedColumn = keyof ObjectColumns | 'partition_id' | 'name' | 'application_id';

/** A select on the columns every partitioned table has, as if there were one such table. */
type SharedQuery = SelectQueryBuilder<{ object: PartitionedObjectColumns }, 'object', Selectable<PartitionedObjectColumns>>;

/** The fields of `ObjectMeta` the table maps for a partitioned kind. */
type SharedField = keyof ObjectMeta;

/** A kind's own columns, as written on insert and update. */
export type OwnRow<K extends ObjectTableName> = Omit<Updateable<Database[K]>, SharedColumn>;

/** A select of whole rows of the table, for a store to narrow and order. */
export type ObjectQuery<K extends ObjectTableName> = SelectQueryBuilder<Database, K, Selectable<Database[K]>>;

/** How a kind maps its own columns; the shared ones are the table's. */
export interface OwnColumns<T extends ObjectMeta, K extends ObjectTableName> {
  /** The kind's own columns written on insert and update, checked against the table. */
  toRow(object: T): OwnRow<K>;
  /** Columns set when the row is inserted and never updated (a partition's name, a built-in rule's mark). */
  created?(object: T): Partial<Insertable<Database[K]>>;
}

export interface PartitionedColumns<T extends ObjectMeta, K extends PartitionedTable> extends OwnColumns<T, K> {
  /** Every own column the table lets update: a column left out is a type error, not a field silently kept. */
  toRow(object: T): Required<OwnRow<K>>;
  /** The kind's own fields, read from a row. */
  fromRow(row: Selectable<Database[K]>): Omit<T, SharedField>;
}

export type ObjectWrites<T extends ObjectMeta> = Pick<ObjectKind<T>, 'insert' | 'update' | 'remove'>;

/** The bookkeeping fields of an object read from its row (its id aside, which comes first). */
export function bookkeeping(row: Selectable<ObjectColumns>): Pick<ObjectMeta, 'version' | 'createdAt' | 'createdBy' | 'updatedAt' | 'updatedBy'> {
  return { version: row.version, createdAt: row.created_at, createdBy: row.created_by, updatedAt: row.updated_at, updatedBy: row.updated_by };
}

/**
 * The writes of an object kind stored one object a row: insert, update guarded by the version the
 * caller read, delete. The bookkeeping columns (id, version, created_*, updated_*) are written here;
 * `columns` maps the kind's own.
 */
export function tableWriter<T extends ObjectMeta, K extends ObjectTableName>(table: K, columns: OwnColumns<T, K>): ObjectWrites<T> {
  // Kysely cannot check a row against a table chosen at run time; `OwnColumns`'s types check the
  // columns against the table, so inside, the rows are passed as they are.
  const name: ObjectTableName = table;
  const written = (object: T) => ({ ...columns.toRow(object), version: object.version, updated_at: object.updatedAt, updated_by: object.updatedBy });
  return {
    async insert(trx: Tx, object: T) {
      await trx
        .insertInto(name)
        .values({ ...written(object), ...columns.created?.(object), id: object.id, created_at: object.createdAt, created_by: object.createdBy } as never)
        .execute();
    },
    async update(trx: Tx, object: T, expectedVersion: number) {
      const result = await trx
        .updateTable(name)
        .set(written(object) as never)
        .where('id', '=', object.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async remove(trx: Tx, object: T) {
      await trx.deleteFrom(name).where('id', '=', object.id).execute();
    },
  };
}

/** The reads and writes every partitioned object kind needs, its objects mapped from and to rows. */
export interface ObjectTable<T extends ObjectMeta, K extends PartitionedTable> extends ObjectWrites<T> {
  readonly table: K;
  /** What the kind's `ObjectKind` takes from the table: its writes, its read by id, and where its objects sit. */
  readonly storage: Pick<ObjectKind<T>, 'insert' | 'update' | 'remove' | 'find'> & { readonly placement: Placement };
  toObject(row: Selectable<Database[K]>): T;
  /** Whole rows of the table, for the store's own lookups; map them with `toObject`. */
  select(db: Executor): ObjectQuery<K>;
  find(db: Executor, id: string): Promise<T | undefined>;
  findByIds(db: Executor, ids: readonly string[]): Promise<T[]>;
  /** Objects called `name`, in every partition (names are unique within a partition only). */
  findNamed(db: Executor, name: string): Promise<T[]>;
  /** The first object called `name`, in any partition: for kinds whose names are unique everywhere. */
  findByName(db: Executor, name: string): Promise<T | undefined>;
  findInPartition(db: Executor, partitionId: string, name: string): Promise<T | undefined>;
  /**
   * The objects in the given partitions (`all`: in every one). `refine` narrows the select and
   * orders it; without it, the objects come by name.
   */
  list(db: Executor, partitionIds: 'all' | readonly string[], refine?: (query: ObjectQuery<K>) => ObjectQuery<K>): Promise<T[]>;
}

/**
 * The table of a partitioned object kind: maps the shared columns (bookkeeping, partition, name,
 * application) and leaves the kind's own to `columns`.
 */
export function objectTable<T extends ObjectMeta, K extends PartitionedTable>(table: K, columns: PartitionedColumns<T, K>): ObjectTable<T, K> {
  // As in `tableWriter`: the types of `columns` check the kind's columns against its table; the
  // shared columns are the same in every partitioned table, so the queries on them see one table.
  const select = (db: Executor) => (db as unknown as Kysely<Database>).selectFrom(table as PartitionedTable).selectAll() as unknown as ObjectQuery<K>;
  const shared = (query: ObjectQuery<K>) => query as unknown as SharedQuery;
  const back = (query: SharedQuery) => query as unknown as ObjectQuery<K>;
  const rows = async (query: ObjectQuery<K>) => (await query.execute()) as unknown as Selectable<Database[K]>[];
  const toObject = (row: Selectable<Database[K]>): T => {
    const meta = row as unknown as Selectable<PartitionedObjectColumns>;
    return {
      id: meta.id,
      partitionId: meta.partition_id,
      name: meta.name,
      applicationId: meta.application_id,
      ...columns.fromRow(row),
      ...bookkeeping(meta),
    } as unknown as T;
  };
  const first = async (query: ObjectQuery<K>) => {
    const row = (await query.executeTakeFirst()) as unknown as Selectable<Database[K]> | undefined;
    return row && toObject(row);
  };
  const writes = tableWriter<T, K>(table, {
    toRow: (object) => ({ ...columns.toRow(object), partition_id: object.partitionId, name: object.name, application_id: object.applicationId }) as OwnRow<K>,
    created: columns.created,
  });
  const find = (db: Executor, id: string) => first(back(shared(select(db)).where('id', '=', id)));
  const placement: Placement = {
    async countIn(db, partitionId) {
      const row = await shared(select(db))
        .clearSelect()
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('partition_id', '=', partitionId)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },
    async usersOf(db, applicationId) {
      const rows = await shared(select(db)).clearSelect().select(['partition_id', 'name']).where('application_id', '=', applicationId).orderBy('name').execute();
      return rows.map((row) => ({ partitionId: row.partition_id, name: row.name }));
    },
  };
  return {
    table,
    storage: { ...writes, find, placement },
    toObject,
    select,
    ...writes,
    find,
    async findByIds(db, ids) {
      if (ids.length === 0) return [];
      return (await rows(back(shared(select(db)).where('id', 'in', ids)))).map(toObject);
    },
    findNamed: async (db, name) => (await rows(back(shared(select(db)).where('name', '=', name)))).map(toObject),
    findByName: (db, name) => first(back(shared(select(db)).where('name', '=', name))),
    findInPartition: (db, partitionId, name) => first(back(shared(select(db)).where('partition_id', '=', partitionId).where('name', '=', name))),
    async list(db, partitionIds, refine = (query) => back(shared(query).orderBy('name'))) {
      if (partitionIds !== 'all' && partitionIds.length === 0) return [];
      let query = select(db);
      if (partitionIds !== 'all') query = back(shared(query).where('partition_id', 'in', partitionIds));
      return (await rows(refine(query))).map(toObject);
    },
  };
}
