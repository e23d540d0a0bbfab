import { Type, type Static } from 'typebox';
import { objectStamps, type ObjectType } from '../objects/index.ts';
import type { ApplicationRule, LevelName, MatchType } from './audit-rule.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** Usernames, or null for everyone holding the privilege. */
export const RuleUsersSchema = Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 }));

/**
 * The document says `string` for the enumerated fields, and keeps saying it (the API does not
 * change); the TypeScript type says which strings the service writes.
 */
const Named = <T extends string>() => Type.Unsafe<T>({ type: 'string' });

export const AuditRuleViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  partition: Type.String(),
  businessKey: Type.String(),
  application: Nullable(Type.String()),
  description: Type.String(),
  objectType: Named<ObjectType>(),
  level: Named<LevelName>(),
  namePattern: Type.String(),
  nameMatch: Named<MatchType>(),
  applicationRule: Named<ApplicationRule>(),
  /** `PARTITION.Path` of the application matched, or its id while it is deleted. */
  matchApplication: Nullable(Type.String()),
  partitionPattern: Type.String(),
  partitionMatch: Named<MatchType>(),
  enabled: Type.Boolean(),
  builtin: Type.Boolean(),
  security: Type.Object({ view: RuleUsersSchema, edit: RuleUsersSchema, delete: RuleUsersSchema }),
  ...objectStamps,
});

export type AuditRuleView = Static<typeof AuditRuleViewSchema>;

/** Links to a rule or filter by business key, absolute when the public address is configured. */
export const PermalinksSchema = Type.Object({
  businessKey: Type.String(),
  links: Type.Object({ self: Type.String(), export: Type.String(), exportWithRelated: Type.String(), auditTrail: Type.String() }),
});

export type Permalinks = Static<typeof PermalinksSchema>;
