import { StringDecoder } from 'node:string_decoder';
import xterm from '@xterm/headless';
import type { Terminal } from '@xterm/headless';
import { BulkOutputHolder, isPlainOutput } from './bulk-output.ts';
import { LineReader, MAX_LINE_ROWS, type CapturedCommand } from './line-reader.ts';
import { plainText } from './terminal-text.ts';

export { isPlainOutput } from './bulk-output.ts';
export { MAX_PENDING_ENTERS, type CapturedCommand } from './line-reader.ts';

export interface CommandCaptureOptions {
  readonly cols: number;
  readonly rows: number;
  /** Called once per command, when its output is complete: at the next prompt, or at `finish()`. */
  readonly onCommand: (command: CapturedCommand) => void;
  readonly clock?: { now(): Date };
  /** Cap of each command's `output`, in bytes of UTF-8; 64 KiB unless set. */
  readonly maxOutputBytes?: number;
  /** Bytes waiting to be analysed beyond which new data is dropped and `lossy` set; 8 MiB unless set. */
  readonly maxBacklogBytes?: number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024;
export const DEFAULT_MAX_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Rows kept above the screen: room for a long command line and a completion listing under it. */
const SCROLLBACK_ROWS = 500;

type QueuedEvent =
  | { readonly kind: 'output'; readonly data: Buffer | string; readonly bytes: number }
  | { readonly kind: 'input'; readonly data: Buffer | string; readonly bytes: number; readonly time: Date; readonly offsetSeconds: number }
  | { readonly kind: 'resize'; readonly cols: number; readonly rows: number }
  | { readonly kind: 'finish'; readonly done: () => void };

/**
 * Captures the commands typed in an interactive session by emulating the user's terminal
 * (@xterm/headless) and reading each line from its screen at the moment the shell accepts it,
 * so that what the line editor did with the keystrokes (completion, history recall and search,
 * cursor editing, kill and yank) is already applied and only what the device displayed is kept.
 *
 * 1. Output, keystrokes and resizes go into one queue; `output()`/`input()` only append (or drop
 *    beyond `maxBacklogBytes`, setting `lossy`), so the session never waits. The queue is fed to
 *    the emulator in order, and a keystroke is looked at only once everything printed before it
 *    has been parsed (`terminal.write(data, callback)`). While an Enter waits, output is written
 *    in pieces ending at each line feed and each DECRST 2004, so the screen can be read at those
 *    exact points. Bulk output is held back rather than emulated (see `canHold`): once the
 *    running command's output is kept in full, plain text only scrolls the screen, so only its
 *    last lines reach the emulator, when something next needs the screen.
 * 2. At the first keystroke of a line (outside the alternate screen, where vim, less and top
 *    run and nothing typed is a command), the text before the cursor is the line's prompt: a
 *    shell prompt when it ends like one (`$ `, `# `, `> `…, or like the session's first prompt),
 *    a secret prompt when it asks for a password, passphrase, PIN or code, else a running
 *    program's. A new shell prompt completes the previous command: its output is the plain text
 *    (escape sequences interpreted away, `\r` overwriting) printed since its line was accepted,
 *    minus that prompt.
 * 3. Enter does not read the line: the echo may lag behind the keystrokes (a paste, a slow link).
 *    The line is read when the shell accepts it: at DECRST 2004 when bracketed paste was on
 *    (readline ≥ 8.1 and zsh turn it off right after the accepting line feed; before it, a line
 *    feed may be a multi-line line being redrawn), else at the line feed after those readline
 *    needs to reach the last row of a wrapped line from the cursor. The line is found going up
 *    from there to the nearest row that starts with the prompt; rows are joined when xterm
 *    wrapped them (`isWrapped`) or the upper one is full (a line feed clears `isWrapped`), else
 *    by `\n` (a multi-line paste). The text after the prompt is the line, up to the last
 *    non-blank or up to where the cursor stood before the accepting `\r\n`, if further (a space
 *    typed last is kept, one left by a rubout `\b \b` is not). Lines typed at a secret prompt
 *    are never read, and an echo of one is cut from the output.
 * 4. Lines are grouped by `splitShellInput`: an odd trailing `\`, an open quote, a here-document
 *    or an open compound command wait for more lines, and so does a line followed by nothing but
 *    a PS2 prompt. Ctrl-C drops the line and the unfinished command it continues. A line typed
 *    ahead (before the shell printed its prompt) is found after the prompt the shell prints next.
 * 5. Shell integration, if the device's shell has it (semantic prompts, OSC 133: FinalTerm's,
 *    https://gitlab.freedesktop.org/Per_Bothner/specifications/blob/master/proposals/semantic-prompts.md):
 *    `OSC 133;D;<status>` gives the exit status and `OSC 133;A` ends the output exactly. The last
 *    D mark before the next command is the command's (a program can print one too; the shell's
 *    comes after it). Without one the status is unknown (null): a shell without integration
 *    tells nothing, and a comment line runs nothing (bash reports the previous status again).
 *
 * Limits: a shell prompt must be recognisable by its end; a line typed ahead over a prompt that
 * changes (`cd dir` then another line in one paste) is lost; the commands of one multi-line paste
 * share one output (given to the last); commands typed at a REPL whose prompt looks like a shell's
 * (`>>> `, `mysql> `) are captured too.
 *
 * @example
 * const capture = new CommandCapture({ cols: 80, rows: 24, onCommand: (c) => store(c) });
 * channel.on('data', (data) => capture.output(data, recorder.offsetSeconds));
 * client.on('data', (data) => capture.input(data, recorder.offsetSeconds));
 * const count = await capture.finish(); // at the end of the session
 */
export class CommandCapture {
  private readonly terminal: Terminal;
  private readonly clock: { now(): Date };
  private readonly maxBacklogBytes: number;
  /** The line reading: prompts, lines, commands and their output, off the emulated screen. */
  private readonly reader: LineReader;
  /** Bulk output held back from the emulator. */
  private readonly holder = new BulkOutputHolder();

  private readonly queue: (QueuedEvent | undefined)[] = [];
  private queueHead = 0;
  private pumping = false;
  private waitingBytes = 0;
  private overflowed = false;
  private finishing: Promise<number> | undefined;
  private ended = false;
  /** A bug of ours: capture stops (and is lossy), the session goes on. */
  private internalError: unknown;

  private readonly outputDecoder = new StringDecoder('utf8');
  private readonly inputDecoder = new StringDecoder('utf8');

  constructor(options: CommandCaptureOptions) {
    requireCount('cols', options.cols);
    requireCount('rows', options.rows);
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    requireCount('maxOutputBytes', maxOutputBytes);
    requireCount('maxBacklogBytes', this.maxBacklogBytes);
    this.clock = options.clock ?? { now: () => new Date() };
    this.terminal = new xterm.Terminal({ cols: options.cols, rows: options.rows, scrollback: SCROLLBACK_ROWS, allowProposedApi: true });
    this.reader = new LineReader(this.terminal, { onCommand: options.onCommand, maxOutputBytes });
  }

  /** True when the backlog overflowed and some output was not analysed (or analysis failed). */
  get lossy(): boolean {
    return this.overflowed;
  }

  /** Bytes of bulk output that never reached the emulator because only its last lines could matter. */
  get skippedBytes(): number {
    return this.holder.skippedBytes;
  }

  /** Bytes the device sent to the user (terminal output). Never blocks; returns immediately. */
  output(data: Buffer | string, offsetSeconds: number): void {
    void offsetSeconds; // a command takes the offset passed with its Enter keystroke
    this.enqueueData({ kind: 'output', data, bytes: data.length });
  }

  /** Bytes the user typed. Never blocks. */
  input(data: Buffer | string, offsetSeconds: number): void {
    this.enqueueData({ kind: 'input', data, bytes: data.length, time: this.clock.now(), offsetSeconds });
  }

  resize(cols: number, rows: number): void {
    if (this.ended || !Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) return;
    this.enqueue({ kind: 'resize', cols, rows });
  }

  /**
   * Drains the backlog and completes the last command; resolves with how many commands were
   * captured. Each was given to `onCommand` as it completed and is not kept here: a long session
   * must not hold every command's output. Rejects with the first error `onCommand` threw, if it
   * threw (every command was still offered).
   */
  finish(): Promise<number> {
    if (!this.finishing) {
      this.finishing = new Promise<void>((done) => this.enqueue({ kind: 'finish', done })).then(() => {
        if (this.reader.callbackError !== undefined) throw this.reader.callbackError;
        return this.reader.commands;
      });
      this.ended = true;
    }
    return this.finishing;
  }

  /** Enters whose lines the shell has not accepted yet: at most `MAX_PENDING_ENTERS`. */
  get pendingEnters(): number {
    return this.reader.pendingEnters;
  }

  /** Bytes of output and input waiting to be analysed: at most `maxBacklogBytes`. */
  get backlogBytes(): number {
    return this.waitingBytes;
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

/**
 * An exec request (`ssh host 'uptime'`): the command is exactly what the client asked to run.
 * `cut`: the caller kept only the start of the output.
 */
export function execCommand(text: string, time: Date, offsetSeconds: number, output: string, exitStatus: number | null, cut = false): CapturedCommand {
  const plain = plainText(output, DEFAULT_MAX_OUTPUT_BYTES);
  return { seq: 1, time, offsetSeconds, text, output: plain.text, outputTruncated: plain.truncated || cut, exitStatus };
}

function requireCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}
