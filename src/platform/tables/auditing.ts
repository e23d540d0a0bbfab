import type { ColumnType, Generated } from 'kysely';
import type { CreatedOnly, ObjectColumns } from './columns.ts';

/** Tables of active auditing (audit rules, the audit trail, filters, the navigation bar). */
export interface AuditingTables {
  audit_rule: AuditRuleTable;
  audit_rule_generation: AuditRuleGenerationTable;
  audit_entry: AuditEntryTable;
  audit_filter: AuditFilterTable;
  navigation_item: NavigationItemTable;
}

export type PatternMatchColumn = 'glob' | 'glob_ignore_case' | 'regex' | 'regex_ignore_case';
export type ApplicationRuleColumn = 'all_objects' | 'any_application' | 'exact_application' | 'no_application' | 'sub_application';

/** Who may view, edit and delete a rule besides the privilege: usernames, or null for everyone holding it. */
export interface RuleSecurityColumn {
  view: string[] | null;
  edit: string[] | null;
  delete: string[] | null;
}

export interface AuditRuleTable extends ObjectColumns {
  partition_id: string;
  name: string;
  application_id: string | null;
  description: string;
  object_type: string;
  level: 1 | 2;
  name_pattern: string;
  name_match: PatternMatchColumn;
  application_rule: ApplicationRuleColumn;
  match_application_id: string | null;
  partition_pattern: string;
  partition_match: PatternMatchColumn;
  enabled: boolean;
  builtin: CreatedOnly<boolean>;
  /** jsonb: pass `JSON.stringify(security)` on write. */
  security: ColumnType<RuleSecurityColumn, string, string>;
}

export interface AuditRuleGenerationTable {
  id: ColumnType<boolean, never, never>;
  value: ColumnType<number, never, never>;
}

export interface AuditEntryTable {
  seq: Generated<number>;
  time: CreatedOnly<Date>;
  object_type: CreatedOnly<string>;
  object_id: CreatedOnly<string>;
  business_key: CreatedOnly<string>;
  partition_id: CreatedOnly<string>;
  action: CreatedOnly<'C' | 'M' | 'D'>;
  level: CreatedOnly<1 | 2>;
  username: CreatedOnly<string>;
  reason: CreatedOnly<string | null>;
  object_version: CreatedOnly<number>;
  /** jsonb, written as `JSON.stringify(value)`. */
  diff: ColumnType<Record<string, unknown>, string, never>;
  before: ColumnType<Record<string, unknown> | null, string | null, never>;
  after: ColumnType<Record<string, unknown> | null, string | null, never>;
  rule_id: CreatedOnly<string | null>;
  restored_from: CreatedOnly<number | null>;
}

export interface AuditFilterTable extends ObjectColumns {
  partition_id: string;
  name: string;
  application_id: string | null;
  description: string;
  target: 'AuditEntry' | 'AuditRule';
  query: string;
  owner: string;
}

export interface NavigationItemTable {
  user_id: CreatedOnly<string>;
  filter_id: CreatedOnly<string>;
  position: number;
  added_at: CreatedOnly<Date>;
}
