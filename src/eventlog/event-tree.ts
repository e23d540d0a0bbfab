import type { Executor } from '../platform/database.ts';
import * as merkle from './merkle.ts';
import { subtreeKey, type Subtree } from './merkle.ts';
import { lastSeq, readLeafHashesAfter, readLeavesOf, readSubtrees, type StoredSubtree } from './event-tree.store.ts';
import { nodeKey, readNodesCompletedBy } from './log-audit.store.ts';

/**
 * The event log as an RFC 9162 Merkle tree. Leaf i is the stored `leaf_hash` of entry seq i + 1
 * (SHA-256(0x00 ‖ canonical entry), never hashed again). Every append stores the perfect
 * subtrees it completes (`CompactRange.push`), so a root or a proof combines at most ~2·log2(n)
 * stored hashes, read in one query, whatever the size of the log.
 *
 * Entries and subtree hashes are only ever inserted, so a read needs no lock: a size up to
 * `treeSize` read earlier always has all its leaves.
 */

/** The number of entries in the log, which is the size of its Merkle tree. */
export async function treeSize(db: Executor): Promise<number> {
  return lastSeq(db);
}

/** The root hash (32 raw bytes) of the tree of the first `size` entries (0 ≤ size ≤ treeSize). */
export async function rootAt(db: Executor, size: number): Promise<Buffer> {
  const range = { start: 0, end: size };
  const hashes = await subtreeHashes(db, merkle.subtreesOf(range));
  return merkle.rangeHash(range, hashes);
}

/** A stored subtree hash is not the one the leaves give: the tree table was written to outside appends. */
export class TreeAlteredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeAlteredError';
  }
}

/** Leaf hashes read per query when recomputing a root. */
const LEAF_PAGE = 8192;

/**
 * The root of the first `size` entries, recomputed rather than trusted: from the subtrees of a
 * trusted earlier head (a signed checkpoint's size and root, which they must fold to) and the leaf
 * hashes of the entries appended since, pushed one by one. Every stored subtree hash those entries
 * complete is compared with the one recomputed; a stored hash that disagrees throws a
 * TreeAlteredError naming its entries. So a row planted in event_tree_node cannot make a signer
 * sign a root of someone's choosing. Costs ~log2(size) stored hashes plus the entries since the
 * trusted head (a few per checkpoint interval); without one, every leaf.
 */
export async function recomputedRootAt(db: Executor, size: number, trusted?: { readonly size: number; readonly root: Buffer }): Promise<Buffer> {
  const from = trusted?.size ?? 0;
  if (from > size) throw new Error(`the trusted head (${from} entries) is past the size asked (${size})`);
  const base = merkle.subtreesOf({ start: 0, end: from });
  const hashes = await subtreeHashes(db, base);
  const stack = base.map(hashes);
  if (trusted && !merkle.rangeHash({ start: 0, end: from }, hashes).equals(trusted.root)) {
    throw new TreeAlteredError(`the stored subtree hashes of the first ${from} entries do not give the root their signed checkpoint states: event_tree_node was altered`);
  }
  let count = from;
  while (count < size) {
    const last = Math.min(count + LEAF_PAGE, size);
    const [leaves, stored] = await Promise.all([readLeafHashesAfter(db, count, last - count), readNodesCompletedBy(db, count + 1, last)]);
    if (leaves.length !== last - count) throw new Error(`The event log lacks entries among ${count + 1}–${last}: run \`changegate verify\`.`);
    for (const leaf of leaves) {
      let hash = leaf;
      let level = 0;
      count += 1;
      while (count % merkle.subtreeWidth(level + 1) === 0) {
        hash = merkle.hashChildren(stack.pop() as Buffer, hash);
        level += 1;
        const index = count / merkle.subtreeWidth(level) - 1;
        const kept = stored.get(nodeKey(level, index));
        if (kept !== undefined && kept !== hash.toString('hex')) {
          throw new TreeAlteredError(`the stored hash of the subtree over entries ${index * merkle.subtreeWidth(level) + 1}–${count} is not the one their leaf hashes give: event_tree_node was altered`);
        }
      }
      stack.push(hash);
    }
  }
  let root = stack.pop();
  if (root === undefined) return merkle.EMPTY_ROOT;
  for (let k = stack.length - 1; k >= 0; k -= 1) root = merkle.hashChildren(stack[k] as Buffer, root);
  return root;
}

export interface InclusionProof {
  readonly leafHash: Buffer;
  /** Sibling hashes from the leaf up (RFC 9162 §2.1.3). */
  readonly proof: Buffer[];
  readonly root: Buffer;
}

/** The proof that entry `seq` is in the tree of the first `size` entries (1 ≤ seq ≤ size ≤ treeSize), with that tree's root. */
export async function inclusionProof(db: Executor, seq: number, size: number): Promise<InclusionProof> {
  const index = seq - 1;
  const ranges = merkle.inclusionRanges(index, size);
  const leaf = { level: 0, index };
  const hashes = await subtreeHashes(db, [leaf, ...merkle.subtreesOfRanges([...ranges, { start: 0, end: size }])]);
  return {
    leafHash: hashes(leaf),
    proof: ranges.map((range) => merkle.rangeHash(range, hashes)),
    root: merkle.rangeHash({ start: 0, end: size }, hashes),
  };
}

export interface ConsistencyProof {
  readonly proof: Buffer[];
  readonly fromRoot: Buffer;
  readonly toRoot: Buffer;
}

/** The proof that the tree of the first `from` entries is the beginning of the tree of the first `to` (1 ≤ from ≤ to ≤ treeSize), with both roots. */
export async function consistencyProof(db: Executor, from: number, to: number): Promise<ConsistencyProof> {
  const ranges = merkle.consistencyRanges(from, to);
  const older = { start: 0, end: from };
  const newer = { start: 0, end: to };
  const hashes = await subtreeHashes(db, merkle.subtreesOfRanges([...ranges, older, newer]));
  return { proof: ranges.map((range) => merkle.rangeHash(range, hashes)), fromRoot: merkle.rangeHash(older, hashes), toRoot: merkle.rangeHash(newer, hashes) };
}

/** The compact range of the first `size` entries, read in one query (see subtreeHashes): what an append builds on. */
export async function readRightEdge(db: Executor, size: number): Promise<merkle.CompactRange> {
  const subtrees = merkle.subtreesOf({ start: 0, end: size });
  const hashes = await subtreeHashes(db, subtrees);
  return merkle.CompactRange.of(size, subtrees.map(hashes));
}

/**
 * The hashes of these subtrees, as a lookup for the pure proof functions. One query reads the
 * stored ones. A subtree not stored — entries appended by an older version of Changegate during an
 * upgrade, before `event_tree_build()` filled them in — is computed from its leaves: slower, as right.
 */
async function subtreeHashes(db: Executor, subtrees: readonly Subtree[]): Promise<merkle.SubtreeHashes> {
  const found = new Map<string, Buffer>();
  for (const stored of await readSubtrees(db, subtrees)) found.set(subtreeKey(stored), stored.hash);
  for (const subtree of subtrees) {
    if (found.has(subtreeKey(subtree))) continue;
    const leaves = subtree.level === 0 ? [] : await readLeavesOf(db, subtree);
    if (leaves.length !== merkle.subtreeWidth(subtree.level)) {
      throw new Error(`The event log lacks entries ${subtree.index * merkle.subtreeWidth(subtree.level) + 1}–${(subtree.index + 1) * merkle.subtreeWidth(subtree.level)} (some of them): run \`changegate verify\`.`);
    }
    found.set(subtreeKey(subtree), merkle.rootOf(leaves));
  }
  return (subtree) => {
    const hash = found.get(subtreeKey(subtree));
    if (!hash) throw new Error(`subtree ${subtreeKey(subtree)} was not read`);
    return hash;
  };
}
