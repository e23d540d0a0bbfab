import { sql, type Expression, type ExpressionBuilder, type RawBuilder, type Selectable, type SqlBool } from 'kysely';
import type { Database, Executor } from '../platform/database.ts';
import type { AuditEntryTable } from '../platform/tables/auditing.ts';
import type { AuditEntry } from './audit-trail.ts';
import type { ObjectType } from '../objects/object.ts';
import { escapeLike, type EntryTerm } from './search.ts';

type AuditEntryRow = Selectable<AuditEntryTable>;

function toEntry(row: AuditEntryRow): AuditEntry {
  return {
    seq: Number(row.seq),
    time: row.time,
    objectType: row.object_type as ObjectType,
    objectId: row.object_id,
    businessKey: row.business_key,
    partitionId: row.partition_id,
    action: row.action,
    level: row.level,
    user: row.username,
    reason: row.reason,
    objectVersion: row.object_version,
    diff: row.diff,
    before: row.before,
    after: row.after,
    ruleId: row.rule_id,
    restoredFrom: row.restored_from === null ? null : Number(row.restored_from),
  };
}

/** The audit-trail entries of one object, oldest first: its history as an evidence bundle shows it. */
export async function entriesOfObject(db: Executor, objectId: string): Promise<AuditEntry[]> {
  const rows = await db.selectFrom('audit_entry').selectAll().where('object_id', '=', objectId).orderBy('seq').execute();
  return rows.map(toEntry);
}

/** An entry before the trail numbers it. */
export type NewAuditEntry = Omit<AuditEntry, 'seq'>;

/** Writes an entry and returns it as stored (numbered, its JSON as the database gives it back). */
export async function insertEntry(db: Executor, entry: NewAuditEntry): Promise<AuditEntry> {
  const row = await db
    .insertInto('audit_entry')
    .values({
      time: entry.time,
      object_type: entry.objectType,
      object_id: entry.objectId,
      business_key: entry.businessKey,
      partition_id: entry.partitionId,
      action: entry.action,
      level: entry.level,
      username: entry.user,
      reason: entry.reason,
      object_version: entry.objectVersion,
      diff: JSON.stringify(entry.diff),
      before: entry.before && JSON.stringify(entry.before),
      after: entry.after && JSON.stringify(entry.after),
      rule_id: entry.ruleId,
      restored_from: entry.restoredFrom,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toEntry(row);
}

export async function findEntry(db: Executor, seq: number): Promise<AuditEntry | undefined> {
  const row = await db.selectFrom('audit_entry').selectAll().where('seq', '=', seq).executeTakeFirst();
  return row && toEntry(row);
}

/** Who reads the trail, for entries about audit rules: their name, and where they hold AuditingRule.View. */
export interface RuleViewer {
  readonly username: string;
  readonly rulePartitions: 'all' | readonly string[];
}

/** An entry as `viewer` may see it: entries about an audit rule only when they may view the rule. */
export async function findEntryFor(db: Executor, seq: number, viewer: RuleViewer): Promise<AuditEntry | undefined> {
  const row = await db.selectFrom('audit_entry').selectAll().where('seq', '=', seq).where(ruleEntryVisible(viewer)).executeTakeFirst();
  return row && toEntry(row);
}

/**
 * Entries about an audit rule are as private as the rule: the user must hold AuditingRule.View in
 * the rule's partition and be on its security's view list (or the list open to everyone holding the
 * privilege). The rule as it is now decides; for a deleted rule, its last snapshot in the trail.
 * With neither, nobody sees them.
 */
function ruleEntryVisible(viewer: RuleViewer): RawBuilder<SqlBool> {
  const viewable = (security: RawBuilder<unknown>) =>
    sql<boolean>`(jsonb_typeof(${security} -> 'view') = 'null' OR (${security} -> 'view') @> jsonb_build_array(${viewer.username}::text))`;
  if (viewer.rulePartitions !== 'all' && viewer.rulePartitions.length === 0) return sql<SqlBool>`(audit_entry.object_type <> 'AuditRule')`;
  const inPartition =
    viewer.rulePartitions === 'all'
      ? sql<boolean>`true`
      : sql<boolean>`audit_entry.partition_id IN (${sql.join(viewer.rulePartitions.map((id) => sql`${id}::uuid`))})`;
  return sql<SqlBool>`(audit_entry.object_type <> 'AuditRule' OR (${inPartition} AND coalesce(
    (SELECT ${viewable(sql`seen_rule.security`)} FROM audit_rule AS seen_rule WHERE seen_rule.id = audit_entry.object_id),
    (SELECT ${viewable(sql`coalesce(latest.after, latest.before) -> 'security'`)} FROM audit_entry AS latest
      WHERE latest.object_id = audit_entry.object_id ORDER BY latest.seq DESC LIMIT 1),
    false)))`;
}

/** The newest entry of an object. */
export async function latestEntryOf(db: Executor, objectId: string): Promise<AuditEntry | undefined> {
  const row = await db.selectFrom('audit_entry').selectAll().where('object_id', '=', objectId).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row && toEntry(row);
}

/** The last business key the trail knows for an object id: how a restore names an object that is gone. */
export async function lastKnownKey(db: Executor, objectId: string): Promise<string | undefined> {
  return (await latestEntryOf(db, objectId))?.businessKey;
}

type EntryBuilder = ExpressionBuilder<Database, 'audit_entry'>;

/**
 * One search term as a condition on indexed columns: time (btree), username (btree), business key
 * (btree with text_pattern_ops, so a prefix LIKE is a range scan), object type. Reason and bare
 * words are substring matches, evaluated on the rows the other terms select.
 */
export function termCondition(eb: EntryBuilder, term: EntryTerm): Expression<SqlBool> {
  switch (term.field) {
    case 'time':
      return eb.and([eb('time', '>=', term.from), eb('time', '<=', term.to)]);
    case 'objectType':
      return eb('object_type', '=', term.value);
    case 'businessKey':
      return eb('business_key', 'like', term.like);
    case 'action':
      return eb('action', '=', term.value);
    case 'reason':
      return eb('reason', 'ilike', `%${escapeLike(term.contains)}%`);
    case 'user':
      return 'equals' in term ? eb('username', '=', term.equals) : eb('username', 'like', term.like);
    case 'level':
      return eb('level', '=', term.value);
    case 'changedBefore':
      return eb('time', '<', term.before);
    case 'text': {
      const pattern = `%${escapeLike(term.contains)}%`;
      return eb.or([eb('business_key', 'ilike', pattern), eb('reason', 'ilike', pattern)]);
    }
  }
}

export interface EntryQuery {
  readonly terms: readonly EntryTerm[];
  /** Partitions the searcher may see the trail of. */
  readonly partitionIds: 'all' | readonly string[];
  /** The searcher's username: entries about audit rules they may not view are left out. */
  readonly viewer: RuleViewer;
  readonly limit: number;
  /** Entries older than this sequence number (the previous page's last). */
  readonly before?: number;
  /** Only deletions of objects not brought back since: the Trash Can. */
  readonly trash?: boolean;
}

/** Entries newest first; one more than `limit` is read to know whether a next page exists. */
export async function searchEntries(db: Executor, query: EntryQuery): Promise<{ entries: AuditEntry[]; more: boolean }> {
  if (query.partitionIds !== 'all' && query.partitionIds.length === 0) return { entries: [], more: false };
  let select = db.selectFrom('audit_entry').selectAll('audit_entry');
  if (query.partitionIds !== 'all') select = select.where('partition_id', 'in', query.partitionIds);
  if (query.before !== undefined) select = select.where('seq', '<', query.before);
  select = select.where(ruleEntryVisible(query.viewer));
  for (const term of query.terms) select = select.where((eb) => termCondition(eb, term));
  if (query.trash) {
    select = select
      .where('action', '=', 'D')
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('audit_entry as later').select('later.seq').whereRef('later.object_id', '=', 'audit_entry.object_id').whereRef('later.seq', '>', 'audit_entry.seq'))),
      );
  }
  const rows = await select.orderBy('seq', 'desc').limit(query.limit + 1).execute();
  return { entries: rows.slice(0, query.limit).map(toEntry), more: rows.length > query.limit };
}

/** Deletes the entries written before `cutoff`; returns how many. */
export async function purgeEntries(db: Executor, cutoff: Date): Promise<number> {
  const result = await db.deleteFrom('audit_entry').where('time', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
