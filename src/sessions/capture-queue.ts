import { StringDecoder } from 'node:string_decoder';
import type { Terminal } from '@xterm/headless';
import { BulkOutputHolder, isPlainOutput } from './bulk-output.ts';
import { MAX_LINE_ROWS, type LineReader } from './line-reader.ts';

type QueuedEvent =
  | { readonly kind: 'output'; readonly data: Buffer | string; readonly bytes: number }
  | { readonly kind: 'input'; readonly data: Buffer | string; readonly bytes: number; readonly time: Date; readonly offsetSeconds: number }
  | { readonly kind: 'resize'; readonly cols: number; readonly rows: number }
  | { readonly kind: 'probe'; readonly run: () => void }
  | { readonly kind: 'finish'; readonly done: () => void };

/** What the queue needs of the line reader: where to cut output, and to be told what was parsed and typed. */
export type ScreenReader = Pick<LineReader, 'pieceEnd' | 'parsed' | 'keys' | 'end' | 'readsNothing'>;

/**
 * The order and pace of a capture's work: output, keystrokes and resizes go into one queue that
 * is fed to the terminal emulator in order, a keystroke reaching the reader only once everything
 * printed before it has been parsed. Appending never blocks the session: beyond `maxBacklogBytes`
 * waiting, data is dropped and the capture is `lossy`. Plain bulk output goes to the
 * `BulkOutputHolder` instead while the reader reads nothing of the screen, and reaches the
 * emulator (its last lines) when something next needs the screen.
 */
export class CaptureQueue {
  private readonly holder = new BulkOutputHolder();
  private readonly queue: (QueuedEvent | undefined)[] = [];
  private queueHead = 0;
  private pumping = false;
  private waitingBytes = 0;
  private overflowed = false;
  private ended = false;
  /** A bug of ours: capture stops (and is lossy), the session goes on. */
  private internalError: unknown;

  private readonly outputDecoder = new StringDecoder('utf8');
  private readonly inputDecoder = new StringDecoder('utf8');

  constructor(
    private readonly terminal: Terminal,
    private readonly reader: ScreenReader,
    private readonly maxBacklogBytes: number,
  ) {}

  /** True when the backlog overflowed and some output was not analysed (or analysis failed). */
  get lossy(): boolean {
    return this.overflowed;
  }

  /** Bytes of bulk output that never reached the emulator because only its last lines could matter. */
  get skippedBytes(): number {
    return this.holder.skippedBytes;
  }

  /** Bytes of output and input waiting to be analysed: at most `maxBacklogBytes`. */
  get backlogBytes(): number {
    return this.waitingBytes;
  }

  /** The device's output. Never blocks. */
  output(data: Buffer | string): void {
    this.enqueueData({ kind: 'output', data, bytes: data.length });
  }

  /** The user's keystrokes, with when they were typed. Never blocks. */
  input(data: Buffer | string, time: Date, offsetSeconds: number): void {
    this.enqueueData({ kind: 'input', data, bytes: data.length, time, offsetSeconds });
  }

  resize(cols: number, rows: number): void {
    if (this.ended || !Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) return;
    this.enqueue({ kind: 'resize', cols, rows });
  }

  /** Runs `look` once everything queued before it was handled: the screen as the user's keys so far left it. */
  probe<T>(look: () => T): Promise<T> {
    if (this.ended) return Promise.reject(new Error('the capture has finished'));
    return new Promise<T>((resolve, reject) =>
      this.enqueue({
        kind: 'probe',
        run: () => {
          try {
            resolve(look());
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        },
      }),
    );
  }

  /** Takes nothing more; resolves once everything queued was handled, the reader ended and the emulator let go. */
  finish(): Promise<void> {
    const finished = new Promise<void>((done) => this.enqueue({ kind: 'finish', done }));
    this.ended = true;
    return finished;
  }

  private enqueueData(event: Extract<QueuedEvent, { bytes: number }>): void {
    if (this.ended) return;
    if (this.waitingBytes + event.bytes > this.maxBacklogBytes) {
      this.overflowed = true;
      return;
    }
    this.waitingBytes += event.bytes;
    this.enqueue(event);
  }

  private enqueue(event: QueuedEvent): void {
    this.queue.push(event);
    if (!this.pumping) {
      this.pumping = true;
      this.terminal.write('', () => this.pump());
    }
  }

  /** Handles queued events until one is output for the emulator to parse. Runs in xterm's write loop. */
  private pump(): void {
    for (;;) {
      const event = this.queue[this.queueHead];
      const holdable = event?.kind === 'output' && this.canHold(event.data);
      if (event !== undefined && !holdable && this.holder.bytes > 0) return this.releaseHeld();
      if (event === undefined) {
        this.queue.length = 0;
        this.queueHead = 0;
        this.pumping = false;
        return;
      }
      this.queue[this.queueHead++] = undefined;
      if (this.queueHead >= 1024) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      if (event.kind === 'output' && holdable) {
        this.waitingBytes -= event.bytes;
        if (this.holder.hold(event.data as Buffer, this.terminal.rows + MAX_LINE_ROWS)) return this.releaseHeld();
      } else if (event.kind === 'output') {
        const text = typeof event.data === 'string' ? event.data : this.outputDecoder.write(event.data);
        if (this.internalError === undefined && text !== '') {
          this.writePieces(text, 0, event.bytes);
          return;
        }
        this.waitingBytes -= event.bytes;
      } else if (event.kind === 'input') {
        this.waitingBytes -= event.bytes;
        const text = typeof event.data === 'string' ? event.data : this.inputDecoder.write(event.data);
        this.guard(() => this.reader.keys(text, event.time, event.offsetSeconds));
      } else if (event.kind === 'resize') {
        this.guard(() => this.terminal.resize(event.cols, event.rows));
      } else if (event.kind === 'probe') {
        event.run();
      } else {
        this.guard(() => this.reader.end());
        setImmediate(() => this.terminal.dispose()); // not from inside xterm's own write loop
        event.done();
      }
    }
  }

  /** Writes output to the emulator, in the pieces the line reader needs to see the screen at. */
  private writePieces(text: string, from: number, bytes: number): void {
    const end = this.reader.pieceEnd(text, from);
    const piece = text.slice(from, end);
    this.terminal.write(piece, () => {
      this.guard(() => this.reader.parsed(piece));
      if (end < text.length && this.internalError === undefined) {
        this.writePieces(text, end, bytes);
      } else {
        this.waitingBytes -= bytes;
        this.pump();
      }
    });
  }

  /**
   * Whether output can wait outside the emulator: the line reader reads nothing of the screen
   * until the next keystroke, resize or end, and the output is plain: text, line breaks and
   * colours, nothing that changes the terminal's modes. Such output scrolls the screen and
   * nothing else, so the screen it leaves is its last lines.
   */
  private canHold(data: Buffer | string): data is Buffer {
    return typeof data !== 'string' && this.internalError === undefined && this.reader.readsNothing && isPlainOutput(data);
  }

  /** Gives the emulator the held output, then goes on with the queue. */
  private releaseHeld(): void {
    const { data, skipped } = this.holder.take();
    // A character the skipped output began belongs to it, not to the line held after it.
    if (skipped) this.outputDecoder.end();
    const text = this.outputDecoder.write(data);
    if (text === '') return this.pump();
    this.writePieces(text, 0, 0);
  }

  /** Never lets an error escape into xterm's write loop: capture stops, the session goes on. */
  private guard(action: () => void): void {
    if (this.internalError !== undefined) return;
    try {
      action();
    } catch (error) {
      this.internalError = error;
      this.overflowed = true;
    }
  }
}
