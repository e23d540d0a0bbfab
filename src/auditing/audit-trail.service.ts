import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import { hasPrivilege, inPartition, partitionsWith, requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { securityAllows, type AuditRule } from './audit-rule.ts';
import { presentEntry, restoreAvailability, restoreReason, unavailableReason, type AuditEntry, type AuditEntryView, type RestoreSide } from './audit-trail.ts';
import { findEntryFor, type RuleViewer, lastKnownKey, latestEntryOf, purgeEntries, searchEntries } from './audit-trail.store.ts';
import { parseDuration, subtractDuration } from './duration.ts';
import type { ObjectKind, ObjectStore } from '../objects/object-store.ts';
import { businessKey, META_FIELDS, type ObjectMeta, type ObjectType } from '../objects/object.ts';
import { restoreNeeds } from './restore-privileges.ts';
import { parseEntrySearch } from './search.ts';
import type { EntryPage, PurgeResult, RestoreResult } from './audit-trail.views.ts';
import { partitionNamesByIds } from '../objects/index.ts';
import type { UserDirectory } from './user-directory.ts';

/** Reads a saved filter's query: the trail searches with it. */
export interface FilterQueries {
  queryOf(actor: Actor, ref: string, target: 'AuditEntry' | 'AuditRule'): Promise<string>;
}

/**
 * What a restored write sets off beyond the object store, as the object's own service would on the
 * same edit: a device whose address or host key a restore changed cancels its requests and ends
 * its sessions. Called inside the restore's transaction (a throw undoes the restore); the function
 * it may return runs once the transaction has committed (ending live sessions).
 */
export interface RestoreConsequences {
  afterRestore(trx: Tx, actor: Actor, write: { readonly type: ObjectType; readonly before: ObjectMeta | undefined; readonly after: ObjectMeta }): Promise<(() => Promise<void>) | undefined>;
}

export interface AuditTrailServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly filters?: FilterQueries;
  /** The searcher's time zone: `t:14:05` is 14:05 where they are. */
  readonly users: Pick<UserDirectory, 'timeZoneOf'>;
  /** The side effects of restored writes; none by default. */
  readonly consequences?: RestoreConsequences;
}

export interface SearchInput {
  /** The IntelliSearch query: `t:14:05-14:06 u:jdoe`. */
  readonly q?: string;
  /** A saved filter whose query applies as well. */
  readonly filter?: string;
  readonly limit?: number;
  readonly cursor?: number;
  /** With each entry's whole object before and after (Full entries): the seed's Expand All. */
  readonly expand?: boolean;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

/**
 * The audit trail: search, the Trash Can, restore to before or after a change, retention. Entries
 * are visible with AuditTrail.View in the partition of their object (and, for an audit rule, when
 * the rule's security lets the user view it); restoring needs AuditTrail.Restore there, and the
 * privileges that would allow the same write directly (the object kind's `restore`).
 */
export class AuditTrailService {
  constructor(private readonly deps: AuditTrailServiceDeps) {}

  /** Entries newest first, narrowed by the search; a query that cannot be read is a 400 saying where. */
  async search(actor: Actor, input: SearchInput = {}): Promise<EntryPage> {
    const saved = input.filter && this.deps.filters ? await this.deps.filters.queryOf(actor, input.filter, 'AuditEntry') : '';
    return this.deps.db.transaction().execute(async (trx) => {
      const partitionIds = await this.viewable(trx, actor);
      if (saved) await this.parse(trx, actor, saved);
      const terms = await this.parse(trx, actor, [saved, input.q ?? ''].filter(Boolean).join(' '));
      return this.page(trx, { terms, partitionIds, viewer: await ruleViewer(trx, actor), limit: limitOf(input.limit), before: input.cursor }, input.expand ?? false);
    });
  }

  async get(actor: Actor, seq: number): Promise<AuditEntryView> {
    return this.deps.db.transaction().execute(async (trx) => this.present(await this.visibleEntry(trx, actor, seq), true));
  }

  /** The seed's Trash Can: deletions of audited objects not brought back since, newest first. */
  async trash(actor: Actor, input: SearchInput = {}): Promise<EntryPage> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partitionIds = await this.viewable(trx, actor);
      const terms = await this.parse(trx, actor, input.q ?? '');
      return this.page(trx, { terms, partitionIds, viewer: await ruleViewer(trx, actor), limit: limitOf(input.limit), before: input.cursor, trash: true }, input.expand ?? false);
    });
  }

  /** Restore to before the change: undoes it and every later change of the object (a deletion brings the object back). */
  restoreBefore(actor: Actor, seq: number, reason?: string): Promise<RestoreResult> {
    return this.restore(actor, seq, 'before', reason);
  }

  /** Restore to after the change: undoes every later change of the object, back to the state the change left. */
  restoreAfter(actor: Actor, seq: number, reason?: string): Promise<RestoreResult> {
    return this.restore(actor, seq, 'after', reason);
  }

  /**
   * The Trash Can's restore: brings back a deleted object from its deletion entry. Only a deletion
   * of an object still deleted (nothing written to it since) is in the Trash Can; anything else is
   * a 409 `not_in_trash`.
   */
  restoreFromTrash(actor: Actor, seq: number, reason?: string): Promise<RestoreResult> {
    return this.restore(actor, seq, 'before', reason, true);
  }

  /**
   * Removes the entries written before now minus `changedBefore` (an ISO-8601 duration such as
   * P365D), in one transaction, and logs the purge with the count. Deleted objects whose entries go
   * can no longer be restored. Needs AuditTrail.Restore at Admin level, system-wide.
   */
  async purge(actor: Actor, changedBefore: string): Promise<PurgeResult> {
    const parsed = parseDuration(changedBefore);
    if (!parsed.ok) throw errors.validation(`${parsed.problem}.`, [{ path: '/changedBefore', message: parsed.problem }]);
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'AuditTrail.Restore', SYSTEM, 'admin');
      const now = this.deps.clock.now();
      const cutoff = subtractDuration(now, parsed.duration);
      const purged = await purgeEntries(trx, cutoff);
      await appendEvent(trx, {
        actor: actor.username,
        action: 'audit.purge',
        subject: 'audit_trail',
        data: { changedBefore, cutoff: cutoff.toISOString(), purged },
        time: now,
      });
      return { changedBefore, cutoff: cutoff.toISOString(), purged };
    });
  }

  private async restore(actor: Actor, seq: number, side: RestoreSide, reason: string | undefined, fromTrash = false): Promise<RestoreResult> {
    const afterCommit: { run?: () => Promise<void> } = {};
    const result = await this.deps.db.transaction().execute(async (trx): Promise<RestoreResult> => {
      const entry = await this.visibleEntry(trx, actor, seq);
      await requirePrivilege(trx, actor, 'AuditTrail.Restore', inPartition(entry.partitionId));
      const kind = this.deps.objects.kindOf(entry.objectType);
      if (fromTrash) await this.requireInTrash(trx, entry, kind);
      if (!restoreAvailability(entry)[side]) throw errors.restoreUnavailable(unavailableReason(entry, side));
      const snapshot = side === 'before' ? entry.before : entry.after;
      if (!kind || !snapshot) throw errors.restoreUnknownType(seq, entry.objectType);
      const current = await kind.find(trx, entry.objectId);
      let target = kind.fromSnapshot(snapshot);
      if (kind.keptOnRestore) {
        // State only the system (or its own use case) sets stays as it is; an object brought back keeps it as it was when deleted.
        const kept = current ?? (await this.lastState(trx, kind, entry.objectId));
        if (kept) target = { ...target, ...pick(kept, kind.keptOnRestore) };
      }
      await this.requireWritePrivileges(trx, actor, seq, kind, current, target);
      const rule = entry.objectType === 'AuditRule' ? ((current ?? target) as AuditRule) : undefined;
      if (rule && !securityAllows(rule.security, 'edit', actor.username)) {
        throw errors.forbidden(`The security of audit rule ${rule.name} does not let you edit it, so you cannot restore it either.`);
      }
      const blockers = await this.blockers(trx, kind, target, current);
      if (blockers.length > 0) {
        throw errors.restoreBlocked(seq, side, blockers);
      }
      const options = { reason: restoreReason(seq, side, reason), restoring: seq };
      const written = current
        ? await this.deps.objects.update(trx, kind, current, fieldsOf(target), actor, options)
        : await this.deps.objects.recreate(trx, kind, target, actor, options);
      if (this.deps.consequences) afterCommit.run = await this.deps.consequences.afterRestore(trx, actor, { type: entry.objectType, before: current, after: written });
      const recorded = await latestEntryOf(trx, written.id);
      return {
        restoredFrom: seq,
        side,
        objectType: entry.objectType,
        objectId: written.id,
        businessKey: recorded?.businessKey ?? entry.businessKey,
        action: current ? 'M' : 'C',
        version: written.version,
        entry: recorded && recorded.restoredFrom === seq ? this.present(recorded, false) : null,
      };
    });
    await afterCommit.run?.();
    return result;
  }

  /**
   * A restore is the same write made directly, so it needs the same privileges (the kind says
   * which): 403 naming the first one missing.
   */
  private async requireWritePrivileges(trx: Tx, actor: Actor, seq: number, kind: ObjectKind<ObjectMeta>, current: ObjectMeta | undefined, target: ObjectMeta | undefined): Promise<void> {
    for (const need of restoreNeeds(kind.restore, objectWord(kind.type), current, target)) {
      if (await hasPrivilege(trx, actor, need.privilege, need.partitionId === null ? SYSTEM : inPartition(need.partitionId))) continue;
      const where = need.partitionId === null ? 'system-wide' : `in partition ${await this.partitionName(trx, need.partitionId)}`;
      throw errors.forbidden(`Restoring entry #${seq} ${need.because}: that needs the ${need.privilege} privilege ${where}, besides AuditTrail.Restore. Nothing was written.`, {
        privilege: need.privilege,
      });
    }
  }

  /** Only the deletion of an object still deleted is in the Trash Can. */
  private async requireInTrash(trx: Tx, entry: AuditEntry, kind: ObjectKind<ObjectMeta> | undefined): Promise<void> {
    if (entry.action !== 'D') {
      throw errors.notInTrash(entry.seq, `it records a ${entry.action === 'C' ? 'creation' : 'modification'}, not a deletion; restore it from the audit trail instead`);
    }
    const latest = await latestEntryOf(trx, entry.objectId);
    if (latest && latest.seq !== entry.seq) throw errors.notInTrash(entry.seq, `${entry.businessKey} was brought back or changed since (entry #${latest.seq})`);
    if (kind && (await kind.find(trx, entry.objectId))) throw errors.notInTrash(entry.seq, `${entry.businessKey} exists again`);
  }

  /** The object as it was last known, from its newest snapshot: for what an object brought back keeps. */
  private async lastState(trx: Tx, kind: ObjectKind<ObjectMeta>, objectId: string): Promise<ObjectMeta | undefined> {
    const latest = await latestEntryOf(trx, objectId);
    const snapshot = latest && (latest.action === 'D' ? latest.before : latest.after);
    return snapshot ? kind.fromSnapshot(snapshot) : undefined;
  }

  private async partitionName(trx: Tx, id: string): Promise<string> {
    const name = (await partitionNamesByIds(trx, [id])).get(id);
    if (name !== undefined) return name;
    // A partition being brought back: the trail knows it as GLOBAL.<name>.
    const key = await lastKnownKey(trx, id);
    return key ? key.slice(key.indexOf('.') + 1) : id;
  }

  /** What stops the object from being written back as `target`: a taken name, an object it points at that is gone, a domain rule. */
  private async blockers(trx: Tx, kind: ObjectKind<ObjectMeta>, target: ObjectMeta, current: ObjectMeta | undefined): Promise<string[]> {
    const blockers: string[] = [];
    const references = [
      { type: 'Partition' as const, id: target.partitionId, what: 'its partition' },
      ...(target.applicationId ? [{ type: 'Application' as const, id: target.applicationId, what: 'its application' }] : []),
      ...kind.references(target),
    ];
    for (const reference of references) {
      const referencedKind = this.deps.objects.kindOf(reference.type);
      if (!referencedKind || (await referencedKind.find(trx, reference.id))) continue;
      const key = await lastKnownKey(trx, reference.id);
      blockers.push(`${reference.what} (${reference.type} ${key ?? reference.id}) is gone${key ? ': restore it first, from the Trash Can' : ''}`);
    }
    // A taken name or a domain rule is about the object itself: each names it by its business key.
    const own = [...(await kind.keyHolders(trx, target)), ...((await kind.restoreProblems?.(trx, target, current)) ?? [])];
    if (own.length > 0) {
      const key = businessKey(await this.partitionName(trx, target.partitionId), target.name);
      blockers.push(...own.map((problem) => `${kind.type} ${key}: ${problem}`));
    }
    return blockers;
  }

  private async viewable(trx: Tx, actor: Actor): Promise<'all' | string[]> {
    const partitionIds = await partitionsWith(trx, actor, 'AuditTrail.View');
    if (partitionIds !== 'all' && partitionIds.length === 0) throw errors.forbidden('You need the AuditTrail.View privilege.');
    return partitionIds;
  }

  private async visibleEntry(trx: Tx, actor: Actor, seq: number): Promise<AuditEntry> {
    const entry = Number.isSafeInteger(seq) && seq > 0 ? await findEntryFor(trx, seq, await ruleViewer(trx, actor)) : undefined;
    const visible = await partitionsWith(trx, actor, 'AuditTrail.View');
    if (!entry || (visible !== 'all' && !visible.includes(entry.partitionId))) throw errors.notFound('audit entry', String(seq));
    return entry;
  }

  private async parse(trx: Tx, actor: Actor, q: string) {
    const parsed = parseEntrySearch(q, { now: this.deps.clock.now(), timeZone: await this.deps.users.timeZoneOf(trx, actor.userId) });
    if (!parsed.ok) throw errors.searchInvalid(parsed.error, q);
    return parsed.terms;
  }

  private async page(trx: Tx, query: Parameters<typeof searchEntries>[1], expand: boolean): Promise<EntryPage> {
    const { entries, more } = await searchEntries(trx, query);
    const last = entries[entries.length - 1];
    return { entries: entries.map((entry) => this.present(entry, expand)), nextCursor: more && last ? last.seq : null };
  }

  private present(entry: AuditEntry, expand: boolean): AuditEntryView {
    return presentEntry(entry, this.deps.objects.kindOf(entry.objectType)?.secretFields ?? [], expand);
  }
}

/** How messages name an object type: `access group`, `audit rule`. */
const objectWord = (type: ObjectType) => type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

const limitOf = (limit: number | undefined) => Math.min(Math.max(Math.trunc(limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);

/** The fields a restore writes: everything but the bookkeeping the object store keeps. */
function fieldsOf(object: ObjectMeta): Record<string, unknown> {
  const fields: Record<string, unknown> = { ...object };
  for (const meta of META_FIELDS) delete fields[meta];
  return fields;
}

function pick(object: ObjectMeta, fields: readonly string[]): Record<string, unknown> {
  const source = object as unknown as Record<string, unknown>;
  return Object.fromEntries(fields.map((field) => [field, source[field]]));
}

/** The reader of the trail, as the entries about audit rules see them. */
async function ruleViewer(trx: Tx, actor: Actor): Promise<RuleViewer> {
  return { username: actor.username, rulePartitions: await partitionsWith(trx, actor, 'AuditingRule.View') };
}
