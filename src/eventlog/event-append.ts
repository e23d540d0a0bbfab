import type { Tx } from '../platform/database.ts';
import { GENESIS_CHAIN_HASH, hashEntry, type HashedEventEntry } from './event.ts';
import { appendAfter, type LogHead } from './event.store.ts';
import type { StoredSubtree } from './event-tree.store.ts';
import { readRightEdge } from './event-tree.ts';
import { CompactRange } from './merkle.ts';

export interface NewEvent {
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly time: Date;
}

/** What an instance believes the log ends with: its last entry and the tree's right edge there. */
interface KnownEnd {
  readonly head: LogHead | undefined;
  readonly edge: CompactRange;
}

/**
 * The log's end as this process last appended it, per database (keyed by the Kysely adapter, which
 * every transaction of one database shares). Only a hint: `event_append()` checks it under the
 * append lock, and a stale one (another instance appended, or a transaction that appended rolled
 * back) costs one more round trip, never a wrong entry.
 */
const knownEnds = new WeakMap<object, KnownEnd>();

/**
 * Appends an entry to the event log inside the caller's transaction, so the entry exists exactly
 * when the change it records does, and with it the Merkle tree's subtrees it completes. Usually one
 * round trip, as a plain insert: the entry is computed from the log's end as this process knows it.
 * Never put a secret in `data`.
 */
export async function appendEvent(trx: Tx, event: NewEvent): Promise<HashedEventEntry> {
  const key = trx.getExecutor().adapter;
  const known = knownEnds.get(key);
  if (known) {
    const attempt = next(known, event);
    // Set before the round trip: a concurrent append in this process builds on this one, and waits for its lock.
    knownEnds.set(key, attempt.end);
    const result = await appendAfter(trx, attempt.entry, known.head?.chainHash ?? GENESIS_CHAIN_HASH, attempt.completed);
    if (result.appended) return attempt.entry;
    knownEnds.delete(key);
    return appendUnderLock(trx, key, event, result.head);
  }
  // Nothing known yet: a first attempt as if the log were empty takes the lock and answers its end.
  const first = next({ head: undefined, edge: CompactRange.empty() }, event);
  const result = await appendAfter(trx, first.entry, GENESIS_CHAIN_HASH, first.completed);
  if (result.appended) {
    knownEnds.set(key, first.end);
    return first.entry;
  }
  return appendUnderLock(trx, key, event, result.head);
}

/** The append once `event_append()` answered the log's actual end: this transaction holds the lock now, so nothing moves. */
async function appendUnderLock(trx: Tx, key: object, event: NewEvent, head: LogHead | undefined): Promise<HashedEventEntry> {
  const known: KnownEnd = { head, edge: head ? await readRightEdge(trx, head.seq) : CompactRange.empty() };
  const attempt = next(known, event);
  const result = await appendAfter(trx, attempt.entry, head?.chainHash ?? GENESIS_CHAIN_HASH, attempt.completed);
  if (!result.appended) throw new Error(`the event log's end moved while its append lock was held (entry ${result.head?.seq ?? 0})`);
  knownEnds.set(key, attempt.end);
  return attempt.entry;
}

function next(known: KnownEnd, event: NewEvent) {
  const entry = hashEntry(
    {
      seq: (known.head?.seq ?? 0) + 1,
      // Millisecond precision, the same after a round trip through timestamptz, so the hash holds.
      time: new Date(event.time.getTime()),
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      data: event.data ?? {},
    },
    known.head?.chainHash ?? GENESIS_CHAIN_HASH,
  );
  const edge = known.edge.clone();
  const completed: StoredSubtree[] = [];
  edge.push(Buffer.from(entry.leafHash, 'hex'), (subtree, hash) => completed.push({ ...subtree, hash }));
  return { entry, completed, end: { head: { seq: entry.seq, leafHash: entry.leafHash, chainHash: entry.chainHash }, edge } };
}
