import { sql } from 'kysely';
import type { Executor } from '../platform/database.ts';
import { subtreeWidth, type Subtree } from './merkle.ts';

/** A stored perfect-subtree hash. Level 0 is a leaf: the event with seq index + 1. */
export interface StoredSubtree extends Subtree {
  readonly hash: Buffer;
}

/** The number of entries in the log: the last seq (entries are numbered from 1 without gaps). */
export async function lastSeq(db: Executor): Promise<number> {
  const row = await db.selectFrom('event').select((eb) => eb.fn.max('seq').as('last')).executeTakeFirst();
  return Number(row?.last ?? 0);
}

/**
 * The stored hashes of these subtrees, in one query: leaves from `event.leaf_hash`, the others from
 * `event_tree_node`. A subtree that is not stored is simply not in the answer.
 */
export async function readSubtrees(db: Executor, subtrees: readonly Subtree[]): Promise<StoredSubtree[]> {
  const seqs = subtrees.filter((subtree) => subtree.level === 0).map((leaf) => leaf.index + 1);
  const nodes = subtrees.filter((subtree) => subtree.level > 0);
  if (seqs.length === 0 && nodes.length === 0) return [];
  const leafQuery = db.selectFrom('event').select(['seq as idx', 'leaf_hash as hash']).select(sql<number>`0`.as('level')).where('seq', 'in', seqs);
  const nodeQuery = db
    .selectFrom('event_tree_node')
    .select(['idx', 'hash', 'level'])
    .where((eb) => eb(eb.refTuple('level', 'idx'), 'in', nodes.map((node) => eb.tuple(node.level, node.index))));
  const query = seqs.length === 0 ? nodeQuery : nodes.length === 0 ? leafQuery : leafQuery.unionAll(nodeQuery);
  const rows = await query.execute();
  return rows.map((row) => {
    const level = Number(row.level);
    return { level, index: level === 0 ? Number(row.idx) - 1 : Number(row.idx), hash: Buffer.from(row.hash, 'hex') };
  });
}

/** The leaf hashes of a subtree, in order, read from the entries themselves. */
export async function readLeavesOf(db: Executor, subtree: Subtree): Promise<Buffer[]> {
  const first = subtree.index * subtreeWidth(subtree.level) + 1;
  const rows = await db
    .selectFrom('event')
    .select('leaf_hash')
    .where('seq', '>=', first)
    .where('seq', '<', first + subtreeWidth(subtree.level))
    .orderBy('seq')
    .execute();
  return rows.map((row) => Buffer.from(row.leaf_hash, 'hex'));
}


/** The leaf hashes of up to `limit` entries after seq `after`, in order. */
export async function readLeafHashesAfter(db: Executor, after: number, limit: number): Promise<Buffer[]> {
  const rows = await db.selectFrom('event').select(['seq', 'leaf_hash']).where('seq', '>', after).orderBy('seq').limit(limit).execute();
  // A gap (an entry deleted) ends the answer: the caller sees too few leaves.
  const leaves: Buffer[] = [];
  for (const row of rows) {
    if (Number(row.seq) !== after + leaves.length + 1) break;
    leaves.push(Buffer.from(row.leaf_hash, 'hex'));
  }
  return leaves;
}
