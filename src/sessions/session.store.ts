import type { Insertable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { SessionEndReason, SessionTable } from '../platform/tables/sessions.ts';
import type { SessionCommandRow, SessionRow } from './session.ts';

export async function insertSession(db: Executor, row: Insertable<SessionTable>): Promise<SessionRow> {
  return db.insertInto('session').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findSession(db: Executor, id: string): Promise<SessionRow | undefined> {
  return db.selectFrom('session').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findSessionByNumber(db: Executor, number: number): Promise<SessionRow | undefined> {
  return db.selectFrom('session').selectAll().where('number', '=', number).executeTakeFirst();
}

export interface SessionEnd {
  readonly endedAt: Date;
  readonly reason: SessionEndReason;
  readonly endedBy: string | null;
  readonly exitStatus: number | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly recordingSha256: string | null;
  readonly captureLossy: boolean;
}

/** Ends a session once: a session already ended keeps its first ending. Returns whether this call ended it. */
export async function endSession(db: Executor, id: string, end: SessionEnd): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({
      ended_at: end.endedAt,
      end_reason: end.reason,
      ended_by: end.endedBy,
      exit_status: end.exitStatus,
      bytes_in: end.bytesIn,
      bytes_out: end.bytesOut,
      recording_sha256: end.recordingSha256,
      capture_lossy: end.captureLossy,
      heartbeat_at: end.endedAt,
    })
    .where('id', '=', id)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function heartbeat(db: Executor, beats: ReadonlyArray<{ id: string; bytesIn: number; bytesOut: number }>, at: Date): Promise<void> {
  for (const beat of beats) {
    await db.updateTable('session').set({ heartbeat_at: at, bytes_in: beat.bytesIn, bytes_out: beat.bytesOut }).where('id', '=', beat.id).where('ended_at', 'is', null).execute();
  }
}

/** Sessions still open in the database whose instance is this one (it restarted) or has gone silent. */
export async function orphanedSessions(db: Executor, instanceId: string, silentSince: Date): Promise<SessionRow[]> {
  return db
    .selectFrom('session')
    .selectAll()
    .where('ended_at', 'is', null)
    .where((eb) => eb.or([eb('instance_id', '=', instanceId), eb('heartbeat_at', '<', silentSince)]))
    .execute();
}

export async function insertCommand(db: Executor, row: SessionCommandRow): Promise<void> {
  await db.insertInto('session_command').values(row).onConflict((oc) => oc.columns(['session_id', 'seq']).doNothing()).execute();
}

export async function commandsOf(db: Executor, sessionId: string): Promise<SessionCommandRow[]> {
  return db.selectFrom('session_command').selectAll().where('session_id', '=', sessionId).orderBy('seq').execute();
}

export async function commandCounts(db: Executor, sessionIds: readonly string[]): Promise<Map<string, number>> {
  if (sessionIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('session_command')
    .select(['session_id', (eb) => eb.fn.countAll<number>().as('count')])
    .where('session_id', 'in', sessionIds)
    .groupBy('session_id')
    .execute();
  return new Map(rows.map((row) => [row.session_id, Number(row.count)]));
}

/** The numbers people know the sessions' requests by, keyed by request id. */
export async function requestNumbers(db: Executor, requestIds: readonly string[]): Promise<Map<string, number>> {
  if (requestIds.length === 0) return new Map();
  const rows = await db.selectFrom('access_request').select(['id', 'number']).where('id', 'in', requestIds).execute();
  return new Map(rows.map((row) => [row.id, Number(row.number)]));
}

export interface SessionFilter {
  readonly partitionIds: 'all' | readonly string[];
  readonly userId?: string;
  readonly deviceId?: string;
  readonly changeId?: string;
  readonly live?: boolean;
  readonly from?: Date;
  readonly to?: Date;
  /** Sessions in which a command containing this text was run. */
  readonly commandText?: string;
  readonly limit: number;
}

export async function listSessions(db: Executor, filter: SessionFilter): Promise<SessionRow[]> {
  if (filter.partitionIds !== 'all' && filter.partitionIds.length === 0) return [];
  let query = db.selectFrom('session').selectAll();
  if (filter.partitionIds !== 'all') query = query.where('partition_id', 'in', filter.partitionIds);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.deviceId) query = query.where('device_id', '=', filter.deviceId);
  if (filter.changeId) query = query.where('change_id', '=', filter.changeId);
  if (filter.live !== undefined) query = query.where('ended_at', filter.live ? 'is' : 'is not', null);
  if (filter.from) query = query.where('started_at', '>=', filter.from);
  if (filter.to) query = query.where('started_at', '<', filter.to);
  if (filter.commandText) {
    const pattern = `%${filter.commandText.replace(/[\\%_]/g, '\\$&')}%`;
    query = query.where((eb) =>
      eb.exists(eb.selectFrom('session_command as c').select('c.seq').whereRef('c.session_id', '=', 'session.id').where('c.text', 'like', pattern)),
    );
  }
  return query.orderBy('started_at', 'desc').orderBy('number', 'desc').limit(filter.limit).execute();
}
