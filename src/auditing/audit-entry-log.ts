import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { findEntries } from '../eventlog/index.ts';
import type { Executor } from '../platform/database.ts';
import type { AuditEntry } from './audit-trail.ts';
import type { LoggedAuditEntry } from '../objects/object-store.ts';

export type { LoggedAuditEntry };

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/**
 * The bytes an audit-trail entry is hashed over: RFC 8785 canonical JSON of every field (sorted
 * keys, shortest number form), the time as an ISO-8601 UTC string, as `canonicalEntry` does for
 * an event. Computed on the entry as the database gives it back, so a later read hashes the same.
 */
export function canonicalAuditEntry(entry: AuditEntry): string {
  const text = canonicalize({
    seq: entry.seq,
    time: entry.time.toISOString(),
    objectType: entry.objectType,
    objectId: entry.objectId,
    businessKey: entry.businessKey,
    partitionId: entry.partitionId,
    action: entry.action,
    level: entry.level,
    user: entry.user,
    reason: entry.reason,
    objectVersion: entry.objectVersion,
    diff: entry.diff,
    before: entry.before,
    after: entry.after,
    ruleId: entry.ruleId,
    restoredFrom: entry.restoredFrom,
  });
  if (text === undefined) throw new Error('audit-trail entry cannot be canonicalized');
  return text;
}

/** Hex SHA-256 of the entry's canonical JSON: what the event log keeps of it. */
export function auditEntryDigest(entry: AuditEntry): string {
  return createHash('sha256').update(canonicalAuditEntry(entry), 'utf8').digest('hex');
}

/** The event-log entry that covers an audit-trail entry: the event of the write it audits. */
export interface AuditEntryEvent {
  /** The event's `seq` (its leaf is `seq − 1`, for an inclusion proof). */
  readonly eventSeq: number;
  readonly action: string;
  readonly subject: string;
  /** What the event logged: `data.auditEntry`. */
  readonly logged: LoggedAuditEntry;
}

export type AuditEntryCheck =
  | ({ readonly ok: true } & AuditEntryEvent)
  | {
      readonly ok: false;
      /** `not_logged`: no event names this entry (written before the log held them, or forged); `changed`: its content is not what was logged. */
      readonly reason: 'not_logged' | 'changed';
      readonly eventSeq?: number;
      readonly message: string;
    };

/**
 * Finds the event that covers audit-trail entry `seq`: the write's event, whose `data.auditEntry`
 * names it. The entry and its event share their time (one write, one clock reading), so the
 * lookup goes through the event time index; `time` may be omitted (or be wrong, in an edited
 * entry), and then every event is searched.
 */
export async function findAuditEntryEvent(db: Executor, seq: number, time?: Date): Promise<AuditEntryEvent | undefined> {
  const first = async (at?: Date) => (await findEntries(db, { dataHolds: { auditEntry: { seq } }, ...(at && { at }), limit: 1 }))[0];
  const event = (time && (await first(time))) || (await first());
  if (!event) return undefined;
  const logged = event.data.auditEntry as { seq: unknown; sha256: unknown };
  return { eventSeq: event.seq, action: event.action, subject: event.subject, logged: { seq: Number(logged.seq), sha256: String(logged.sha256) } };
}

/**
 * Checks an audit-trail entry against the event log: the event of its write names it, with the
 * hash of its content as written. An entry edited since (any field, its number or time included)
 * or one no event names fails, saying which. The event's own integrity is the log's business
 * (`verifyEventLog`, an inclusion proof): this links the entry to it.
 *
 * @example
 * const check = await checkAuditEntryInLog(db, entry);
 * if (!check.ok) console.log(check.message);
 */
export async function checkAuditEntryInLog(db: Executor, entry: AuditEntry): Promise<AuditEntryCheck> {
  const event = await findAuditEntryEvent(db, entry.seq, entry.time);
  if (!event) {
    return { ok: false, reason: 'not_logged', message: `audit-trail entry #${entry.seq} is not in the event log: no event names it` };
  }
  if (event.logged.sha256 !== auditEntryDigest(entry)) {
    return {
      ok: false,
      reason: 'changed',
      eventSeq: event.eventSeq,
      message: `audit-trail entry #${entry.seq} does not match the hash event ${event.eventSeq} (${event.action} ${event.subject}) logged for it: it was changed after it was written`,
    };
  }
  return { ok: true, ...event };
}
