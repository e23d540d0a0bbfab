import { Type, type Static } from 'typebox';

/** An API token as listed: never the token itself, which is shown once, at creation. */
export const ApiTokenViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The first characters, to tell tokens apart. */
  prefix: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});

export type ApiTokenView = Static<typeof ApiTokenViewSchema>;

/** The answer to creating a token: the one time the token itself is shown. */
export const NewApiTokenViewSchema = Type.Intersect([ApiTokenViewSchema, Type.Object({ token: Type.String() })]);
