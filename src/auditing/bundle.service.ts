import { sql, type Kysely } from 'kysely';
import { Value } from 'typebox/value';
import { appendEvent } from '../eventlog/index.ts';
import { APPLICATION_NAME, applicationKind, findApplication, findApplicationObject, findApplicationsByIds, findPartitionByName, globalPartitionId, PARTITION_NAME, partitionKind, partitionNamesByIds } from '../objects/index.ts';
import type { UserDirectory } from './user-directory.ts';
import { hasPrivilege, inPartition, partitionsWith, requirePrivilege, SYSTEM, type Actor, type Privilege } from '../access/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import type { PromoteTargetSetting } from '../platform/config.ts';
import { AppError, errors } from '../platform/errors.ts';
import { OutboundFailure, postOutbound, type OutboundAnswer } from '../platform/outbound-request.ts';
import { BUILTIN_RULE_REFUSAL, levelOf, LEVEL_NAMES, RULE_NAME, ruleProblems, securityAllows, type AuditRule } from './audit-rule.ts';
import { findVisibleRule, resolveApplicationRef } from './audit-rule.service.ts';
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
import type { ObjectStore } from '../objects/object-store.ts';
import type { ObjectFields } from '../objects/object.ts';
import type { PromoteResult, PromoteTarget } from './promote.views.ts';

export interface BundleServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly filters: FilterService;
  /** Checks the usernames an imported rule's security lists. */
  readonly users: UserDirectory;
  /** This Changegate's version and public address, written into the bundles it exports. */
  readonly version: string;
  readonly publicUrl?: string;
  /** The other instances a promotion may go to (`CHANGEGATE_PROMOTE_TARGETS`): no other address is ever called. */
  readonly promoteTargets: readonly PromoteTargetSetting[];
}

export interface PromoteRequest {
  /** The name of a configured promotion target. */
  readonly target: string;
  /** An API token of a user there: their privileges there decide what the import may do. */
  readonly token: string;
  readonly dryRun?: boolean;
}

const PROMOTE_TIMEOUT_MS = 15_000;
/** The most of an import report read from the other instance; a larger answer fails the promotion. */
export const PROMOTE_ANSWER_MAX_BYTES = 4 * 1024 * 1024;

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

  /** The instances one may promote to, for a Promote menu: needs AuditingRule.View somewhere. */
  async promoteTargets(actor: Actor): Promise<PromoteTarget[]> {
    await this.deps.db.transaction().execute(async (trx) => {
      const visible = await partitionsWith(trx, actor, 'AuditingRule.View');
      if (visible !== 'all' && visible.length === 0) throw errors.forbidden('You need the AuditingRule.View privilege to see where rules may be promoted.');
    });
    return this.deps.promoteTargets.map(({ name, url }) => ({ name, url }));
  }

  /**
   * Pushes a bundle to a configured instance's import API with a token of that instance: the seed's
   * Promote to system. Passing a bundle edited by the caller (objects taken out or changed) is
   * "Edit further then promote". Promoting an object creates it there, so it needs what creating it
   * here needs; that is checked before anything is sent. The token is sent there and nowhere else:
   * not stored, not logged. A failure says what the other instance's status means, never what it
   * answered.
   */
  async promote(actor: Actor, bundle: unknown, request: PromoteRequest): Promise<PromoteResult> {
    const read = readBundle(bundle);
    if (!read.ok) throw errors.validation(`The bundle to promote is not valid: ${read.problems.map((p) => `${p.path} ${p.message}`).join('; ')}.`, read.problems);
    // An empty bundle would need no privilege at all, and only carry the caller's token to the target.
    if (read.bundle.objects.length === 0) {
      throw errors.validation('The bundle to promote holds no object: export what you want to promote, or keep at least one object in it.', [
        { path: '/body/bundle/objects', message: 'must hold at least one object' },
      ]);
    }
    await this.deps.db.transaction().execute((trx) => requireCreatePrivileges(trx, actor, read.bundle));
    const target = this.target(request.target);
    const report = await this.send(target, request, read.bundle);
    await this.deps.db.transaction().execute((trx) =>
      appendEvent(trx, {
        actor: actor.username,
        action: 'audit.promote',
        subject: `instance:${target.url}`,
        data: {
          target: target.name,
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
    return { target: target.name, url: target.url, report };
  }

  /** Exports a rule (with its related objects, if asked) and promotes it. */
  async promoteRule(actor: Actor, ref: string, request: PromoteRequest & { related?: boolean }): Promise<PromoteResult> {
    return this.promote(actor, await this.exportRule(actor, ref, { related: request.related }), request);
  }

  async promoteFilter(actor: Actor, ref: string, request: PromoteRequest & { related?: boolean }): Promise<PromoteResult> {
    return this.promote(actor, await this.exportFilter(actor, ref, { related: request.related }), request);
  }

  /** The configured target of that name, or a 400 naming those there are. */
  private target(name: string): PromoteTargetSetting {
    const targets = this.deps.promoteTargets;
    if (targets.length === 0) {
      throw errors.validation('No promotion target is configured: an administrator must list the other Changegate instances in CHANGEGATE_PROMOTE_TARGETS (name=URL, comma-separated).', [
        { path: '/body/target', message: 'no promotion target is configured (CHANGEGATE_PROMOTE_TARGETS)' },
      ]);
    }
    const target = targets.find((candidate) => candidate.name === name);
    if (target) return target;
    const names = targets.map((candidate) => candidate.name).join(', ');
    throw errors.validation(`There is no promotion target "${name}": choose one of ${names}.`, [{ path: '/body/target', message: `must be one of: ${names}` }]);
  }

  private async send(target: PromoteTargetSetting, request: PromoteRequest, bundle: Bundle): Promise<ImportReport> {
    const endpoint = new URL(`${target.url}/api/v1/audit/import`);
    if (request.dryRun) endpoint.searchParams.set('dryRun', 'true');
    let answer: OutboundAnswer;
    try {
      answer = await postOutbound({
        url: endpoint,
        headers: { authorization: `Bearer ${request.token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: Buffer.from(JSON.stringify(bundle), 'utf8'),
        timeoutMs: PROMOTE_TIMEOUT_MS,
        maxAnswerBytes: PROMOTE_ANSWER_MAX_BYTES,
      });
    } catch (error) {
      if (error instanceof OutboundFailure) throw errors.promoteFailed(target, `cannot reach it: ${error.message}`, { reason: error.message });
      throw error;
    }
    if (answer.status < 200 || answer.status > 299) throw errors.promoteFailed(target, remoteStatusMeaning(answer.status), { status: answer.status });
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (!Value.Check(ImportReportSchema, body)) throw errors.promoteFailed(target, 'it did not answer with an import report: is its URL that of a Changegate?', { status: answer.status });
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
        const existing = await findPartitionByName(trx, name);
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
      if (existing.builtin) throw errors.builtinRule(BUILTIN_RULE_REFUSAL);
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
    const known = await this.deps.users.existingUsernames(trx, names);
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

/** What another Changegate's HTTP status means to someone promoting: the status alone, never its body. */
function remoteStatusMeaning(status: number): string {
  if (status >= 300 && status < 400) return `it redirects elsewhere (HTTP ${status}), and redirects are not followed: an administrator should set the target's URL to where it leads`;
  switch (status) {
    case 400:
      return 'it did not accept the bundle (HTTP 400): is it a Changegate that reads this bundle version?';
    case 401:
      return 'the token is not valid there (HTTP 401): give an API token of a user of that instance';
    case 403:
      return "the token's user may not import those objects there (HTTP 403)";
    case 404:
      return 'it has no import API at that address (HTTP 404): is the target\'s URL that of a Changegate?';
    case 413:
      return 'the bundle is larger than it accepts (HTTP 413): promote fewer objects at once';
    case 429:
      return 'it is limiting requests (HTTP 429): try again later';
    case 502:
    case 503:
    case 504:
      return `it, or a proxy in front of it, is unavailable (HTTP ${status}): try again later`;
  }
  if (status >= 500) return `it failed while importing (HTTP ${status}): its logs say why`;
  return `it answered HTTP ${status}`;
}

/**
 * Promoting an object creates it on the other instance, so it needs what creating it here needs:
 * Partition.Create system-wide; Application.Create or AuditingRule.Create in the object's partition;
 * for a filter, the privilege to view what it searches (as creating a filter does). A partition that
 * does not exist here asks for the privilege system-wide.
 */
async function requireCreatePrivileges(trx: Tx, actor: Actor, bundle: Bundle): Promise<void> {
  const checked = new Set<string>();
  for (const entry of bundle.objects) {
    const privilege: Privilege =
      entry.type === 'Partition' ? 'Partition.Create' : entry.type === 'Application' ? 'Application.Create' : entry.type === 'AuditRule' ? 'AuditingRule.Create' : viewPrivilegeOf(entry.snapshot.target);
    const partitionName = entry.type === 'Partition' ? null : entry.snapshot.partition;
    if (checked.has(`${privilege} ${partitionName}`)) continue;
    const partition = partitionName === null ? undefined : await findPartitionByName(trx, partitionName);
    const scope = partition ? inPartition(partition.id) : SYSTEM;
    if (!(await hasPrivilege(trx, actor, privilege, scope))) {
      const where = partition ? `for partition ${partition.name}` : partitionName === null ? 'system-wide' : `system-wide (partition ${partitionName} does not exist here)`;
      throw errors.forbidden(`Promoting ${entry.type} ${entry.businessKey} creates it on the other instance, so it needs what creating it here needs: the ${privilege} privilege ${where}.`);
    }
    checked.add(`${privilege} ${partitionName}`);
  }
}

/** The partition an object sits in, by name; it exists (the object's foreign key sees to it). */
async function partitionOf(db: Executor, id: string): Promise<{ name: string }> {
  const name = (await partitionNamesByIds(db, [id])).get(id);
  if (name === undefined) throw new Error(`the partition ${id} is missing`);
  return { name };
}

/** A rule as a bundle holds it: names and business keys instead of ids. */
async function portableRule(db: Executor, rule: AuditRule): Promise<PortableRule> {
  const partition = await partitionOf(db, rule.partitionId);
  const applications = await findApplicationsByIds(db, [rule.applicationId, rule.matchApplicationId].filter((id): id is string => id !== null));
  const application = applications.find((candidate) => candidate.id === rule.applicationId);
  let matchApplication: string | null = null;
  if (rule.matchApplicationId) {
    const matched = applications.find((candidate) => candidate.id === rule.matchApplicationId);
    if (!matched) throw errors.conflict(`The application audit rule ${rule.name} matches was deleted: restore it from the Trash Can, or edit the rule, before exporting it.`);
    matchApplication = `${matched.partitionName}.${matched.name}`;
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
  const partition = await partitionOf(db, filter.partitionId);
  const [application] = filter.applicationId ? await findApplicationsByIds(db, [filter.applicationId]) : [];
  return { partition: partition.name, name: filter.name, application: application?.name ?? null, description: filter.description, target: filter.target, query: filter.query };
}
