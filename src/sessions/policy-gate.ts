import type { LineAtEnter } from './line-reader.ts';
import { splitShellInput } from './shell-line.ts';
import { COMMENT_AND_RUN, EDIT_AND_RUN, type Verdict } from './enter-guard.ts';

/** What a command policy says of a line (see src/policies/): the strongest rule that matched, and why. */
export interface LineEvaluation {
  readonly decision: 'allow' | 'deny' | 'review' | 'warn';
  /** Why, in words for the user and the log: the rules that matched, or why the line is uncertain. */
  readonly reasons: readonly string[];
}

/** A line checked at Enter, and what was decided: each is an event-log entry and a row on the board. */
export interface GateDecision {
  readonly line: string | null;
  readonly where: LineAtEnter['where'];
  readonly fromKeystrokes: boolean;
  readonly decision: LineEvaluation['decision'];
  readonly reasons: readonly string[];
}

export interface PolicyGateDeps {
  /** The line an Enter typed now would run, read in order with the session's output and keys. */
  lineAtEnter(): Promise<LineAtEnter>;
  /** Resolves once the device printed nothing for `ms`, or after `maxMs` at most. */
  quiet(ms: number, maxMs: number): Promise<void>;
  /** The policy's answer for a whole command line (lines of a multi-line command joined by `\n`). */
  evaluate(line: string): LineEvaluation;
  /** Holds a line for an approver, recording the decision itself; without it, a line the policy holds is refused. */
  review?(decision: GateDecision): Verdict | Promise<Verdict>;
  /** Every decision but a plain allow: logged, shown on the board, alerted where it must be. */
  record(decision: GateDecision): void;
  /** A line let through (at once, or once an approver allowed it): strict mode counts it as run until the capture reads it back. */
  ran?(line: string): void;
}

const RANK: Record<LineEvaluation['decision'], number> = { allow: 0, warn: 1, review: 2, deny: 3 };

/** How long the device may stay silent before an unsettled line is read as it stands. */
export const ECHO_QUIET_MS = 30;
/** The longest a line waits for its echo before it is read as it stands. */
export const ECHO_WAIT_MS = 500;

/**
 * The check an `EnterGuard` runs at each Enter of a session under a command policy: reads the line
 * the Enter would run (waiting, when its echo lags or the keys cannot tell, until the device is
 * quiet), and asks the policy. What the screen cannot tell is not let through: a line at a shell
 * prompt whose text is unknown (echo off with completion or history keys) is held for review, or
 * refused where no one can review. Lines typed at a password prompt are not checked (their text is
 * never read), nor lines typed inside a full-screen program except at a shell prompt shown there
 * (a multiplexer's pane).
 */
export class PolicyGate {
  /** The user was told, at the first line rebuilt from keys, that echo is off. */
  private toldEchoOff = false;

  constructor(private readonly deps: PolicyGateDeps) {}

  /** `key` is what would run the line: Enter, or `EDIT_AND_RUN` / `COMMENT_AND_RUN` (enter-guard.ts). */
  async check(key = '\r'): Promise<Verdict> {
    let line = await this.deps.lineAtEnter();
    if (!line.settled) {
      await this.deps.quiet(ECHO_QUIET_MS, ECHO_WAIT_MS);
      const again = await this.deps.lineAtEnter();
      // Still nothing printed since the line's first key: echo is off, and the keys are all there is.
      line = again.fromKeystrokes || again.text !== undefined ? again : line;
    }
    if (key === EDIT_AND_RUN) {
      return this.decide(line, line.text ?? null, { decision: 'review', reasons: ['the line is to be edited in an editor and run as saved, which cannot be checked'] });
    }
    if (line.where === 'screen' && line.text === undefined) return { action: 'allow' };
    if (line.where === 'secret') return this.secret(line);
    if (line.text === undefined) {
      return this.decide(line, null, {
        decision: 'review',
        reasons: [line.fromKeystrokes ? 'echo is off and the keys typed do not tell the line (completion or history)' : 'the screen does not show the line'],
      });
    }
    // What the screen shows, and what the keys typed make of it when they tell and differ (output
    // may have been drawn over the line): each is checked, the stronger answer wins.
    const texts = [...new Set([line.text, line.keys, line.shown].filter((text): text is string => text !== undefined))];
    // Alt-# runs the line uncommented when given an argument.
    if (key === COMMENT_AND_RUN) texts.push(...texts.map((text) => text.replace(/^\s*#+\s?/, '')));
    const wholes = texts.map((text) => [...line.before, text].join('\n'));
    const whole = wholes[0] as string;
    if (wholes.every((text) => text.trim() === '') && line.before.length === 0) return { action: 'allow' };
    // An unfinished command (an open quote, `do` without `done`) runs nothing yet: the shell reads
    // on, and the whole command is checked at the Enter that completes it. A line of it that alone
    // is denied (`touch …` inside a loop) is refused at once, so it never reaches the shell's history.
    if (key === '\r' && line.where === 'shell' && wholes.every((text) => splitShellInput(text).incomplete !== null)) {
      const denied = texts.map((text) => this.deps.evaluate(text)).find((evaluation) => evaluation.decision === 'deny');
      return denied ? this.decide(line, whole, denied) : { action: 'allow' };
    }
    const evaluations = wholes.map((text) => this.deps.evaluate(text));
    const strongest = evaluations.reduce((a, b) => (RANK[b.decision] > RANK[a.decision] ? b : a));
    return this.decide(line, whole, strongest);
  }

  /**
   * A line typed at a password prompt: its text is never stored nor logged. A prompt can be made
   * to look like a password's (`printf -v PS1 'Password: '`), so the keys are still checked in
   * memory; a match is refused without saying what was typed.
   */
  private secret(line: LineAtEnter): Verdict {
    if (line.keys === undefined || line.keys.trim() === '') return { action: 'allow' };
    const evaluation = this.deps.evaluate(line.keys);
    if (evaluation.decision !== 'deny' && evaluation.decision !== 'review') return { action: 'allow' };
    this.deps.record({ line: null, where: 'secret', fromKeystrokes: true, decision: 'deny', reasons: ['a line typed at a password prompt matched the policy'] });
    return { action: 'deny', message: 'this line, typed at a password prompt, matches the command policy and may not run.' };
  }

  /** A held line counts as run once an approver allows it. */
  private ranOnceAllowed(text: string | null, verdict: Verdict): Verdict {
    if (verdict.action !== 'review' || text === null) return verdict;
    const decision = verdict.decision.then((answer) => {
      if (answer.allowed) this.deps.ran?.(text);
      return answer;
    });
    return { ...verdict, decision, cancel: () => verdict.cancel() };
  }

  private async decide(line: LineAtEnter, text: string | null, evaluation: LineEvaluation): Promise<Verdict> {
    const decision: GateDecision = { line: text, where: line.where, fromKeystrokes: line.fromKeystrokes, decision: evaluation.decision, reasons: evaluation.reasons };
    // A line held for review is recorded by its review, once.
    const reviewed = evaluation.decision === 'review' && this.deps.review !== undefined;
    if (!reviewed && (evaluation.decision !== 'allow' || line.fromKeystrokes)) this.deps.record(decision);
    const why = evaluation.reasons.join('; ');
    if (evaluation.decision === 'allow' || evaluation.decision === 'warn') {
      if (text !== null) this.deps.ran?.(text);
      if (evaluation.decision === 'warn') return { action: 'allow', message: `this line runs, and the approvers are told of it: ${why}.` };
      if (line.fromKeystrokes && !this.toldEchoOff) {
        this.toldEchoOff = true;
        return { action: 'allow', message: 'echo is off: lines are checked as rebuilt from the keys typed, and the approvers are told.' };
      }
      return { action: 'allow' };
    }
    if (evaluation.decision === 'review' && this.deps.review) return this.ranOnceAllowed(text, await this.deps.review(decision));
    const held = evaluation.decision === 'review' ? ' It needs an approver, and no one can review it in this session.' : '';
    return { action: 'deny', message: `this line may not run: ${why}.${held}` };
  }
}
