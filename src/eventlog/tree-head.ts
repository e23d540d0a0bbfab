import type { Executor } from '../platform/database.ts';
import { rootAt, treeSize } from './event-tree.ts';

/** The size of the event log's Merkle tree and its root hash at that size. */
export interface TreeHead {
  readonly size: number;
  /** 32-byte SHA-256 Merkle tree hash (RFC 9162 §2.1.1). */
  readonly root: Buffer;
}

/** Where the checkpoint publisher reads the tree head; the smallest interface it needs. */
export interface TreeHeadSource {
  head(): Promise<TreeHead>;
}

/**
 * The stored tree's head: its size, and its root combined from at most about log2(size) stored
 * subtree hashes. Entries are only ever appended, so the root read is the root at the size read,
 * whatever is appended in between.
 */
export class StoredTreeHead implements TreeHeadSource {
  constructor(private readonly db: Executor) {}

  async head(): Promise<TreeHead> {
    const size = await treeSize(this.db);
    return { size, root: await rootAt(this.db, size) };
  }
}
