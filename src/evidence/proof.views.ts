import { Type, type Static } from 'typebox';

const Hash = Type.String({ description: 'SHA-256, base64 (standard alphabet, padded)' });
const Hashes = Type.Array(Hash);

export const InclusionProofViewSchema = Type.Object({
  seq: Type.Integer(),
  /** seq − 1: the leaf's position in the tree, as RFC 9162 counts. */
  leafIndex: Type.Integer({ description: 'seq − 1, the position RFC 9162 verification takes' }),
  treeSize: Type.Integer(),
  leafHash: Hash,
  rootHash: Hash,
  proof: Hashes,
});

export type InclusionProofView = Static<typeof InclusionProofViewSchema>;

export const ConsistencyProofViewSchema = Type.Object({ from: Type.Integer(), to: Type.Integer(), fromRoot: Hash, toRoot: Hash, proof: Hashes });

export type ConsistencyProofView = Static<typeof ConsistencyProofViewSchema>;

export const RootViewSchema = Type.Object({ treeSize: Type.Integer(), rootHash: Hash });

export type RootView = Static<typeof RootViewSchema>;
