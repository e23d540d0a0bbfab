import xterm from '@xterm/headless';
import { CaptureQueue } from './capture-queue.ts';
import type { CaptureNote } from './capture-status.ts';
import { LineReader, type CapturedCommand, type LineAtEnter } from './line-reader.ts';
import { plainText } from './terminal-text.ts';

export { isPlainOutput } from './bulk-output.ts';
export { MAX_PENDING_ENTERS, type CapturedCommand, type LineAtEnter } from './line-reader.ts';

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
 *    exact points. Bulk output is held back rather than emulated: once the running command's
 *    output is kept in full, plain text only scrolls the screen, so only its last lines reach
 *    the emulator, when something next needs the screen. (`CaptureQueue`, `BulkOutputHolder`.)
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
 *    are never read, and an echo of one is cut from the output. (Points 2 to 5: `LineReader`.)
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
 * 6. Where the screen cannot tell, the keys or the shell's own echo may: a line accepted at a shell
 *    prompt with nothing echoed (`stty -echo`) is rebuilt from its keys with readline's editing
 *    keys applied (`rebuildFromKeys`) and marked `fromKeystrokes`; a line edited in an editor
 *    (Ctrl-X Ctrl-E, `fc`) is read off the editor's screen and kept once the shell echoes that
 *    same text before running it. Where neither can (completion or history with echo off, an
 *    editor that is not vi-like, a multiplexer's panes, a prompt not recognised line after line,
 *    data dropped past the backlog), the capture says so in `notes`, from when (capture-status.ts).
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
  private readonly clock: { now(): Date };
  /** The line reading: prompts, lines, commands and their output, off the emulated screen. */
  private readonly reader: LineReader;
  /** The order and pace of the work, and the bulk output held back. */
  private readonly queue: CaptureQueue;
  private finishing: Promise<number> | undefined;
  /** The recording offset last passed with output or keys: when a loss found at the end is noted. */
  private lastOffsetSeconds = 0;

  constructor(options: CommandCaptureOptions) {
    requireCount('cols', options.cols);
    requireCount('rows', options.rows);
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
    requireCount('maxOutputBytes', maxOutputBytes);
    requireCount('maxBacklogBytes', maxBacklogBytes);
    this.clock = options.clock ?? { now: () => new Date() };
    const terminal = new xterm.Terminal({ cols: options.cols, rows: options.rows, scrollback: SCROLLBACK_ROWS, allowProposedApi: true });
    this.reader = new LineReader(terminal, { onCommand: options.onCommand, maxOutputBytes });
    this.queue = new CaptureQueue(terminal, this.reader, maxBacklogBytes);
  }

  /** True when the backlog overflowed and some output was not analysed (or analysis failed). */
  get lossy(): boolean {
    return this.queue.lossy;
  }

  /** Why the command list is not plain, each reason from when it first applied (capture-status.ts). */
  get notes(): readonly CaptureNote[] {
    return this.reader.notes.all;
  }

  /** Bytes of bulk output that never reached the emulator because only its last lines could matter. */
  get skippedBytes(): number {
    return this.queue.skippedBytes;
  }

  /** Bytes the device sent to the user (terminal output). Never blocks; returns immediately. */
  output(data: Buffer | string, offsetSeconds: number): void {
    this.queue.output(data);
    this.noteOverflow(offsetSeconds);
  }

  /** Bytes the user typed. Never blocks. */
  input(data: Buffer | string, offsetSeconds: number): void {
    this.queue.input(data, this.clock.now(), offsetSeconds);
    this.noteOverflow(offsetSeconds);
  }

  /** From the first data dropped (or the analysis failing), commands may be missing. */
  private noteOverflow(offsetSeconds: number): void {
    this.lastOffsetSeconds = offsetSeconds;
    if (this.queue.lossy) this.reader.notes.note('backlog_overflow', this.clock.now(), offsetSeconds);
  }

  resize(cols: number, rows: number): void {
    this.queue.resize(cols, rows);
  }

  /**
   * The line an Enter typed now would have the shell run, read once everything the device printed
   * and the user typed so far was analysed: what a command policy checks before the Enter goes on.
   */
  lineAtEnter(): Promise<LineAtEnter> {
    return this.queue.probe(() => this.reader.lineAtEnter());
  }

  /** The device has been quiet a while: a command whose shell prompt is back is done (`LineReader.settleAtPrompt`). */
  quiet(): void {
    void this.queue.probe(() => this.reader.settleAtPrompt()).catch(() => undefined);
  }

  /**
   * Drains the backlog and completes the last command; resolves with how many commands were
   * captured. Each was given to `onCommand` as it completed and is not kept here: a long session
   * must not hold every command's output. Rejects with the first error `onCommand` threw, if it
   * threw (every command was still offered).
   */
  finish(): Promise<number> {
    this.finishing ??= this.queue.finish().then(() => {
      // The last event analysed may have failed, with nothing after it to note the loss.
      this.noteOverflow(this.lastOffsetSeconds);
      if (this.reader.callbackError !== undefined) throw this.reader.callbackError;
      return this.reader.commands;
    });
    return this.finishing;
  }

  /** Enters whose lines the shell has not accepted yet: at most `MAX_PENDING_ENTERS`. */
  get pendingEnters(): number {
    return this.reader.pendingEnters;
  }

  /** Bytes of output and input waiting to be analysed: at most `maxBacklogBytes`. */
  get backlogBytes(): number {
    return this.queue.backlogBytes;
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
