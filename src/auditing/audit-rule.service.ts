import type { Kysely } from 'kysely';
import { findApplication, findApplicationsByIds, findPartitionByName, partitionNamesByIds, resolvePlace } from '../objects/index.ts';
import { inPartition, partitionsWith, requirePrivilege, type Actor } from '../access/index.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { errors, type FieldProblem } from '../platform/errors.ts';
import { isUuid } from '../platform/ids.ts';
import {
  BUILTIN_RULE_REFUSAL,
  levelOf,
  LEVEL_NAMES,
  needsApplication,
  OPEN_SECURITY,
  ruleProblems,
  securityAllows,
  type ApplicationRule,
  type AuditRule,
  type LevelName,
  type MatchType,
  type RuleSecurity,
} from './audit-rule.ts';
import { auditRuleKind, findRule, findRuleInPartition, findRulesNamed, listRules } from './audit-rule.store.ts';
import { findByRef } from '../objects/object-ref.ts';
import type { ObjectStore } from '../objects/object-store.ts';
import type { ObjectFields, ObjectType } from '../objects/object.ts';
import { parseRuleSearch, ruleSearchMatches, type RuleTerm } from './search.ts';
import type { AuditRuleView, Permalinks } from './audit-rule.views.ts';
import type { UserDirectory } from './user-directory.ts';

/** The fields of a rule a caller may set, as the API names them. */
export interface RuleFields {
  readonly description?: string;
  readonly objectType?: string;
  readonly level?: LevelName;
  readonly namePattern?: string;
  readonly nameMatch?: MatchType;
  readonly applicationRule?: ApplicationRule;
  /** The application of the Exact and Sub rules: `PARTITION.Path`, or a path in the rule's partition. */
  readonly matchApplication?: string | null;
  readonly partitionPattern?: string;
  readonly partitionMatch?: MatchType;
  readonly enabled?: boolean;
}

export interface NewAuditRule extends RuleFields {
  readonly name: string;
  readonly objectType: string;
  readonly level: LevelName;
  readonly partition?: string;
  readonly application?: string | null;
  readonly security?: SecurityInput;
  readonly reason?: string;
}

export type RulePatch = RuleFields & { readonly expectedVersion?: number; readonly reason?: string };

/** Each list: usernames, or null for everyone holding the privilege; absent leaves it as it is. */
export interface SecurityInput {
  readonly view?: readonly string[] | null;
  readonly edit?: readonly string[] | null;
  readonly delete?: readonly string[] | null;
}

export type { Permalinks } from './audit-rule.views.ts';

export interface AuditRuleServiceDeps {
  readonly db: Kysely<Database>;
  readonly objects: ObjectStore;
  /** Checks the usernames a rule's security lists. */
  readonly users: UserDirectory;
  /** Reads a saved filter's query, for `list({ filter })`. */
  readonly filters?: { queryOf(actor: Actor, ref: string, target: 'AuditEntry' | 'AuditRule'): Promise<string> };
  /** Where this instance is reached (`http://changegate.example.com`), to make permalinks absolute. */
  readonly publicUrl?: string;
}

/**
 * Finds a rule by id, `PARTITION.name` or name, as the caller may see it: with AuditingRule.View in
 * its partition and, when the rule's security lists viewers, listed. Otherwise "not found".
 */
export async function findVisibleRule(trx: Tx, actor: Actor, ref: string): Promise<AuditRule> {
  let rule: AuditRule | undefined;
  if (isUuid(ref)) {
    rule = await findRule(trx, ref);
    if (rule && !(await partitionsVisible(trx, actor, rule.partitionId))) rule = undefined;
  } else {
    rule = await findByRef(trx, actor, ref, { what: 'audit rule', privilege: 'AuditingRule.View', named: findRulesNamed });
  }
  if (!rule || !securityAllows(rule.security, 'view', actor.username)) throw errors.notFound('audit rule', ref);
  return rule;
}

async function partitionsVisible(trx: Tx, actor: Actor, partitionId: string): Promise<boolean> {
  const visible = await partitionsWith(trx, actor, 'AuditingRule.View');
  return visible === 'all' || visible.includes(partitionId);
}

/** Audit rules: what the audit trail captures. Every write goes through the object store, and is audited by the built-in rule. */
export class AuditRuleService {
  constructor(private readonly deps: AuditRuleServiceDeps) {}

  /** The rules the caller may view, optionally narrowed by a rule query (`n:Fin* o:Device l:2 e:yes`). */
  async list(actor: Actor, options: { q?: string; filter?: string } = {}): Promise<AuditRuleView[]> {
    const saved = options.filter && this.deps.filters ? await this.deps.filters.queryOf(actor, options.filter, 'AuditRule') : '';
    const filter = { q: [saved, options.q ?? ''].filter(Boolean).join(' ') };
    return this.deps.db.transaction().execute(async (trx) => {
      const partitionIds = await partitionsWith(trx, actor, 'AuditingRule.View');
      if (partitionIds !== 'all' && partitionIds.length === 0) throw errors.forbidden('You need the AuditingRule.View privilege.');
      let terms: readonly RuleTerm[] = [];
      if (filter.q) {
        const parsed = parseRuleSearch(filter.q);
        if (!parsed.ok) throw errors.searchInvalid(parsed.error, filter.q);
        terms = parsed.terms;
      }
      const rules = (await listRules(trx, partitionIds)).filter((rule) => securityAllows(rule.security, 'view', actor.username));
      const views = await this.present(trx, rules);
      return views.filter((view) => ruleSearchMatches({ ...view, level: levelOf(view.level) }, terms));
    });
  }

  async get(actor: Actor, ref: string): Promise<AuditRuleView> {
    return this.deps.db.transaction().execute(async (trx) => this.presentOne(trx, await findVisibleRule(trx, actor, ref)));
  }

  async create(actor: Actor, input: NewAuditRule): Promise<AuditRuleView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const place = await resolvePlace(trx, input);
      await requirePrivilege(trx, actor, 'AuditingRule.Create', inPartition(place.partitionId));
      const problems: FieldProblem[] = [];
      const fields = await ruleFields(trx, undefined, input, place.partitionId, problems);
      const security = await checkSecurity(trx, this.deps.users, OPEN_SECURITY, input.security ?? {}, problems);
      problems.unshift(...ruleProblems({ name: input.name }, false));
      if (problems.length > 0) throw errors.validation(`The audit rule cannot be saved: ${describe(problems)}.`, problems);
      if (await findRuleInPartition(trx, place.partitionId, input.name)) throw errors.alreadyExists('audit rule', `${place.partitionName}.${input.name}`);
      const rule = await this.deps.objects.create(
        trx,
        auditRuleKind,
        { ...fields, partitionId: place.partitionId, applicationId: place.applicationId, name: input.name, builtin: false, security },
        actor,
        { reason: input.reason },
      );
      return this.presentOne(trx, rule);
    });
  }

  async update(actor: Actor, ref: string, patch: RulePatch): Promise<AuditRuleView> {
    return this.write(actor, ref, 'edit', async (trx, rule) => {
      const problems: FieldProblem[] = [];
      const fields = await ruleFields(trx, rule, patch, rule.partitionId, problems);
      if (problems.length > 0) throw errors.validation(`The audit rule cannot be saved: ${describe(problems)}.`, problems);
      return this.deps.objects.update(trx, auditRuleKind, rule, fields, actor, { expectedVersion: patch.expectedVersion, reason: patch.reason });
    });
  }

  /** The seed's Disable (and Enable): a disabled rule audits nothing. */
  async setEnabled(actor: Actor, ref: string, enabled: boolean, reason?: string): Promise<AuditRuleView> {
    return this.write(actor, ref, 'edit', (trx, rule) =>
      this.deps.objects.update(trx, auditRuleKind, rule, { enabled }, actor, { verb: enabled ? 'enable' : 'disable', reason }),
    );
  }

  /** The seed's Edit Security: who may view, edit and delete the rule, on top of the privileges. */
  async updateSecurity(actor: Actor, ref: string, input: SecurityInput & { reason?: string }): Promise<AuditRuleView> {
    return this.write(actor, ref, 'edit', async (trx, rule) => {
      const problems: FieldProblem[] = [];
      const security = await checkSecurity(trx, this.deps.users, rule.security, input, problems);
      if (problems.length > 0) throw errors.validation(`The security cannot be saved: ${describe(problems)}.`, problems);
      if (!securityAllows(security, 'edit', actor.username)) {
        throw errors.validation('You would lock yourself out: keep yourself in the edit list (or leave it open to everyone holding AuditingRule.Edit).', [
          { path: '/edit', message: `must include ${actor.username}` },
        ]);
      }
      return this.deps.objects.update(trx, auditRuleKind, rule, { security }, actor, { verb: 'security', reason: input.reason });
    });
  }

  async delete(actor: Actor, ref: string, options: { expectedVersion?: number; reason?: string } = {}): Promise<void> {
    await this.write(actor, ref, 'delete', async (trx, rule) => {
      await this.deps.objects.delete(trx, auditRuleKind, rule, actor, options);
      return rule;
    });
  }

  /** The seed's Show permalinks: links by business key, stable across edits, for third parties to point at the rule. */
  async permalinks(actor: Actor, ref: string): Promise<Permalinks> {
    return this.deps.db.transaction().execute(async (trx) => {
      const view = await this.presentOne(trx, await findVisibleRule(trx, actor, ref));
      return permalinksOf('AuditRule', view.businessKey, this.deps.publicUrl, `o:AuditRule k:${view.businessKey}`);
    });
  }

  /** Views of rules, for other services of the module (export, permalinks). */
  async present(db: Executor, rules: readonly AuditRule[]): Promise<AuditRuleView[]> {
    const partitions = await partitionNamesByIds(db, rules.map((rule) => rule.partitionId));
    const applicationIds = rules.flatMap((rule) => [rule.applicationId, rule.matchApplicationId]).filter((id): id is string => id !== null);
    const applications = new Map(
      (await findApplicationsByIds(db, applicationIds)).map((application) => [application.id, { key: `${application.partitionName}.${application.name}`, path: application.name }]),
    );
    return rules.map((rule) => presentRule(rule, partitions.get(rule.partitionId) ?? rule.partitionId, applications));
  }

  private async presentOne(db: Executor, rule: AuditRule): Promise<AuditRuleView> {
    return (await this.present(db, [rule]))[0] as AuditRuleView;
  }

  /** One write to an existing rule: visible, the privilege, the rule's security, never the built-in rule. */
  private async write(actor: Actor, ref: string, action: 'edit' | 'delete', work: (trx: Tx, rule: AuditRule) => Promise<AuditRule>): Promise<AuditRuleView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const rule = await findVisibleRule(trx, actor, ref);
      await requirePrivilege(trx, actor, action === 'edit' ? 'AuditingRule.Edit' : 'AuditingRule.Delete', inPartition(rule.partitionId));
      if (rule.builtin) throw errors.builtinRule(BUILTIN_RULE_REFUSAL);
      if (!securityAllows(rule.security, action, actor.username)) {
        throw errors.forbidden(`The security of audit rule ${rule.name} does not let you ${action} it: ask one of ${(rule.security[action] ?? []).join(', ') || 'nobody'}.`);
      }
      return this.presentOne(trx, await work(trx, rule));
    });
  }
}

export function presentRule(rule: AuditRule, partition: string, applications: ReadonlyMap<string, { key: string; path: string }>): AuditRuleView {
  return {
    id: rule.id,
    name: rule.name,
    partition,
    businessKey: `${partition}.${rule.name}`,
    application: rule.applicationId === null ? null : (applications.get(rule.applicationId)?.path ?? rule.applicationId),
    description: rule.description,
    objectType: rule.objectType,
    level: LEVEL_NAMES[rule.level],
    namePattern: rule.namePattern,
    nameMatch: rule.nameMatch,
    applicationRule: rule.applicationRule,
    matchApplication: rule.matchApplicationId === null ? null : (applications.get(rule.matchApplicationId)?.key ?? rule.matchApplicationId),
    partitionPattern: rule.partitionPattern,
    partitionMatch: rule.partitionMatch,
    enabled: rule.enabled,
    builtin: rule.builtin,
    security: { view: copy(rule.security.view), edit: copy(rule.security.edit), delete: copy(rule.security.delete) },
    version: rule.version,
    createdAt: rule.createdAt.toISOString(),
    createdBy: rule.createdBy,
    updatedAt: rule.updatedAt.toISOString(),
    updatedBy: rule.updatedBy,
  };
}

const copy = (list: readonly string[] | null) => (list === null ? null : [...list]);

/** Permalinks of an object by type and business key. */
export function permalinksOf(type: 'AuditRule' | 'Filter', businessKey: string, publicUrl: string | undefined, trailQuery: string): Permalinks {
  const base = `${publicUrl?.replace(/\/+$/, '') ?? ''}/api/v1`;
  const self = `${base}/audit/permalinks/${type}/${encodeURIComponent(businessKey)}`;
  return {
    businessKey,
    links: {
      self,
      export: `${self}/export`,
      exportWithRelated: `${self}/export?related=true`,
      auditTrail: `${base}/audit/entries?q=${encodeURIComponent(trailQuery)}`,
    },
  };
}

const describe = (problems: readonly FieldProblem[]) => problems.map((problem) => `${problem.path} ${problem.message}`).join('; ');

/** The fields of a new or edited rule, merged over `base`, with the matched application resolved. */
async function ruleFields(
  trx: Tx,
  base: AuditRule | undefined,
  input: RuleFields,
  partitionId: string,
  problems: FieldProblem[],
): Promise<Omit<ObjectFields<AuditRule>, 'partitionId' | 'applicationId' | 'name' | 'builtin' | 'security'>> {
  const applicationRule = input.applicationRule ?? base?.applicationRule ?? 'all_objects';
  let matchApplicationId = base?.matchApplicationId ?? null;
  if (input.matchApplication !== undefined && input.matchApplication !== null && input.matchApplication !== '') {
    const application = await resolveApplicationRef(trx, input.matchApplication, partitionId);
    if (!application) problems.push({ path: '/matchApplication', message: `no application "${input.matchApplication}" (write PARTITION.Path, or a path in the rule's partition)` });
    matchApplicationId = application?.id ?? null;
  } else if (input.matchApplication !== undefined || (input.applicationRule !== undefined && !needsApplication(applicationRule))) {
    matchApplicationId = null;
  }
  const fields = {
    description: input.description ?? base?.description ?? '',
    objectType: (input.objectType ?? base?.objectType ?? '') as ObjectType,
    level: input.level !== undefined ? levelOf(input.level) : (base?.level ?? 1),
    namePattern: input.namePattern ?? base?.namePattern ?? '*',
    nameMatch: input.nameMatch ?? base?.nameMatch ?? 'glob',
    applicationRule,
    matchApplicationId,
    partitionPattern: input.partitionPattern ?? base?.partitionPattern ?? '*',
    partitionMatch: input.partitionMatch ?? base?.partitionMatch ?? 'glob',
    enabled: input.enabled ?? base?.enabled ?? true,
  };
  const unresolved = problems.some((problem) => problem.path === '/matchApplication');
  problems.push(
    ...ruleProblems(
      {
        objectType: fields.objectType,
        namePattern: fields.namePattern,
        nameMatch: fields.nameMatch,
        partitionPattern: fields.partitionPattern,
        partitionMatch: fields.partitionMatch,
        applicationRule: fields.applicationRule,
      },
      matchApplicationId !== null || unresolved,
    ),
  );
  return fields;
}

/** `PARTITION.Path`, else a path in the given partition. */
export async function resolveApplicationRef(db: Executor, ref: string, partitionId: string): Promise<{ id: string; partitionId: string; name: string } | undefined> {
  const dot = ref.indexOf('.');
  if (dot > 0) {
    const partition = await findPartitionByName(db, ref.slice(0, dot));
    const application = partition && (await findApplication(db, partition.id, ref.slice(dot + 1)));
    if (application) return { id: application.id, partitionId: application.partitionId, name: application.name };
  }
  const application = await findApplication(db, partitionId, ref);
  return application && { id: application.id, partitionId: application.partitionId, name: application.name };
}

/** The rule security after `input`, with every username checked. */
async function checkSecurity(db: Executor, users: UserDirectory, current: RuleSecurity, input: SecurityInput, problems: FieldProblem[]): Promise<RuleSecurity> {
  const next = {
    view: input.view !== undefined ? input.view : current.view,
    edit: input.edit !== undefined ? input.edit : current.edit,
    delete: input.delete !== undefined ? input.delete : current.delete,
  };
  const names = [...new Set([next.view, next.edit, next.delete].flatMap((list) => list ?? []))];
  const known = await users.existingUsernames(db, names);
  for (const action of ['view', 'edit', 'delete'] as const) {
    const unknown = (next[action] ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) problems.push({ path: `/security/${action}`, message: `no such user: ${unknown.join(', ')}` });
  }
  const unique = (list: readonly string[] | null) => (list === null ? null : [...new Set(list)].sort());
  return { view: unique(next.view), edit: unique(next.edit), delete: unique(next.delete) };
}
