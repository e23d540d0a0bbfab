import type { Executor } from '../platform/database.ts';
import { EntryWalk, GENESIS_CHAIN_HASH, type EntryFailure } from './event.ts';
import { listEntries } from './event.store.ts';

export interface VerifyReport {
  readonly ok: boolean;
  /** Entries that verified before the first failure (all of them when ok): in a range, those of the range. */
  readonly verified: number;
  readonly headSeq: number;
  readonly headChainHash: string;
  /** The walk reached the log's last entry; false when it stopped at a failure or at the range's limit. */
  readonly complete: boolean;
  readonly failure?: EntryFailure;
}

/**
 * Part of the log to verify: the entries after `afterSeq`, whose chain hash an earlier range
 * verified (its report's `headChainHash`), at most `limit` of them. Ranges verified one after
 * another, each from where the last ended, check exactly what one walk checks, so a caller can
 * show how far the verification is.
 */
export interface VerifyRange {
  readonly afterSeq: number;
  readonly chainHash: string;
  readonly limit?: number;
}

const PAGE = 8192;

/**
 * Recomputes every leaf and chain hash from the first entry on (or over a range) and stops at the
 * first entry that does not match, naming it. Reads in pages, so a long log needs no long
 * transaction: entries are only ever appended, so what was read stays what is stored. The chain
 * alone cannot see entries deleted at the end, nor a history rewritten with every hash:
 * `verifyAgainstCheckpoint` can.
 */
export async function verifyEventLog(db: Executor, onProgress?: (verified: number) => void, range: VerifyRange = { afterSeq: 0, chainHash: GENESIS_CHAIN_HASH }): Promise<VerifyReport> {
  const walk = new EntryWalk(range);
  const checked = () => walk.expected - 1 - range.afterSeq;
  const report = (complete: boolean, failure?: EntryFailure): VerifyReport => ({
    ok: !failure,
    verified: checked(),
    headSeq: walk.expected - 1,
    headChainHash: walk.headChainHash,
    complete,
    ...(failure && { failure }),
  });
  for (;;) {
    const left = range.limit === undefined ? PAGE : Math.min(PAGE, range.limit - checked());
    if (left === 0) return report(false);
    // Entries are requested after the last good one; a gap shows up as a higher first seq.
    const page = await listEntries(db, { afterSeq: walk.expected - 1, limit: left });
    for (const entry of page) {
      const found = walk.check(entry);
      if (!Buffer.isBuffer(found)) return report(false, found);
    }
    onProgress?.(walk.expected - 1);
    if (page.length < left) return report(true);
  }
}
