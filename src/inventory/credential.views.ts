import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

/** What leaves the process about a credential: never the secret, sealed or not. */
export const CredentialViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  device: Type.String(),
  partition: Type.String(),
  account: Type.String(),
  kind: Type.Union([Type.Literal('password'), Type.Literal('private_key')]),
  hasPassphrase: Type.Boolean(),
  /** Id of the master key that sealed the secret (it changes with `changegate vault rotate`). */
  sealedWithKey: Type.String(),
  description: Type.String(),
  /** The device host key fingerprint the credential is confirmed for (null: none yet). */
  hostKeyFingerprint: Type.Union([Type.String(), Type.Null()], { description: 'The device host key fingerprint the credential is confirmed for' }),
  /**
   * False when the device's pinned key is not the one the credential is confirmed for: the gateway
   * will not send a password until someone with Credential.Edit confirms it for the new key.
   */
  hostKeyConfirmed: Type.Boolean({ description: "False when the device's pinned key is another: the gateway sends no password until the credential is confirmed for it" }),
  ...objectStamps,
});

export type CredentialView = Static<typeof CredentialViewSchema>;
