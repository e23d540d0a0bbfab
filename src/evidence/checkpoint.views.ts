import { Type, type Static } from 'typebox';
import type { CheckpointFailureKind } from '../eventlog/checkpoint-verify.ts';

/** The log's public key: public on purpose, so anyone can verify a checkpoint they hold. */
export const LogKeyViewSchema = Type.Object({
  origin: Type.String({ description: 'The log identity: the first line of every checkpoint, and the key name' }),
  verifierKey: Type.String({ description: 'C2SP signed-note verifier key: <origin>+<key ID>+<base64(0x01 ‖ Ed25519 public key)>' }),
  keyId: Type.String({ description: 'The key ID, 8 hex digits' }),
  algorithm: Type.Literal('Ed25519'),
});

export type LogKeyView = Static<typeof LogKeyViewSchema>;

export const CosignatureViewSchema = Type.Object({ witness: Type.String(), keyName: Type.String(), keyId: Type.String(), line: Type.String(), receivedAt: Type.String() });

export type CosignatureView = Static<typeof CosignatureViewSchema>;

export const CheckpointViewSchema = Type.Object({
  origin: Type.String(),
  size: Type.Integer({ description: 'Entries in the log the checkpoint covers' }),
  /** Base64, as in the checkpoint's third line. */
  rootHash: Type.String({ description: 'Base64 RFC 9162 Merkle tree hash at that size' }),
  keyId: Type.String(),
  createdAt: Type.String(),
  /** The signed note: the checkpoint, a blank line, the log's signature, then the witnesses' lines. */
  note: Type.String({ description: 'The signed note, exactly as served with format=text' }),
  cosignatures: Type.Array(CosignatureViewSchema, {
    description: "Witnesses' signature lines over the same checkpoint, each verified with the key configured for its witness in CHANGEGATE_WITNESSES; lines of witnesses without a key are never kept",
  }),
});

export type CheckpointView = Static<typeof CheckpointViewSchema>;

const FAILURE_KINDS: readonly CheckpointFailureKind[] = ['malformed_checkpoint', 'unknown_key', 'invalid_signature', 'wrong_origin', 'truncated', 'deleted', 'edited', 'chain_broken', 'rewritten', 'tree_altered'];

/** What verifying the stored log against a checkpoint found (`POST /log/verify`). */
export const LogVerifyReportViewSchema = Type.Object({
  ok: Type.Boolean(),
  checkpoint: Type.Optional(Type.Object({ origin: Type.String(), size: Type.Integer(), rootHash: Type.String({ description: 'Base64' }) }, { description: 'What the checkpoint says, once its signature verified' })),
  key: Type.Object(
    { verifierKey: Type.String(), keyId: Type.String(), source: Type.Union([Type.Literal('given'), Type.Literal('log')]) },
    { description: "The key that verified the checkpoint: `given` by the caller, or by default (`log`) the running log's own, which only proves as much as the server" },
  ),
  storedSize: Type.Optional(Type.Integer({ description: 'Entries stored' })),
  storedRoot: Type.Optional(Type.String({ description: "Base64 root of the stored tree at the checkpoint's size, from its stored subtree hashes" })),
  computedRoot: Type.Optional(Type.String({ description: "Base64 root at the checkpoint's size recomputed from the entries' content" })),
  forked: Type.Boolean({ description: "The stored tree's root at the checkpoint's size is not the checkpoint's" }),
  verified: Type.Integer({ description: 'Entries rehashed and found to match before the first failure' }),
  narrowedBy: Type.Array(Type.Integer(), { description: "Sizes of the log's own signed checkpoints that located a rewrite" }),
  failure: Type.Optional(
    Type.Object({
      kind: Type.Unsafe<CheckpointFailureKind>({ type: 'string', enum: [...FAILURE_KINDS] }),
      seq: Type.Optional(Type.Integer({ description: 'The first entry that does not match (or the first of the range it lies in)' })),
      toSeq: Type.Optional(Type.Integer({ description: 'When only a range is known, its last entry' })),
      message: Type.String(),
    }),
  ),
});

export type LogVerifyReportView = Static<typeof LogVerifyReportViewSchema>;
