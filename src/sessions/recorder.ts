import { createHash, type Hash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { RecordingSink, RecordingStore } from './recording-store.ts';

/** One asciicast v2 event: seconds since the start, code (`o` output, `r` resize, `m` marker), data. */
export type CastEvent = [number, 'o' | 'r' | 'm', string];

export interface RecordingHeader {
  readonly width: number;
  readonly height: number;
  /** When the session started. */
  readonly startedAt: Date;
  /** E.g. `CHG-42 alice@web01`. */
  readonly title: string;
  readonly term: string;
}

/** What the recording holds after a write: its length in bytes and the SHA-256 of those bytes. */
export interface RecordingWritten {
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Written data reaches the store at least this often, so a crash loses at most this much. The
 * timers of all recorders fire on the whole second, together: the database store commits what
 * they all flushed in one insert.
 */
const FLUSH_INTERVAL_MS = 1000;
/** A buffer this large is written at once rather than waiting for the timer. */
const FLUSH_BYTES = 64 * 1024;
/** Characters handed to the store but not yet written beyond which the session waits (`backlogged`). */
export const MAX_UNWRITTEN = 16 * 1024 * 1024;

/**
 * Records a terminal session as an asciicast v2 recording (https://docs.asciinema.org/manual/asciicast/v2/):
 * a JSON header line, then one JSON array per event, written through a `RecordingSink` (a file, or
 * chunks in the database: recording-store.ts). Events are appended while the session runs, at
 * least once a second, so after a crash the store holds everything up to the last flush and it
 * still plays. Output bytes are decoded as UTF-8 per stream, so a character split across two
 * chunks stays whole. After each write, `onWrite` learns the recording's length and the running
 * SHA-256 of its bytes so far, which the event log keeps (see recording-log.ts): a recording cut
 * short by a crash still verifies up to its last logged write.
 */
export class Recorder {
  private buffer: string[] = [];
  private bufferedBytes = 0;
  /** Characters buffered or on their way to the store. */
  private unwritten = 0;
  private writing: Promise<void> = Promise.resolve();
  /** A write is queued behind the one under way: it takes everything buffered when its turn comes. */
  private writeQueued = false;
  private timer: NodeJS.Timeout;
  private readonly decoders = new Map<string, StringDecoder>();
  private readonly listeners = new Set<(event: CastEvent, index: number) => void>();
  /** Events recorded so far; an event's index is its position after the header. */
  private count = 0;
  private readonly started = performance.now();
  private closed = false;
  private failure: Error | undefined;
  /** SHA-256 over every byte written so far, and their count. */
  private readonly hash: Hash = createHash('sha256');
  private bytesWritten = 0;

  private constructor(
    private readonly store: Pick<RecordingStore, 'stat'>,
    private readonly sink: RecordingSink,
    private readonly onWrite: ((written: RecordingWritten) => void) | undefined,
  ) {
    // The first flush on the next whole second, then every second.
    this.timer = setTimeout(() => {
      this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
      void this.flush();
    }, FLUSH_INTERVAL_MS - (Date.now() % FLUSH_INTERVAL_MS));
    this.timer.unref();
  }

  /** Creates the session's recording in `store` and writes the header at once. */
  static async create(
    store: Pick<RecordingStore, 'create' | 'stat'>,
    sessionId: string,
    header: RecordingHeader,
    options: { onWrite?: (written: RecordingWritten) => void } = {},
  ): Promise<Recorder> {
    const sink = await store.create(sessionId, header.startedAt);
    const recorder = new Recorder(store, sink, options.onWrite);
    const line = JSON.stringify({
      version: 2,
      width: header.width,
      height: header.height,
      timestamp: Math.floor(header.startedAt.getTime() / 1000),
      title: header.title,
      env: { TERM: header.term, SHELL: '/bin/sh' },
    });
    try {
      await recorder.write(Buffer.from(`${line}\n`, 'utf8'));
    } catch (error) {
      clearTimeout(recorder.timer);
      await sink.close().catch(() => undefined);
      throw error;
    }
    return recorder;
  }

  /** Where the recording is in its store: what the session keeps as `recording_path`. */
  get location(): string {
    return this.sink.location;
  }

  /** Seconds since the recording started: where a command sits in the recording. */
  get offsetSeconds(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }

  /** Records terminal output; `stream` keeps stdout and stderr decoding apart. */
  output(data: Buffer | string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    if (typeof data === 'string') return this.event('o', data);
    let decoder = this.decoders.get(stream);
    if (!decoder) this.decoders.set(stream, (decoder = new StringDecoder('utf8')));
    const text = decoder.write(data);
    if (text) this.event('o', text);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  marker(label: string): void {
    this.event('m', label);
  }

  /**
   * Follows the events as they are recorded (live watching), each with its index, so a watcher that
   * also reads the recording can skip what it already has. Returns the unsubscribe function.
   */
  subscribe(listener: (event: CastEvent, index: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Writes what is buffered now. One write is under way at a time; what is buffered meanwhile goes
   * in one write after it, so a slow store gets fewer, larger appends rather than a queue of them.
   */
  flush(): Promise<void> {
    if (this.buffer.length === 0 || this.writeQueued) return this.writing;
    this.writeQueued = true;
    this.writing = this.writing.then(async () => {
      this.writeQueued = false;
      const chunk = this.buffer.join('');
      this.buffer = [];
      this.bufferedBytes = 0;
      try {
        if (!this.failure) await this.write(Buffer.from(chunk, 'utf8'));
      } catch (error) {
        // A full disk or a lost database must not take the session down; the end of the session reports it.
        this.failure = error as Error;
      } finally {
        this.unwritten -= chunk.length;
      }
    });
    return this.writing;
  }

  /** Appends bytes to the recording, then tells `onWrite` what it now holds. */
  private async write(bytes: Buffer): Promise<void> {
    await this.sink.append(bytes);
    this.hash.update(bytes);
    this.bytesWritten += bytes.length;
    this.onWrite?.({ bytes: this.bytesWritten, sha256: this.hash.copy().digest('hex') });
  }

  /** Characters recorded but not yet written to the store. */
  get unwrittenBytes(): number {
    return this.unwritten;
  }

  /**
   * When the store is written slower than the session runs (a slow disk or database): resolves once what was
   * recorded has been written. Undefined while it keeps up; the session pauses the device meanwhile.
   */
  backlogged(): Promise<void> | undefined {
    return this.unwritten > MAX_UNWRITTEN ? this.writing : undefined;
  }

  /** Writes the rest and closes the recording; returns the SHA-256 of what its store holds, read back. */
  async close(): Promise<{ sha256: string; failure?: Error }> {
    if (!this.closed) {
      clearInterval(this.timer);
      // A character cut by the end of the session is recorded as U+FFFD, not dropped.
      for (const [stream, decoder] of this.decoders) {
        const rest = decoder.end();
        if (rest) this.event('o', rest);
        this.decoders.delete(stream);
      }
      this.closed = true;
      await this.flush();
      await this.sink.close();
      this.listeners.clear();
    }
    const stored = await this.store.stat(this.sink.location);
    if (!stored) throw new Error(`the recording ${this.sink.location} is gone`);
    return { sha256: stored.sha256, ...(this.failure && { failure: this.failure }) };
  }

  private event(code: CastEvent[1], data: string): void {
    if (this.closed) return;
    const event: CastEvent = [this.offsetSeconds, code, data];
    const line = `${JSON.stringify(event)}\n`;
    this.buffer.push(line);
    this.bufferedBytes += line.length;
    this.unwritten += line.length;
    const index = this.count++;
    for (const listener of this.listeners) listener(event, index);
    if (this.bufferedBytes >= FLUSH_BYTES) void this.flush();
  }
}

/**
 * Reads a recording's events, stopping at a torn last line (a crash mid-write): what a watcher
 * replays before following the live events, and what survives an interrupted session.
 */
export function parseCast(text: string): { header: Record<string, unknown> | undefined; events: CastEvent[] } {
  const lines = text.split('\n');
  let header: Record<string, unknown> | undefined;
  const events: CastEvent[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (index === 0) header = value as Record<string, unknown>;
      else events.push(value as CastEvent);
    } catch {
      break;
    }
  }
  return { header, events };
}
