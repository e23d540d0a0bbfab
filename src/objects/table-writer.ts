import type { Updateable } from 'kysely';
import type { Database, Tx } from '../platform/database.ts';
import type { ObjectMeta } from './object.ts';
import type { ObjectKind } from './object-store.ts';

/** Tables of configuration objects with the usual columns (id, version, created_*, updated_*). */
type ObjectTable = 'device' | 'credential' | 'access_group' | 'change' | 'webhook' | 'audit_filter';

/**
 * The writes of an object kind stored one object a row: insert, update guarded by the version the
 * caller read, delete. `toRow` maps every column but `id`, `created_at` and `created_by`, and is
 * checked against its table.
 */
export function tableWriter<T extends ObjectMeta, K extends ObjectTable>(
  table: K,
  toRow: (object: T) => Updateable<Database[K]>,
): Pick<ObjectKind<T>, 'insert' | 'update' | 'remove'> {
  // Kysely cannot check a row against a table chosen at run time; `toRow`'s type above is what
  // checks the columns, so inside, the table is any object table and the rows are passed as is.
  const name: ObjectTable = table;
  return {
    async insert(trx: Tx, object: T) {
      await trx
        .insertInto(name)
        .values({ ...toRow(object), id: object.id, created_at: object.createdAt, created_by: object.createdBy } as never)
        .execute();
    },
    async update(trx: Tx, object: T, expectedVersion: number) {
      const result = await trx
        .updateTable(name)
        .set(toRow(object) as never)
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
