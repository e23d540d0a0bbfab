import { sql, type Selectable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { CommandDecisionTable, ReviewStatus } from '../platform/tables/sessions.ts';
import type { CommandDecision, CommandDecisionInSession } from './command-review.ts';

type Row = Selectable<CommandDecisionTable> & {
  session_number: number;
  partition_id: string;
  username: string;
  change_name: string;
  device_name: string;
  ended_at: Date | null;
};

const toDecision = (row: Row): CommandDecisionInSession => ({
  id: row.id,
  number: Number(row.number),
  sessionId: row.session_id,
  changeId: row.change_id,
  deviceId: row.device_id,
  accessGroupId: row.access_group_id,
  userId: row.user_id,
  time: row.time,
  offsetSeconds: row.offset_seconds,
  line: row.line,
  reasons: row.reasons,
  decision: row.decision,
  where: row.typed_in,
  fromKeystrokes: row.from_keystrokes,
  status: row.status,
  asked: row.asked ?? [],
  decidedBy: row.decided_by,
  decidedAt: row.decided_at,
  comment: row.comment,
  session: {
    number: Number(row.session_number),
    partitionId: row.partition_id,
    username: row.username,
    changeName: row.change_name,
    deviceName: row.device_name,
    endedAt: row.ended_at,
  },
});

/** Decisions with their session's number, partition and names, as every read wants them. */
const inSession = (db: Executor) =>
  db
    .selectFrom('command_decision as d')
    .innerJoin('session as s', 's.id', 'd.session_id')
    .selectAll('d')
    .select(['s.number as session_number', 's.partition_id', 's.username', 's.change_name', 's.device_name', 's.ended_at']);

/** Stores a decision; the database numbers it. A review is stored pending, with the approvers asked. */
export async function insertCommandDecision(db: Executor, decision: Omit<CommandDecision, 'number' | 'status' | 'decidedBy' | 'decidedAt' | 'comment'>): Promise<number> {
  const review = decision.decision === 'review';
  const row = await db
    .insertInto('command_decision')
    .values({
      id: decision.id,
      session_id: decision.sessionId,
      change_id: decision.changeId,
      device_id: decision.deviceId,
      access_group_id: decision.accessGroupId,
      user_id: decision.userId,
      time: decision.time,
      offset_seconds: decision.offsetSeconds,
      line: decision.line,
      reasons: JSON.stringify(decision.reasons),
      decision: decision.decision,
      typed_in: decision.where,
      from_keystrokes: decision.fromKeystrokes,
      status: review ? 'pending' : null,
      asked: review ? JSON.stringify(decision.asked) : null,
      decided_by: null,
      decided_at: null,
      comment: null,
    })
    .returning('number')
    .executeTakeFirstOrThrow();
  return Number(row.number);
}

export async function findCommandDecision(db: Executor, number: number): Promise<CommandDecisionInSession | undefined> {
  const row = await inSession(db).where('d.number', '=', number).executeTakeFirst();
  return row && toDecision(row);
}

/** Who may see which decisions: anything in `partitionIds`, and beyond them the user's own sessions' and the reviews they are asked. */
export interface CommandDecisionFilter {
  readonly partitionIds: 'all' | readonly string[];
  readonly userId: string;
  readonly status?: ReviewStatus;
  readonly sessionNumber?: number;
  /** Only the reviews `userId` was asked to decide. */
  readonly askedOnly?: boolean;
  readonly limit: number;
}

/** The decisions that match, pending reviews first, then newest first. */
export async function listCommandDecisions(db: Executor, filter: CommandDecisionFilter): Promise<CommandDecisionInSession[]> {
  const { partitionIds, userId } = filter;
  let query = inSession(db).where((eb) =>
    eb.or([
      ...(partitionIds === 'all' ? [eb.lit(true)] : partitionIds.length > 0 ? [eb('s.partition_id', 'in', partitionIds)] : []),
      eb('d.user_id', '=', userId),
      eb('d.asked', '@>', JSON.stringify([userId]) as never),
    ]),
  );
  if (filter.status) query = query.where('d.status', '=', filter.status);
  if (filter.sessionNumber !== undefined) query = query.where('s.number', '=', filter.sessionNumber);
  if (filter.askedOnly) query = query.where('d.asked', '@>', JSON.stringify([userId]) as never);
  const rows = await query
    .orderBy(sql`CASE WHEN d.status = 'pending' THEN 0 ELSE 1 END`)
    .orderBy('d.number', 'desc')
    .limit(filter.limit)
    .execute();
  return rows.map(toDecision);
}

/** The most decisions a board shows of a change's device: the latest. */
export const MAX_DECISIONS_ON_BOARD = 500;

/**
 * The decisions made in a change's sessions, on one device or all, in the order they were made:
 * what the change's board shows beside its commands (the latest `MAX_DECISIONS_ON_BOARD` of each).
 */
export async function decisionsOfChange(db: Executor, changeId: string, deviceId?: string): Promise<CommandDecisionInSession[]> {
  let query = inSession(db).where('d.change_id', '=', changeId);
  if (deviceId !== undefined) query = query.where('d.device_id', '=', deviceId);
  const rows = await query.orderBy('d.number', 'desc').limit(MAX_DECISIONS_ON_BOARD).execute();
  return rows.map(toDecision).reverse();
}

/** Whether a session had a warned line since `since`, before decision `number`. */
export async function warnedSince(db: Executor, sessionId: string, since: Date, number: number): Promise<boolean> {
  const row = await db
    .selectFrom('command_decision')
    .select('number')
    .where('session_id', '=', sessionId)
    .where('decision', '=', 'warn')
    .where('time', '>=', since)
    .where('number', '<', number)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Whether a session had a line rebuilt from the keys typed (echo off) before decision `number`. */
export async function echoWasOffBefore(db: Executor, sessionId: string, number: number): Promise<boolean> {
  const row = await db
    .selectFrom('command_decision')
    .select('number')
    .where('session_id', '=', sessionId)
    .where('from_keystrokes', '=', true)
    .where('number', '<', number)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Ends a pending review: allowed or refused by an approver, withdrawn, expired. Conditional on its
 * being pending still, so that of two endings at once (a decision and the wait's end) one wins;
 * false for the other.
 */
export async function endReview(
  db: Executor,
  id: string,
  end: { readonly status: Exclude<ReviewStatus, 'pending'>; readonly at: Date; readonly by: string | null; readonly comment: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('command_decision')
    .set({ status: end.status, decided_at: end.at, decided_by: end.by, comment: end.comment })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Withdraws the reviews still pending in a session that ended without them (its instance is gone); returns their numbers. */
export async function withdrawPendingReviews(db: Executor, sessionId: string, at: Date): Promise<number[]> {
  const rows = await db
    .updateTable('command_decision')
    .set({ status: 'withdrawn', decided_at: at, decided_by: null, comment: null })
    .where('session_id', '=', sessionId)
    .where('status', '=', 'pending')
    .returning('number')
    .execute();
  return rows.map((row) => Number(row.number));
}
