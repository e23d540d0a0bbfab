import { sql } from 'kysely';
import type { Executor, Tx } from '../platform/database.ts';
import type { StoredSubtree } from './event-tree.store.ts';
import type { HashedEventEntry } from './event.ts';

/** Serializes appends across every instance sharing the database: one writer computes the next link. */
const APPEND_LOCK = 7_311_002;

export async function lockForAppend(trx: Tx): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${APPEND_LOCK})`.execute(trx);
}

/**
 * Takes the append lock and then reads the last entry, in one round trip (the function
 * `event_lock_for_append()`, migration 0012): what `lockForAppend` then `lastEntry` do in two.
 */
export async function lockAndReadLast(trx: Tx): Promise<{ seq: number; leafHash: string; chainHash: string } | undefined> {
  const { rows } = await sql<{ seq: number; leaf_hash: string; chain_hash: string }>`SELECT seq, leaf_hash, chain_hash FROM event_lock_for_append()`.execute(trx);
  const row = rows[0];
  return row && { seq: Number(row.seq), leafHash: row.leaf_hash, chainHash: row.chain_hash };
}

export async function lastEntry(db: Executor): Promise<{ seq: number; leafHash: string; chainHash: string } | undefined> {
  const row = await db.selectFrom('event').select(['seq', 'leaf_hash', 'chain_hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row && { seq: row.seq, leafHash: row.leaf_hash, chainHash: row.chain_hash };
}

/** A subtree hash was stored before the entries that complete it, and it is not theirs: the append is refused. */
export class TreeNodeConflictError extends Error {
  constructor(entry: HashedEventEntry, subtrees: readonly StoredSubtree[]) {
    const ranges = subtrees.map(({ level, index }) => `${index * 2 ** level + 1}–${(index + 1) * 2 ** level}`).join(', ');
    super(
      `Entry ${entry.seq} is not appended: the event log's Merkle tree already holds a different hash for a subtree it completes (over entries ${ranges}). ` +
        'Entries were deleted from the log\'s end (their subtree hashes stay), or a row was written to event_tree_node ahead of its entries, outside Changegate: ' +
        'find who can write to the database, and run `changegate verify --checkpoint` with a checkpoint kept elsewhere.',
    );
    this.name = 'TreeNodeConflictError';
  }
}

/**
 * Inserts an entry, and in the same statement the Merkle tree's subtrees it completes (see
 * event-tree.ts): one round trip, whatever the tree adds. A subtree already there with the same
 * hash (written by `event_tree_build()`) is left as it is; one with another hash was planted, and
 * is never silently kept: the statement turns into an UPDATE, which the table's append-only
 * trigger refuses, and the append fails with a TreeNodeConflictError.
 */
export async function insertEntry(trx: Tx, entry: HashedEventEntry, subtrees: readonly StoredSubtree[] = []): Promise<void> {
  const row = {
    seq: entry.seq,
    time: entry.time,
    actor: entry.actor,
    action: entry.action,
    subject: entry.subject,
    data: JSON.stringify(entry.data) as unknown as Record<string, unknown>,
    leaf_hash: entry.leafHash,
    chain_hash: entry.chainHash,
  };
  if (subtrees.length === 0) {
    await trx.insertInto('event').values(row).execute();
    return;
  }
  const nodes = subtrees.map((subtree) => ({ level: subtree.level, idx: subtree.index, hash: subtree.hash.toString('hex') }));
  try {
    await trx
      .with('tree', (db) =>
        db
          .insertInto('event_tree_node')
          .values(nodes)
          .onConflict((conflict) =>
            conflict
              .columns(['level', 'idx'])
              .doUpdateSet({ hash: sql<string>`excluded.hash` })
              .where(sql<boolean>`event_tree_node.hash <> excluded.hash`),
          )
          .returning('level'),
      )
      .insertInto('event')
      .values(row)
      .execute();
  } catch (error) {
    if (/event_tree_node/.test((error as Error).message)) throw new TreeNodeConflictError(entry, subtrees);
    throw error;
  }
}

export interface EventQuery {
  readonly afterSeq?: number;
  readonly limit: number;
  readonly action?: string;
  readonly actor?: string;
  readonly subject?: string;
}

/** Entries in sequence order after `afterSeq`, for paging through the log (and verifying it). */
export async function listEntries(db: Executor, query: EventQuery): Promise<HashedEventEntry[]> {
  // Rows as the driver gives them, renamed in SQL: no second object per row on a long verification.
  let select = db
    .selectFrom('event')
    .select(['seq', 'time', 'actor', 'action', 'subject', 'data', 'leaf_hash as leafHash', 'chain_hash as chainHash'])
    .where('seq', '>', query.afterSeq ?? 0);
  if (query.action) select = select.where('action', '=', query.action);
  if (query.actor) select = select.where('actor', '=', query.actor);
  if (query.subject) select = select.where('subject', '=', query.subject);
  return select.orderBy('seq').limit(query.limit).execute();
}
