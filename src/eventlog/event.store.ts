import { sql } from 'kysely';
import type { Executor, Tx } from '../platform/database.ts';
import type { StoredSubtree } from './event-tree.store.ts';
import type { HashedEventEntry } from './event.ts';

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

/** The log's last entry, as an append needs it. */
export interface LogHead {
  readonly seq: number;
  readonly leafHash: string;
  readonly chainHash: string;
}

/**
 * Appends an entry and the Merkle subtrees it completes (see event-tree.ts) in one round trip,
 * through the function `event_append()` (migration 0014): it takes the append lock, and appends only
 * if the log's last entry is still the one `entry` was computed after (seq − 1, and the chain hash
 * `entry` links to). If not, nothing is written and the log's actual head is returned (undefined:
 * the log is empty), for the caller to compute the entry again — it holds the lock by then.
 *
 * A subtree already there with the same hash (written by `event_tree_build()`) is left as it is;
 * one with another hash was planted, and is never silently kept: the append fails with a
 * TreeNodeConflictError.
 */
export async function appendAfter(
  trx: Tx,
  entry: HashedEventEntry,
  previousChainHash: string,
  subtrees: readonly StoredSubtree[],
): Promise<{ appended: true } | { appended: false; head: LogHead | undefined }> {
  try {
    const { rows } = await sql<{ appended: boolean; head_seq: string | number | null; head_leaf_hash: string | null; head_chain_hash: string | null }>`
      SELECT appended, head_seq, head_leaf_hash, head_chain_hash FROM event_append(
        ${entry.seq}, ${previousChainHash}, ${entry.time}, ${entry.actor}, ${entry.action}, ${entry.subject}, ${JSON.stringify(entry.data)}::jsonb,
        ${entry.leafHash}, ${entry.chainHash},
        ${subtrees.map((subtree) => subtree.level)}::smallint[], ${subtrees.map((subtree) => subtree.index)}::bigint[],
        ${subtrees.map((subtree) => subtree.hash.toString('hex'))}::text[])`.execute(trx);
    const row = rows[0];
    if (!row) throw new Error('event_append() answered no row');
    if (row.appended) return { appended: true };
    return {
      appended: false,
      head: row.head_seq === null ? undefined : { seq: Number(row.head_seq), leafHash: row.head_leaf_hash as string, chainHash: row.head_chain_hash as string },
    };
  } catch (error) {
    if (/event_tree_node/.test((error as Error).message)) throw new TreeNodeConflictError(entry, subtrees);
    throw error;
  }
}

export interface EventQuery {
  /** Entries after this seq (oldest first, the default order). */
  readonly afterSeq?: number;
  /** Entries before this seq. */
  readonly beforeSeq?: number;
  readonly limit: number;
  readonly action?: string;
  readonly actor?: string;
  readonly subject?: string;
  /** Entries written from this time on. */
  readonly from?: Date;
  /** Entries written before this time. */
  readonly until?: Date;
  /** The last `limit` entries that match, newest first: the page a reader of the log starts from. */
  readonly newestFirst?: boolean;
}

/** Entries in sequence order after `afterSeq` (or newest first), for paging through the log (and verifying it). */
export async function listEntries(db: Executor, query: EventQuery): Promise<HashedEventEntry[]> {
  // Rows as the driver gives them, renamed in SQL: no second object per row on a long verification.
  let select = db
    .selectFrom('event')
    .select(['seq', 'time', 'actor', 'action', 'subject', 'data', 'leaf_hash as leafHash', 'chain_hash as chainHash'])
    .where('seq', '>', query.afterSeq ?? 0);
  if (query.beforeSeq !== undefined) select = select.where('seq', '<', query.beforeSeq);
  if (query.action) select = select.where('action', '=', query.action);
  if (query.actor) select = select.where('actor', '=', query.actor);
  if (query.subject) select = select.where('subject', '=', query.subject);
  if (query.from) select = select.where('time', '>=', query.from);
  if (query.until) select = select.where('time', '<', query.until);
  return select.orderBy('seq', query.newestFirst ? 'desc' : 'asc').limit(query.limit).execute();
}
