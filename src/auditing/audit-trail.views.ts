import { Type, type Static } from 'typebox';
import type { ObjectType } from '../objects/index.ts';
import type { AuditLevel } from './audit-rule.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
/** The document says `string` (and `integer` for the level); the TypeScript type says which values the service writes. */
const ObjectTypeName = Type.Unsafe<ObjectType>({ type: 'string' });

/** One entry of the audit trail, its secret fields redacted. */
export const AuditEntryViewSchema = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  objectType: ObjectTypeName,
  objectId: Type.String(),
  businessKey: Type.String(),
  action: Type.Enum(['C', 'M', 'D']),
  level: Type.Unsafe<AuditLevel>({ type: 'integer' }),
  user: Type.String(),
  reason: Nullable(Type.String()),
  objectVersion: Type.Integer(),
  diff: Type.Record(Type.String(), Type.Unknown()),
  restoredFrom: Nullable(Type.Integer()),
  /** Which restores this entry offers. */
  restore: Type.Object({ before: Type.Boolean(), after: Type.Boolean() }),
  /** The whole object before and after (Full entries), when asked for. */
  before: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
  after: Type.Optional(Nullable(Type.Record(Type.String(), Type.Unknown()))),
});

export type AuditEntryView = Static<typeof AuditEntryViewSchema>;

export const EntryPageSchema = Type.Object({
  entries: Type.Array(AuditEntryViewSchema),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: Nullable(Type.Integer()),
});

export type EntryPage = Static<typeof EntryPageSchema>;

/** What a restore did: the object as written, and the audit entry that records it. */
export const RestoreResultSchema = Type.Object({
  restoredFrom: Type.Integer(),
  side: Type.Enum(['before', 'after']),
  objectType: ObjectTypeName,
  objectId: Type.String(),
  businessKey: Type.String(),
  action: Type.Enum(['C', 'M']),
  version: Type.Integer(),
  entry: Nullable(AuditEntryViewSchema),
});

export type RestoreResult = Static<typeof RestoreResultSchema>;

export const PurgeResultSchema = Type.Object({ changedBefore: Type.String(), cutoff: Type.String(), purged: Type.Integer() });

export type PurgeResult = Static<typeof PurgeResultSchema>;
