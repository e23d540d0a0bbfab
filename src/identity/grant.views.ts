import { Type, type Static } from 'typebox';
import type { Privilege } from '../access/index.ts';

/** A grant of a privilege to a user, at a level, over a partition or the whole system. */
export const GrantViewSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  /** The document says `string`; the TypeScript type says which names the service writes. */
  privilege: Type.Unsafe<Privilege>({ type: 'string' }),
  level: Type.Union([Type.Literal('access'), Type.Literal('admin')]),
  /** The partition's name, or null for a system-wide grant. */
  partition: Type.Union([Type.String(), Type.Null()]),
  grantedAt: Type.String(),
  grantedBy: Type.String(),
});

export type GrantView = Static<typeof GrantViewSchema>;
