import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

/** What leaves the process about a user: never the password hash or the TOTP secret. */
export const UserViewSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  timeZone: Type.String(),
  disabled: Type.Boolean(),
  totpEnabled: Type.Boolean(),
  lockedUntil: Type.Union([Type.String(), Type.Null()], { description: 'The end of the latest sign-in lock of any source address; null when none holds' }),
  ...objectStamps,
});

export type UserView = Static<typeof UserViewSchema>;
