import { sql } from 'kysely';
import type { Tx } from './database.ts';
import { SecretBox } from './secret-box.ts';

/** A column holding sealed values, and the context each value was sealed with. */
export interface SealedColumn {
  readonly table: string;
  readonly column: string;
  readonly context: (id: string) => string;
}

/**
 * Re-seals every value of the given columns that is not sealed under the box's current key, inside
 * the caller's transaction: either all move to the new key or none does. Returns how many moved.
 */
export async function resealAll(trx: Tx, box: SecretBox, columns: readonly SealedColumn[], onProgress?: (done: number) => void): Promise<number> {
  let moved = 0;
  for (const { table, column, context } of columns) {
    const rows = await sql<{ id: string; value: string }>`SELECT id, ${sql.ref(column)} AS value FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NOT NULL`.execute(trx);
    for (const row of rows.rows) {
      if (SecretBox.keyIdOf(row.value) === box.currentKeyId) continue;
      const resealed = box.seal(box.open(row.value, context(row.id)), context(row.id));
      await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${resealed} WHERE id = ${row.id}`.execute(trx);
      moved += 1;
      onProgress?.(moved);
    }
  }
  return moved;
}
