import { createHash } from 'node:crypto';
import { inclusionProof, rootOf, subtreesOfLeaves } from '../eventlog/merkle.ts';

/** A tree of `size` distinct leaves built by the server's own Merkle code, to check verify.mjs's proof walk against. */
export function buildInclusionFixture(size: number) {
  const leaves = Array.from({ length: size }, (_, k) => createHash('sha256').update(`leaf ${k}`).digest());
  const hashes = subtreesOfLeaves(leaves);
  return {
    root: rootOf(leaves),
    proofOf: (index: number) => ({ leaf: leaves[index] as Buffer, proof: inclusionProof(index, size, hashes) }),
  };
}
