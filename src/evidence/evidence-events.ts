import { entriesMentioning } from '../eventlog/index.ts';
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
  const changeObject = [names.changeId];
  const entries = await entriesMentioning(db, {
    subjects: names.subjects,
    fields: {
      change: [names.changeName, names.changeId],
      changeId: changeObject,
      id: changeObject,
      objectId: changeObject,
      request: names.requestNumbers.map(String),
      requestId: names.requestIds,
      session: names.sessionIds,
      sessionId: names.sessionIds,
    },
    dataHolding: names.sessionIds.map((id) => ({ chunks: [{ session: id }] })),
  });
  return entries.map((entry) => ({ seq: entry.seq, time: entry.time.toISOString(), actor: entry.actor, action: entry.action, subject: entry.subject, data: entry.data }));
}
