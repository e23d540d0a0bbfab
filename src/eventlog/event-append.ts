import type { Tx } from '../platform/database.ts';
import { GENESIS_CHAIN_HASH, hashEntry, type HashedEventEntry } from './event.ts';
import { insertEntry, lockAndReadLast } from './event.store.ts';
import { subtreesCompletedBy } from './event-tree.ts';

export interface NewEvent {
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly time: Date;
}

/**
 * Appends an entry to the event log inside the caller's transaction, so the entry exists exactly
 * when the change it records does, and with it the Merkle tree's subtrees it completes. Never put
 * a secret in `data`.
 */
export async function appendEvent(trx: Tx, event: NewEvent): Promise<HashedEventEntry> {
  const last = await lockAndReadLast(trx);
  const entry = hashEntry(
    {
      seq: (last?.seq ?? 0) + 1,
      // Millisecond precision, the same after a round trip through timestamptz, so the hash holds.
      time: new Date(event.time.getTime()),
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      data: event.data ?? {},
    },
    last?.chainHash ?? GENESIS_CHAIN_HASH,
  );
  await insertEntry(trx, entry, await subtreesCompletedBy(trx, entry.seq, entry.leafHash, last?.leafHash));
  return entry;
}
