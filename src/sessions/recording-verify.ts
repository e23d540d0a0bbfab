import { createHash } from 'node:crypto';
import { findEntries } from '../eventlog/index.ts';
import type { Executor } from '../platform/database.ts';
import { RECORDING_CHUNKS_ACTION, type LoggedRecordingChunk } from './recording-log.ts';
import { findSession } from './session.store.ts';

/** What the event log vouches for of a recording, and how much of it matches. */
export interface RecordingCheck {
  /** Bytes from the start of the recording that match the log. */
  readonly verifiedBytes: number;
  /** The whole recording is what was logged at the session's end (`session.end` or `session.interrupted`). */
  readonly complete: boolean;
  /**
   * Set when the recording contradicts the log: the start of the first logged stretch that does not
   * match (what is before it verified; the change is at or after it, within the stretch). A recording
   * shorter than the log says is also a mismatch.
   */
  readonly firstMismatchOffset?: number;
  /** How far the log vouches for the recording: its last logged length, or the whole recording's at the end. */
  readonly loggedBytes: number;
  /** The recording's length as read (the name is from when recordings were files only). */
  readonly fileBytes: number;
  /** The event-log entries the verdict rests on (`recording.chunks`, `session.end`/`session.interrupted`), by seq. */
  readonly eventSeqs: readonly number[];
  readonly message: string;
}

interface LoggedPoint {
  readonly bytes: number;
  readonly sha256: string;
}

/** Slack around the session's own times when looking for its progress in the log: clocks of instances and the last flush after the end. */
const WINDOW_SLACK_MS = 5 * 60_000;

/**
 * Checks a recording's bytes (as its store reads them: `RecordingStore.read`) against the event
 * log: every logged length and running SHA-256 of the recording (`recording.chunks` events, one a
 * second, see recording-log.ts), in order, and the whole recording's hash logged at the session's
 * end. The bytes are read once, in order, whatever their chunks' sizes. A recording cut short by a crash verifies up to its
 * last logged write, and bytes written after it are neither vouched for nor held against it; a
 * changed byte is found within the logged stretch that holds it.
 *
 * @example
 * const check = await verifyRecordingAgainstLog(db, session.id, stores.for(session).read(session.recordingPath));
 * if (check.firstMismatchOffset !== undefined) console.log(check.message);
 */
export async function verifyRecordingAgainstLog(db: Executor, sessionId: string, recording: AsyncIterable<Buffer>): Promise<RecordingCheck> {
  const { points, end, eventSeqs } = await loggedProgress(db, sessionId);
  const hash = createHash('sha256');
  let position = 0;
  let next = 0;
  let verified = 0;
  let mismatch: number | undefined;
  // A recording that does not exist reads as empty: everything the log vouches for is missing.
  reading: for await (const buffer of recording) {
    let at = 0;
    for (let point = points[next]; point && point.bytes <= position + buffer.length - at; point = points[next]) {
      const take = point.bytes - position;
      hash.update(buffer.subarray(at, at + take));
      at += take;
      position += take;
      next += 1;
      if (hash.copy().digest('hex') !== point.sha256) {
        mismatch = verified;
        break reading;
      }
      verified = position;
    }
    hash.update(buffer.subarray(at));
    position += buffer.length - at;
  }
  const lastPoint = points.at(-1)?.bytes ?? 0;
  const loggedBytes = Math.max(lastPoint, end?.bytes ?? 0);
  const fileBytes = position;
  /** The recording vouched for up to `verified` only: `mismatchAt` where a logged stretch fails. */
  const partly = (message: string, mismatchAt?: number): RecordingCheck => ({
    verifiedBytes: verified,
    complete: false,
    ...(mismatchAt !== undefined && { firstMismatchOffset: mismatchAt }),
    loggedBytes,
    fileBytes,
    eventSeqs,
    message,
  });
  if (mismatch !== undefined) {
    return partly(`the recording differs from the event log after byte ${mismatch}: the log's hash of its first ${points[next - 1]?.bytes} bytes does not match`, mismatch);
  }
  if (next < points.length) {
    return partly(`the recording is ${fileBytes} bytes, but the event log vouches for ${lastPoint}: it was cut short after it was logged`, verified);
  }
  if (!end) {
    return partly(
      fileBytes > verified
        ? `the first ${verified} bytes match the event log; the ${fileBytes - verified} after them were written after the last logged write (the session is live, or was cut off)`
        : `the recording matches the event log (${verified} bytes); its end is not logged yet`,
    );
  }
  if (hash.digest('hex') === end.sha256) {
    return { verifiedBytes: fileBytes, complete: true, loggedBytes: fileBytes, fileBytes, eventSeqs, message: `the whole recording (${fileBytes} bytes) matches the event log` };
  }
  return partly(`the recording does not match the hash logged at the session's end: it differs after byte ${verified}, the last logged write that matches`, verified);
}

/** The session's logged writes in file order, and its end's hash (with the length, after a crash). */
async function loggedProgress(db: Executor, sessionId: string): Promise<{ points: LoggedPoint[]; end: { sha256: string; bytes?: number } | undefined; eventSeqs: number[] }> {
  const session = await findSession(db, sessionId);
  // The session's times narrow the search through the time index; without its row, the whole log is searched.
  const rows = await findEntries(db, {
    actions: [RECORDING_CHUNKS_ACTION],
    dataHolds: { chunks: [{ session: sessionId }] },
    ...(session && { from: new Date(session.startedAt.getTime() - WINDOW_SLACK_MS) }),
    ...(session?.endedAt && { until: new Date(session.endedAt.getTime() + WINDOW_SLACK_MS) }),
  });
  const points: LoggedPoint[] = [];
  const eventSeqs: number[] = [];
  for (const row of rows) {
    const chunks = (row.data.chunks ?? []) as LoggedRecordingChunk[];
    for (const chunk of chunks) if (chunk.session === sessionId) points.push({ bytes: Number(chunk.bytes), sha256: String(chunk.sha256) });
    eventSeqs.push(row.seq);
  }
  points.sort((a, b) => a.bytes - b.bytes);
  const [ending] = await findEntries(db, { actions: ['session.end', 'session.interrupted'], subject: `session:${sessionId}`, limit: 1 });
  const sha256 = ending?.data.recordingSha256;
  if (ending) eventSeqs.push(ending.seq);
  const end = typeof sha256 === 'string' ? { sha256, ...(typeof ending?.data.recordingBytes === 'number' && { bytes: ending.data.recordingBytes }) } : undefined;
  return { points, end, eventSeqs };
}
