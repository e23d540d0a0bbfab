import { createHash } from 'node:crypto';
import type { Executor } from '../platform/database.ts';

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

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

const NODE = Buffer.from([0x01]);

/**
 * MTH per RFC 9162 §2.1.1 over leaf hashes (each already SHA-256(0x00 ‖ entry)): the empty tree is
 * SHA-256 of nothing; otherwise split at the largest power of two below n and hash
 * SHA-256(0x01 ‖ left ‖ right). Computed bottom-up with a stack of perfect subtrees, O(n).
 */
export function merkleTreeHash(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  // Perfect subtrees of decreasing size, as a binary counter: merging equal heights keeps RFC 9162's split.
  const stack: Array<{ height: number; hash: Buffer }> = [];
  for (const leaf of leaves) {
    let node = { height: 0, hash: leaf };
    while (stack.length > 0 && stack[stack.length - 1]!.height === node.height) {
      const left = stack.pop()!;
      node = { height: node.height + 1, hash: sha256(NODE, left.hash, node.hash) };
    }
    stack.push(node);
  }
  // The rightmost, smaller subtrees fold into the larger ones to their left.
  let root = stack.pop()!.hash;
  while (stack.length > 0) root = sha256(NODE, stack.pop()!.hash, root);
  return root;
}

const PAGE = 10_000;

/**
 * A plain tree head: reads every stored leaf hash and computes the root. Stands in until the
 * incremental Merkle tree is merged (which computes the same root from stored subtree hashes).
 */
export class StoredLeavesTreeHead implements TreeHeadSource {
  constructor(private readonly db: Executor) {}

  async head(): Promise<TreeHead> {
    const leaves: Buffer[] = [];
    let after = 0;
    for (;;) {
      const rows = await this.db.selectFrom('event').select(['seq', 'leaf_hash']).where('seq', '>', after).orderBy('seq').limit(PAGE).execute();
      for (const row of rows) leaves.push(Buffer.from(row.leaf_hash, 'hex'));
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.seq;
    }
    return { size: leaves.length, root: merkleTreeHash(leaves) };
  }
}
