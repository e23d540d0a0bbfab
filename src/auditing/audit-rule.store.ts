import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import { SYSTEM_ACTOR_NAME } from '../access/index.ts';
import type { Executor, Tx } from '../platform/database.ts';
import { BUILTIN_RULE_NAME, BUILTIN_RULE_REFUSAL, OPEN_SECURITY, type AuditRule } from './audit-rule.ts';
import type { ObjectKind } from '../objects/object-store.ts';
import { fromJson, type ObjectType } from '../objects/object.ts';
import { objectTable } from '../objects/object-table.ts';
import { globalPartitionId, GLOBAL_PARTITION } from '../objects/index.ts';

/** Any constant shared by every instance, apart from the other advisory locks. */
const BUILTIN_RULE_LOCK = 7_311_006;

/** Audit rules as stored: the table maps the shared columns, these the rule's own. */
const rules = objectTable<AuditRule, 'audit_rule'>('audit_rule', {
  fromRow: (row) => ({
    description: row.description,
    objectType: row.object_type as ObjectType,
    level: row.level,
    namePattern: row.name_pattern,
    nameMatch: row.name_match,
    applicationRule: row.application_rule,
    matchApplicationId: row.match_application_id,
    partitionPattern: row.partition_pattern,
    partitionMatch: row.partition_match,
    enabled: row.enabled,
    builtin: row.builtin,
    security: row.security,
  }),
  toRow: (rule) => ({
    description: rule.description,
    object_type: rule.objectType,
    level: rule.level,
    name_pattern: rule.namePattern,
    name_match: rule.nameMatch,
    application_rule: rule.applicationRule,
    match_application_id: rule.matchApplicationId,
    partition_pattern: rule.partitionPattern,
    partition_match: rule.partitionMatch,
    enabled: rule.enabled,
    security: JSON.stringify(rule.security),
  }),
  // The built-in mark is set once, when the built-in rule is put in place.
  created: (rule) => ({ builtin: rule.builtin }),
});

export const findRule = rules.find;
export const findRulesNamed = rules.findNamed;
export const findRuleInPartition = rules.findInPartition;

export async function listRules(db: Executor, partitionIds: 'all' | readonly string[]): Promise<AuditRule[]> {
  return rules.list(db, partitionIds, (query) => query.orderBy('builtin', 'desc').orderBy('name'));
}

export async function enabledRules(db: Executor): Promise<AuditRule[]> {
  return rules.list(db, 'all', (query) => query.where('enabled', '=', true));
}

/** The generation of the audit rules: it changes with every statement that changes a rule (a trigger sees to it). */
export async function ruleGeneration(db: Executor): Promise<number> {
  const row = await db.selectFrom('audit_rule_generation').select('value').executeTakeFirstOrThrow();
  return Number(row.value);
}

/**
 * How the object store writes audit rules. The built-in rule is refused for any change: here, in
 * the service, and by a database trigger.
 */
export const auditRuleKind: ObjectKind<AuditRule> = {
  type: 'AuditRule',
  event: 'audit_rule',
  // The rule's own security is checked as well, by the restore.
  restore: { create: 'AuditingRule.Create', edit: 'AuditingRule.Edit', delete: 'AuditingRule.Delete' },
  ...rules.storage,
  placement: {
    countIn: rules.storage.placement.countIn,
    // A rule matching an application uses it too: left matching a deleted one, it would match nothing.
    async usersOf(db, applicationId) {
      const rows = await db
        .selectFrom('audit_rule')
        .select(['partition_id', 'name'])
        .where((eb) => eb.or([eb('application_id', '=', applicationId), eb('match_application_id', '=', applicationId)]))
        .orderBy('name')
        .execute();
      return rows.map((row) => ({ partitionId: row.partition_id, name: row.name }));
    },
  },
  fromSnapshot: (json) => fromJson<AuditRule>(json),
  references: (rule) => (rule.matchApplicationId ? [{ type: 'Application', id: rule.matchApplicationId, what: 'the application it matches' }] : []),
  async keyHolders(db, rule) {
    const holder = await findRuleInPartition(db, rule.partitionId, rule.name);
    return holder && holder.id !== rule.id ? [`another audit rule is now named ${rule.name} in its partition`] : [];
  },
  async restoreProblems(_db, target, current) {
    return target.builtin || current?.builtin ? [BUILTIN_RULE_REFUSAL] : [];
  },
};

/**
 * Puts the built-in rule in place on a new installation: every change to an audit rule, in every
 * partition, audited at Full. Written by the system (not audited itself), once.
 */
export async function ensureBuiltinRule(trx: Tx, now: Date): Promise<void> {
  // Instances starting together on one database: one of them puts the rule in place.
  await sql`SELECT pg_advisory_xact_lock(${BUILTIN_RULE_LOCK})`.execute(trx);
  const existing = await trx.selectFrom('audit_rule').select('id').where('builtin', '=', true).executeTakeFirst();
  if (existing) return;
  const global = { id: await globalPartitionId(trx), name: GLOBAL_PARTITION };
  const rule: AuditRule = {
    id: randomUUID(),
    partitionId: global.id,
    name: BUILTIN_RULE_NAME,
    applicationId: null,
    description: 'Audits every change to every audit rule at Full. Built in: it cannot be edited, disabled or deleted, so nobody can escape auditing.',
    objectType: 'AuditRule',
    level: 2,
    namePattern: '*',
    nameMatch: 'glob',
    applicationRule: 'all_objects',
    matchApplicationId: null,
    partitionPattern: '*',
    partitionMatch: 'glob',
    enabled: true,
    builtin: true,
    security: OPEN_SECURITY,
    version: 1,
    createdAt: now,
    createdBy: SYSTEM_ACTOR_NAME,
    updatedAt: now,
    updatedBy: SYSTEM_ACTOR_NAME,
  };
  await auditRuleKind.insert(trx, rule);
  await appendEvent(trx, {
    actor: SYSTEM_ACTOR_NAME,
    action: 'audit_rule.create',
    subject: `audit_rule:${global.name}.${BUILTIN_RULE_NAME}`,
    data: { id: rule.id, version: 1, builtin: true },
    time: now,
  });
}
