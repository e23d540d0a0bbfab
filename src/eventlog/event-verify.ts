import type { Executor } from '../platform/database.ts';
import { checkEntry, GENESIS_CHAIN_HASH, type VerifyFailure } from './event.ts';
import { listEntries } from './event.store.ts';

export interface VerifyReport {
  readonly ok: boolean;
  /** Entries that verified before the first failure (all of them when ok). */
  readonly verified: number;
  readonly headSeq: number;
  readonly headChainHash: string;
  readonly failure?: VerifyFailure;
}

const BATCH = 1000;

/**
 * Recomputes every leaf and chain hash from the first entry on and stops at the first entry that
 * does not match, naming it. Reads in pages, so a long log needs no long transaction: entries are
 * only ever appended, so what was read stays what is stored.
 */
export async function verifyEventLog(db: Executor, onProgress?: (verified: number) => void): Promise<VerifyReport> {
  let previous = GENESIS_CHAIN_HASH;
  let expected = 1;
  for (;;) {
    const batch = await listEntries(db, { afterSeq: expected - 1, limit: BATCH });
    // Entries are requested after the last good one; a gap shows up as a higher first seq.
    for (const entry of batch) {
      const failure = checkEntry(entry, expected, previous);
      if (failure) return { ok: false, verified: expected - 1, headSeq: expected - 1, headChainHash: previous, failure };
      previous = entry.chainHash;
      expected += 1;
    }
    onProgress?.(expected - 1);
    if (batch.length < BATCH) return { ok: true, verified: expected - 1, headSeq: expected - 1, headChainHash: previous };
  }
}
