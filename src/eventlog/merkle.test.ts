import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  EMPTY_ROOT,
  hashChildren,
  hashLeaf,
  inclusionProof,
  rootOf,
  subtreesOfLeaves,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

const VECTORS = fileURLToPath(new URL('../../test/fixtures/transparency-dev-merkle', import.meta.url));

function vectorFiles(kind: 'inclusion' | 'consistency'): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(path.join(dir, entry.name)) : entry.name.endsWith('.json') ? [path.join(dir, entry.name)] : []));
  return walk(path.join(VECTORS, kind)).sort();
}

const bytes = (base64: string | null): Buffer => Buffer.from(base64 ?? '', 'base64');
const proofOf = (proof: string[] | null): Buffer[] => (proof ?? []).map(bytes);

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string | null;
  leafHash: string | null;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string | null;
  root2: string | null;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

describe('the transparency-dev/merkle test vectors', () => {
  const inclusion = vectorFiles('inclusion');
  const consistency = vectorFiles('consistency');

  it('are all there, those that must fail among them', () => {
    expect(inclusion.length).toBeGreaterThan(90);
    expect(consistency.length).toBeGreaterThan(90);
    const failing = [...inclusion, ...consistency].filter((file) => (JSON.parse(readFileSync(file, 'utf8')) as { wantErr: boolean }).wantErr);
    expect(failing.length).toBeGreaterThan(150);
  });

  // A leaf index of 2^64 − 1 reads as an unsafe JavaScript number: the verifier refuses it, as it must.
  it.each(inclusion.map((file) => [path.relative(VECTORS, file), file]))('inclusion %s', (_name, file) => {
    const vector = JSON.parse(readFileSync(file, 'utf8')) as InclusionVector;
    const verified = verifyInclusion(vector.leafIdx, vector.treeSize, bytes(vector.leafHash), proofOf(vector.proof), bytes(vector.root));
    expect(verified, vector.desc).toBe(!vector.wantErr);
  });

  it.each(consistency.map((file) => [path.relative(VECTORS, file), file]))('consistency %s', (_name, file) => {
    const vector = JSON.parse(readFileSync(file, 'utf8')) as ConsistencyVector;
    const verified = verifyConsistency(vector.size1, vector.size2, proofOf(vector.proof), bytes(vector.root1), bytes(vector.root2));
    expect(verified, vector.desc).toBe(!vector.wantErr);
  });
});

/** RFC 9162 §2.1 written out as the recursions it states, over the leaf hashes: what the fast code is checked against. */
const reference = {
  mth(leaves: readonly Buffer[]): Buffer {
    if (leaves.length === 0) return createHash('sha256').digest();
    if (leaves.length === 1) return leaves[0] as Buffer;
    const k = largestPowerOfTwoBelow(leaves.length);
    return hashChildren(reference.mth(leaves.slice(0, k)), reference.mth(leaves.slice(k)));
  },
  path(m: number, leaves: readonly Buffer[]): Buffer[] {
    if (leaves.length === 1) return [];
    const k = largestPowerOfTwoBelow(leaves.length);
    return m < k
      ? [...reference.path(m, leaves.slice(0, k)), reference.mth(leaves.slice(k))]
      : [...reference.path(m - k, leaves.slice(k)), reference.mth(leaves.slice(0, k))];
  },
  subproof(m: number, leaves: readonly Buffer[], whole: boolean): Buffer[] {
    if (m === leaves.length) return whole ? [] : [reference.mth(leaves)];
    const k = largestPowerOfTwoBelow(leaves.length);
    return m <= k
      ? [...reference.subproof(m, leaves.slice(0, k), whole), reference.mth(leaves.slice(k))]
      : [...reference.subproof(m - k, leaves.slice(k), false), reference.mth(leaves.slice(0, k))];
  },
};

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Flips one bit of a copy. */
function flipped(buffer: Buffer, bit: number): Buffer {
  const copy = Buffer.from(buffer);
  const at = Math.floor(bit / 8) % copy.length;
  copy[at] = (copy[at] as number) ^ (1 << bit % 8);
  return copy;
}

const leafHashes = (count: number, seed: number): Buffer[] => Array.from({ length: count }, (_, k) => hashLeaf(Buffer.from(`entry ${seed}:${k}`)));

/** A tree of 1..300 leaves with a leaf in it. */
const treeAndLeaf = fc
  .record({ size: fc.integer({ min: 1, max: 300 }), seed: fc.nat(), pick: fc.nat() })
  .map(({ size, seed, pick }) => ({ leaves: leafHashes(size, seed), index: pick % size }));

/** Two sizes 1 ≤ from ≤ to ≤ 300 of one growing tree. */
const treeAndOlderSize = fc
  .record({ size: fc.integer({ min: 1, max: 300 }), seed: fc.nat(), pick: fc.nat() })
  .map(({ size, seed, pick }) => ({ leaves: leafHashes(size, seed), from: 1 + (pick % size) }));

describe('RFC 9162 Merkle trees', () => {
  it('has the empty tree hash to SHA-256 of nothing, and a one-leaf tree to its leaf', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const leaf = hashLeaf(Buffer.from('only'));
    expect(rootOf([leaf]).equals(leaf)).toBe(true);
  });

  it('computes the same root as the RFC recursion', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.nat(), (size, seed) => {
        const leaves = leafHashes(size, seed);
        expect(rootOf(leaves).equals(reference.mth(leaves))).toBe(true);
      }),
    );
  });

  it('gives inclusion proofs that are the RFC path and verify against the root of all the leaves', () => {
    fc.assert(
      fc.property(treeAndLeaf, ({ leaves, index }) => {
        const proof = inclusionProof(index, leaves.length, subtreesOfLeaves(leaves));
        expect(proof.map((hash) => hash.toString('hex'))).toEqual(reference.path(index, leaves).map((hash) => hash.toString('hex')));
        expect(verifyInclusion(index, leaves.length, leaves[index] as Buffer, proof, reference.mth(leaves))).toBe(true);
      }),
    );
  });

  it('gives consistency proofs that are the RFC subproof and verify between the two roots', () => {
    fc.assert(
      fc.property(treeAndOlderSize, ({ leaves, from }) => {
        const proof = consistencyProof(from, leaves.length, subtreesOfLeaves(leaves));
        expect(proof.map((hash) => hash.toString('hex'))).toEqual(reference.subproof(from, leaves, true).map((hash) => hash.toString('hex')));
        expect(verifyConsistency(from, leaves.length, proof, reference.mth(leaves.slice(0, from)), reference.mth(leaves))).toBe(true);
      }),
    );
  });

  it('refuses an inclusion proof with any bit of a proof hash, the root or the leaf changed', () => {
    fc.assert(
      fc.property(treeAndLeaf, fc.nat(), fc.nat(), ({ leaves, index }, which, bit) => {
        const size = leaves.length;
        const leaf = leaves[index] as Buffer;
        const root = rootOf(leaves);
        const proof = inclusionProof(index, size, subtreesOfLeaves(leaves));
        expect(verifyInclusion(index, size, flipped(leaf, bit), proof, root)).toBe(false);
        expect(verifyInclusion(index, size, leaf, proof, flipped(root, bit))).toBe(false);
        if (proof.length > 0) {
          const k = which % proof.length;
          const changed = proof.map((hash, at) => (at === k ? flipped(hash, bit) : hash));
          expect(verifyInclusion(index, size, leaf, changed, root)).toBe(false);
        }
      }),
    );
  });

  it('refuses a consistency proof with any bit of a proof hash or of either root changed', () => {
    fc.assert(
      fc.property(treeAndOlderSize, fc.nat(), fc.nat(), ({ leaves, from }, which, bit) => {
        const to = leaves.length;
        const fromRoot = rootOf(leaves.slice(0, from));
        const toRoot = rootOf(leaves);
        const proof = consistencyProof(from, to, subtreesOfLeaves(leaves));
        expect(verifyConsistency(from, to, proof, flipped(fromRoot, bit), toRoot)).toBe(false);
        expect(verifyConsistency(from, to, proof, fromRoot, flipped(toRoot, bit))).toBe(false);
        if (proof.length > 0) {
          const k = which % proof.length;
          const changed = proof.map((hash, at) => (at === k ? flipped(hash, bit) : hash));
          expect(verifyConsistency(from, to, changed, fromRoot, toRoot)).toBe(false);
        }
      }),
    );
  });

  // Not the size: a proof of leaf 0 in 65 leaves also leads to the 65-leaf root when read as one of
  // 66 leaves. The root binds the size; a checkpoint signs both.
  it('refuses a proof given for another leaf, or with a hash added', () => {
    fc.assert(
      fc.property(treeAndLeaf, ({ leaves, index }) => {
        const size = leaves.length;
        const proof = inclusionProof(index, size, subtreesOfLeaves(leaves));
        const root = rootOf(leaves);
        if (size > 1) expect(verifyInclusion((index + 1) % size, size, leaves[index] as Buffer, proof, root)).toBe(false);
        expect(verifyInclusion(index, size, leaves[index] as Buffer, [...proof, root], root)).toBe(false);
      }),
    );
  });

  it('refuses to make proofs outside the tree', () => {
    const leaves = leafHashes(5, 1);
    expect(() => inclusionProof(5, 5, subtreesOfLeaves(leaves))).toThrow(RangeError);
    expect(() => consistencyProof(0, 5, subtreesOfLeaves(leaves))).toThrow(RangeError);
    expect(() => consistencyProof(4, 3, subtreesOfLeaves(leaves))).toThrow(RangeError);
    expect(consistencyProof(5, 5, subtreesOfLeaves(leaves))).toEqual([]);
  });
});
