import { sql, type SqlBool } from 'kysely';
import type { Executor } from '../platform/database.ts';

/** An entry of the event log as it was hashed, for the modules that look up what they logged. */
export interface LoggedEntry {
  readonly seq: number;
  readonly time: Date;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
}

/** Which entries to find; every condition given must hold. */
export interface EntrySearch {
  /** Entries with one of these actions. */
  readonly actions?: readonly string[];
  readonly subject?: string;
  /** Entries whose data holds this JSON (PostgreSQL's jsonb `@>`, which the data index serves). */
  readonly dataHolds?: Record<string, unknown>;
  /** Entries written at exactly this time: the time index finds them at once. */
  readonly at?: Date;
  /** Entries written from this time on. */
  readonly from?: Date;
  /** Entries written up to this time. */
  readonly until?: Date;
  /** Newest first, not in log order. */
  readonly newestFirst?: boolean;
  readonly limit?: number;
}

/**
 * The entries that match, in log order (or newest first).
 *
 * @example
 * const [last] = await findEntries(db, { actions: ['review.result'], dataHolds: { change: changeId }, newestFirst: true, limit: 1 });
 */
export async function findEntries(db: Executor, search: EntrySearch): Promise<LoggedEntry[]> {
  let query = db.selectFrom('event').select(['seq', 'time', 'actor', 'action', 'subject', 'data']);
  if (search.actions) query = search.actions.length === 1 ? query.where('action', '=', search.actions[0] as string) : query.where('action', 'in', search.actions.length > 0 ? [...search.actions] : ['']);
  if (search.subject !== undefined) query = query.where('subject', '=', search.subject);
  if (search.dataHolds) query = query.where(sql<boolean>`data @> ${JSON.stringify(search.dataHolds)}::jsonb`);
  if (search.at) query = query.where('time', '=', search.at);
  if (search.from) query = query.where('time', '>=', search.from);
  if (search.until) query = query.where('time', '<=', search.until);
  query = query.orderBy('seq', search.newestFirst ? 'desc' : 'asc');
  if (search.limit !== undefined) query = query.limit(search.limit);
  return (await query.execute()).map(loggedEntry);
}

/** What names a thing in the event log: an entry mentions it if any one of these holds. */
export interface Mentions {
  /** The entry's subject is one of these. */
  readonly subjects: readonly string[];
  /** A top-level field of the entry's data, read as text, is one of the values given for it. */
  readonly fields: Readonly<Record<string, readonly string[]>>;
  /** The entry's data holds one of these JSON documents (jsonb `@>`). */
  readonly dataHolding: ReadonlyArray<Record<string, unknown>>;
}

/** Every entry that mentions something (see `Mentions`), in log order. */
export async function entriesMentioning(db: Executor, mentions: Mentions): Promise<LoggedEntry[]> {
  const field = (key: string) => sql<string>`data ->> ${sql.lit(key)}`;
  const among = (key: string, values: readonly string[]) => (values.length === 0 ? sql<SqlBool>`false` : sql<SqlBool>`${field(key)} IN (${sql.join(values)})`);
  const rows = await db
    .selectFrom('event')
    .select(['seq', 'time', 'actor', 'action', 'subject', 'data'])
    .where((eb) =>
      eb.or([
        eb('subject', 'in', mentions.subjects.length > 0 ? [...mentions.subjects] : ['']),
        ...Object.entries(mentions.fields).map(([key, values]) => among(key, values)),
        ...mentions.dataHolding.map((held) => sql<SqlBool>`data @> ${JSON.stringify(held)}::jsonb`),
      ]),
    )
    .orderBy('seq')
    .execute();
  return rows.map(loggedEntry);
}

const loggedEntry = (row: { seq: number; time: Date; actor: string; action: string; subject: string; data: Record<string, unknown> }): LoggedEntry => ({
  seq: Number(row.seq),
  time: row.time,
  actor: row.actor,
  action: row.action,
  subject: row.subject,
  data: row.data,
});
