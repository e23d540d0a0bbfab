import type { IBuffer, IMarker, Terminal } from '@xterm/headless';
import { splitShellInput } from './shell-line.ts';
import { PlainText, TerminalTextDecoder, type TerminalTextSink } from './terminal-text.ts';
import { expandedCommand } from '../policies/index.ts';
import { CaptureNotes } from './capture-status.ts';
import { rebuildFromKeys } from './keystroke-line.ts';

/** One command typed in a session (or run by an exec request), as the device's shell read it. */
export interface CapturedCommand {
  /** 1, 2, … in the order the commands were entered, per session. */
  readonly seq: number;
  /** When Enter was pressed (the last Enter, for a command typed over several lines). */
  readonly time: Date;
  /** Offset in the session's recording, as the caller passed it with that Enter keystroke. */
  readonly offsetSeconds: number;
  /** The logical command line as the shell ran it (lines of a multi-line command joined by `\n`; a history expansion expanded). */
  readonly text: string;
  /** What was typed, when the shell ran another line: a history expansion (`sudo !!`). */
  readonly typed?: string | null;
  /** The terminal echoed nothing (`stty -echo`): the line was rebuilt from the keys typed. */
  readonly fromKeystrokes?: boolean;
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

/** How far up from an accepted line its prompt is looked for. */
export const MAX_LINE_ROWS = 100;
/**
 * Enters kept waiting for the shell to accept their lines. Lines typed into a running program
 * (`cat`) wait until the next shell prompt; past this many the oldest is forgotten, since no
 * shell reads that far ahead of its prompt.
 */
export const MAX_PENDING_ENTERS = 1024;
/** How much text after an accepted line is kept to tell a bare continuation prompt from output. */
const SINCE_ACCEPT_BYTES = 1024;

/** The end of a prompt a shell or a REPL prints: `$ `, `# `, `% `, `> `, `❯ `, `λ `. */
const PROMPT_END = /[$#%>❯➜»λ]\s*$/u;
/** A prompt for something never to be stored: sudo, su, ssh, gpg, 2FA codes. */
const SECRET_PROMPT = /(?:password|passphrase|passcode|verification code|one-time|\bPIN\b|\bOTP\b|\btoken\b)[^\n]*[:?]\s*$/i;
/** Lines in a row typed at one unrecognised prompt after which the capture says it may be missing commands. */
const UNRECOGNISED_PROMPT_REPEATS = 3;
/** A command that starts a terminal multiplexer (or attaches to one), possibly through sudo, env or a path. */
const MULTIPLEXER = /(?:^|[\s;&|(/])(?:tmux|screen|byobu(?:-tmux|-screen)?|tmate|zellij|dtach|abduco)(?=\s|$)/;
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
  /**
   * The characters typed on the line while every key was a plain one (no editing key, no
   * completion, no paste); undefined once one was not, or past `MAX_KEYED_LINE`.
   */
  keys: string | undefined;
  /** Every key typed on the line, pasted text included; undefined past `MAX_KEYED_LINE` or after a pasted line break. */
  raw: string | undefined;
  /** Output parsed when the line's first key was typed: the same at its Enter means nothing was echoed. */
  readonly outputMark: number;
}

/** Plain keystrokes kept per line, to read a line typed ahead to a shell without readline. */
const MAX_KEYED_LINE = 4096;

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
  /** A line typed ahead: its plain keystrokes, if it had only such (see `TypedLine.keys`). */
  readonly keys: string | undefined;
  /** Every key typed on the line, when nothing was printed between its first key and its Enter (echo may be off). */
  readonly unechoed: string | undefined;
  /** A line typed while a command ran: what its keys make of it (readline's editing applied), when they tell. */
  readonly rebuilt: string | undefined;
  /** Without bracketed paste: line feeds readline sends to reach the line's last row, not accepting it. */
  movesDown: number;
}

/** A command line being edited in the editor the shell opened: it runs when the editor closes. */
interface Editing {
  readonly time: Date;
  readonly offsetSeconds: number;
  /** What was typed to open the editor, when it was a command (`fc`); the shell's history keeps the edited command instead. */
  readonly typed: string | undefined;
  /** The editor's text as its screen last showed it: what the shell echoes before running it. */
  text: string | undefined;
}

/** A command being read over one or more lines, then running until the next prompt. */
interface Candidate {
  readonly pieces: string[];
  reading: boolean;
  commands: readonly string[];
  time: Date;
  offsetSeconds: number;
  exitStatus: number | null;
  /** A line of it was rebuilt from keystrokes: the terminal echoed nothing. */
  fromKeystrokes: boolean;
  /** Edited in an editor: the shell echoes this text before running it, which is no output. */
  readonly echo?: string;
  /** What was typed instead of the command (`fc`). */
  readonly typed?: string;
}

/** The line an Enter typed now would have the shell run, as far as the screen and the keys tell. */
export interface LineAtEnter {
  /**
   * `shell`: at a shell prompt; `program`: at a prompt no shell prompt looks like (a program's, or
   * an unrecognised shell's); `secret`: at a password prompt (the text is not given); `screen`:
   * in a full-screen program (the text is given only where a shell prompt shows, as in a
   * multiplexer's pane).
   */
  readonly where: 'shell' | 'program' | 'secret' | 'screen';
  /** The line, or undefined when neither the screen nor the keys tell it. */
  readonly text: string | undefined;
  /** Lines of the command the shell is still reading (PS2), before this one. */
  readonly before: readonly string[];
  /** Nothing was echoed: the text is rebuilt from the keys. */
  readonly fromKeystrokes: boolean;
  /**
   * The line as the keys typed on it make it (readline's editing applied), when they tell: checked
   * too where it differs from what the screen shows. At a password prompt, the only text given,
   * for a check in memory: never to be stored.
   */
  readonly keys?: string;
  /** What follows the shell prompt on the cursor's line: checked too, where it differs. */
  readonly shown?: string;
  /**
   * The screen shows what the keys would make of the line: its echo has caught up. False when
   * the echo lags or the keys cannot tell (completion, history): ask again once output is quiet.
   */
  readonly settled: boolean;
}

export interface LineReaderOptions {
  /** Called once per command, when its output is complete: at the next prompt, or at `end()`. */
  readonly onCommand: (command: CapturedCommand) => void;
  /** Cap of each command's `output`, in bytes of UTF-8. */
  readonly maxOutputBytes: number;
}

/**
 * Reads the commands of an interactive session off an emulated terminal's screen: the prompt at a
 * line's first keystroke, the line when the shell accepts it, the output until the next prompt
 * (see `CommandCapture` for how). Its caller writes the device's output to `terminal` in the
 * pieces `pieceEnd` cuts, calling `parsed` after each, and gives it the user's keystrokes with
 * `keys` once everything printed before them has been parsed.
 */
export class LineReader {
  /** Why the command list is not plain (capture-status.ts). */
  readonly notes = new CaptureNotes();
  private readonly onCommand: (command: CapturedCommand) => void;
  private readonly maxOutputBytes: number;
  /** The first error `onCommand` threw. */
  private firstCallbackError: unknown;
  private readonly textDecoder = new TerminalTextDecoder();
  private readonly sink: TerminalTextSink;
  private inputCarry = '';
  private inPaste = false;

  /** Counts output pieces parsed, to tell whether anything was printed between two keystrokes. */
  private outputMark = 0;
  private alternate = false;
  /**
   * Keys typed in the alternate screen since its last line-running key, and the output mark at the
   * first: a shell reading there (a multiplexer's pane, or one that switched the screen itself)
   * is checked by them while its echo has not come.
   */
  private alternateLine: { raw: string | undefined; readonly outputMark: number } | undefined;
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
  /** A command being edited in an editor the shell opened (Ctrl-X Ctrl-E, `fc`), to run when it closes. */
  private editing: Editing | undefined;
  /** A prompt not recognised as a shell's, and how many lines in a row began at it. */
  private repeatedPrompt: { readonly text: string; readonly count: number } | undefined;
  /** The last key typed, to see Ctrl-X Ctrl-E across chunks. */
  private lastKey = '';
  private shellPrompt: string | undefined;
  private shellPromptEnding: string | undefined;
  private continuationPrompt = '> ';
  private seq = 0;

  constructor(
    private readonly terminal: Terminal,
    options: LineReaderOptions,
  ) {
    this.onCommand = options.onCommand;
    this.maxOutputBytes = options.maxOutputBytes;
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
        if (active) this.editorOpened();
        else if (this.editing) this.editorClosed(this.editing);
        const running = this.candidate;
        // A multiplexer hosts its shells in the alternate screen, where nothing typed is read.
        if (active && running && !running.reading && running.commands.some((command) => MULTIPLEXER.test(command))) {
          this.notes.note('multiplexer', running.time, running.offsetSeconds);
        }
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


  /**
   * Whether the screen matters to nobody until the next keystroke, resize or end: no line typed,
   * no Enter waiting, not a full-screen program, the text kept of the running command complete
   * (both `PlainText`s full), no escape sequence open. Plain output may then wait outside the
   * emulator.
   */
  get readsNothing(): boolean {
    return (
      this.pending.length === 0 &&
      this.line === undefined &&
      !this.alternate &&
      this.sinceAccept.full &&
      (this.outputFrozen || this.commandOutput.full) &&
      this.textDecoder.idle
    );
  }

  /** Enters whose lines the shell has not accepted yet: at most `MAX_PENDING_ENTERS`. */
  get pendingEnters(): number {
    return this.pending.length;
  }

  /** Commands given to `onCommand` so far. */
  get commands(): number {
    return this.seq;
  }

  /** The first error `onCommand` threw, if it threw. */
  get callbackError(): unknown {
    return this.firstCallbackError;
  }

  /**
   * Where the next piece of `text` (from `from`) ends: while an Enter waits, after each line feed
   * and after each DECRST 2004, with "\r\n" in a piece of its own, so that the shell accepting the
   * line is seen and the cursor column before it (where readline's line ends) is known.
   */
  pieceEnd(text: string, from: number): number {
    let end = text.length;
    if (this.pending.length > 0) {
      const newline = text.indexOf('\n', from);
      const pasteOff = text.indexOf(PASTE_MODE_OFF, from);
      end = Math.min(newline === -1 ? end : newline + 1, pasteOff === -1 ? end : pasteOff + PASTE_MODE_OFF.length);
      if (end === newline + 1 && newline - 1 > from && text.charAt(newline - 1) === '\r') end = newline - 1;
    }
    return end;
  }

  /** The emulator has parsed `piece` of the device's output (pieces as `pieceEnd` cuts them). */
  parsed(piece: string): void {
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

  /** Keystrokes the user typed, once the emulator has parsed everything printed before them. */
  keys(data: string, time: Date, offsetSeconds: number): void {
    // The editor's screen before each key: the last one (`:wq`, `ZZ`) shows the text the shell will run.
    if (this.editing && this.alternate) this.editing.text = editorText(this.buffer(), this.terminal.rows, this.terminal.cols);
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
          if (this.line === undefined) this.startLine(time, offsetSeconds);
          if (this.line) this.line.keys = undefined;
          this.inPaste = marker === PASTE_START;
          k += PASTE_START.length - 1;
          continue;
        }
      }
      if (this.line === undefined) this.startLine(time, offsetSeconds);
      const ch = text.charAt(k);
      if (this.line === undefined && this.alternate) this.keyInAlternateScreen(ch);
      if (this.line?.raw !== undefined) this.line.raw = withKey(this.line.raw, ch, this.inPaste);
      if (this.inPaste) continue; // pasted text, even a newline, is text
      if (this.line && ch !== '\r' && ch !== '\n') {
        const plain = ch >= ' ' && ch !== '\x7f' && this.line.keys !== undefined && this.line.keys.length < MAX_KEYED_LINE;
        this.line.keys = plain ? this.line.keys + ch : undefined;
      }
      const afterCtrlX = this.lastKey === '\x18';
      this.lastKey = ch;
      if (ch === '\x05' && afterCtrlX && this.line?.kind === 'prompt') this.editing = { time, offsetSeconds, typed: undefined, text: undefined };
      if (ch === '\r' || ch === '\n' || ch === '\x0f') this.enter(time, offsetSeconds);
      else if (ch === '\x03') this.interrupt();
      // Ctrl-D on an empty line is the end of input (a nested shell exits and prints "exit"); on a typed line, readline deletes a character.
      else if (ch === '\x04' && this.line !== undefined && (this.line.kind !== 'prompt' || this.emptyAtPrompt(this.line))) this.dropLine();
      else if (ch === '\x0c' && this.line !== undefined) this.line.cleared = true;
    }
  }

  /** The first keystroke of a line: note its prompt; at a new shell prompt, finish the last command. */
  private startLine(time: Date, offsetSeconds: number): void {
    const buffer = this.buffer();
    if (buffer.type === 'alternate') return;
    const previous = this.lastEnter;
    if (previous && previous.outputMark === this.outputMark) {
      // Typed right after Enter, before any output: the shell will read it after the same prompt.
      this.line = { ...previous.line, marker: undefined, inherited: true, continuation: this.candidate?.reading === true, cleared: false, keys: '', raw: '', outputMark: this.outputMark };
      return;
    }
    const cursorRow = buffer.baseY + buffer.cursorY;
    const startRow = logicalStart(buffer, cursorRow);
    const prompt = textBeforeCursor(buffer, startRow, cursorRow, buffer.cursorX);
    const kind = this.classify(prompt);
    this.notePromptRepeats(kind, prompt, time, offsetSeconds);
    // Typed before the shell printed its PS2 prompt (or anything): still the command it reads.
    const continuation = kind === 'prompt' ? this.atPrompt(prompt) : this.candidate?.reading === true;
    const marker = kind === 'program' ? undefined : this.terminal.registerMarker(startRow - cursorRow);
    this.line = { kind, prompt, marker, inherited: false, continuation, cleared: false, keys: '', raw: '', outputMark: this.outputMark };
  }

  /**
   * A prompt no shell prompt looks like, typed at line after line (`PS1='x '`): lines typed there
   * may be commands the capture does not read. Three in a row say so; a program asking once
   * (`Name: `) or a pager does not.
   */
  private notePromptRepeats(kind: LineKind, prompt: string, time: Date, offsetSeconds: number): void {
    const text = prompt.trim();
    if (kind !== 'program' || text === '') {
      this.repeatedPrompt = undefined;
      return;
    }
    const repeats = this.repeatedPrompt?.text === text ? this.repeatedPrompt.count + 1 : 1;
    this.repeatedPrompt = { text, count: repeats };
    if (repeats >= UNRECOGNISED_PROMPT_REPEATS) this.notes.note('unrecognised_prompt', time, offsetSeconds);
  }

  private classify(prompt: string): LineKind {
    if (SECRET_PROMPT.test(prompt)) return 'secret';
    if (PROMPT_END.test(prompt) || (this.shellPromptEnding !== undefined && prompt.endsWith(this.shellPromptEnding))) return 'prompt';
    // The session's first line is typed at the shell's prompt, whatever it looks like.
    if (this.shellPrompt === undefined && this.candidate === undefined && this.seq === 0 && prompt.trim() !== '') return 'prompt';
    return 'program';
  }

  /**
   * The device went quiet with the cursor right after the shell's prompt and nothing typed yet:
   * the running command is done now, not at the user's next key, so that its board is pushed to
   * watchers (and its alerts raised) while the user thinks. Output that merely ends like the
   * prompt and pauses would end its command early; the next prompt's key then finds nothing to end.
   */
  settleAtPrompt(): void {
    if (!this.candidate || this.candidate.reading || this.editing || this.line !== undefined || this.pending.length > 0 || this.shellPrompt === undefined) return;
    const buffer = this.buffer();
    if (buffer.type === 'alternate') return;
    const cursorRow = buffer.baseY + buffer.cursorY;
    if (textBeforeCursor(buffer, logicalStart(buffer, cursorRow), cursorRow, buffer.cursorX) !== this.shellPrompt) return;
    if (!this.outputFrozen) this.commandOutput.removeFromCurrentLine(this.shellPrompt);
    this.complete();
  }

  /** A fresh prompt: either the shell asks for the rest of a command (PS2) or the last command is done. */
  private atPrompt(prompt: string): boolean {
    for (const enter of this.pending.splice(0)) enter.marker?.dispose();
    this.editing = undefined; // an editor that never opened (Ctrl-X Ctrl-E without one)
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
    this.alternateLine = undefined;
    if (this.buffer().type === 'alternate') {
      line?.marker?.dispose();
      // A shell's prompt inside a full-screen program: a multiplexer's pane (however it was started), or an editor's terminal.
      if (this.shellPromptInAlternateScreen()) this.notes.note('multiplexer', time, offsetSeconds);
      return;
    }
    if (line === undefined) return;
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
    const unechoed = kind === 'prompt' && line.outputMark === this.outputMark ? line.raw : undefined;
    const rebuilt = kind === 'maybe' && line.raw !== undefined ? rebuildFromKeys(line.raw) : undefined;
    this.pending.push({ kind, prompt, inherited: line.inherited, time, offsetSeconds, marker, lowestRowIsScreenTop: line.cleared, bracketed, movesDown, keys: line.inherited ? line.keys : undefined, unechoed, rebuilt });
    if (this.pending.length > MAX_PENDING_ENTERS) this.pending.shift()?.marker?.dispose();
  }

  /** The line an Enter typed now would run (see `LineAtEnter`): for a command policy, before the Enter goes to the device. */
  lineAtEnter(): LineAtEnter {
    const before = this.candidate?.reading ? [...this.candidate.pieces] : [];
    const buffer = this.buffer();
    if (buffer.type === 'alternate') return this.lineInAlternateScreen();
    const line = this.line;
    if (line === undefined) return this.untypedLine(before);
    const where = line.kind === 'prompt' ? 'shell' : line.kind;
    const keyed = line.raw === undefined ? undefined : rebuildFromKeys(line.raw);
    if (line.kind === 'secret') return { where, text: undefined, before, fromKeystrokes: false, settled: true, ...(keyed !== undefined && { keys: keyed }) };
    const shown = this.shownAfterPrompt(before);
    const also = { ...(keyed !== undefined && { keys: keyed }), ...(shown !== undefined && { shown }) };
    // Nothing printed since the line's first key: echo is off, or the echo has not come yet.
    if (line.outputMark === this.outputMark && line.raw !== undefined && line.raw !== '') {
      return { where, text: keyed, before, fromKeystrokes: true, settled: false, ...also };
    }
    if (line.marker === undefined || line.marker.isDisposed) {
      // Typed ahead, or at a program's prompt: only the keys tell.
      return { where, text: keyed, before, fromKeystrokes: false, settled: keyed !== undefined, ...also };
    }
    const fromPrompt = this.editedText(line.marker.line);
    const text = fromPrompt.startsWith(line.prompt) ? fromPrompt.slice(line.prompt.length) : undefined;
    return { where, text, before, fromKeystrokes: false, settled: text !== undefined && keyed !== undefined && text === keyed, ...also };
  }

  /** A key typed in the alternate screen, outside any line the capture follows. */
  private keyInAlternateScreen(ch: string): void {
    if (ch === '\r' || ch === '\n' || ch === '\x0f') return;
    const line = (this.alternateLine ??= { raw: '', outputMark: this.outputMark });
    if (line.raw !== undefined) line.raw = withKey(line.raw, ch, this.inPaste);
  }

  /**
   * The line an Enter in the alternate screen would run. A full-screen program's keys are its own
   * (`where: 'screen'`, no text). Where the session's shell prompt starts the cursor's line (a
   * wrapped line read from its first row), a shell reads there: the text after it is the line,
   * and while nothing has been printed since the line's first key (the echo has not come), the keys
   * are checked too, and the line is not settled, so that the check waits for the echo.
   */
  private lineInAlternateScreen(): LineAtEnter {
    const buffer = this.buffer();
    const prompt = this.shellPrompt?.trimEnd();
    const shown = this.editedText(logicalStart(buffer, buffer.baseY + buffer.cursorY)).trimStart();
    const text = prompt && shown.startsWith(prompt) ? shown.slice(prompt.length).trim() : undefined;
    if (text === undefined) return { where: 'screen', text, before: [], fromKeystrokes: false, settled: true };
    const typed = this.alternateLine;
    const keys = typed?.raw !== undefined && typed.raw !== '' ? rebuildFromKeys(typed.raw) : undefined;
    const unechoed = typed !== undefined && typed.outputMark === this.outputMark && typed.raw !== '';
    // Keys that cannot be replayed (a paste with line breaks, a line too long) and no echo: the line is unknown.
    if (unechoed && keys === undefined) return { where: 'shell', text: undefined, before: [], fromKeystrokes: false, settled: false };
    return { where: 'screen', text, before: [], fromKeystrokes: false, settled: !unechoed, ...(keys !== undefined && { keys }) };
  }

  /**
   * No key typed since the last line, as far as the capture knows: the line readline holds may
   * still not be empty (a line it kept when the capture thought it dropped, one Ctrl-O fetched
   * from history). What follows the shell's prompt on the screen is the line.
   */
  private untypedLine(before: readonly string[]): LineAtEnter {
    const where = this.candidate?.reading || this.shellPrompt !== undefined ? 'shell' : 'program';
    const shown = this.shownAfterPrompt(before);
    const text = this.shellPrompt === undefined ? '' : shown;
    return { where, text, before, fromKeystrokes: false, settled: text !== undefined, ...(shown !== undefined && { shown }) };
  }

  /** The text after the shell prompt (PS2 while a command is being read) on the cursor's line, if the prompt is there. */
  private shownAfterPrompt(before: readonly string[]): string | undefined {
    const prompt = (before.length > 0 ? this.continuationPrompt : this.shellPrompt)?.trimEnd();
    if (prompt === undefined || prompt === '') return undefined;
    const buffer = this.buffer();
    const shown = this.editedText(logicalStart(buffer, buffer.baseY + buffer.cursorY));
    // The first: the line itself may hold the prompt's text.
    const at = shown.indexOf(prompt);
    return at === -1 ? undefined : shown.slice(at + prompt.length).replace(/^ /, '');
  }

  /** A full-screen program started: `fc` opening its editor? (Ctrl-X Ctrl-E was seen at its keys.) */
  private editorOpened(): void {
    const running = this.candidate;
    if (this.editing || !running || running.reading || running.commands.length !== 1) return;
    const typed = running.commands[0] as string;
    if (!FC_EDITS.test(typed)) return;
    // The shell's history keeps the edited command in place of `fc`, and so does the capture.
    this.candidate = undefined;
    this.editing = { time: running.time, offsetSeconds: running.offsetSeconds, typed, text: undefined };
  }

  /** The editor closed: the shell echoes the text it saved, then runs it, until the next prompt. */
  private editorClosed(editing: Editing): void {
    this.editing = undefined;
    this.line = undefined;
    this.lastEnter = undefined;
    const text = editing.text ?? '';
    if (this.candidate && !this.candidate.reading) this.complete();
    this.candidate = undefined;
    const input = splitShellInput(text);
    const commands = input.incomplete === null ? input.commands : [text];
    this.commandOutput = new PlainText(this.maxOutputBytes);
    this.sinceAccept = new PlainText(SINCE_ACCEPT_BYTES);
    this.outputFrozen = false;
    if (commands.length === 0 && editing.typed === undefined) return; // nothing saved: the shell runs nothing
    this.candidate = {
      pieces: [text],
      reading: false,
      commands,
      time: editing.time,
      offsetSeconds: editing.offsetSeconds,
      exitStatus: null,
      fromKeystrokes: false,
      echo: text,
      ...(editing.typed !== undefined && { typed: editing.typed }),
    };
  }

  /** The row under the cursor in the alternate screen starts with the session's shell prompt, and something is typed after it. */
  private shellPromptInAlternateScreen(): boolean {
    const prompt = this.shellPrompt?.trimEnd();
    if (prompt === undefined || prompt === '') return false;
    const buffer = this.buffer();
    const cursorRow = buffer.baseY + buffer.cursorY;
    const before = textBeforeCursor(buffer, logicalStart(buffer, cursorRow), cursorRow, buffer.cursorX).trimStart();
    return before.startsWith(prompt) && before.slice(prompt.length).trim() !== '';
  }

  /** The line being edited, from row `from` to its last row (on the cursor's row, to the cursor if further). */
  private editedText(from: number): string {
    const buffer = this.buffer();
    const cursorRow = buffer.baseY + buffer.cursorY;
    const last = cursorRow + this.rowsBelowCursorInLine();
    return acceptedText(buffer, from, last, last === cursorRow ? buffer.cursorX : 0);
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

  /** Nothing is typed on the line at its shell prompt: the cursor stands right after the prompt, and nothing follows it. */
  private emptyAtPrompt(line: TypedLine): boolean {
    const buffer = this.buffer();
    if (buffer.type === 'alternate' || line.inherited) return false;
    const cursorRow = buffer.baseY + buffer.cursorY;
    const before = textBeforeCursor(buffer, logicalStart(buffer, cursorRow), cursorRow, buffer.cursorX);
    const after = buffer.getLine(cursorRow)?.translateToString(true, buffer.cursorX) ?? '';
    return before === line.prompt && after === '';
  }

  /** Ends the line being typed without an Enter (Ctrl-C; Ctrl-D at a program's prompt or on an empty line). */
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
    const from = Math.max(lowRow, endRow - MAX_LINE_ROWS);
    // A line typed while a command ran that printed no line end: the terminal echoed the start of
    // it, the shell's prompt came on the same row, and readline showed that start again after it
    // (`echo ahcg$ echo ahead`).
    const promptRow = findPromptRow(buffer, prompt, from, endRow);
    const found = promptRow !== undefined ? { row: promptRow, echoed: 0 } : enter.rebuilt ? findPromptAfterEcho(buffer, prompt, enter.rebuilt, from, endRow) : undefined;
    if (found === undefined) return;
    const { row, echoed } = found;
    this.pending.shift();
    enter.marker?.dispose();
    this.lastAccept?.dispose();
    this.lastAccept = this.terminal.registerMarker(0);
    const lineEnd = this.lineEnd && this.lineEnd.outputMark >= this.outputMark - 1 ? this.lineEnd.column : 0;
    const rows = acceptedText(buffer, row, endRow, lineEnd);
    const beforePrompt = rows.slice(0, echoed);
    const shown = rows.slice(echoed + prompt.length);
    if (enter.kind === 'secret') {
      if (shown.trim() !== '') {
        this.commandOutput.redactLastLine(prompt);
        this.sinceAccept.redactLastLine(prompt);
      }
      return;
    }
    // Nothing echoed and nothing shown (`stty -echo`; readline then echoes nothing either): the line is in the keys alone.
    if (enter.kind === 'prompt' && shown.trim() === '' && enter.unechoed !== undefined && enter.unechoed !== '') {
      const rebuilt = rebuildFromKeys(enter.unechoed);
      if (rebuilt === undefined) {
        this.notes.note('echo_off', enter.time, enter.offsetSeconds);
      } else if (rebuilt.trim() !== '') {
        this.notes.note('keystrokes', enter.time, enter.offsetSeconds);
        this.accept(rebuilt, enter, prompt, true);
        return;
      }
    }
    // A shell without readline (dash, sh) does not show a line typed ahead after its prompt: the
    // terminal echoed it as it was typed, and what follows the prompt is the command's output.
    // Typed with plain keys only, the line is exactly its keystrokes.
    const unshown = enter.keys !== undefined && enter.keys.trim() !== '' && shown !== enter.keys && !shown.includes('\n');
    // Its echo is not the running command's output.
    if (unshown && !this.outputFrozen) this.commandOutput.removeLine(enter.keys as string);
    this.accept(unshown ? (enter.keys as string) : shown, enter, prompt, false, beforePrompt);
    if (unshown && shown !== '') {
      for (const ch of shown) this.commandOutput.print(ch);
      this.commandOutput.control('\n');
    }
  }

  /**
   * `beforePrompt`: what the row showed before the prompt of a line typed ahead (the terminal's
   * echo of its start, after whatever the command printed last), which the command's output keeps.
   */
  private accept(typed: string, enter: PendingEnter, prompt: string, fromKeystrokes = false, beforePrompt = ''): void {
    let candidate = this.candidate;
    if (candidate?.reading) {
      candidate.pieces.push(typed);
    } else {
      if (candidate) {
        // Typed ahead: the running command's output ends where this line's prompt begins.
        if (!this.outputFrozen) this.commandOutput.cutAtLineStartingWith(beforePrompt + prompt, beforePrompt.length);
        this.complete();
      }
      candidate = { pieces: [typed], reading: true, commands: [], time: enter.time, offsetSeconds: enter.offsetSeconds, exitStatus: null, fromKeystrokes: false };
      this.candidate = candidate;
    }
    candidate.fromKeystrokes ||= fromKeystrokes;
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
    // Without echo, the line break that ends the typed line comes after the shell accepted it: not output.
    let output = candidate.fromKeystrokes ? this.commandOutput.text.replace(/^\n/, '') : this.commandOutput.text;
    const truncated = this.commandOutput.truncated;
    if (candidate.echo !== undefined) {
      // Edited in an editor: the shell echoed what it ran. Unless the editor's screen showed just that, the command is not known.
      if (!output.startsWith(`${candidate.echo}\n`) || texts.length === 0) {
        if (output.trim() !== '' || candidate.typed !== undefined) this.notes.note('editor', candidate.time, candidate.offsetSeconds);
        this.commandOutput = new PlainText(this.maxOutputBytes);
        return;
      }
      output = output.slice(candidate.echo.length + 1);
    }
    texts.forEach((typed, k) => {
      const last = k === texts.length - 1;
      // Bash prints the line a history expansion made before running it: that is the command.
      const expanded = texts.length === 1 ? expandedCommand(typed, output) : undefined;
      const text = expanded?.text ?? typed;
      const command: CapturedCommand = {
        seq: ++this.seq,
        time: candidate.time,
        offsetSeconds: candidate.offsetSeconds,
        text,
        ...(expanded && { typed }),
        ...(candidate.typed !== undefined && { typed: candidate.typed }),
        ...(candidate.fromKeystrokes && { fromKeystrokes: true }),
        output: last ? (expanded?.output ?? output) : '',
        outputTruncated: last && truncated,
        // A line that is only a comment runs nothing: the status the shell reports after it is the previous command's.
        exitStatus: last && !isOnlyComment(text) ? candidate.exitStatus : null,
      };
      try {
        this.onCommand(command);
      } catch (error) {
        this.firstCallbackError ??= error;
      }
    });
    this.commandOutput = new PlainText(this.maxOutputBytes);
  }

  /** The session ended: the running command is complete, a command still being read is dropped. */
  end(): void {
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

/** `fc` opening an editor on a history entry; not `fc -l` (a listing) nor `fc -s` (runs it again at once). */
const FC_EDITS = /^\s*fc(?:\s+(?!-[a-zA-Z]*[lLsS])\S.*)?\s*$/;

/**
 * The text an editor shows, as vi shows it: the screen's rows above its status line, down to the
 * first `~` (vi marks the rows past the end of the file so), a full row continuing on the next;
 * trailing blanks and empty rows dropped.
 */
function editorText(buffer: IBuffer, rows: number, cols: number): string {
  const lines: string[] = [];
  let continues = false;
  for (let y = 0; y < rows - 1; y++) {
    const line = buffer.getLine(buffer.baseY + y);
    const full = line?.translateToString(false) ?? '';
    const trimmed = full.trimEnd();
    if (/^~$/.test(trimmed) && !continues) break;
    if (continues) lines[lines.length - 1] += trimmed;
    else lines.push(trimmed);
    continues = full.length >= cols && full.charAt(cols - 1) !== ' ';
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n');
}

/** A line's keys with `ch` typed too (Enter is no key of the line); undefined once too long, or after a pasted line break. */
function withKey(raw: string, ch: string, pasted: boolean): string | undefined {
  const lineBreak = ch === '\r' || ch === '\n';
  if (lineBreak) return pasted ? undefined : raw;
  return raw.length < MAX_KEYED_LINE ? raw + ch : undefined;
}

/** A line the shell reads as a comment alone (`# step 2 done`). */
function isOnlyComment(text: string): boolean {
  return text.trimStart().startsWith('#');
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

/** How many places of a prompt on one line are tried as where a line typed ahead met it. */
const MAX_PROMPTS_AFTER_ECHO = 8;

/**
 * Where the line ending at row `to` reads `<echo><prompt><rest>`: `echo` ends with a start of the
 * line `typed` (the terminal's echo of it while a command ran) and `rest` starts with that same
 * text again (readline showing it after the prompt). Gives its first row and how many characters
 * come before the prompt. A prompt the user typed (`PS1='cg$ '` at a prompt the capture does not
 * know) is not followed by what came before it, so it is not taken for one.
 */
function findPromptAfterEcho(buffer: IBuffer, prompt: string, typed: string, from: number, to: number): { row: number; echoed: number } | undefined {
  const row = logicalStart(buffer, to);
  if (row < from || prompt.trim() === '' || typed === '') return undefined;
  const text = acceptedText(buffer, row, to, 0);
  const table = prefixTable(typed);
  let at = text.indexOf(prompt, 1);
  for (let tries = 0; at > 0 && tries < MAX_PROMPTS_AFTER_ECHO; tries++, at = text.indexOf(prompt, at + 1)) {
    const echo = typed.slice(0, overlap(text.slice(0, at), typed, table));
    if (echo !== '' && text.startsWith(echo, at + prompt.length)) return { row, echoed: at };
  }
  return undefined;
}

/** For each start of `line`, the length of its longest proper end that is also a start of `line` (KMP's prefix function). */
function prefixTable(line: string): number[] {
  const table = new Array<number>(line.length).fill(0);
  for (let i = 1, k = 0; i < line.length; i++) {
    while (k > 0 && line[i] !== line[k]) k = table[k - 1] as number;
    if (line[i] === line[k]) k++;
    table[i] = k;
  }
  return table;
}

/** The length of the longest end of `text` that `line` starts with, in linear time (`table`: `prefixTable(line)`). */
function overlap(text: string, line: string, table: readonly number[]): number {
  let matched = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    while (matched > 0 && (matched === line.length || ch !== line[matched])) matched = table[matched - 1] as number;
    if (ch === line[matched]) matched++;
  }
  return matched;
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
