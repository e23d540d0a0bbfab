import { Type, type Static } from 'typebox';
import { UserViewSchema } from './user.views.ts';

/** Whether the sign-in page offers sign-in through an OpenID Connect provider, and under what name. */
export const OidcSignInOptionViewSchema = Type.Object({
  enabled: Type.Boolean(),
  /** The provider's name for the button, "Sign in with <name>"; null when off. */
  displayName: Type.Union([Type.String(), Type.Null()]),
});

export type OidcSignInOptionView = Static<typeof OidcSignInOptionViewSchema>;

/** A sign-in through the provider finished with the TOTP code: as `POST /auth/login` answers, plus where to go back to. */
export const OidcSignedInViewSchema = Type.Object({
  user: UserViewSchema,
  csrfToken: Type.String(),
  expiresAt: Type.String(),
  /** The console page the sign-in started from. */
  next: Type.String(),
});

export type OidcSignedInView = Static<typeof OidcSignedInViewSchema>;
