import type { SessionKind } from './session.ts';
import type { ClientSide } from './session-runner.ts';

/** The longest answer a prompt keeps (a justification, an account, a code). */
const MAX_ANSWER = 2000;
/**
 * How much typing ahead of a session's start is kept for it (and the chunk that crosses it). At
 * the bound the user's input is paused until the device is connected; what a client sends anyway
 * is dropped.
 */
export const MAX_TYPED_AHEAD = 64 * 1024;
/**
 * The largest terminal a session gets. The capture's emulator holds every cell of the screen and
 * its scrollback (12 bytes each): 1000 × 500 costs about 12 MB, 20000 × 20000 about 5 GB.
 */
export const MAX_COLS = 1000;
export const MAX_ROWS = 500;

/** A terminal size the user asked for, within 1 × 1 and `MAX_COLS` × `MAX_ROWS`. */
export function clampTerminalSize(cols: number, rows: number): { cols: number; rows: number } {
  const clamp = (value: number, max: number) => (Number.isFinite(value) ? Math.min(max, Math.max(1, Math.floor(value))) : 1);
  return { cols: clamp(cols, MAX_COLS), rows: clamp(rows, MAX_ROWS) };
}

export interface TerminalClientInit {
  readonly kind: SessionKind;
  readonly interactive: boolean;
  readonly term: string;
  readonly cols: number;
  readonly rows: number;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  readonly notices?: readonly string[];
  readonly command?: string;
}

/**
 * What the SSH channel and the web terminal share as the user's end of a session. Before the device
 * is connected it asks questions with a small line editor (the user's terminal is in raw mode, so
 * the gateway echoes); afterwards it relays bytes as they come, keeping what was typed ahead.
 * Subclasses feed `received`, `resized`, `signalled`, `ended` and `gone`, and implement the sending.
 */
export abstract class TerminalClient implements ClientSide {
  readonly kind: SessionKind;
  readonly interactive: boolean;
  readonly term: string;
  cols: number;
  rows: number;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  readonly notices: readonly string[];
  readonly command?: string;
  closed = false;
  private inputListener: ((data: Buffer) => void) | undefined;
  private typedAhead: Buffer[] = [];
  private typedAheadBytes = 0;
  /** The input is paused because the typed-ahead buffer is full. */
  private typedAheadFull = false;
  private pendingAsk: ((data: Buffer) => void) | undefined;
  private readonly resizeListeners: Array<(cols: number, rows: number) => void> = [];
  private readonly signalListeners: Array<(signal: string) => void> = [];
  private readonly eofListeners: Array<() => void> = [];
  private readonly closeListeners: Array<() => void> = [];

  constructor(init: TerminalClientInit) {
    this.kind = init.kind;
    this.interactive = init.interactive;
    this.term = init.term;
    // Whatever the client asked for, the device, the recording and the capture see this size.
    const size = clampTerminalSize(init.cols, init.rows);
    this.cols = size.cols;
    this.rows = size.rows;
    this.sourceIp = init.sourceIp;
    this.sourcePort = init.sourcePort;
    this.notices = init.notices ?? [];
    if (init.command !== undefined) this.command = init.command;
  }

  abstract write(data: Buffer | string): void;
  abstract writeError(data: Buffer | string): void;
  abstract backlogged(): Promise<void> | undefined;
  abstract pauseInput(): void;
  abstract resumeInput(): void;
  protected abstract end(status: number | null, signal?: string): void;

  ask(question: string, options: { echo: boolean; anyKey?: boolean; signal?: AbortSignal }): Promise<string | undefined> {
    if (this.closed || options.signal?.aborted) return Promise.resolve(undefined);
    if (question) this.write(question);
    // The answer must get through, even behind a full typed-ahead buffer.
    this.releaseTypedAhead();
    return new Promise((resolve) => {
      let answer = '';
      const withdraw = () => done(undefined);
      const done = (value: string | undefined) => {
        if (this.pendingAsk === reader) this.pendingAsk = undefined;
        options.signal?.removeEventListener('abort', withdraw);
        resolve(value);
      };
      options.signal?.addEventListener('abort', withdraw, { once: true });
      const reader = (data: Buffer) => {
        if (options.anyKey) return done('');
        for (const char of data.toString('utf8')) {
          if (char === '\r' || char === '\n') {
            this.write('\r\n');
            return done(answer);
          }
          if (char === '\u0003' || char === '\u0004') {
            this.write('\r\n');
            return done(undefined);
          }
          if (char === '\u007f' || char === '\b') {
            if (answer.length > 0) {
              answer = answer.slice(0, -1);
              if (options.echo) this.write('\b \b');
            }
          } else if (char >= ' ' && answer.length < MAX_ANSWER) {
            // A prompt's answer is a choice, a justification or a code: past the bound, typing is ignored.
            answer += char;
            if (options.echo) this.write(char);
          }
        }
      };
      this.pendingAsk = reader;
    });
  }

  onInput(listener: (data: Buffer) => void): void {
    this.inputListener = listener;
    const ahead = this.typedAhead;
    this.typedAhead = [];
    this.typedAheadBytes = 0;
    for (const data of ahead) listener(data);
    this.releaseTypedAhead();
  }

  private releaseTypedAhead(): void {
    if (!this.typedAheadFull) return;
    this.typedAheadFull = false;
    this.resumeInput();
  }

  onResize(listener: (cols: number, rows: number) => void): void {
    this.resizeListeners.push(listener);
  }

  onSignal(listener: (signal: string) => void): void {
    this.signalListeners.push(listener);
  }

  onEof(listener: () => void): void {
    this.eofListeners.push(listener);
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  exit(status: number | null, signal?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.end(status, signal);
  }

  /** The user typed something. */
  protected received(data: Buffer): void {
    if (this.pendingAsk) this.pendingAsk(data);
    else if (this.inputListener) this.inputListener(data);
    else {
      // Sent before the session opened (typing, or an exec's piped input), kept for it up to the
      // bound; then the user's side waits, and what a client sends regardless is dropped, not held.
      if (this.typedAheadBytes < MAX_TYPED_AHEAD) {
        this.typedAhead.push(data);
        this.typedAheadBytes += data.length;
      }
      if (this.typedAheadBytes >= MAX_TYPED_AHEAD && !this.typedAheadFull) {
        this.typedAheadFull = true;
        this.pauseInput();
      }
    }
  }

  protected resized(cols: number, rows: number): void {
    const size = clampTerminalSize(cols, rows);
    this.cols = size.cols;
    this.rows = size.rows;
    this.resizeListeners.forEach((listener) => listener(size.cols, size.rows));
  }

  protected signalled(name: string): void {
    this.signalListeners.forEach((listener) => listener(name));
  }

  /** The user's input ended (EOF), the connection may stay for output. */
  protected ended(): void {
    this.eofListeners.forEach((listener) => listener());
  }

  /** The user's side is gone. */
  protected gone(): void {
    if (this.closeListeners.length === 0 && this.closed) return;
    this.closed = true;
    this.pendingAsk?.(Buffer.from([4]));
    this.closeListeners.forEach((listener) => listener());
  }
}
