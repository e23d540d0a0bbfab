import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { RecordingStoreKind, RecordingStores } from './recording-store.ts';
import type { Session } from './session.ts';
import { endedSessionsOutside, liveSessionsOutside, moveRecording } from './session.store.ts';

/** What became of one session's recording in a migration. */
export type RecordingMove = { readonly outcome: 'moved' } | { readonly outcome: 'refused'; readonly why: string };

export interface RecordingMigrationReport {
  readonly to: RecordingStoreKind;
  /** Ended sessions whose recording was elsewhere when the migration began. */
  readonly found: number;
  readonly moved: number;
  /** Sessions left where they were, by number, with why. */
  readonly refused: ReadonlyArray<{ readonly number: number; readonly why: string }>;
  /** Sessions still open (live, or left open by a crash and not yet marked interrupted), by number: not moved. */
  readonly live: readonly number[];
  /** The seq of the `recordings.migrate` entry. */
  readonly eventSeq: number;
}

export interface RecordingMigrationDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly stores: RecordingStores;
  /** Who runs it, as the event log names them (`cli:<user>@<host>`). */
  readonly actor: string;
  /** Told after each session: the count done so far of `total`. */
  readonly onProgress?: (done: number, total: number, session: Session, move: RecordingMove) => void;
}

/** Bytes appended to the target at a time: one chunk in the database per MiB, not per read. */
const COPY_BYTES = 1024 * 1024;

/**
 * Moves every ended session's recording to the `to` store (`changegate recordings migrate`). Each
 * is copied, then read back: the copy's SHA-256 must be the one logged at the session's end
 * (`recording_sha256`; the source's own when none was logged) before the session is pointed at it
 * and the source removed. A recording that does not match (changed since it was logged) or is
 * missing stays where it was, its copy removed, and is reported. Live sessions are left alone:
 * their recorders write where they started. Sessions already in `to` are not looked at, so a
 * second run moves nothing. The run is logged as one `recordings.migrate` entry with its counts.
 */
export async function migrateRecordings(deps: RecordingMigrationDeps, to: RecordingStoreKind): Promise<RecordingMigrationReport> {
  const { db, stores } = deps;
  const sessions = await endedSessionsOutside(db, to);
  const live = (await liveSessionsOutside(db, to)).map((session) => session.number);
  const target = stores.of(to);
  let moved = 0;
  const refused: Array<{ number: number; why: string }> = [];
  for (const [index, session] of sessions.entries()) {
    const move = await moveOne(deps, session, to);
    if (move.outcome === 'moved') moved += 1;
    else refused.push({ number: session.number, why: move.why });
    deps.onProgress?.(index + 1, sessions.length, session, move);
  }
  const entry = await db.transaction().execute((trx) =>
    appendEvent(trx, {
      actor: deps.actor,
      action: 'recordings.migrate',
      subject: 'recordings',
      data: { to: target.kind, found: sessions.length, moved, refused: refused.length, refusedSessions: refused.map((one) => one.number), live: live.length },
      time: deps.clock.now(),
    }),
  );
  return { to, found: sessions.length, moved, refused, live, eventSeq: entry.seq };
}

async function moveOne(deps: RecordingMigrationDeps, session: Session, to: RecordingStoreKind): Promise<RecordingMove> {
  const source = deps.stores.for(session);
  const target = deps.stores.of(to);
  const stored = await source.stat(session.recordingPath);
  if (!stored) return { outcome: 'refused', why: `its recording is missing from the ${source.kind} store (${session.recordingPath})` };
  const expected = session.recordingSha256 ?? stored.sha256;
  // A copy an interrupted run left is written over.
  const sink = await target.create(session.id, session.startedAt, { replace: true });
  let copy: { sha256: string } | undefined;
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of source.read(session.recordingPath)) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= COPY_BYTES) {
        await sink.append(Buffer.concat(pending));
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes > 0) await sink.append(Buffer.concat(pending));
    await sink.close();
    // Read back from the target: what it holds, not what was sent.
    copy = await target.stat(sink.location);
  } catch (error) {
    await sink.close().catch(() => undefined);
    await target.remove(sink.location);
    return { outcome: 'refused', why: `copying it failed: ${(error as Error).message}` };
  }
  if (copy?.sha256 !== expected) {
    await target.remove(sink.location);
    const logged = session.recordingSha256 ? 'the SHA-256 logged at its end' : 'its source';
    return { outcome: 'refused', why: `its copy hashes to ${copy?.sha256 ?? 'nothing'}, not ${expected} (${logged}): the recording changed since, and stays where it is` };
  }
  const from = { store: session.recordingStore, path: session.recordingPath };
  const switched = await deps.db.transaction().execute((trx) => moveRecording(trx, session.id, from, { store: to, path: sink.location }));
  // Another run moved it meanwhile: its copy is the one the session names now.
  if (switched) await source.remove(session.recordingPath);
  return { outcome: 'moved' };
}
