import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import { MAX_PAYLOAD_BYTES, notify } from '../platform/notifications.ts';
import type { RecordingStoreKind } from '../platform/tables/sessions.ts';
import { chunkHolding, deleteRecordingChunks, insertRecordingChunks, recordingChunksFrom, recordingSize, type NewRecordingChunk } from './recording-chunk.store.ts';

export type { RecordingStoreKind } from '../platform/tables/sessions.ts';

/**
 * The channel on which the database store says, as each group of chunks commits, which sessions'
 * recordings grew: a JSON array of session ids. A watcher on another instance listens on it to
 * follow a live session whose recorder runs elsewhere.
 */
export const RECORDING_CHANNEL = 'changegate_recording';

/** Where one recording is written while its session runs. */
export interface RecordingSink {
  /** Where the recording is within its store, as the session keeps it (`recording_path`). */
  readonly location: string;
  /** Appends bytes after those appended before; resolves once they are stored (on disk, or committed). */
  append(bytes: Buffer): Promise<void>;
  /** Ends the recording: nothing is appended after. */
  close(): Promise<void>;
}

/** What a store holds of a recording now: its length, the SHA-256 of those bytes, and when it was last written. */
export interface StoredRecording {
  readonly bytes: number;
  readonly sha256: string;
  /** The file's modification time, or the newest chunk's `written_at`; undefined when nothing was written. */
  readonly lastWrite: Date | undefined;
}

/**
 * Where recordings are kept. A session's row says which store holds its recording
 * (`recording_store`) and where in it (`recording_path`); `RecordingStores.for` finds the store.
 */
export interface RecordingStore {
  readonly kind: RecordingStoreKind;
  /**
   * Starts a session's recording. `replace` writes over what an interrupted
   * `recordings migrate` left of a copy; otherwise a recording that exists is an error.
   */
  create(sessionId: string, startedAt: Date, options?: { readonly replace?: boolean }): Promise<RecordingSink>;
  /**
   * The recording's bytes in order from byte `fromByte` (default 0), as far as they are stored now:
   * a live recording grows, and a later read finds more. A recording that does not exist reads as empty.
   */
  read(location: string, fromByte?: number): AsyncIterable<Buffer>;
  /** Undefined when the recording does not exist. The length and hash cover the same bytes, read once. */
  stat(location: string): Promise<StoredRecording | undefined>;
  /** The recording's length now, without reading it (an export refuses what is too large before reading); undefined when it does not exist. */
  size(location: string): Promise<number | undefined>;
  /** Removes the recording; one already gone is no error. */
  remove(location: string): Promise<void>;
}

/** Hashes a recording as it is read, and notes its length. */
async function hashOf(bytes: AsyncIterable<Buffer>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of bytes) {
    hash.update(chunk);
    length += chunk.length;
  }
  return { bytes: length, sha256: hash.digest('hex') };
}

const missing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** Bytes read from a file at a time. */
const FILE_CHUNK_BYTES = 64 * 1024;

/**
 * Recordings as asciicast files under `<dir>/<date>/<session id>.cast` (the date the session
 * started): the embedded database's default, readable by this instance only. A file's location is
 * its path.
 */
export class FileRecordingStore implements RecordingStore {
  readonly kind = 'files';

  constructor(readonly dir: string) {}

  async create(sessionId: string, startedAt: Date, options: { readonly replace?: boolean } = {}): Promise<RecordingSink> {
    const file = path.join(this.dir, startedAt.toISOString().slice(0, 10), `${sessionId}.cast`);
    await mkdir(path.dirname(file), { recursive: true });
    return new FileRecordingSink(await open(file, options.replace ? 'w' : 'wx', 0o640), file);
  }

  async *read(location: string, fromByte = 0): AsyncIterable<Buffer> {
    try {
      for await (const chunk of createReadStream(location, { start: fromByte, highWaterMark: FILE_CHUNK_BYTES })) yield chunk as Buffer;
    } catch (error) {
      if (!missing(error)) throw error;
    }
  }

  async stat(location: string): Promise<StoredRecording | undefined> {
    const handle = await open(location, 'r').catch((error: unknown) => (missing(error) ? undefined : Promise.reject(error)));
    if (!handle) return undefined;
    try {
      // The size when opened: a live recording's later writes are not counted, nor hashed.
      const { size, mtime } = await handle.stat();
      const read = size === 0 ? [] : handle.createReadStream({ start: 0, end: size - 1, highWaterMark: FILE_CHUNK_BYTES, autoClose: false });
      const { sha256 } = await hashOf(read as AsyncIterable<Buffer>);
      return { bytes: size, sha256, lastWrite: mtime };
    } finally {
      await handle.close();
    }
  }

  async size(location: string): Promise<number | undefined> {
    return (await stat(location).catch((error: unknown) => (missing(error) ? undefined : Promise.reject(error))))?.size;
  }

  async remove(location: string): Promise<void> {
    await rm(location, { force: true });
  }
}

class FileRecordingSink implements RecordingSink {
  constructor(
    private readonly file: FileHandle,
    readonly location: string,
  ) {}

  async append(bytes: Buffer): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done);
      if (bytesWritten === 0) throw new Error(`nothing could be written to ${this.location}`);
      done += bytesWritten;
    }
  }

  async close(): Promise<void> {
    await this.file.sync().catch(() => undefined);
    await this.file.close();
  }
}

export interface DatabaseRecordingStoreConfig {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** How long a failed insert waits before it is tried again (default 1 s). */
  readonly retryMs?: number;
}

/** A chunk waiting for the next insert, with the append waiting on it. */
interface QueuedChunk extends NewRecordingChunk {
  attempts: number;
  readonly done: () => void;
  readonly failed: (error: Error) => void;
}

/** The most bytes one insert carries; the rest of the queue goes in the next. */
const MAX_INSERT_BYTES = 32 * 1024 * 1024;
/** An insert is tried this many times before its appends fail (and their recorders report it). */
const MAX_ATTEMPTS = 3;
/** Chunks read from the database at a time. */
const CHUNKS_PER_READ = 32;

/**
 * The session ids of an insert as JSON arrays of at most `MAX_PAYLOAD_BYTES` each: the payloads of
 * its `RECORDING_CHANNEL` notifications.
 */
export function notificationPayloads(sessionIds: Iterable<string>): string[] {
  const payloads: string[] = [];
  let batch: string[] = [];
  let size = 2;
  for (const id of new Set(sessionIds)) {
    const added = Buffer.byteLength(JSON.stringify(id)) + 1;
    if (batch.length > 0 && size + added > MAX_PAYLOAD_BYTES) {
      payloads.push(JSON.stringify(batch));
      batch = [];
      size = 2;
    }
    batch.push(id);
    size += added;
  }
  if (batch.length > 0) payloads.push(JSON.stringify(batch));
  return payloads;
}

/** The session ids a `RECORDING_CHANNEL` payload names; none for a payload that is not one. */
export function sessionsOfRecordingNotice(payload: string): string[] {
  try {
    const ids: unknown = JSON.parse(payload);
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Recordings as chunks in the database (`recording_chunk`), readable by every instance that shares
 * it; a recording's location is its session's id.
 *
 * Writes from all the instance's sessions are group-committed: an append queues, and the queue is
 * inserted in one multi-row INSERT, in one transaction, once the current turn of the event loop is
 * over. While that insert is in flight, new appends wait and go together in the next. Recorders
 * flush on the second (see recorder.ts), so a thousand live sessions make about one insert a
 * second, not a thousand; under load, the slower an insert, the more the next one carries. Each
 * append resolves once its chunk is committed. In the same transaction, `pg_notify` on
 * `RECORDING_CHANNEL` names the sessions whose recordings grew.
 */
export class DatabaseRecordingStore implements RecordingStore {
  readonly kind = 'database';
  /** Transactions committed, and the chunks they carried: what the group commit saves. */
  readonly counts = { inserts: 0, chunks: 0 };
  private queue: QueuedChunk[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly config: DatabaseRecordingStoreConfig) {}

  async create(sessionId: string, _startedAt: Date, options: { readonly replace?: boolean } = {}): Promise<RecordingSink> {
    if (options.replace) await deleteRecordingChunks(this.config.db, sessionId);
    return new DatabaseRecordingSink(this, sessionId);
  }

  async *read(location: string, fromByte = 0): AsyncIterable<Buffer> {
    const first = fromByte > 0 ? await chunkHolding(this.config.db, location, fromByte) : { seq: 0, start: 0 };
    if (!first) return;
    let skip = fromByte - first.start;
    for await (const chunk of this.chunks(location, first.seq)) {
      const data = skip > 0 ? chunk.data.subarray(skip) : chunk.data;
      skip = 0;
      if (data.length > 0) yield data;
    }
  }

  async stat(location: string): Promise<StoredRecording | undefined> {
    let lastWrite: Date | undefined;
    let found = false;
    const chunks = this.chunks(location, 0);
    const { bytes, sha256 } = await hashOf(
      (async function* () {
        for await (const chunk of chunks) {
          found = true;
          if (!lastWrite || chunk.writtenAt > lastWrite) lastWrite = chunk.writtenAt;
          yield chunk.data;
        }
      })(),
    );
    return found ? { bytes, sha256, lastWrite } : undefined;
  }

  /** The recording's chunks from `fromSeq` on, a page at a time, up to the first one missing. */
  private async *chunks(location: string, fromSeq: number): AsyncIterable<{ data: Buffer; writtenAt: Date }> {
    for (let next = fromSeq; ; ) {
      const page = await recordingChunksFrom(this.config.db, location, next, CHUNKS_PER_READ);
      for (const chunk of page) {
        // A gap is a chunk not committed yet: what follows it is not stored yet, as far as a reader knows.
        if (chunk.seq !== next) return;
        next += 1;
        yield chunk;
      }
      if (page.length < CHUNKS_PER_READ) return;
    }
  }

  size(location: string): Promise<number | undefined> {
    return recordingSize(this.config.db, location);
  }

  async remove(location: string): Promise<void> {
    await deleteRecordingChunks(this.config.db, location);
  }

  /** Queues a chunk for the next insert; resolves once it is committed. */
  append(chunk: NewRecordingChunk): Promise<void> {
    return new Promise((done, failed) => {
      this.queue.push({ ...chunk, attempts: 0, done, failed });
      this.schedule();
    });
  }

  /** Resolves once every chunk appended so far is committed (or has failed): at shutdown, before the database closes. */
  async drain(): Promise<void> {
    while (this.inFlight || this.scheduled || this.queue.length > 0) {
      await (this.inFlight ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // After this turn: recorders whose timers fire together all append before the insert starts.
    setImmediate(() => {
      this.scheduled = false;
      this.inFlight = this.insertQueued().finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
    });
  }

  private async insertQueued(): Promise<void> {
    let size = 0;
    let take = 0;
    while (take < this.queue.length && (take === 0 || size + (this.queue[take] as QueuedChunk).data.length <= MAX_INSERT_BYTES)) {
      size += (this.queue[take] as QueuedChunk).data.length;
      take += 1;
    }
    const batch = this.queue.splice(0, take);
    try {
      await this.config.db.transaction().execute(async (trx) => {
        await insertRecordingChunks(trx, batch, this.config.clock.now());
        for (const payload of notificationPayloads(batch.map((chunk) => chunk.sessionId))) await notify(trx, RECORDING_CHANNEL, payload);
      });
    } catch (error) {
      const again = batch.filter((chunk) => ++chunk.attempts < MAX_ATTEMPTS);
      for (const chunk of batch) if (chunk.attempts >= MAX_ATTEMPTS) chunk.failed(error as Error);
      this.config.logger?.error({ err: error, chunks: batch.length }, again.length > 0 ? 'storing recordings failed; trying again' : 'storing recordings failed');
      // First in the queue again, so that each session's chunks stay in order; the wait holds the next insert back.
      this.queue.unshift(...again);
      if (again.length > 0) await new Promise((resolve) => setTimeout(resolve, this.config.retryMs ?? 1000));
      return;
    }
    this.counts.inserts += 1;
    this.counts.chunks += batch.length;
    for (const chunk of batch) chunk.done();
  }
}

class DatabaseRecordingSink implements RecordingSink {
  private seq = 0;
  private failure: Error | undefined;

  constructor(
    private readonly store: DatabaseRecordingStore,
    readonly location: string,
  ) {}

  async append(bytes: Buffer): Promise<void> {
    // After a chunk that could not be stored, nothing more: a recording with a hole would not hash as its log says.
    if (this.failure) throw this.failure;
    if (bytes.length === 0) return;
    const seq = this.seq++;
    try {
      await this.store.append({ sessionId: this.location, seq, data: bytes });
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
  }

  async close(): Promise<void> {
    this.failure ??= new Error(`the recording ${this.location} is closed`);
  }
}

/**
 * Both stores, and the one new recordings go to (`CHANGEGATE_RECORDING_STORE`). A session's
 * recording is read from the store its row names, whatever the setting is now.
 */
export class RecordingStores {
  constructor(
    readonly files: FileRecordingStore,
    readonly database: DatabaseRecordingStore,
    /** Where new recordings are written. */
    readonly current: RecordingStoreKind,
  ) {}

  /** The store of this kind. */
  of(kind: RecordingStoreKind): RecordingStore {
    return kind === 'database' ? this.database : this.files;
  }

  /** The store that holds a session's recording. */
  for(session: { readonly recordingStore: RecordingStoreKind }): RecordingStore {
    return this.of(session.recordingStore);
  }

  /** The store new recordings go to. */
  get forNew(): RecordingStore {
    return this.of(this.current);
  }

  /** Waits for the chunks still being stored: after the recorders closed, before the database closes. */
  close(): Promise<void> {
    return this.database.drain();
  }
}
