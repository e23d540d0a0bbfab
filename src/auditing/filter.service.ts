import type { Kysely } from 'kysely';
import { findApplicationsByIds, findPartitionByName, partitionNamesByIds, resolvePlace } from '../objects/index.ts';
import { hasPrivilege, inPartition, partitionsWith, requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { errors, type FieldProblem } from '../platform/errors.ts';
import { isUuid } from '../platform/ids.ts';
import { permalinksOf, type Permalinks } from './audit-rule.service.ts';
import { FILTER_NAME, FILTER_TARGETS, filterQueryError, presentFilter, viewPrivilegeOf, type Filter, type FilterTarget, type FilterView } from './filter.ts';
import { addToNavigation, filterKind, findFilter, findFilterInPartition, findFiltersNamed, listFilters, navigationOf, removeFromNavigation } from './filter.store.ts';
import type { ObjectStore } from '../objects/object-store.ts';

export interface NewFilter {
  readonly name: string;
  readonly target: FilterTarget;
  readonly query: string;
  readonly description?: string;
  readonly partition?: string;
  readonly application?: string | null;
}

export interface FilterPatch {
  readonly query?: string;
  readonly description?: string;
  readonly expectedVersion?: number;
}

export interface FilterServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly publicUrl?: string;
}

/**
 * Finds a filter by id, `PARTITION.name` or name, as the caller may see it: with the view privilege
 * of what it searches, in its partition. Otherwise "not found".
 */
export async function findVisibleFilter(trx: Tx, actor: Actor, ref: string): Promise<Filter> {
  const visible = async (filter: Filter) => hasPrivilege(trx, actor, viewPrivilegeOf(filter.target), inPartition(filter.partitionId));
  if (isUuid(ref)) {
    const filter = await findFilter(trx, ref);
    if (filter && (await visible(filter))) return filter;
    throw errors.notFound('filter', ref);
  }
  const dot = ref.indexOf('.');
  if (dot > 0) {
    const partition = await findPartitionByName(trx, ref.slice(0, dot));
    const filter = partition && (await findFilterInPartition(trx, partition.id, ref.slice(dot + 1)));
    if (filter && (await visible(filter))) return filter;
  }
  const candidates: Filter[] = [];
  for (const filter of await findFiltersNamed(trx, ref)) if (await visible(filter)) candidates.push(filter);
  const [first, ...others] = candidates;
  if (!first) throw errors.notFound('filter', ref);
  if (others.length > 0) throw errors.conflict(`The filter name "${ref}" is used in several partitions: say which one, as PARTITION.${ref}.`);
  return first;
}

/** Saved searches of the audit trail and of the audit rules, and the navigation bar they can be added to. */
export class FilterService {
  constructor(private readonly deps: FilterServiceDeps) {}

  async list(actor: Actor, filter: { target?: FilterTarget } = {}): Promise<FilterView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const targets = filter.target ? [filter.target] : FILTER_TARGETS;
      const scopes = await Promise.all(targets.map(async (target) => ({ target, partitionIds: await partitionsWith(trx, actor, viewPrivilegeOf(target)) })));
      if (scopes.every((scope) => scope.partitionIds !== 'all' && scope.partitionIds.length === 0)) {
        throw errors.forbidden('You need AuditTrail.View or AuditingRule.View to use filters.');
      }
      return this.present(trx, actor, await listFilters(trx, scopes));
    });
  }

  async get(actor: Actor, ref: string): Promise<FilterView> {
    return this.deps.db.transaction().execute(async (trx) => this.presentOne(trx, actor, await findVisibleFilter(trx, actor, ref)));
  }

  /** The seed's New Filter, and Create filter from search: the current query saved under a name. */
  async create(actor: Actor, input: NewFilter): Promise<FilterView> {
    return this.deps.db.transaction().execute(async (trx) => this.presentOne(trx, actor, await this.insert(trx, actor, input)));
  }

  async update(actor: Actor, ref: string, patch: FilterPatch): Promise<FilterView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const filter = await this.owned(trx, actor, ref);
      if (patch.query !== undefined) checkQuery(filter.target, patch.query);
      const updated = await this.deps.objects.update(
        trx,
        filterKind,
        filter,
        { ...(patch.query !== undefined && { query: patch.query }), ...(patch.description !== undefined && { description: patch.description }) },
        actor,
        { expectedVersion: patch.expectedVersion },
      );
      return this.presentOne(trx, actor, updated);
    });
  }

  async delete(actor: Actor, ref: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const filter = await this.owned(trx, actor, ref);
      await this.deps.objects.delete(trx, filterKind, filter, actor, { expectedVersion });
    });
  }

  /** The seed's Duplicate Filter: a copy the caller owns, named `<name>_copy` (or the name given). */
  async duplicate(actor: Actor, ref: string, input: { name?: string } = {}): Promise<FilterView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const filter = await findVisibleFilter(trx, actor, ref);
      let name = input.name;
      if (name === undefined) {
        name = `${filter.name}_copy`.slice(0, 100);
        for (let k = 2; await findFilterInPartition(trx, filter.partitionId, name); k++) name = `${filter.name}_copy${k}`.slice(0, 100);
      }
      const { partitions, applications } = await placeNames(trx, [filter]);
      const copy = await this.insert(trx, actor, {
        name,
        target: filter.target,
        query: filter.query,
        description: filter.description,
        partition: partitions.get(filter.partitionId) ?? filter.partitionId,
        application: (filter.applicationId && applications.get(filter.applicationId)) ?? null,
      });
      return this.presentOne(trx, actor, copy);
    });
  }

  /** The query a filter saves, checked against what the caller searches with it. */
  async queryOf(actor: Actor, ref: string, target: FilterTarget): Promise<string> {
    return this.deps.db.transaction().execute(async (trx) => {
      const filter = await findVisibleFilter(trx, actor, ref);
      if (filter.target !== target) throw errors.validation(`Filter ${filter.name} searches ${filter.target === 'AuditEntry' ? 'the audit trail' : 'audit rules'}, not these.`, [{ path: '/filter', message: `is a ${filter.target} filter` }]);
      return filter.query;
    });
  }

  /** The seed's Add to navigation bar. */
  async addToNavigation(actor: Actor, ref: string): Promise<FilterView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const filter = await findVisibleFilter(trx, actor, ref);
      await addToNavigation(trx, actor.userId, filter.id, this.deps.clock.now());
      return this.navigationIn(trx, actor);
    });
  }

  async removeFromNavigation(actor: Actor, ref: string): Promise<FilterView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const filter = await findVisibleFilter(trx, actor, ref);
      await removeFromNavigation(trx, actor.userId, filter.id);
      return this.navigationIn(trx, actor);
    });
  }

  /** The caller's navigation bar: the filters they added and may still see, in order. */
  async navigation(actor: Actor): Promise<FilterView[]> {
    return this.deps.db.transaction().execute(async (trx) => this.navigationIn(trx, actor));
  }

  async permalinks(actor: Actor, ref: string): Promise<Permalinks> {
    return this.deps.db.transaction().execute(async (trx) => {
      const view = await this.presentOne(trx, actor, await findVisibleFilter(trx, actor, ref));
      return permalinksOf('Filter', view.businessKey, this.deps.publicUrl, `o:Filter k:${view.businessKey}`);
    });
  }

  /** Views of filters, for other services of the module. */
  async present(db: Executor, actor: Actor, filters: readonly Filter[]): Promise<FilterView[]> {
    const { partitions, applications } = await placeNames(db, filters);
    const navigation = new Set(await navigationOf(db, actor.userId));
    return filters.map((filter) =>
      presentFilter(
        filter,
        {
          partition: partitions.get(filter.partitionId) ?? filter.partitionId,
          application: filter.applicationId === null ? null : (applications.get(filter.applicationId) ?? filter.applicationId),
        },
        navigation.has(filter.id),
      ),
    );
  }

  /** Creates a filter in the caller's transaction (create, duplicate, import). */
  async insert(trx: Tx, actor: Actor, input: NewFilter, reason?: string): Promise<Filter> {
    const place = await resolvePlace(trx, input);
    await requirePrivilege(trx, actor, viewPrivilegeOf(input.target), inPartition(place.partitionId));
    const problems: FieldProblem[] = [];
    if (!FILTER_NAME.test(input.name)) problems.push({ path: '/name', message: 'letters, digits, "_", "." and "-", starting with a letter or digit, at most 100' });
    if (problems.length > 0) throw errors.validation('The filter cannot be saved: fix the fields listed.', problems);
    checkQuery(input.target, input.query);
    if (await findFilterInPartition(trx, place.partitionId, input.name)) throw errors.alreadyExists('filter', `${place.partitionName}.${input.name}`);
    return this.deps.objects.create(
      trx,
      filterKind,
      {
        partitionId: place.partitionId,
        applicationId: place.applicationId,
        name: input.name,
        description: input.description ?? '',
        target: input.target,
        query: input.query,
        owner: actor.username,
      },
      actor,
      { reason },
    );
  }

  private async presentOne(db: Executor, actor: Actor, filter: Filter): Promise<FilterView> {
    return (await this.present(db, actor, [filter]))[0] as FilterView;
  }

  private async navigationIn(trx: Tx, actor: Actor): Promise<FilterView[]> {
    const filters: Filter[] = [];
    for (const id of await navigationOf(trx, actor.userId)) {
      const filter = await findFilter(trx, id);
      if (filter && (await hasPrivilege(trx, actor, viewPrivilegeOf(filter.target), inPartition(filter.partitionId)))) filters.push(filter);
    }
    return this.present(trx, actor, filters);
  }

  /** A filter the caller may change: their own, or any for a User.Admin. */
  private async owned(trx: Tx, actor: Actor, ref: string): Promise<Filter> {
    const filter = await findVisibleFilter(trx, actor, ref);
    if (filter.owner !== actor.username && !(await hasPrivilege(trx, actor, 'User.Admin', SYSTEM))) {
      throw errors.forbidden(`Filter ${filter.name} belongs to ${filter.owner}: duplicate it to make your own.`);
    }
    return filter;
  }
}

function checkQuery(target: FilterTarget, query: string): void {
  const error = filterQueryError(target, query);
  if (error) throw errors.searchInvalid(error, query);
}

/** The names of the partitions and applications the filters sit in, by id. */
async function placeNames(db: Executor, filters: readonly Filter[]): Promise<{ partitions: Map<string, string>; applications: Map<string, string> }> {
  const partitions = await partitionNamesByIds(db, filters.map((filter) => filter.partitionId));
  const applicationIds = filters.map((filter) => filter.applicationId).filter((id): id is string => id !== null);
  const applications = new Map((await findApplicationsByIds(db, applicationIds)).map((application) => [application.id, application.name]));
  return { partitions, applications };
}
