import { StringDecoder } from 'node:string_decoder';
import xterm from '@xterm/headless';
import type { IBuffer, IMarker, Terminal } from '@xterm/headless';
import { splitShellInput } from './shell-line.ts';
import { PlainText, TerminalTextDecoder, plainText, type TerminalTextSink } from './terminal-text.ts';

/** One command typed in a session (or run by an exec request), as the device's shell read it. */
export interface CapturedCommand {
  /** 1, 2, … in the order the commands were entered, per session. */
  readonly seq: number;
  /** When Enter was pressed (the last Enter, for a command typed over several lines). */
  readonly time: Date;
  /** Offset in the session's recording, as the caller passed it with that Enter keystroke. */
  readonly offsetSeconds: number;
  /** The logical command line as the shell saw it (lines of a multi-line command joined by `\n`). */
  readonly text: string;
  /** What the command printed until the next prompt, as plain text, at most `maxOutputBytes`. */
  readonly output: string;
  /** `output` was cut at `maxOutputBytes`. */
  readonly outputTruncated: boolean;
  /**
   * The exit status, when known: an exec request's, or the one the shell reported with its
   * `OSC 133;D;<status>` mark; null (unknown) otherwise, never guessed.
   */
  readonly exitStatus: number | null;
}

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
/** How far up from an accepted line its prompt is looked for. */
const MAX_LINE_ROWS = 100;
/**
 * Enters kept waiting for the shell to accept their lines. Lines typed into a running program
 * (`cat`) wait until the next shell prompt; past this many the oldest is forgotten, since no
 * shell reads that far ahead of its prompt.
 */
export const MAX_PENDING_ENTERS = 1024;
/** How much text after an accepted line is kept to tell a bare continuation prompt from output. */
const SINCE_ACCEPT_BYTES = 1024;
/** Held plain output is cut down to its last lines once it grows past this. */
const TRIM_HELD_BYTES = 64 * 1024;
/** Held output without enough line breaks to cut is given to the emulator past this. */
const MAX_HELD_BYTES = 1024 * 1024;

/** The end of a prompt a shell or a REPL prints: `$ `, `# `, `% `, `> `, `❯ `, `λ `. */
const PROMPT_END = /[$#%>❯➜»λ]\s*$/u;
/** A prompt for something never to be stored: sudo, su, ssh, gpg, 2FA codes. */
const SECRET_PROMPT = /(?:password|passphrase|passcode|verification code|one-time|\bPIN\b|\bOTP\b|\btoken\b)[^\n]*[:?]\s*$/i;
/** Bracketed paste (xterm's DECSET 2004): what the user pasted is text, not keystrokes. */
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';
/** DECRST 2004, which readline sends right after the line feed that accepts a line. */
const PASTE_MODE_OFF = '\x1b[?2004l';

type LineKind = 'prompt' | 'program' | 'secret';

/** A line being typed: what was on the screen before the cursor at its first keystroke. */
interface TypedLine {
  readonly kind: LineKind;
  readonly prompt: string;
  /** The line's first row, so the search for its prompt starts no higher. */
  readonly marker: IMarker | undefined;
  /** Typed right after the previous line's Enter, before any output: same prompt, same kind. */
  readonly inherited: boolean;
  /** Continues a command the shell is still reading (PS2). */
  readonly continuation: boolean;
  cleared: boolean;
}

/** An Enter whose line the shell has not yet shown as accepted (the line feed after it). */
interface PendingEnter {
  readonly kind: 'prompt' | 'secret' | 'maybe';
  readonly prompt: string;
  readonly inherited: boolean;
  readonly time: Date;
  readonly offsetSeconds: number;
  readonly marker: IMarker | undefined;
  readonly lowestRowIsScreenTop: boolean;
  /** Bracketed paste was on: the shell (readline ≥ 8.1) turns it off right after accepting the line. */
  readonly bracketed: boolean;
  /** Without bracketed paste: line feeds readline sends to reach the line's last row, not accepting it. */
  movesDown: number;
}

/** A command being read over one or more lines, then running until the next prompt. */
interface Candidate {
  readonly pieces: string[];
  reading: boolean;
  commands: readonly string[];
  time: Date;
  offsetSeconds: number;
  exitStatus: number | null;
}

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
  private readonly onCommand: (command: CapturedCommand) => void;
  private readonly clock: { now(): Date };
  private readonly maxOutputBytes: number;
  private readonly maxBacklogBytes: number;

  private readonly queue: (QueuedEvent | undefined)[] = [];
  private queueHead = 0;
  private pumping = false;
  private waitingBytes = 0;
  private overflowed = false;
  private finishing: Promise<number> | undefined;
  private ended = false;
  /** A bug of ours: capture stops (and is lossy), the session goes on. */
  private internalError: unknown;
  /** The first error `onCommand` threw; `finish()` rejects with it. */
  private callbackError: unknown;

  private readonly outputDecoder = new StringDecoder('utf8');
  private readonly inputDecoder = new StringDecoder('utf8');
  private readonly textDecoder = new TerminalTextDecoder();
  private readonly sink: TerminalTextSink;
  private inputCarry = '';
  private inPaste = false;
  /** Plain output not yet given to the emulator, and whether some was skipped before it. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private heldSkipped = false;
  private skipped = 0;

  /** Counts output pieces parsed, to tell whether anything was printed between two keystrokes. */
  private outputMark = 0;
  private alternate = false;
  private pasteModeEnded = false;
  /** The cursor's column when the last piece was parsed. */
  private cursorX = 0;
  /** Where the cursor stood on the row that the last "\r\n" piece ended. */
  private lineEnd: { readonly column: number; readonly outputMark: number } | undefined;
  /** The output of the running command; frozen by OSC 133;A. */
  private commandOutput: PlainText;
  private outputFrozen = false;
  /** All text since the last accepted line, to tell a bare PS2 prompt from output. */
  private sinceAccept: PlainText;

  private line: TypedLine | undefined;
  private lastEnter: { readonly line: TypedLine; readonly outputMark: number } | undefined;
  private readonly pending: PendingEnter[] = [];
  private lastAccept: IMarker | undefined;
  private candidate: Candidate | undefined;
  private shellPrompt: string | undefined;
  private shellPromptEnding: string | undefined;
  private continuationPrompt = '> ';
  private seq = 0;

  constructor(options: CommandCaptureOptions) {
    requireCount('cols', options.cols);
    requireCount('rows', options.rows);
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    requireCount('maxOutputBytes', this.maxOutputBytes);
    requireCount('maxBacklogBytes', this.maxBacklogBytes);
    this.onCommand = options.onCommand;
    this.clock = options.clock ?? { now: () => new Date() };
    this.terminal = new xterm.Terminal({ cols: options.cols, rows: options.rows, scrollback: SCROLLBACK_ROWS, allowProposedApi: true });
    this.commandOutput = new PlainText(this.maxOutputBytes);
    this.sinceAccept = new PlainText(SINCE_ACCEPT_BYTES);
    const both = (write: (text: PlainText) => void): void => {
      if (this.alternate) return; // a full-screen program's screen is not output
      if (!this.outputFrozen) write(this.commandOutput);
      write(this.sinceAccept);
    };
    this.sink = {
      print: (text) => both((plain) => plain.print(text)),
      control: (code) => both((plain) => plain.control(code)),
      eraseLine: (mode) => both((plain) => plain.eraseLine(mode)),
      alternateScreen: (active) => {
        this.alternate = active;
      },
      bracketedPaste: (active) => {
        if (!active) this.pasteModeEnded = true;
      },
      shellMark: (mark, exitStatus) => {
        if (mark === 'A') this.outputFrozen = true;
        else if (mark === 'D' && this.candidate && !this.candidate.reading) this.candidate.exitStatus = exitStatus;
      },
    };
  }

  /** True when the backlog overflowed and some output was not analysed (or analysis failed). */
  get lossy(): boolean {
    return this.overflowed;
  }

  /** Bytes of bulk output that never reached the emulator because only its last lines could matter. */
  get skippedBytes(): number {
    return this.skipped;
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
        if (this.callbackError !== undefined) throw this.callbackError;
        return this.seq;
      });
      this.ended = true;
    }
    return this.finishing;
  }

  /** Enters whose lines the shell has not accepted yet: at most `MAX_PENDING_ENTERS`. */
  get pendingEnters(): number {
    return this.pending.length;
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
      if (event !== undefined && !holdable && this.heldBytes > 0) return this.releaseHeld();
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
        if (this.hold(event.data as Buffer)) return;
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
        this.guard(() => this.readKeys(text, event.time, event.offsetSeconds));
      } else if (event.kind === 'resize') {
        this.guard(() => this.terminal.resize(event.cols, event.rows));
      } else {
        this.guard(() => this.end());
        setImmediate(() => this.terminal.dispose()); // not from inside xterm's own write loop
        event.done();
      }
    }
  }

  /**
   * Writes output to the emulator. While an Enter waits, in pieces that end after each line feed
   * and after each DECRST 2004, with "\r\n" in a piece of its own, so that the shell accepting
   * the line is seen and the cursor column before it (where readline's line ends) is known.
   */
  private writePieces(text: string, from: number, bytes: number): void {
    let end = text.length;
    if (this.pending.length > 0) {
      const newline = text.indexOf('\n', from);
      const pasteOff = text.indexOf(PASTE_MODE_OFF, from);
      end = Math.min(newline === -1 ? end : newline + 1, pasteOff === -1 ? end : pasteOff + PASTE_MODE_OFF.length);
      if (end === newline + 1 && newline - 1 > from && text.charAt(newline - 1) === '\r') end = newline - 1;
    }
    const piece = text.slice(from, end);
    this.terminal.write(piece, () => {
      this.guard(() => this.parsed(piece));
      if (end < text.length && this.internalError === undefined) {
        this.writePieces(text, end, bytes);
      } else {
        this.waitingBytes -= bytes;
        this.pump();
      }
    });
  }

  /**
   * Whether output can wait outside the emulator: nothing reads the screen until the next
   * keystroke, resize or end (no line typed, no Enter waiting, not a full-screen program), the
   * text kept of the running command is complete (both `PlainText`s full), no escape sequence is
   * open, and the output is plain: text, line breaks and colours, nothing that changes the
   * terminal's modes. Such output scrolls the screen and nothing else, so the screen it leaves is
   * its last lines.
   */
  private canHold(data: Buffer | string): data is Buffer {
    return (
      typeof data !== 'string' &&
      this.pending.length === 0 &&
      this.line === undefined &&
      !this.alternate &&
      this.internalError === undefined &&
      this.sinceAccept.full &&
      (this.outputFrozen || this.commandOutput.full) &&
      this.textDecoder.idle &&
      isPlainOutput(data)
    );
  }

  /**
   * Holds plain output, keeping only its last lines (a screen and `MAX_LINE_ROWS` of scrollback).
   * Returns true when it gave the emulator what it held instead (too much without line breaks).
   */
  private hold(data: Buffer): boolean {
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.heldBytes < TRIM_HELD_BYTES) return false;
    const all = Buffer.concat(this.held, this.heldBytes);
    const start = startOfLastLines(all, this.terminal.rows + MAX_LINE_ROWS);
    if (start === -1) {
      this.held = [all];
      if (this.heldBytes <= MAX_HELD_BYTES) return false;
      this.releaseHeld();
      return true;
    }
    this.held = [all.subarray(start)];
    this.heldBytes = all.length - start;
    this.heldSkipped = true;
    this.skipped += start;
    return false;
  }

  /** Gives the emulator the held output, then goes on with the queue. */
  private releaseHeld(): void {
    const data = this.held.length === 1 ? (this.held[0] as Buffer) : Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    // A character the skipped output began belongs to it, not to the line held after it.
    if (this.heldSkipped) this.outputDecoder.end();
    this.heldSkipped = false;
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

  private parsed(piece: string): void {
    this.outputMark++;
    this.pasteModeEnded = false;
    this.textDecoder.feed(piece, this.sink);
    const buffer = this.buffer();
    if (piece.startsWith('\r\n')) this.lineEnd = { column: this.cursorX, outputMark: this.outputMark };
    this.cursorX = buffer.cursorX;
    const enter = this.pending[0];
    if (enter === undefined || buffer.type !== 'normal') return;
    const lineFeed = piece.endsWith('\n');
    // With bracketed paste on, a line feed may be readline redrawing a line of several rows.
    if (enter.bracketed ? this.pasteModeEnded : lineFeed && enter.movesDown-- <= 0) this.accepted(enter, lineFeed);
  }

  private readKeys(data: string, time: Date, offsetSeconds: number): void {
    const text = this.inputCarry + data;
    this.inputCarry = '';
    for (let k = 0; k < text.length; k++) {
      if (text.charCodeAt(k) === 0x1b) {
        const marker = text.slice(k, k + PASTE_START.length);
        if (marker.length < PASTE_START.length && (PASTE_START.startsWith(marker) || PASTE_END.startsWith(marker))) {
          this.inputCarry = marker; // a paste marker cut across chunks
          return;
        }
        if (marker === PASTE_START || marker === PASTE_END) {
          if (this.line === undefined) this.startLine();
          this.inPaste = marker === PASTE_START;
          k += PASTE_START.length - 1;
          continue;
        }
      }
      if (this.line === undefined) this.startLine();
      if (this.inPaste) continue; // pasted text, even a newline, is text
      const ch = text.charAt(k);
      if (ch === '\r' || ch === '\n') this.enter(time, offsetSeconds);
      else if (ch === '\x03') this.interrupt();
      else if (ch === '\x04' && this.line !== undefined && this.line.kind !== 'prompt') this.dropLine();
      else if (ch === '\x0c' && this.line !== undefined) this.line.cleared = true;
    }
  }

  /** The first keystroke of a line: note its prompt; at a new shell prompt, finish the last command. */
  private startLine(): void {
    const buffer = this.buffer();
    if (buffer.type === 'alternate') return;
    const previous = this.lastEnter;
    if (previous && previous.outputMark === this.outputMark) {
      // Typed right after Enter, before any output: the shell will read it after the same prompt.
      this.line = { ...previous.line, marker: undefined, inherited: true, continuation: this.candidate?.reading === true, cleared: false };
      return;
    }
    const cursorRow = buffer.baseY + buffer.cursorY;
    const startRow = logicalStart(buffer, cursorRow);
    const prompt = textBeforeCursor(buffer, startRow, cursorRow, buffer.cursorX);
    const kind = this.classify(prompt);
    // Typed before the shell printed its PS2 prompt (or anything): still the command it reads.
    const continuation = kind === 'prompt' ? this.atPrompt(prompt) : this.candidate?.reading === true;
    const marker = kind === 'program' ? undefined : this.terminal.registerMarker(startRow - cursorRow);
    this.line = { kind, prompt, marker, inherited: false, continuation, cleared: false };
  }

  private classify(prompt: string): LineKind {
    if (SECRET_PROMPT.test(prompt)) return 'secret';
    if (PROMPT_END.test(prompt) || (this.shellPromptEnding !== undefined && prompt.endsWith(this.shellPromptEnding))) return 'prompt';
    // The session's first line is typed at the shell's prompt, whatever it looks like.
    if (this.shellPrompt === undefined && this.candidate === undefined && this.seq === 0 && prompt.trim() !== '') return 'prompt';
    return 'program';
  }

  /** A fresh prompt: either the shell asks for the rest of a command (PS2) or the last command is done. */
  private atPrompt(prompt: string): boolean {
    for (const enter of this.pending.splice(0)) enter.marker?.dispose();
    const candidate = this.candidate;
    if (candidate) {
      const onlyPrompt = this.sinceAccept.text.trim() === prompt.trim();
      const isPs2 = prompt === this.continuationPrompt || prompt.trim() === '>';
      // PS1 again after a line the lexer thought unfinished: the shell disagreed, the command ran.
      const isPs1 = prompt === this.shellPrompt && !isPs2;
      if (onlyPrompt && !isPs1 && (candidate.reading || isPs2)) {
        if (candidate.reading) this.continuationPrompt = prompt;
        candidate.reading = true;
        return true;
      }
      if (!this.outputFrozen) this.commandOutput.removeFromCurrentLine(prompt);
      this.complete();
    }
    this.shellPrompt = prompt;
    this.shellPromptEnding = /\S\s*$/.exec(prompt)?.[0];
    return false;
  }

  private enter(time: Date, offsetSeconds: number): void {
    const line = this.line;
    this.line = undefined;
    if (line === undefined) return;
    if (this.buffer().type === 'alternate') {
      line.marker?.dispose();
      return;
    }
    this.lastEnter = { line, outputMark: this.outputMark };
    let kind: PendingEnter['kind'];
    let prompt = line.prompt;
    if (line.kind === 'program') {
      // Typed while something ran: a command only if the shell later shows it after its prompt.
      if (this.shellPrompt === undefined) return;
      kind = 'maybe';
      prompt = this.shellPrompt;
    } else {
      kind = line.kind;
    }
    const marker = line.inherited || kind === 'maybe' ? undefined : line.marker;
    const bracketed = this.terminal.modes.bracketedPasteMode;
    const movesDown = bracketed || kind === 'maybe' || line.inherited ? 0 : this.rowsBelowCursorInLine();
    this.pending.push({ kind, prompt, inherited: line.inherited, time, offsetSeconds, marker, lowestRowIsScreenTop: line.cleared, bracketed, movesDown });
    if (this.pending.length > MAX_PENDING_ENTERS) this.pending.shift()?.marker?.dispose();
  }

  /** Rows of the line being edited below the cursor's: readline moves down them before accepting. */
  private rowsBelowCursorInLine(): number {
    const buffer = this.buffer();
    const cursorRow = buffer.baseY + buffer.cursorY;
    let last = cursorRow;
    while (last - cursorRow < MAX_LINE_ROWS && continuesOnNextRow(buffer, last)) last++;
    return last - cursorRow;
  }

  private interrupt(): void {
    const line = this.dropLine();
    this.lastEnter = undefined;
    if (line?.continuation && this.candidate?.reading) this.candidate = undefined;
  }

  /** Ends the line being typed without an Enter (Ctrl-C; Ctrl-D at a program's prompt). */
  private dropLine(): TypedLine | undefined {
    const line = this.line;
    this.line = undefined;
    line?.marker?.dispose();
    return line;
  }

  /** The shell accepted a line (line feed, or DECRST 2004): is it the oldest waiting Enter's? */
  private accepted(enter: PendingEnter, afterLineFeed: boolean): void {
    const buffer = this.buffer();
    const cursorRow = buffer.baseY + buffer.cursorY;
    const endRow = afterLineFeed || buffer.cursorX === 0 ? cursorRow - 1 : cursorRow;
    if (endRow < 0) return;
    // A line typed ahead shows up after whatever prompt the shell prints when it reads it.
    const typedAhead = enter.inherited || enter.kind === 'maybe';
    const prompt = !typedAhead ? enter.prompt : this.candidate?.reading ? this.continuationPrompt : (this.shellPrompt ?? enter.prompt);
    // Its prompt is no higher than its first row; for a line typed ahead, than the last line accepted.
    const lowest = typedAhead ? this.lastAccept : enter.marker;
    let lowRow = lowest && !lowest.isDisposed ? lowest.line : 0;
    if (enter.lowestRowIsScreenTop) lowRow = Math.min(lowRow, buffer.baseY); // Ctrl-L drew it at the top
    const row = findPromptRow(buffer, prompt, Math.max(lowRow, endRow - MAX_LINE_ROWS), endRow);
    if (row === undefined) return;
    this.pending.shift();
    enter.marker?.dispose();
    this.lastAccept?.dispose();
    this.lastAccept = this.terminal.registerMarker(0);
    const lineEnd = this.lineEnd && this.lineEnd.outputMark >= this.outputMark - 1 ? this.lineEnd.column : 0;
    const typed = acceptedText(buffer, row, endRow, lineEnd).slice(prompt.length);
    if (enter.kind === 'secret') {
      if (typed.trim() !== '') {
        this.commandOutput.redactLastLine(prompt);
        this.sinceAccept.redactLastLine(prompt);
      }
      return;
    }
    this.accept(typed, enter, prompt);
  }

  private accept(typed: string, enter: PendingEnter, prompt: string): void {
    let candidate = this.candidate;
    if (candidate?.reading) {
      candidate.pieces.push(typed);
    } else {
      if (candidate) {
        // Typed ahead: the running command's output ends where this line's prompt begins.
        if (!this.outputFrozen) this.commandOutput.cutAtLineStartingWith(prompt);
        this.complete();
      }
      candidate = { pieces: [typed], reading: true, commands: [], time: enter.time, offsetSeconds: enter.offsetSeconds, exitStatus: null };
      this.candidate = candidate;
    }
    candidate.time = enter.time;
    candidate.offsetSeconds = enter.offsetSeconds;
    const input = splitShellInput(candidate.pieces.join('\n'));
    if (input.incomplete === null) {
      candidate.reading = false;
      candidate.commands = input.commands;
      if (input.commands.length === 0) this.candidate = undefined;
    }
    this.commandOutput = new PlainText(this.maxOutputBytes);
    this.sinceAccept = new PlainText(SINCE_ACCEPT_BYTES);
    this.outputFrozen = false;
  }

  /** Emits the running command (each command of it, for a multi-line paste). */
  private complete(): void {
    const candidate = this.candidate;
    this.candidate = undefined;
    if (!candidate) return;
    const texts = candidate.reading ? [candidate.pieces.join('\n')].filter((t) => t.trim() !== '') : candidate.commands;
    const output = this.commandOutput.text;
    const truncated = this.commandOutput.truncated;
    texts.forEach((text, k) => {
      const last = k === texts.length - 1;
      const command: CapturedCommand = {
        seq: ++this.seq,
        time: candidate.time,
        offsetSeconds: candidate.offsetSeconds,
        text,
        output: last ? output : '',
        outputTruncated: last && truncated,
        // A line that is only a comment runs nothing: the status the shell reports after it is the previous command's.
        exitStatus: last && !isOnlyComment(text) ? candidate.exitStatus : null,
      };
      try {
        this.onCommand(command);
      } catch (error) {
        this.callbackError ??= error;
      }
    });
    this.commandOutput = new PlainText(this.maxOutputBytes);
  }

  private end(): void {
    for (const enter of this.pending.splice(0)) enter.marker?.dispose();
    if (this.candidate?.reading) {
      this.candidate = undefined; // the session ended before the shell had the whole command
    } else if (this.candidate) {
      if (!this.outputFrozen && this.shellPrompt !== undefined) this.commandOutput.removeFromCurrentLine(this.shellPrompt);
      this.complete();
    }
  }

  private buffer(): IBuffer {
    return this.terminal.buffer.active;
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

/** A line the shell reads as a comment alone (`# step 2 done`). */
function isOnlyComment(text: string): boolean {
  return text.trimStart().startsWith('#');
}

function requireCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

const CRLF = Buffer.from('\r\n');

/**
 * Output that only prints and scrolls: no control character that changes the terminal's state
 * (SO and SI switch character sets), no escape sequence but colours (`CSI … m`) and erasing in
 * the line (`CSI … K`), and no C1 control written as a character (U+0080–U+009F, UTF-8 C2 80–9F).
 */
export function isPlainOutput(data: Buffer): boolean {
  if (data.includes(0x0e) || data.includes(0x0f)) return false;
  for (let at = data.indexOf(0xc2); at !== -1; at = data.indexOf(0xc2, at + 1)) {
    const next = data[at + 1];
    if (next === undefined || (next >= 0x80 && next <= 0x9f)) return false;
  }
  for (let at = data.indexOf(0x1b); at !== -1; at = data.indexOf(0x1b, at + 1)) {
    if (data[at + 1] !== 0x5b) return false;
    let k = at + 2;
    while (k < data.length && (data[k] as number) >= 0x30 && (data[k] as number) <= 0x3b) k++;
    if (data[k] !== 0x6d && data[k] !== 0x4b) return false;
    at = k;
  }
  return true;
}

/** Where the last `lines` lines of `data` start (just after a "\r\n"); -1 if it has fewer line breaks. */
function startOfLastLines(data: Buffer, lines: number): number {
  let at = data.length;
  for (let k = 0; k < lines; k++) {
    at = at === 0 ? -1 : data.lastIndexOf(CRLF, at - 1);
    if (at === -1) return -1;
  }
  return at + CRLF.length;
}

/** The first row of the logical line `row` belongs to (rows continued by wrapping share one). */
function logicalStart(buffer: IBuffer, row: number): number {
  let start = row;
  while (start > 0 && buffer.getLine(start)?.isWrapped === true) start--;
  return start;
}

/** The text of a logical line from its first row up to the cursor, as the cells hold it. */
function textBeforeCursor(buffer: IBuffer, from: number, cursorRow: number, cursorX: number): string {
  let text = '';
  for (let row = from; row < cursorRow; row++) text += buffer.getLine(row)?.translateToString(false) ?? '';
  return text + (buffer.getLine(cursorRow)?.translateToString(false, 0, cursorX) ?? '');
}

/**
 * The text of rows `from`..`to`: a row that continues the one above (see `continuesOnNextRow`)
 * is appended to it, any other starts a new line (`\n`, trailing blanks before it dropped). The
 * last row runs to its last non-blank cell, or to `endColumn` (where the cursor stood) if further.
 */
function acceptedText(buffer: IBuffer, from: number, to: number, endColumn: number): string {
  let text = '';
  for (let row = from; row <= to; row++) {
    const line = buffer.getLine(row);
    if (!line) break;
    if (row > from && !continuesOnNextRow(buffer, row - 1)) text = `${text.trimEnd()}\n`;
    if (row < to) {
      text += line.translateToString(false);
    } else {
      // Not translateToString(true): that keeps the spaces of a rubout (`\b \b`), written cells.
      const trimmed = line.translateToString(true).trimEnd();
      const toCursor = line.translateToString(false, 0, endColumn);
      text += toCursor.length > trimmed.length ? toCursor : trimmed;
    }
  }
  return text;
}

/**
 * Whether the row below continues this row's line. xterm marks a row it wrapped onto
 * (`isWrapped`), but clears the mark when a line feed moves the cursor onto the row, as readline
 * does to move around a line of several rows; so a row filled to its last column counts too.
 */
function continuesOnNextRow(buffer: IBuffer, row: number): boolean {
  const next = buffer.getLine(row + 1);
  if (!next) return false;
  if (next.isWrapped) return true;
  const line = buffer.getLine(row);
  const last = line?.getCell(line.length - 1);
  return last !== undefined && (last.getChars() !== '' || last.getWidth() === 0);
}

/** The nearest row at or above `to` (down to `from`) where a line starting with `prompt` begins. */
function findPromptRow(buffer: IBuffer, prompt: string, from: number, to: number): number | undefined {
  const start = prompt.trimEnd();
  const first = String.fromCodePoint(start.codePointAt(0) ?? 0x20);
  for (let row = to; row >= Math.max(0, from); row--) {
    const line = buffer.getLine(row);
    // Most rows differ in their first cell; only the others are read whole.
    if (!line || line.isWrapped || !line.translateToString(false, 0, 1).startsWith(first)) continue;
    let end = row;
    while (end < to && buffer.getLine(end + 1)?.isWrapped === true) end++;
    if (acceptedText(buffer, row, end, 0).startsWith(start)) return row;
  }
  return undefined;
}
