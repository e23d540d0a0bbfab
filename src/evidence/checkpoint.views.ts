import { Type, type Static } from 'typebox';

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
