import { sql, type Selectable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { InstanceSilence } from '../platform/instances.ts';
import type { RecordingStoreKind, SessionCommandTable, SessionEndReason, SessionTable, StoredCaptureNote } from '../platform/tables/sessions.ts';
import { CAPTURE_REASONS, type CaptureNote, type CaptureReason } from './capture-status.ts';
import type { ChangeCommand, Session, SessionCommand } from './session.ts';

/** The notes as the column keeps them: their times as ISO 8601. */
const storedNotes = (notes: readonly CaptureNote[] | null): string | null =>
  notes === null ? null : JSON.stringify(notes.map((note) => ({ reason: note.reason, since: note.since.toISOString(), offsetSeconds: note.offsetSeconds })));

/** Notes read back; a reason this version does not know (a newer instance's) is kept as the nearest it knows: limited. */
const toNotes = (stored: readonly StoredCaptureNote[] | null): CaptureNote[] | null =>
  stored === null
    ? null
    : stored.map((note) => ({
        reason: (CAPTURE_REASONS as readonly string[]).includes(note.reason) ? (note.reason as CaptureReason) : 'unrecognised_prompt',
        since: new Date(note.since),
        offsetSeconds: note.offsetSeconds,
      }));

const toSession = (row: Selectable<SessionTable>): Session => ({
  id: row.id,
  number: Number(row.number),
  kind: row.kind,
  userId: row.user_id,
  username: row.username,
  sourceIp: row.source_ip,
  sourcePort: row.source_port,
  deviceId: row.device_id,
  deviceName: row.device_name,
  partitionId: row.partition_id,
  account: row.account,
  changeId: row.change_id,
  changeName: row.change_name,
  requestId: row.request_id,
  execCommand: row.exec_command,
  term: row.term,
  startedAt: row.started_at,
  endedAt: row.ended_at,
  endReason: row.end_reason,
  endedBy: row.ended_by,
  terminationReason: row.termination_reason,
  exitStatus: row.exit_status,
  bytesIn: row.bytes_in,
  bytesOut: row.bytes_out,
  recordingStore: row.recording_store,
  recordingPath: row.recording_path,
  recordingSha256: row.recording_sha256,
  captureLossy: row.capture_lossy,
  captureNotes: toNotes(row.capture_notes),
  instanceId: row.instance_id,
  heartbeatAt: row.heartbeat_at,
});

const toCommand = (row: Selectable<SessionCommandTable>): SessionCommand => ({
  sessionId: row.session_id,
  seq: row.seq,
  time: row.time,
  offsetSeconds: row.offset_seconds,
  text: row.text,
  typed: row.typed_text,
  ...(row.from_keystrokes && { fromKeystrokes: true }),
  output: row.output,
  outputTruncated: row.output_truncated,
  exitStatus: row.exit_status,
});

/** Stores a session as it starts; the database numbers it. */
export async function insertSession(db: Executor, session: Omit<Session, 'number'>): Promise<Session> {
  const row = await db
    .insertInto('session')
    .values({
      id: session.id,
      kind: session.kind,
      user_id: session.userId,
      username: session.username,
      source_ip: session.sourceIp,
      source_port: session.sourcePort,
      device_id: session.deviceId,
      device_name: session.deviceName,
      partition_id: session.partitionId,
      account: session.account,
      change_id: session.changeId,
      change_name: session.changeName,
      request_id: session.requestId,
      exec_command: session.execCommand,
      term: session.term,
      started_at: session.startedAt,
      recording_store: session.recordingStore,
      recording_path: session.recordingPath,
      instance_id: session.instanceId,
      heartbeat_at: session.heartbeatAt,
      ended_at: session.endedAt,
      end_reason: session.endReason,
      ended_by: session.endedBy,
      termination_reason: session.terminationReason,
      exit_status: session.exitStatus,
      bytes_in: session.bytesIn,
      bytes_out: session.bytesOut,
      recording_sha256: session.recordingSha256,
      capture_lossy: session.captureLossy,
      capture_notes: storedNotes(session.captureNotes),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toSession(row);
}

export async function findSession(db: Executor, id: string): Promise<Session | undefined> {
  const row = await db.selectFrom('session').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toSession(row);
}

export async function findSessionByNumber(db: Executor, number: number): Promise<Session | undefined> {
  const row = await db.selectFrom('session').selectAll().where('number', '=', number).executeTakeFirst();
  return row && toSession(row);
}

/** The sessions of a change: by number, or in the order they started. */
export async function sessionsOfChange(db: Executor, changeId: string, order: 'number' | 'started'): Promise<Session[]> {
  const query = db.selectFrom('session').selectAll().where('change_id', '=', changeId);
  return (await query.orderBy(order === 'number' ? 'number' : 'started_at').execute()).map(toSession);
}

/** The sessions of several changes, by number: what the list of audited sessions says of each change's capture. */
export async function sessionsOfChanges(db: Executor, changeIds: readonly string[]): Promise<Session[]> {
  if (changeIds.length === 0) return [];
  return (await db.selectFrom('session').selectAll().where('change_id', 'in', [...changeIds]).orderBy('number').execute()).map(toSession);
}

export interface SessionEnd {
  readonly endedAt: Date;
  readonly reason: SessionEndReason;
  readonly endedBy: string | null;
  /** What the user was told of a termination's reason; none when absent. */
  readonly terminationReason?: string | null;
  readonly exitStatus: number | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly recordingSha256: string | null;
  readonly captureLossy: boolean;
  /** The capture's notes (none for a complete capture, and an exec's); null when unknown: a session a crash interrupted. */
  readonly captureNotes: readonly CaptureNote[] | null;
}

/** Ends a session once: a session already ended keeps its first ending. Returns whether this call ended it. */
export async function endSession(db: Executor, id: string, end: SessionEnd): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({
      ended_at: end.endedAt,
      end_reason: end.reason,
      ended_by: end.endedBy,
      termination_reason: end.terminationReason ?? null,
      exit_status: end.exitStatus,
      bytes_in: end.bytesIn,
      bytes_out: end.bytesOut,
      recording_sha256: end.recordingSha256,
      capture_lossy: end.captureLossy,
      capture_notes: storedNotes(end.captureNotes),
      heartbeat_at: end.endedAt,
    })
    .where('id', '=', id)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Sessions in one heartbeat statement at most (3 parameters each). */
const BEATS_PER_STATEMENT = 1000;

/**
 * Says the instance's live sessions are alive and how many bytes each moved: one UPDATE for a
 * thousand sessions, not one each (the instance beats for all its sessions at once). A session
 * that has ended meanwhile keeps its end.
 */
export async function heartbeat(db: Executor, beats: ReadonlyArray<{ id: string; bytesIn: number; bytesOut: number }>, at: Date): Promise<void> {
  for (let start = 0; start < beats.length; start += BEATS_PER_STATEMENT) {
    const rows = beats.slice(start, start + BEATS_PER_STATEMENT).map((beat) => sql`(${beat.id}::uuid, ${beat.bytesIn}::bigint, ${beat.bytesOut}::bigint)`);
    await sql`
      UPDATE session SET heartbeat_at = ${at}, bytes_in = beat.bytes_in, bytes_out = beat.bytes_out
      FROM (VALUES ${sql.join(rows)}) AS beat (id, bytes_in, bytes_out)
      WHERE session.id = beat.id AND session.ended_at IS NULL`.execute(db);
  }
}

/** Ended sessions whose recording is kept elsewhere than in `store`, in the order they started: what `recordings migrate` moves. */
export async function endedSessionsOutside(db: Executor, store: RecordingStoreKind): Promise<Session[]> {
  const rows = await db.selectFrom('session').selectAll().where('recording_store', '<>', store).where('ended_at', 'is not', null).orderBy('started_at').orderBy('number').execute();
  return rows.map(toSession);
}

/** Sessions still running (or left open by a crash) whose recording is kept elsewhere than in `store`. */
export async function liveSessionsOutside(db: Executor, store: RecordingStoreKind): Promise<Array<{ id: string; number: number }>> {
  const rows = await db.selectFrom('session').select(['id', 'number']).where('recording_store', '<>', store).where('ended_at', 'is', null).orderBy('number').execute();
  return rows.map((row) => ({ id: row.id, number: Number(row.number) }));
}

/**
 * Points an ended session at its recording's new home, unless its recording moved meanwhile (another
 * run of the migration): returns whether this call moved it.
 */
export async function moveRecording(db: Executor, id: string, from: { store: RecordingStoreKind; path: string }, to: { store: RecordingStoreKind; path: string }): Promise<boolean> {
  const result = await db
    .updateTable('session')
    .set({ recording_store: to.store, recording_path: to.path })
    .where('id', '=', id)
    .where('recording_store', '=', from.store)
    .where('recording_path', '=', from.path)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Which open sessions no instance runs any more (see `orphanedSessions`). */
export interface OrphanSearch {
  /** This instance at its start: every session it left open was interrupted. */
  readonly restarted?: string;
  /** Sessions whose own heartbeat is older are orphans, where no registry says otherwise. */
  readonly silentSince: Date;
  /** The instance registry's word: sessions of a gone instance are orphans; those of a registered one are judged by it alone. */
  readonly instances?: InstanceSilence;
}

/**
 * Sessions still open in the database that no instance runs any more: those of the instance that
 * restarted, those of instances the registry finds gone (stopped or silent), and those of
 * instances that never registered (an older version) whose heartbeat is older than `silentSince`.
 * Without `instances`, every session silent since then.
 */
export async function orphanedSessions(db: Executor, search: OrphanSearch): Promise<Session[]> {
  const { restarted, silentSince, instances } = search;
  const rows = await db
    .selectFrom('session')
    .selectAll()
    .where('ended_at', 'is', null)
    .where((eb) => {
      const silent = eb('heartbeat_at', '<', silentSince);
      const orphan = [
        ...(restarted === undefined ? [] : [eb('instance_id', '=', restarted)]),
        ...(instances && instances.gone.length > 0 ? [eb('instance_id', 'in', [...instances.gone])] : []),
        instances && instances.registered.length > 0 ? eb.and([eb('instance_id', 'not in', [...instances.registered]), silent]) : silent,
      ];
      return eb.or(orphan);
    })
    .execute();
  return rows.map(toSession);
}

/**
 * The changes with a session a crash interrupted, each with when its last such session ended
 * (null if none of them has an end time): the change audit recomputes those it scored before then.
 */
export async function interruptedSessionEnds(db: Executor): Promise<Map<string, Date | null>> {
  const rows = await db
    .selectFrom('session')
    .select(['change_id', (eb) => eb.fn.max('ended_at').as('last_ended_at')])
    .where('end_reason', '=', 'interrupted')
    .groupBy('change_id')
    .execute();
  return new Map(rows.map((row) => [row.change_id, row.last_ended_at]));
}

/** Stores captured commands, of one session or several, in one statement; a command already stored (same session and seq) is kept. */
export async function insertCommands(db: Executor, commands: readonly SessionCommand[]): Promise<void> {
  if (commands.length === 0) return;
  await db
    .insertInto('session_command')
    .values(
      commands.map((command) => ({
        session_id: command.sessionId,
        seq: command.seq,
        time: command.time,
        offset_seconds: command.offsetSeconds,
        text: command.text,
        typed_text: command.typed ?? null,
        from_keystrokes: command.fromKeystrokes ?? false,
        output: command.output,
        output_truncated: command.outputTruncated,
        exit_status: command.exitStatus,
      })),
    )
    .onConflict((oc) => oc.columns(['session_id', 'seq']).doNothing())
    .execute();
}

export async function commandsOf(db: Executor, sessionId: string): Promise<SessionCommand[]> {
  return (await db.selectFrom('session_command').selectAll().where('session_id', '=', sessionId).orderBy('seq').execute()).map(toCommand);
}

/** Every command captured in the change's sessions (on one device, when given), in time order. */
export async function commandsOfChange(db: Executor, changeId: string, deviceId?: string): Promise<ChangeCommand[]> {
  const rows = await db
    .selectFrom('session_command as c')
    .innerJoin('session as s', 's.id', 'c.session_id')
    .selectAll('c')
    .select(['s.number as session_number', 's.device_id', 's.kind as session_kind', 's.end_reason as session_end_reason', 's.exit_status as session_exit_status'])
    .where('s.change_id', '=', changeId)
    .$if(deviceId !== undefined, (query) => query.where('s.device_id', '=', deviceId as string))
    .orderBy('c.time')
    .orderBy('s.number')
    .orderBy('c.seq')
    .execute();
  return rows.map((row) => ({
    ...toCommand(row),
    sessionNumber: Number(row.session_number),
    deviceId: row.device_id,
    sessionKind: row.session_kind,
    sessionEndReason: row.session_end_reason,
    sessionExitStatus: row.session_exit_status,
  }));
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

export interface SessionFilter {
  readonly partitionIds: 'all' | readonly string[];
  readonly userId?: string;
  readonly deviceId?: string;
  readonly changeId?: string;
  /** Only sessions under these changes. */
  readonly changeIds?: readonly string[];
  /** Only sessions whose change had this change ID when they started. */
  readonly changeName?: string;
  readonly live?: boolean;
  readonly from?: Date;
  readonly to?: Date;
  /** Sessions in which a command containing this text was run. */
  readonly commandText?: string;
  readonly limit: number;
}

/** Sessions that match, newest first. */
export async function listSessions(db: Executor, filter: SessionFilter): Promise<Session[]> {
  if (filter.partitionIds !== 'all' && filter.partitionIds.length === 0) return [];
  if (filter.changeIds?.length === 0) return [];
  let query = db.selectFrom('session').selectAll();
  if (filter.partitionIds !== 'all') query = query.where('partition_id', 'in', filter.partitionIds);
  if (filter.userId) query = query.where('user_id', '=', filter.userId);
  if (filter.deviceId) query = query.where('device_id', '=', filter.deviceId);
  if (filter.changeId) query = query.where('change_id', '=', filter.changeId);
  if (filter.changeIds) query = query.where('change_id', 'in', filter.changeIds);
  if (filter.changeName) query = query.where('change_name', '=', filter.changeName);
  if (filter.live !== undefined) query = query.where('ended_at', filter.live ? 'is' : 'is not', null);
  if (filter.from) query = query.where('started_at', '>=', filter.from);
  if (filter.to) query = query.where('started_at', '<', filter.to);
  if (filter.commandText) {
    const pattern = `%${filter.commandText.replace(/[\\%_]/g, '\\$&')}%`;
    query = query.where((eb) =>
      eb.exists(eb.selectFrom('session_command as c').select('c.seq').whereRef('c.session_id', '=', 'session.id').where('c.text', 'like', pattern)),
    );
  }
  return (await query.orderBy('started_at', 'desc').orderBy('number', 'desc').limit(filter.limit).execute()).map(toSession);
}
