import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import type { RecordingWritten } from './recorder.ts';

/** One recording's progress, as a `recording.chunks` event lists it. */
export interface LoggedRecordingChunk {
  readonly session: string;
  /** The recording file's length after the write. */
  readonly bytes: number;
  /** Hex SHA-256 of the file's first `bytes` bytes. */
  readonly sha256: string;
}

/** What a recorder needs of the collector: somewhere to say what its file now holds. */
export interface RecordingWrites {
  report(sessionId: string, written: RecordingWritten): void;
  /** The session's end is in the log with the whole file's hash: its progress need not be logged. */
  ended(sessionId: string): void;
}

export interface RecordingLogConfig {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** At most one append this often (default 1 s: the recorders flush every second). */
  readonly intervalMs?: number;
  /** Recordings per event; more make several events in the same append (default 200, about 26 KB). */
  readonly perEvent?: number;
  readonly logger?: Logger;
}

export const RECORDING_CHUNKS_ACTION = 'recording.chunks';

/**
 * Puts the recordings' progress into the event log without flooding it. Each recorder reports
 * every write (its session, the file's length and the running SHA-256 of the file so far); the
 * collector keeps the latest per session and, at most once a second, appends one
 * `recording.chunks` event listing them all: the log grows by about one entry per second per
 * instance however many sessions are live, and a recording cut short by a crash verifies
 * (`verifyRecordingAgainstLog`) up to its last write logged before it, a second at most before
 * the crash. The hash of the whole file is logged as the session ends (`session.end`, or
 * `session.interrupted` after a crash).
 */
export class RecordingLog implements RecordingWrites {
  private pending = new Map<string, LoggedRecordingChunk>();
  private timer: NodeJS.Timeout | undefined;
  private appending: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly intervalMs: number;
  private readonly perEvent: number;

  constructor(private readonly config: RecordingLogConfig) {
    this.intervalMs = config.intervalMs ?? 1000;
    this.perEvent = config.perEvent ?? 200;
  }

  report(sessionId: string, written: RecordingWritten): void {
    this.pending.set(sessionId, { session: sessionId, bytes: written.bytes, sha256: written.sha256 });
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  ended(sessionId: string): void {
    this.pending.delete(sessionId);
  }

  /** Appends what was reported since the last append, now; resolves once it is in the log (or failed and was logged). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.appending = this.appending.then(() => this.append());
    return this.appending;
  }

  /** At shutdown, after the recorders closed: the last writes go into the log. */
  close(): Promise<void> {
    this.closed = true;
    return this.flush();
  }

  private async append(): Promise<void> {
    if (this.pending.size === 0) return;
    const chunks = [...this.pending.values()];
    this.pending = new Map();
    try {
      await this.config.db.transaction().execute(async (trx) => {
        const time = this.config.clock.now();
        for (let start = 0; start < chunks.length; start += this.perEvent) {
          await appendEvent(trx, { actor: 'system', action: RECORDING_CHUNKS_ACTION, subject: 'recordings', data: { chunks: chunks.slice(start, start + this.perEvent) }, time });
        }
      });
    } catch (error) {
      // Tried again with the next append, unless a later write of the same recording replaced it.
      for (const chunk of chunks) if (!this.pending.has(chunk.session)) this.pending.set(chunk.session, chunk);
      this.config.logger?.error({ err: error }, "logging the recordings' progress failed; trying again in a second");
      if (!this.timer && !this.closed) {
        this.timer = setTimeout(() => void this.flush(), this.intervalMs);
        this.timer.unref();
      }
    }
  }
}
