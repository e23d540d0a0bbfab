import { sql, type Kysely } from 'kysely';
import { Value } from 'typebox/value';
import { appendEvent } from '../eventlog/index.ts';
import {
  APPLICATION_NAME,
  applicationKind,
  findApplication,
  findApplicationObject,
  findPartitionByName,
  findPartitionObjectByName,
  globalPartitionId,
  hasPrivilege,
  inPartition,
  PARTITION_NAME,
  partitionKind,
  partitionsWith,
  requirePrivilege,
  SYSTEM,
  type Actor,
} from '../identity/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { AppError, errors } from '../platform/errors.ts';
import { BUILTIN_RULE_REFUSAL, levelOf, LEVEL_NAMES, RULE_NAME, ruleProblems, securityAllows, type AuditRule } from './audit-rule.ts';
import { builtinRefusal, findVisibleRule, resolveApplicationRef } from './audit-rule.service.ts';
import { auditRuleKind, findRuleInPartition } from './audit-rule.store.ts';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  differingFields,
  ImportReportSchema,
  importOrder,
  readBundle,
  type Bundle,
  type BundleEntry,
  type ImportConflict,
  type ImportItem,
  type ImportReport,
  type PortableFilter,
  type PortableRule,
} from './bundle.ts';
import { filterQueryError, viewPrivilegeOf, type Filter } from './filter.ts';
import { findVisibleFilter, type FilterService } from './filter.service.ts';
import { filterKind, findFilterInPartition } from './filter.store.ts';
import type { ObjectStore } from './object-store.ts';
import type { ObjectFields } from './object.ts';

export interface BundleServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly filters: FilterService;
  /** This Changegate's version and public address, written into the bundles it exports. */
  readonly version: string;
  readonly publicUrl?: string;
  /** How promotion reaches the other instance; tests may pass their own. */
  readonly fetch?: typeof fetch;
}

export interface PromoteTarget {
  /** The other instance's address, such as `https://changegate.prod.example.com`. */
  readonly url: string;
  /** An API token of a user there: their privileges there decide what the import may do. */
  readonly token: string;
  readonly dryRun?: boolean;
}

export interface PromoteResult {
  readonly target: string;
  readonly report: ImportReport;
}

const PROMOTE_TIMEOUT_MS = 15_000;

/** Why one object of a bundle was not imported. */
type Conflict = Omit<ImportConflict, keyof ImportItem>;
type Outcome = 'created' | 'updated' | 'unchanged' | Conflict;

/** Thrown to roll a dry run back, carrying its report out of the transaction. */
class DryRun extends Error {
  constructor(readonly report: ImportReport) {
    super('dry run');
  }
}

/**
 * Export, import and promotion of audit rules and filters (the seed's Export, Export with related
 * objects, Promote, Edit further then promote).
 */
export class BundleService {
  constructor(private readonly deps: BundleServiceDeps) {}

  /** A rule as a bundle; `related` adds its partition and the applications it names. */
  async exportRule(actor: Actor, ref: string, options: { related?: boolean } = {}): Promise<Bundle> {
    return this.deps.db.transaction().execute(async (trx) => {
      const rule = await findVisibleRule(trx, actor, ref);
      const objects: BundleEntry[] = [];
      const portable = await portableRule(trx, rule);
      if (options.related) {
        objects.push(...(await this.related(trx, portable.partition, portable.application)));
        if (portable.matchApplication) {
          const dot = portable.matchApplication.indexOf('.');
          objects.push(...(await this.related(trx, portable.matchApplication.slice(0, dot), portable.matchApplication.slice(dot + 1))));
        }
      }
      objects.push({ type: 'AuditRule', businessKey: `${portable.partition}.${portable.name}`, snapshot: portable });
      return this.bundle(actor, objects);
    });
  }

  /** A filter as a bundle; `related` adds its partition and application. */
  async exportFilter(actor: Actor, ref: string, options: { related?: boolean } = {}): Promise<Bundle> {
    return this.deps.db.transaction().execute(async (trx) => {
      const filter = await findVisibleFilter(trx, actor, ref);
      const portable = await portableFilter(trx, filter);
      const objects: BundleEntry[] = options.related ? await this.related(trx, portable.partition, portable.application) : [];
      objects.push({ type: 'Filter', businessKey: `${portable.partition}.${portable.name}`, snapshot: portable });
      return this.bundle(actor, objects);
    });
  }

  /**
   * Imports a bundle in one transaction. Idempotent: an object already here as the bundle has it
   * is `unchanged`; one here with other values is a conflict, left as it is unless `overwrite`.
   * Whatever cannot be imported (a missing partition, a privilege) is a conflict too; the rest is
   * imported. `dryRun` reports without writing.
   */
  async import(actor: Actor, json: unknown, options: { dryRun?: boolean; overwrite?: boolean } = {}): Promise<ImportReport> {
    const read = readBundle(json);
    if (!read.ok) throw errors.validation(`This is not a bundle Changegate can import: ${read.problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, read.problems);
    const bundle = read.bundle;
    const dryRun = options.dryRun ?? false;
    const reason = `imported from ${bundle.source.instance ?? 'another Changegate'} (exported ${bundle.exportedAt} by ${bundle.source.exportedBy})`;
    try {
      return await this.deps.db.transaction().execute(async (trx) => {
        const report: ImportReport = { dryRun, created: [], updated: [], unchanged: [], conflicts: [] };
        for (const entry of importOrder(bundle.objects)) {
          const item: ImportItem = { type: entry.type, businessKey: entry.businessKey };
          // Each object on its own savepoint: one that fails leaves the others, and the transaction, intact.
          await sql`SAVEPOINT import_object`.execute(trx);
          try {
            const outcome = await this.importOne(trx, actor, entry, options.overwrite ?? false, reason);
            if (typeof outcome === 'string') report[outcome].push(item);
            else report.conflicts.push({ ...item, ...outcome });
            await sql`RELEASE SAVEPOINT import_object`.execute(trx);
          } catch (error) {
            await sql`ROLLBACK TO SAVEPOINT import_object`.execute(trx);
            if (!(error instanceof AppError) || error.status >= 500) throw error;
            report.conflicts.push({ ...item, message: error.message });
          }
        }
        if (dryRun) throw new DryRun(report);
        await appendEvent(trx, {
          actor: actor.username,
          action: 'audit.import',
          subject: 'bundle',
          data: { source: bundle.source, created: report.created.length, updated: report.updated.length, unchanged: report.unchanged.length, conflicts: report.conflicts.length },
          time: this.deps.clock.now(),
        });
        return report;
      });
    } catch (error) {
      if (error instanceof DryRun) return error.report;
      throw error;
    }
  }

  /**
   * Pushes a bundle to another instance's import API with a token of that instance: the seed's
   * Promote to system. Passing a bundle edited by the caller (objects taken out or changed) is
   * "Edit further then promote". The token is sent there and nowhere else: not stored, not logged.
   */
  async promote(actor: Actor, bundle: unknown, target: PromoteTarget): Promise<PromoteResult> {
    const read = readBundle(bundle);
    if (!read.ok) throw errors.validation(`The bundle to promote is not valid: ${read.problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, read.problems);
    const endpoint = importEndpoint(target.url);
    await this.deps.db.transaction().execute(async (trx) => {
      const visible = await partitionsWith(trx, actor, 'AuditingRule.View');
      if (visible !== 'all' && visible.length === 0) throw errors.forbidden('You need the AuditingRule.View privilege to promote.');
    });
    const report = await this.send(endpoint, target, read.bundle);
    await this.deps.db.transaction().execute((trx) =>
      appendEvent(trx, {
        actor: actor.username,
        action: 'audit.promote',
        subject: `instance:${endpoint.origin}`,
        data: {
          objects: read.bundle.objects.map((object) => `${object.type}:${object.businessKey}`),
          dryRun: report.dryRun,
          created: report.created.length,
          updated: report.updated.length,
          unchanged: report.unchanged.length,
          conflicts: report.conflicts.length,
        },
        time: this.deps.clock.now(),
      }),
    );
    return { target: endpoint.origin, report };
  }

  /** Exports a rule (with its related objects, if asked) and promotes it. */
  async promoteRule(actor: Actor, ref: string, target: PromoteTarget & { related?: boolean }): Promise<PromoteResult> {
    return this.promote(actor, await this.exportRule(actor, ref, { related: target.related }), target);
  }

  async promoteFilter(actor: Actor, ref: string, target: PromoteTarget & { related?: boolean }): Promise<PromoteResult> {
    return this.promote(actor, await this.exportFilter(actor, ref, { related: target.related }), target);
  }

  private async send(endpoint: URL, target: PromoteTarget, bundle: Bundle): Promise<ImportReport> {
    if (target.dryRun) endpoint.searchParams.set('dryRun', 'true');
    let response: Response;
    try {
      response = await (this.deps.fetch ?? fetch)(endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(bundle),
        signal: AbortSignal.timeout(PROMOTE_TIMEOUT_MS),
        redirect: 'error',
      });
    } catch (error) {
      throw new AppError('promote_failed', 502, `Cannot reach ${endpoint.origin} to promote: ${(error as Error).message}.`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const remote = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new AppError('promote_failed', 502, `${endpoint.origin} refused the import (${response.status}): ${remote?.message ?? text.slice(0, 200)}`, {
        status: response.status,
        ...(remote && { error: remote }),
      });
    }
    if (!Value.Check(ImportReportSchema, body)) throw new AppError('promote_failed', 502, `${endpoint.origin} did not answer with an import report: is it a Changegate?`);
    return body;
  }

  private bundle(actor: Actor, objects: BundleEntry[]): Bundle {
    const unique = new Map<string, BundleEntry>();
    for (const object of objects) unique.set(`${object.type}:${object.businessKey}`, object);
    return {
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      exportedAt: this.deps.clock.now().toISOString(),
      source: { ...(this.deps.publicUrl && { instance: this.deps.publicUrl }), version: this.deps.version, exportedBy: actor.username },
      objects: [...unique.values()],
    };
  }

  /** A partition and, if named, an application with its parents: what "with related objects" adds. */
  private async related(db: Executor, partitionName: string, applicationPath: string | null): Promise<BundleEntry[]> {
    const partition = await findPartitionByName(db, partitionName);
    if (!partition) return [];
    const objects: BundleEntry[] = [{ type: 'Partition', businessKey: `GLOBAL.${partition.name}`, snapshot: { name: partition.name, description: partition.description } }];
    if (applicationPath) {
      const segments = applicationPath.split('/');
      for (let k = 1; k <= segments.length; k++) {
        const path = segments.slice(0, k).join('/');
        const application = await findApplication(db, partition.id, path);
        if (application) {
          objects.push({ type: 'Application', businessKey: `${partition.name}.${path}`, snapshot: { partition: partition.name, name: path, description: application.description } });
        }
      }
    }
    return objects;
  }

  /** Imports one object: what happened to it, or the conflict. */
  private async importOne(
    trx: Tx,
    actor: Actor,
    entry: BundleEntry,
    overwrite: boolean,
    reason: string,
  ): Promise<Outcome> {
    switch (entry.type) {
      case 'Partition': {
        const { name, description } = entry.snapshot;
        if (entry.businessKey !== `GLOBAL.${name}`) return { message: `The business key of partition ${name} is GLOBAL.${name}, not ${entry.businessKey}.` };
        const existing = await findPartitionObjectByName(trx, name);
        if (existing) {
          if (existing.description === description) return 'unchanged';
          if (!overwrite) return { message: `Partition ${name} exists here with another description.`, fields: ['description'] };
          await requirePrivilege(trx, actor, 'Partition.Edit', inPartition(existing.id));
          await this.deps.objects.update(trx, partitionKind, existing, { description }, actor, { reason });
          return 'updated';
        }
        await requirePrivilege(trx, actor, 'Partition.Create', SYSTEM);
        if (!PARTITION_NAME.test(name)) return { message: `"${name}" is not a partition name.` };
        await this.deps.objects.create(trx, partitionKind, { partitionId: await globalPartitionId(trx), applicationId: null, name, description }, actor, { reason });
        return 'created';
      }
      case 'Application': {
        const { partition: partitionName, name, description } = entry.snapshot;
        if (entry.businessKey !== `${partitionName}.${name}`) return { message: `The business key of application ${name} is ${partitionName}.${name}, not ${entry.businessKey}.` };
        const partition = await findPartitionByName(trx, partitionName);
        if (!partition) return { message: `Partition ${partitionName} does not exist here: export with related objects, or create it first.` };
        const existing = await findApplication(trx, partition.id, name);
        if (existing) {
          if (existing.description === description) return 'unchanged';
          if (!overwrite) return { message: `Application ${entry.businessKey} exists here with another description.`, fields: ['description'] };
          await requirePrivilege(trx, actor, 'Application.Edit', inPartition(partition.id));
          const object = await findApplicationObject(trx, existing.id);
          if (object) await this.deps.objects.update(trx, applicationKind, object, { description }, actor, { reason });
          return 'updated';
        }
        await requirePrivilege(trx, actor, 'Application.Create', inPartition(partition.id));
        if (!APPLICATION_NAME.test(name)) return { message: `"${name}" is not an application name.` };
        const parent = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : undefined;
        if (parent && !(await findApplication(trx, partition.id, parent))) return { message: `Its parent application ${partitionName}.${parent} does not exist here.` };
        await this.deps.objects.create(trx, applicationKind, { partitionId: partition.id, applicationId: null, name, description }, actor, { reason });
        return 'created';
      }
      case 'AuditRule':
        return this.importRule(trx, actor, entry.businessKey, entry.snapshot, overwrite, reason);
      case 'Filter':
        return this.importFilter(trx, actor, entry.businessKey, entry.snapshot, overwrite, reason);
    }
  }

  private async importRule(trx: Tx, actor: Actor, businessKey: string, snapshot: PortableRule, overwrite: boolean, reason: string): Promise<Outcome> {
    if (businessKey !== `${snapshot.partition}.${snapshot.name}`) return { message: `The business key of rule ${snapshot.name} is ${snapshot.partition}.${snapshot.name}, not ${businessKey}.` };
    const partition = await findPartitionByName(trx, snapshot.partition);
    if (!partition) return { message: `Partition ${snapshot.partition} does not exist here: export with related objects, or create it first.` };
    const existing = await findRuleInPartition(trx, partition.id, snapshot.name);
    if (existing) {
      if (!(await hasPrivilege(trx, actor, 'AuditingRule.View', inPartition(partition.id))) || !securityAllows(existing.security, 'view', actor.username)) {
        return { message: 'You may not view audit rules there (AuditingRule.View), so this rule cannot be compared or imported.' };
      }
      const fields = differingFields(await portableRule(trx, existing), snapshot);
      if (fields.length === 0) return 'unchanged';
      if (existing.builtin) return { message: BUILTIN_RULE_REFUSAL, fields };
      if (!overwrite) return { message: `Audit rule ${businessKey} exists here with other values.`, fields };
      await requirePrivilege(trx, actor, 'AuditingRule.Edit', inPartition(partition.id));
      if (!securityAllows(existing.security, 'edit', actor.username)) throw errors.forbidden(`The security of audit rule ${existing.name} does not let you edit it.`);
      if (existing.builtin) throw builtinRefusal();
      const resolved = await this.resolveRule(trx, snapshot, partition.id);
      if ('message' in resolved) return resolved;
      await this.deps.objects.update(trx, auditRuleKind, existing, resolved, actor, { reason });
      return 'updated';
    }
    await requirePrivilege(trx, actor, 'AuditingRule.Create', inPartition(partition.id));
    if (!RULE_NAME.test(snapshot.name)) return { message: `"${snapshot.name}" is not an audit rule name.` };
    const resolved = await this.resolveRule(trx, snapshot, partition.id);
    if ('message' in resolved) return resolved;
    await this.deps.objects.create(trx, auditRuleKind, { ...resolved, partitionId: partition.id, name: snapshot.name, builtin: false }, actor, { reason });
    return 'created';
  }

  /** A portable rule's fields with names resolved to this installation's ids, checked as a save would. */
  private async resolveRule(trx: Tx, snapshot: PortableRule, partitionId: string): Promise<Conflict | Omit<ObjectFields<AuditRule>, 'partitionId' | 'name' | 'builtin'>> {
    let applicationId: string | null = null;
    if (snapshot.application) {
      const application = await findApplication(trx, partitionId, snapshot.application);
      if (!application) return { message: `Its application ${snapshot.partition}.${snapshot.application} does not exist here: export with related objects.` };
      applicationId = application.id;
    }
    let matchApplicationId: string | null = null;
    if (snapshot.matchApplication) {
      const application = await resolveApplicationRef(trx, snapshot.matchApplication, partitionId);
      if (!application) return { message: `The application it matches, ${snapshot.matchApplication}, does not exist here: export with related objects.` };
      matchApplicationId = application.id;
    }
    const problems = ruleProblems({ ...snapshot }, matchApplicationId !== null);
    if (problems.length > 0) return { message: `The rule is not valid here: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}.` };
    const names = [...new Set([snapshot.security.view, snapshot.security.edit, snapshot.security.delete].flatMap((list) => list ?? []))];
    const known = new Set(names.length > 0 ? (await trx.selectFrom('app_user').select('username').where('username', 'in', names).execute()).map((row) => row.username) : []);
    const unknown = names.filter((name) => !known.has(name));
    if (unknown.length > 0) return { message: `Its security names users who do not exist here: ${unknown.join(', ')}.`, fields: ['security'] };
    const { view, edit, delete: remove } = snapshot.security;
    return {
      applicationId,
      description: snapshot.description,
      objectType: snapshot.objectType,
      level: levelOf(snapshot.level),
      namePattern: snapshot.namePattern,
      nameMatch: snapshot.nameMatch,
      applicationRule: snapshot.applicationRule,
      matchApplicationId,
      partitionPattern: snapshot.partitionPattern,
      partitionMatch: snapshot.partitionMatch,
      enabled: snapshot.enabled,
      security: { view, edit, delete: remove },
    };
  }

  private async importFilter(trx: Tx, actor: Actor, businessKey: string, snapshot: PortableFilter, overwrite: boolean, reason: string): Promise<Outcome> {
    if (businessKey !== `${snapshot.partition}.${snapshot.name}`) return { message: `The business key of filter ${snapshot.name} is ${snapshot.partition}.${snapshot.name}, not ${businessKey}.` };
    const partition = await findPartitionByName(trx, snapshot.partition);
    if (!partition) return { message: `Partition ${snapshot.partition} does not exist here: export with related objects, or create it first.` };
    const queryError = filterQueryError(snapshot.target, snapshot.query);
    if (queryError) return { message: `Its query cannot be read at column ${queryError.column}: ${queryError.message}`, fields: ['query'] };
    const existing = await findFilterInPartition(trx, partition.id, snapshot.name);
    if (existing) {
      if (!(await hasPrivilege(trx, actor, viewPrivilegeOf(existing.target), inPartition(partition.id)))) {
        return { message: 'You may not view filters there, so this one cannot be compared or imported.' };
      }
      const fields = differingFields(await portableFilter(trx, existing), snapshot);
      if (fields.length === 0) return 'unchanged';
      if (!overwrite) return { message: `Filter ${businessKey} exists here with other values.`, fields };
      if (existing.owner !== actor.username && !(await hasPrivilege(trx, actor, 'User.Admin', SYSTEM))) {
        return { message: `Filter ${businessKey} belongs to ${existing.owner}: only they may overwrite it.`, fields };
      }
      let applicationId: string | null = null;
      if (snapshot.application) {
        const application = await findApplication(trx, partition.id, snapshot.application);
        if (!application) return { message: `Its application ${snapshot.partition}.${snapshot.application} does not exist here.` };
        applicationId = application.id;
      }
      await this.deps.objects.update(trx, filterKind, existing, { applicationId, description: snapshot.description, target: snapshot.target, query: snapshot.query }, actor, { reason });
      return 'updated';
    }
    await this.deps.filters.insert(trx, actor, { ...snapshot }, reason);
    return 'created';
  }
}

/** Where a promotion posts: `<url>/api/v1/audit/import`, over http or https, with no user or password in the address. */
function importEndpoint(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw errors.validation(`"${text}" is not a URL.`, [{ path: '/url', message: 'is not a URL' }]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw errors.validation('Promote over http:// or https://.', [{ path: '/url', message: 'must be http or https' }]);
  if (url.username || url.password) throw errors.validation('Put the token in `token`, not in the URL.', [{ path: '/url', message: 'must not hold a user name or password' }]);
  return new URL(`${url.pathname.replace(/\/+$/, '')}/api/v1/audit/import`, url.origin);
}

/** A rule as a bundle holds it: names and business keys instead of ids. */
async function portableRule(db: Executor, rule: AuditRule): Promise<PortableRule> {
  const partition = await db.selectFrom('partition').select('name').where('id', '=', rule.partitionId).executeTakeFirstOrThrow();
  const application = rule.applicationId ? await db.selectFrom('application').select('name').where('id', '=', rule.applicationId).executeTakeFirst() : undefined;
  let matchApplication: string | null = null;
  if (rule.matchApplicationId) {
    const matched = await db
      .selectFrom('application as a')
      .innerJoin('partition as p', 'p.id', 'a.partition_id')
      .select(['a.name as name', 'p.name as partition'])
      .where('a.id', '=', rule.matchApplicationId)
      .executeTakeFirst();
    if (!matched) throw errors.conflict(`The application audit rule ${rule.name} matches was deleted: restore it from the Trash Can, or edit the rule, before exporting it.`);
    matchApplication = `${matched.partition}.${matched.name}`;
  }
  return {
    partition: partition.name,
    name: rule.name,
    application: application?.name ?? null,
    description: rule.description,
    objectType: rule.objectType,
    level: LEVEL_NAMES[rule.level],
    namePattern: rule.namePattern,
    nameMatch: rule.nameMatch,
    applicationRule: rule.applicationRule,
    matchApplication,
    partitionPattern: rule.partitionPattern,
    partitionMatch: rule.partitionMatch,
    enabled: rule.enabled,
    security: { view: rule.security.view && [...rule.security.view], edit: rule.security.edit && [...rule.security.edit], delete: rule.security.delete && [...rule.security.delete] },
  };
}

async function portableFilter(db: Executor, filter: Filter): Promise<PortableFilter> {
  const partition = await db.selectFrom('partition').select('name').where('id', '=', filter.partitionId).executeTakeFirstOrThrow();
  const application = filter.applicationId ? await db.selectFrom('application').select('name').where('id', '=', filter.applicationId).executeTakeFirst() : undefined;
  return { partition: partition.name, name: filter.name, application: application?.name ?? null, description: filter.description, target: filter.target, query: filter.query };
}
