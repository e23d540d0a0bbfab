import { hash } from 'node:crypto';

/**
 * RFC 9162 (Certificate Transparency v2) Merkle trees, §2.1: hashing, roots, inclusion and
 * consistency proofs and their verification, over raw 32-byte SHA-256 hashes. Pure: no I/O.
 *
 * Positions are plain numbers (leaf indexes from 0, tree sizes), safe up to 2^53, so halving is
 * `Math.floor(x / 2)` rather than `>>`, which would cut them to 32 bits.
 *
 * Proof generation does not walk leaves: it asks a `SubtreeHashes` function for the hashes of
 * *perfect subtrees* — the aligned ranges [index·2^level, (index+1)·2^level) — which a store keeps
 * (see event-tree.ts) and a test computes from the leaves. Every range an RFC 9162 proof needs is
 * the union of at most ~log2(n) of them (`subtreesOf`).
 */

/** A perfect subtree: the leaves [index·2^level, (index+1)·2^level). Level 0 is one leaf. */
export interface Subtree {
  readonly level: number;
  readonly index: number;
}

/** Leaves [start, end). */
export interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/** Gives the hash of a perfect subtree; a store's answer, or a computation over the leaves. */
export type SubtreeHashes = (subtree: Subtree) => Buffer;

/** Bytes in a SHA-256 hash. */
export const HASH_SIZE = 32;

/*
 * One-shot `crypto.hash`: a verification of a long log hashes millions of nodes, and a Hash object
 * per call costs three times as much. The node buffer is reused: hashing is synchronous.
 */
const sha256 = (data: Buffer): Buffer => hash('sha256', data, 'buffer');

/** The root of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Buffer = sha256(Buffer.alloc(0));

/** SHA-256(0x00 ‖ entry). An event's stored `leaf_hash` is this already: never hash it again. */
export const hashLeaf = (entry: Buffer): Buffer => sha256(Buffer.concat([Buffer.from([0x00]), entry]));

const node = Buffer.alloc(1 + 2 * HASH_SIZE, 0x01);

/** SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Buffer, right: Buffer): Buffer {
  // A proof may carry an element of another length: hashed as given, never padded with stale bytes.
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) return sha256(Buffer.concat([node.subarray(0, 1), left, right]));
  left.copy(node, 1);
  right.copy(node, 1 + HASH_SIZE);
  return sha256(node);
}

/** The number of leaves in a subtree of this level. */
export const subtreeWidth = (level: number): number => 2 ** level;

/** The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees that make up [start, end), left to right, each as large as its alignment
 * allows. Every range a proof needs starts at a multiple of a power of two at least as large as
 * itself, so these are the subtrees RFC 9162's recursion would meet; there are at most ~log2(n).
 */
export function subtreesOf({ start, end }: LeafRange): Subtree[] {
  const subtrees: Subtree[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    while (at % subtreeWidth(level + 1) === 0 && at + subtreeWidth(level + 1) <= end) level += 1;
    subtrees.push({ level, index: at / subtreeWidth(level) });
    at += subtreeWidth(level);
  }
  return subtrees;
}

/**
 * The compact range of the leaves [0, size): the hashes of the perfect subtrees `subtreesOf` splits
 * it into, largest first (one per bit set in size, so at most log2(n)). It is all an append needs
 * to know of a tree: pushing a leaf merges the equal subtrees at the right, completing the nodes a
 * store keeps; the root folds the hashes from the right, as RFC 9162 splits a tree.
 */
export class CompactRange {
  private constructor(
    private count: number,
    private readonly hashes: Buffer[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** The range of the first `size` leaves from the hashes of `subtreesOf({ start: 0, end: size })`, in order. */
  static of(size: number, hashes: readonly Buffer[]): CompactRange {
    if (hashes.length !== subtreesOf({ start: 0, end: size }).length) throw new Error(`a compact range of ${size} leaves has one hash per bit set in its size, not ${hashes.length}`);
    return new CompactRange(size, [...hashes]);
  }

  get size(): number {
    return this.count;
  }

  /** Adds a leaf, calling `completed` for each perfect subtree (level ≥ 1) it completes. */
  push(leaf: Buffer, completed?: (subtree: Subtree, hash: Buffer) => void): void {
    let hash = leaf;
    let level = 0;
    const count = this.count + 1;
    while (count % subtreeWidth(level + 1) === 0) {
      hash = hashChildren(this.hashes.pop() as Buffer, hash);
      level += 1;
      completed?.({ level, index: count / subtreeWidth(level) - 1 }, hash);
    }
    this.hashes.push(hash);
    this.count = count;
  }

  root(): Buffer {
    let hash = this.hashes[this.hashes.length - 1];
    if (hash === undefined) return EMPTY_ROOT;
    for (let k = this.hashes.length - 2; k >= 0; k -= 1) hash = hashChildren(this.hashes[k] as Buffer, hash);
    return hash;
  }

  clone(): CompactRange {
    return new CompactRange(this.count, [...this.hashes]);
  }
}

/** MTH of the leaves [start, end) from their perfect subtrees: folded from the right, as RFC 9162 splits. */
export function rangeHash(range: LeafRange, hashOf: SubtreeHashes): Buffer {
  const parts = subtreesOf(range).map(hashOf);
  let hash = parts.pop();
  if (hash === undefined) return EMPTY_ROOT;
  for (let k = parts.length - 1; k >= 0; k -= 1) hash = hashChildren(parts[k] as Buffer, hash);
  return hash;
}

/** The root of a list of leaf hashes (MTH, RFC 9162 §2.1.1), all in memory. */
export function rootOf(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_ROOT;
  // A bottom-up pass: an odd node at the end of a level is promoted unchanged, which is exactly
  // RFC 9162's split at the largest power of two.
  let level = [...leaves];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let k = 0; k + 1 < level.length; k += 2) next.push(hashChildren(level[k] as Buffer, level[k + 1] as Buffer));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Buffer);
    level = next;
  }
  return level[0] as Buffer;
}

/** A subtree hash provider over leaf hashes held in memory. */
export function subtreesOfLeaves(leaves: readonly Buffer[]): SubtreeHashes {
  return ({ level, index }) => rootOf(leaves.slice(index * subtreeWidth(level), (index + 1) * subtreeWidth(level)));
}

/**
 * The ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size` leaves,
 * from the leaf's sibling up: PATH(m, D[n]) of RFC 9162 §2.1.3.1, unrolled.
 */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  assertPosition(index < size && index >= 0, `leaf ${index} is not in a tree of ${size} leaves`);
  const ranges: LeafRange[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index - start < k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
    }
  }
  return ranges.reverse();
}

/**
 * The ranges whose hashes form the consistency proof from a tree of `from` leaves to one of `to`
 * leaves (0 < from ≤ to): PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1, unrolled.
 * Equal sizes need no proof.
 */
export function consistencyRanges(from: number, to: number): LeafRange[] {
  assertPosition(from > 0 && from <= to, `no consistency proof goes from ${from} leaves to ${to}`);
  const ranges: LeafRange[] = [];
  let start = 0;
  let end = to;
  let m = from;
  // True while the old tree is the left part of the current range; then its own hash is not needed.
  let whole = true;
  for (;;) {
    const n = end - start;
    if (m === n) {
      if (!whole) ranges.push({ start, end });
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      ranges.push({ start: start + k, end });
      end = start + k;
    } else {
      ranges.push({ start, end: start + k });
      start += k;
      m -= k;
      whole = false;
    }
  }
  return ranges.reverse();
}

/** The inclusion proof of leaf `index` in a tree of `size` leaves. */
export const inclusionProof = (index: number, size: number, hashOf: SubtreeHashes): Buffer[] =>
  inclusionRanges(index, size).map((range) => rangeHash(range, hashOf));

/** The consistency proof from a tree of `from` leaves to one of `to` leaves. */
export const consistencyProof = (from: number, to: number, hashOf: SubtreeHashes): Buffer[] =>
  consistencyRanges(from, to).map((range) => rangeHash(range, hashOf));

/** Every perfect subtree a list of ranges rests on, without repeats: what a store fetches in one query. */
export function subtreesOfRanges(ranges: readonly LeafRange[]): Subtree[] {
  const seen = new Map<string, Subtree>();
  for (const range of ranges) for (const subtree of subtreesOf(range)) seen.set(subtreeKey(subtree), subtree);
  return [...seen.values()];
}

export const subtreeKey = ({ level, index }: Subtree): string => `${level}/${index}`;

const isPosition = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;
const isOdd = (value: number): boolean => value % 2 === 1;
const half = (value: number): number => Math.floor(value / 2);

/**
 * The root an inclusion proof leads to from `leafHash` (RFC 9162 §2.1.3.2), or undefined when the
 * proof cannot belong to leaf `index` of a tree of `size` leaves (wrong length, index past the end)
 * or the leaf hash is not 32 bytes.
 */
export function rootFromInclusionProof(index: number, size: number, leafHash: Buffer, proof: readonly Buffer[]): Buffer | undefined {
  if (!isPosition(index) || !isPosition(size) || index >= size || leafHash.length !== HASH_SIZE) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

/** True when `proof` shows that `leafHash` is leaf `index` of the tree of `size` leaves with this root (RFC 9162 §2.1.3.2). */
export function verifyInclusion(index: number, size: number, leafHash: Buffer, proof: readonly Buffer[], root: Buffer): boolean {
  return rootFromInclusionProof(index, size, leafHash, proof)?.equals(root) ?? false;
}

/**
 * True when `proof` shows that the tree of `from` leaves with `fromRoot` is the beginning of the
 * tree of `to` leaves with `toRoot` (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and equal
 * roots. A size of 0 is refused: every tree extends the empty one, so such a "proof" shows nothing
 * (the transparency-dev vectors expect this refusal).
 */
export function verifyConsistency(from: number, to: number, proof: readonly Buffer[], fromRoot: Buffer, toRoot: Buffer): boolean {
  if (!isPosition(from) || !isPosition(to) || from === 0 || from > to) return false;
  if (from === to) return proof.length === 0 && fromRoot.equals(toRoot);
  if (proof.length === 0) return false;
  // A power-of-two old tree is a perfect subtree of the new one: its root is the first step.
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : [...proof];
  let fn = from - 1;
  let sn = to - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Buffer;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}

function isPowerOfTwo(value: number): boolean {
  let v = value;
  while (v > 1 && v % 2 === 0) v /= 2;
  return v === 1;
}

function assertPosition(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(message);
}
