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
  /** `message`, when given, is told to the user as the line runs (a warning, echo off). */
  | { readonly action: 'allow'; readonly message?: string }
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
  /** Checks the line the shell would run now, once the capture has read it; `key` is what would run it. */
  check(key: string): Promise<Verdict>;
  /** A check failed (a bug, the database): the line is refused, and this says why. */
  onError?(error: unknown): void;
}

/** Keys that make readline run the line alone: Enter (CR), Ctrl-J (LF), Ctrl-O (operate-and-get-next). */
const RUNS_LINE = new Set(['\r', '\n', '\x0f']);
/** Alt-#: insert-comment, which runs the line (with a numeric argument, uncommented). */
export const COMMENT_AND_RUN = '\x1b#';
/** How long after an Escape readline still reads the next key as its Alt- key (its keyseq-timeout, with margin). */
const META_MS = 1000;
const CTRL_C = '\x03';
/** Keys kept while a line is held; beyond, further keys are dropped (and the user told once). */
export const MAX_HELD_BYTES = 64 * 1024;

/** Ctrl-X Ctrl-E: the line is edited in an editor, then run as saved; no one sees what runs. */
export const EDIT_AND_RUN = '\x18\x05';

export class EnterGuard {
  /** Set while a line is being checked or reviewed: keys typed meanwhile. */
  private held: string[] | undefined;
  private heldBytes = 0;
  private toldFull = false;
  private cancelReview: (() => void) | undefined;
  private cancelled = false;
  private closed = false;
  /** The last key forwarded, and when: Ctrl-X and Escape start keys that run the line. */
  private previous = '';
  private previousAt = 0;

  constructor(private readonly deps: EnterGuardDeps) {}

  /** True while a line waits for its check or an approver: keys are not reaching the device. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Keys from the user. */
  input(data: string): void {
    if (this.closed) return;
    if (this.held !== undefined) return this.keep(data);
    // A line break inside pasted text is checked too: with bracketed paste bash inserts it (and the
    // check costs a wait), without it the shell runs the line there, and a client may send the
    // markers to a shell that does not read them.
    for (let k = 0; k < data.length; k++) {
      const ch = data.charAt(k);
      const before = k > 0 ? data.charAt(k - 1) : this.previous;
      const recently = k > 0 || performance.now() - this.previousAt < META_MS;
      // Ctrl-X waits for its next key however long; an Escape makes the next key an Alt- key for a moment.
      const key = RUNS_LINE.has(ch) ? ch : ch === '\x05' && before === '\x18' ? EDIT_AND_RUN : ch === '#' && before === '\x1b' && recently ? COMMENT_AND_RUN : undefined;
      if (key === undefined) continue;
      if (k > 0) this.forwardKeys(data.slice(0, k));
      this.held = [];
      this.heldBytes = 0;
      this.toldFull = false;
      void this.decide(ch, key, data.slice(k + 1));
      return;
    }
    if (data !== '') this.forwardKeys(data);
  }

  private forwardKeys(data: string): void {
    this.previous = data.charAt(data.length - 1);
    this.previousAt = performance.now();
    this.deps.forward(data);
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

  /** `sent` is the held key as it goes to the device; `key` names what it does (`EDIT_AND_RUN`…) for the check. */
  private async decide(sent: string, key: string, rest: string): Promise<void> {
    this.cancelled = false;
    let allowed: boolean;
    try {
      const verdict = await this.deps.check(key);
      if (this.cancelled) {
        if (verdict.action === 'review') verdict.cancel();
        this.deps.tell('the line was given up; it did not run.');
        allowed = false;
      } else if (verdict.action === 'allow') {
        if (verdict.message) this.deps.tell(verdict.message);
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
    this.previous = '';
    this.deps.forward(allowed ? sent : CTRL_C);
    // What followed the key, and what was typed while it was held, go through the same checks.
    const next = rest + kept.join('');
    if (next !== '') this.input(next);
  }
}
