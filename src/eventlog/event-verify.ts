import type { Executor } from '../platform/database.ts';
import { EntryWalk, type EntryFailure } from './event.ts';
import { listEntries } from './event.store.ts';

export interface VerifyReport {
  readonly ok: boolean;
  /** Entries that verified before the first failure (all of them when ok). */
  readonly verified: number;
  readonly headSeq: number;
  readonly headChainHash: string;
  readonly failure?: EntryFailure;
}

const PAGE = 8192;

/**
 * Recomputes every leaf and chain hash from the first entry on and stops at the first entry that
 * does not match, naming it. Reads in pages, so a long log needs no long transaction: entries are
 * only ever appended, so what was read stays what is stored. The chain alone cannot see entries
 * deleted at the end, nor a history rewritten with every hash: `verifyAgainstCheckpoint` can.
 */
export async function verifyEventLog(db: Executor, onProgress?: (verified: number) => void): Promise<VerifyReport> {
  const walk = new EntryWalk();
  const report = (failure?: EntryFailure): VerifyReport => ({ ok: !failure, verified: walk.expected - 1, headSeq: walk.expected - 1, headChainHash: walk.headChainHash, ...(failure && { failure }) });
  for (;;) {
    // Entries are requested after the last good one; a gap shows up as a higher first seq.
    const page = await listEntries(db, { afterSeq: walk.expected - 1, limit: PAGE });
    for (const entry of page) {
      const checked = walk.check(entry);
      if (!Buffer.isBuffer(checked)) return report(checked);
    }
    onProgress?.(walk.expected - 1);
    if (page.length < PAGE) return report();
  }
}
