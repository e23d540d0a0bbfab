import { sql } from 'kysely';
import type { Executor } from '../platform/database.ts';

/** An event as a lookup by its data finds it. */
export interface EventHolding {
  readonly seq: number;
  readonly action: string;
  readonly subject: string;
  readonly data: Record<string, unknown>;
}

/**
 * The first event whose data holds `fragment` (JSON containment: `data @> fragment`), for a module
 * that finds the event of its own write by what the event says of it. `time`, when given, lets the
 * event time index find it: only events at that time are searched.
 *
 * @example
 * const event = await firstEventHolding(db, { auditEntry: { seq: 42 } }, entry.time);
 */
export async function firstEventHolding(db: Executor, fragment: Record<string, unknown>, time?: Date): Promise<EventHolding | undefined> {
  let query = db
    .selectFrom('event')
    .select(['seq', 'action', 'subject', 'data'])
    .where(sql<boolean>`data @> ${JSON.stringify(fragment)}::jsonb`);
  if (time) query = query.where('time', '=', time);
  const row = await query.orderBy('seq').limit(1).executeTakeFirst();
  return row && { seq: Number(row.seq), action: row.action, subject: row.subject, data: row.data };
}
