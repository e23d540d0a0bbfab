import type { Executor } from '../platform/database.ts';
import { recomputedRootAt, rootAt, treeSize } from './event-tree.ts';

/** The size of the event log's Merkle tree and its root hash at that size. */
export interface TreeHead {
  readonly size: number;
  /** 32-byte SHA-256 Merkle tree hash (RFC 9162 §2.1.1). */
  readonly root: Buffer;
}

/** Where the checkpoint publisher reads the tree head; the smallest interface it needs. */
export interface TreeHeadSource {
  /**
   * The head. Given a trusted earlier head (a verified signed checkpoint) that it has grown past,
   * its root is recomputed from that head and the leaves since, never taken from stored subtree
   * hashes alone: a TreeAlteredError says which stored hash disagrees.
   */
  head(trusted?: TreeHead): Promise<TreeHead>;
}

/**
 * The stored tree's head: its size, and its root combined from at most about log2(size) stored
 * subtree hashes, or recomputed from a trusted head and the leaves since (`recomputedRootAt`).
 * Entries are only ever appended, so the root read is the root at the size read, whatever is
 * appended in between.
 */
export class StoredTreeHead implements TreeHeadSource {
  constructor(private readonly db: Executor) {}

  async head(trusted?: TreeHead): Promise<TreeHead> {
    const size = await treeSize(this.db);
    if (trusted !== undefined && size > trusted.size) return { size, root: await recomputedRootAt(this.db, size, trusted) };
    return { size, root: await rootAt(this.db, size) };
  }
}
