import type { LineAtEnter } from './line-reader.ts';
import { splitShellInput } from './shell-line.ts';
import type { Verdict } from './enter-guard.ts';

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
  /** Holds a line for an approver; without it, a line the policy holds is refused. */
  review?(decision: GateDecision): Verdict;
  /** Every decision but a plain allow: logged, shown on the board, alerted where it must be. */
  record(decision: GateDecision): void;
}

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
  constructor(private readonly deps: PolicyGateDeps) {}

  async check(): Promise<Verdict> {
    let line = await this.deps.lineAtEnter();
    if (!line.settled) {
      await this.deps.quiet(ECHO_QUIET_MS, ECHO_WAIT_MS);
      const again = await this.deps.lineAtEnter();
      // Still nothing printed since the line's first key: echo is off, and the keys are all there is.
      line = again.fromKeystrokes || again.text !== undefined ? again : line;
    }
    if (line.where === 'secret' || (line.where === 'screen' && line.text === undefined)) return { action: 'allow' };
    if (line.text === undefined) {
      return this.decide(line, null, {
        decision: 'review',
        reasons: [line.fromKeystrokes ? 'echo is off and the keys typed do not tell the line (completion or history)' : 'the screen does not show the line'],
      });
    }
    const whole = [...line.before, line.text].join('\n');
    if (whole.trim() === '' && line.before.length === 0) return { action: 'allow' };
    // An unfinished command (an open quote, `do` without `done`) runs nothing yet: the shell reads
    // on, and the whole command is checked at the Enter that completes it.
    if (line.where === 'shell' && splitShellInput(whole).incomplete !== null) return { action: 'allow' };
    return this.decide(line, whole, this.deps.evaluate(whole));
  }

  private decide(line: LineAtEnter, text: string | null, evaluation: LineEvaluation): Verdict {
    const decision: GateDecision = { line: text, where: line.where, fromKeystrokes: line.fromKeystrokes, decision: evaluation.decision, reasons: evaluation.reasons };
    if (evaluation.decision !== 'allow' || line.fromKeystrokes) this.deps.record(decision);
    const why = evaluation.reasons.join('; ');
    if (evaluation.decision === 'allow' || evaluation.decision === 'warn') return { action: 'allow' };
    if (evaluation.decision === 'review' && this.deps.review) return this.deps.review(decision);
    const held = evaluation.decision === 'review' ? ' It needs an approver, and no one can review it in this session.' : '';
    return { action: 'deny', message: `this line may not run: ${why}.${held}` };
  }
}
