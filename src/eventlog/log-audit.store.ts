import type { Executor } from '../platform/database.ts';
import { subtreeWidth } from './merkle.ts';

/** A key for a stored node in a Map: exact below 2^46 entries. */
export const nodeKey = (level: number, index: number): number => index * 64 + level;

/**
 * The stored subtree hashes (hex, by `nodeKey`) that the leaves of entries `first`..`last`
 * complete: node (level, idx) is completed by leaf (idx + 1)·2^level − 1. One query, by the primary key.
 */
export async function readNodesCompletedBy(db: Executor, first: number, last: number): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  const bounds: Array<{ level: number; from: number; to: number }> = [];
  for (let level = 1; subtreeWidth(level) <= last; level += 1) {
    const width = subtreeWidth(level);
    const from = Math.ceil(first / width) - 1;
    const to = Math.floor(last / width) - 1;
    if (to >= from) bounds.push({ level, from, to });
  }
  if (bounds.length === 0) return found;
  const rows = await db
    .selectFrom('event_tree_node')
    .select(['level', 'idx', 'hash'])
    .where((eb) => eb.or(bounds.map(({ level, from, to }) => eb.and([eb('level', '=', level), eb('idx', '>=', from), eb('idx', '<=', to)]))))
    .execute();
  for (const row of rows) found.set(nodeKey(Number(row.level), Number(row.idx)), row.hash);
  return found;
}

/** A checkpoint the log signed and stored, as kept in the database (its signature still to check). */
export interface StoredCheckpointNote {
  readonly size: number;
  readonly note: string;
}

/** The checkpoints stored for tree sizes `first`..`last`, in size order. */
export async function readCheckpointsBetween(db: Executor, first: number, last: number): Promise<StoredCheckpointNote[]> {
  const rows = await db.selectFrom('checkpoint').select(['tree_size', 'note']).where('tree_size', '>=', first).where('tree_size', '<=', last).orderBy('tree_size').execute();
  return rows.map((row) => ({ size: Number(row.tree_size), note: row.note }));
}
