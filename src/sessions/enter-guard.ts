/**
 * Stands between the user's keystrokes and the device when a command policy applies to a
 * session: every key goes through at once except the keys that make a shell run a line (Enter,
 * Ctrl-J, and readline's Ctrl-O). Such a key is held while the line is checked; it reaches the
 * device only if the line is allowed. A denied line is abandoned on the device with Ctrl-C (which
 * also drops the lines of an unfinished multi-line command) and the user is told why. A line held
 * for review waits for the decision; meanwhile nothing typed reaches the device (it is kept, up to
 * `MAX_HELD_BYTES`, and goes through the same checks once the line is decided), and Ctrl-C gives
 * the line up. A paste is text: a line break inside bracketed paste runs nothing.
 */

/** What the policy says of the line the held key would run. */
export type Verdict =
  | { readonly action: 'allow' }
  | { readonly action: 'deny'; readonly message: string }
  | {
      readonly action: 'review';
      /** What the user is told while the line waits: who was asked. */
      readonly message: string;
      /** The approver's answer, or the wait's end: `deny` with why. */
      readonly decision: Promise<{ readonly allowed: true } | { readonly allowed: false; readonly message: string }>;
      /** The user gave the line up (Ctrl-C): the review is withdrawn. */
      cancel(): void;
    };

export interface EnterGuardDeps {
  /** Bytes for the device (and, in the same order, the command capture). */
  forward(data: string): void;
  /** A notice in the user's terminal, on a line of its own (the relay adds "Changegate: "). */
  tell(message: string): void;
  /** Checks the line the shell would run now, once the capture has read it. */
  check(): Promise<Verdict>;
  /** A check failed (a bug, the database): the line is refused, and this says why. */
  onError?(error: unknown): void;
  /**
   * Whether the device's shell has bracketed paste on (it printed DECSET 2004 last, not DECRST):
   * only then is a line break between paste markers text. A client may send the markers anyway;
   * a shell not expecting them runs the line at the break.
   */
  bracketedPaste(): boolean;
}

/** Keys that make readline run the line: Enter (CR), Ctrl-J (LF), Ctrl-O (operate-and-get-next). */
const RUNS_LINE = new Set(['\r', '\n', '\x0f']);
const CTRL_C = '\x03';
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';
/** Keys kept while a line is held; beyond, further keys are dropped (and the user told once). */
export const MAX_HELD_BYTES = 64 * 1024;

export class EnterGuard {
  private inPaste = false;
  /** Set while a line is being checked or reviewed: keys typed meanwhile. */
  private held: string[] | undefined;
  private heldBytes = 0;
  private toldFull = false;
  private cancelReview: (() => void) | undefined;
  private cancelled = false;
  private closed = false;

  constructor(private readonly deps: EnterGuardDeps) {}

  /** True while a line waits for its check or an approver: keys are not reaching the device. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Keys from the user. */
  input(data: string): void {
    if (this.closed) return;
    if (this.held !== undefined) return this.keep(data);
    for (let k = 0; k < data.length; k++) {
      if ((data.startsWith(PASTE_START, k) || data.startsWith(PASTE_END, k)) && this.deps.bracketedPaste()) {
        this.inPaste = data.startsWith(PASTE_START, k);
        k += PASTE_START.length - 1;
        continue;
      }
      const ch = data.charAt(k);
      if (this.inPaste || !RUNS_LINE.has(ch)) continue;
      if (k > 0) this.deps.forward(data.slice(0, k));
      this.held = [];
      this.heldBytes = 0;
      this.toldFull = false;
      void this.decide(ch, data.slice(k + 1));
      return;
    }
    if (data !== '') this.deps.forward(data);
  }

  /** The session ends: nothing more is forwarded, a review waiting is withdrawn. */
  close(): void {
    this.closed = true;
    this.cancelReview?.();
    this.cancelReview = undefined;
  }

  private keep(data: string): void {
    if (data.includes(CTRL_C)) {
      // The user gives the line up: it never runs, and what they typed meanwhile goes too.
      this.cancelled = true;
      this.cancelReview?.();
      this.cancelReview = undefined;
      return;
    }
    if (this.heldBytes + data.length > MAX_HELD_BYTES) {
      if (!this.toldFull) this.deps.tell('keys typed while the line waits are not kept beyond 64 KiB.');
      this.toldFull = true;
      return;
    }
    this.held?.push(data);
    this.heldBytes += data.length;
  }

  private async decide(key: string, rest: string): Promise<void> {
    this.cancelled = false;
    let allowed: boolean;
    try {
      const verdict = await this.deps.check();
      if (this.cancelled) {
        if (verdict.action === 'review') verdict.cancel();
        this.deps.tell('the line was given up; it did not run.');
        allowed = false;
      } else if (verdict.action === 'allow') {
        allowed = true;
      } else if (verdict.action === 'deny') {
        this.deps.tell(verdict.message);
        allowed = false;
      } else {
        this.cancelReview = () => verdict.cancel();
        this.deps.tell(verdict.message);
        const decision = await verdict.decision;
        this.cancelReview = undefined;
        if (this.cancelled) {
          this.deps.tell('the line was given up; it did not run.');
          allowed = false;
        } else if (decision.allowed) {
          this.deps.tell('an approver allowed the line; it runs now.');
          allowed = true;
        } else {
          this.deps.tell(decision.message);
          allowed = false;
        }
      }
    } catch (error) {
      this.deps.onError?.(error);
      this.deps.tell('the line could not be checked, so it did not run.');
      allowed = false;
    }
    if (this.closed) return;
    const kept = this.cancelled ? [] : (this.held ?? []);
    this.held = undefined;
    this.cancelReview = undefined;
    this.deps.forward(allowed ? key : CTRL_C);
    // What followed the key, and what was typed while it was held, go through the same checks.
    const next = rest + kept.join('');
    if (next !== '') this.input(next);
  }
}
