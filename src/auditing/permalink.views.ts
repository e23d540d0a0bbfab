import { Type, type Static } from 'typebox';
import { AuditRuleViewSchema } from './audit-rule.views.ts';
import { FilterViewSchema } from './filter.views.ts';

/** What a permalink names: an audit rule or a filter, by its business key. */
export const PermalinkTargetSchema = Type.Object({ type: Type.String(), businessKey: Type.String(), rule: Type.Optional(AuditRuleViewSchema), filter: Type.Optional(FilterViewSchema) });
export type PermalinkTarget = Static<typeof PermalinkTargetSchema>;
