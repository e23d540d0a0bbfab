import { sql, type SqlBool } from 'kysely';
import type { Executor } from '../platform/database.ts';

/** What a change's evidence names, and how event-log entries name it. */
export interface EvidenceNames {
  readonly changeId: string;
  readonly changeName: string;
  /** The subjects of the change's own entries, e.g. `change:global.CHG-42`, `request:12`, `session:<uuid>`. */
  readonly subjects: readonly string[];
  readonly requestNumbers: readonly number[];
  readonly requestIds: readonly string[];
  readonly sessionIds: readonly string[];
}

/** An event-log entry as it was hashed: what the bundle's verifier rehashes. */
export interface LoggedEvent {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
}

/**
 * Every entry of the event log that names the change, one of its requests or one of its sessions:
 * by its subject (`change:…`, `request:N`, `session:<id>`), or by a top-level field of its data —
 * `change` (the change ID, as request and session entries write it), `changeId`, `id` or `objectId`
 * (the change object, as the object store and the audit trail write it), `request` or `requestId`,
 * `session` or `sessionId` — and the entries that name them otherwise: a change-audit result
 * (`review.result`, subject `change:<name>`, which another partition's change may share, so it is
 * matched by `data.change`, the change's UUID) and recording progress (`recording.chunks`, subject
 * `recordings`, matched by `data @> {"chunks":[{"session": <id>}]}`). In `seq` order.
 */
export async function eventsNaming(db: Executor, names: EvidenceNames): Promise<LoggedEvent[]> {
  const field = (key: string) => sql<string>`data ->> ${sql.lit(key)}`;
  const among = (key: string, values: readonly string[]) => (values.length === 0 ? sql<SqlBool>`false` : sql<SqlBool>`${field(key)} IN (${sql.join(values)})`);
  const changeObject = [names.changeId];
  const requests = names.requestNumbers.map(String);
  const rows = await db
    .selectFrom('event')
    .select(['seq', 'time', 'actor', 'action', 'subject', 'data'])
    .where((eb) =>
      eb.or([
        eb('subject', 'in', names.subjects.length > 0 ? [...names.subjects] : ['']),
        among('change', [names.changeName, names.changeId]),
        among('changeId', changeObject),
        among('id', changeObject),
        among('objectId', changeObject),
        among('request', requests),
        among('requestId', names.requestIds),
        among('session', names.sessionIds),
        among('sessionId', names.sessionIds),
        ...names.sessionIds.map((id) => sql<SqlBool>`data @> ${JSON.stringify({ chunks: [{ session: id }] })}::jsonb`),
      ]),
    )
    .orderBy('seq')
    .execute();
  return rows.map((row) => ({ seq: Number(row.seq), time: row.time.toISOString(), actor: row.actor, action: row.action, subject: row.subject, data: row.data }));
}

export async function requestsOfChange(db: Executor, changeId: string) {
  return db.selectFrom('access_request').selectAll().where('change_id', '=', changeId).orderBy('number').execute();
}

export async function sessionsOfChange(db: Executor, changeId: string) {
  return db.selectFrom('session').selectAll().where('change_id', '=', changeId).orderBy('number').execute();
}

/** The audit-trail entries of one object, oldest first. */
export async function auditEntriesOf(db: Executor, objectId: string) {
  return db.selectFrom('audit_entry').selectAll().where('object_id', '=', objectId).orderBy('seq').execute();
}

/** The change audit's stored score, as the last session's end computed it. */
export async function storedReview(db: Executor, changeId: string) {
  return db.selectFrom('change_review').selectAll().where('change_id', '=', changeId).executeTakeFirst();
}
