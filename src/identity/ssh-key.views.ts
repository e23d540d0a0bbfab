import { Type, type Static } from 'typebox';

/** A user's SSH public key as shown: the key itself stays in the database. */
export const SshKeyViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  algorithm: Type.String(),
  fingerprint: Type.String(),
  createdAt: Type.String(),
  addedBy: Type.Union([Type.String(), Type.Null()], { description: 'Who registered the key; null for keys from before this was recorded' }),
  /** True when an administrator registered it for the user rather than the user themself. */
  addedByAdministrator: Type.Boolean({ description: 'An administrator registered it for the user' }),
});

export type SshKeyView = Static<typeof SshKeyViewSchema>;
