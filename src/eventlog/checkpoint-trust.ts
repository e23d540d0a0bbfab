import type { Executor } from '../platform/database.ts';
import { checkpointRowProblem, type CheckpointRejection } from './checkpoint.ts';
import { checkpointsBelow, type StoredCheckpoint } from './checkpoint.store.ts';
import type { VerifierKey } from './signed-note.ts';

/** The log a checkpoint must be of: its origin, and the key that signs it. */
export interface LogIdentity {
  readonly origin: string;
  readonly key: VerifierKey;
}

/** A row of the checkpoint table that is not the log's, and why. */
export interface RejectedCheckpoint {
  readonly checkpoint: StoredCheckpoint;
  readonly reason: CheckpointRejection;
  readonly message: string;
}

/** Rows read at a time, from the largest size down. */
const PAGE = 64;
/** Rejected rows listed at most (the rest are counted): after a key change every older row is another key's. */
const MAX_LISTED = 100;

/**
 * The latest checkpoint the log itself signed (its note verifies with the log's key and origin,
 * and the row holds what the note says), and the rows above it that are not: rows planted by
 * whoever can write to the database, or signed with another key. Reads from the largest size down,
 * a page at a time, and stops at the first row that is the log's. A planted row is thus never
 * "the latest": it can neither stop the log from signing nor be served as its checkpoint.
 */
export async function latestTrustedCheckpoint(db: Executor, log: LogIdentity): Promise<{ trusted?: StoredCheckpoint; rejected: RejectedCheckpoint[]; rejectedCount: number }> {
  const rejected: RejectedCheckpoint[] = [];
  let rejectedCount = 0;
  let below: number | undefined;
  // The largest row alone first: it is the log's own but for a planted row or a change of key.
  let limit = 1;
  for (;;) {
    const page = await checkpointsBelow(db, below, limit);
    for (const checkpoint of page) {
      const problem = checkpointRowProblem(checkpoint, log);
      if (!problem) return { trusted: checkpoint, rejected, rejectedCount };
      rejectedCount += 1;
      if (rejected.length < MAX_LISTED) rejected.push({ checkpoint, ...problem });
    }
    if (page.length < limit) return { rejected, rejectedCount };
    below = (page[page.length - 1] as StoredCheckpoint).size;
    limit = PAGE;
  }
}
