import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';

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

/** What the file holds after a write: its length in bytes and the SHA-256 of those bytes. */
export interface RecordingWritten {
  readonly bytes: number;
  readonly sha256: string;
}

/** Written data reaches the file at least this often, so a crash loses at most this much. */
const FLUSH_INTERVAL_MS = 1000;
/** A buffer this large is written at once rather than waiting for the timer. */
const FLUSH_BYTES = 64 * 1024;
/** Characters handed to the file but not yet written beyond which the session waits (`backlogged`). */
export const MAX_UNWRITTEN = 16 * 1024 * 1024;

/**
 * Records a terminal session as an asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/):
 * a JSON header line, then one JSON array per event. Events are appended to the file while the
 * session runs, at least once a second, so after a crash the file holds everything up to the last
 * flush and still plays. Output bytes are decoded as UTF-8 per stream, so a character split across
 * two chunks stays whole. After each write, `onWrite` learns the file's length and the running
 * SHA-256 of its bytes so far, which the event log keeps (see recording-log.ts): a recording cut
 * short by a crash still verifies up to its last logged write.
 */
export class Recorder {
  private buffer: string[] = [];
  private bufferedBytes = 0;
  /** Characters buffered or on their way to the file. */
  private unwritten = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
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
    private readonly file: FileHandle,
    readonly path: string,
    private readonly onWrite: ((written: RecordingWritten) => void) | undefined,
  ) {
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** Creates the file (and its directory) and writes the header at once. */
  static async create(file: string, header: RecordingHeader, options: { onWrite?: (written: RecordingWritten) => void } = {}): Promise<Recorder> {
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(file, 'wx', 0o640);
    const recorder = new Recorder(handle, file, options.onWrite);
    const line = JSON.stringify({
      version: 2,
      width: header.width,
      height: header.height,
      timestamp: Math.floor(header.startedAt.getTime() / 1000),
      title: header.title,
      env: { TERM: header.term, SHELL: '/bin/sh' },
    });
    await recorder.write(Buffer.from(`${line}\n`, 'utf8'));
    return recorder;
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
   * also reads the file can skip what it already has. Returns the unsubscribe function.
   */
  subscribe(listener: (event: CastEvent, index: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Writes what is buffered now. */
  flush(): Promise<void> {
    if (this.buffer.length === 0) return this.writing;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.bufferedBytes = 0;
    this.writing = this.writing.then(async () => {
      try {
        if (!this.failure) await this.write(Buffer.from(chunk, 'utf8'));
      } catch (error) {
        // A full disk must not take the session down; the end of the session reports it.
        this.failure = error as Error;
      } finally {
        this.unwritten -= chunk.length;
      }
    });
    return this.writing;
  }

  /** Appends bytes to the file, then tells `onWrite` what the file now holds. */
  private async write(bytes: Buffer): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done);
      if (bytesWritten === 0) throw new Error(`nothing could be written to ${this.path}`);
      done += bytesWritten;
    }
    this.hash.update(bytes);
    this.bytesWritten += bytes.length;
    this.onWrite?.({ bytes: this.bytesWritten, sha256: this.hash.copy().digest('hex') });
  }

  /** Characters recorded but not yet written to the file. */
  get unwrittenBytes(): number {
    return this.unwritten;
  }

  /**
   * When the file is written slower than the session runs (a slow disk): resolves once what was
   * recorded has been written. Undefined while it keeps up; the session pauses the device meanwhile.
   */
  backlogged(): Promise<void> | undefined {
    return this.unwritten > MAX_UNWRITTEN ? this.writing : undefined;
  }

  /** Writes the rest, syncs and closes the file, and returns its SHA-256. */
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
      await this.file.sync().catch(() => undefined);
      await this.file.close();
      this.listeners.clear();
    }
    return { sha256: await sha256OfFile(this.path), ...(this.failure && { failure: this.failure }) };
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

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
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
