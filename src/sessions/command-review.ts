import type { CommandDecisionKind, ReviewStatus, TypedIn } from '../platform/tables/sessions.ts';
import type { CommandReviewView } from './command-review.views.ts';
import type { Verdict } from './enter-guard.ts';

export type { CommandDecisionKind, ReviewStatus, TypedIn } from '../platform/tables/sessions.ts';

/**
 * What a command policy decided of a line in a session, when it was not a plain allow: a denial, a
 * warning, a line allowed but rebuilt from the keys typed, or a line held for an approver's review
 * (`status` and `asked` then say how the review goes). Numbered for people: "review #12".
 */
export interface CommandDecision {
  readonly id: string;
  readonly number: number;
  readonly sessionId: string;
  readonly changeId: string;
  readonly deviceId: string;
  /** The access group the session ran under, whose approvers review its held lines. */
  readonly accessGroupId: string;
  /** The session's user. */
  readonly userId: string;
  readonly time: Date;
  /** When, in the session's recording. */
  readonly offsetSeconds: number;
  /** Null where it is not shown: typed at a password prompt, or neither the screen nor the keys tell it. */
  readonly line: string | null;
  readonly reasons: readonly string[];
  readonly decision: CommandDecisionKind;
  readonly where: TypedIn;
  readonly fromKeystrokes: boolean;
  /** Null unless the line was held for review. */
  readonly status: ReviewStatus | null;
  /** The approvers asked (user ids): the group's, but the session's user. Empty unless held for review. */
  readonly asked: readonly string[];
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly comment: string | null;
}

/** A decision with what its session says of it: who may see it (the partition) and the names people read. */
export interface CommandDecisionInSession extends CommandDecision {
  readonly session: {
    readonly number: number;
    readonly partitionId: string;
    readonly username: string;
    readonly changeName: string;
    readonly deviceName: string;
    readonly endedAt: Date | null;
  };
}

/** How long a held line waits for an approver before it is refused, unless the service is told otherwise. */
export const REVIEW_TIMEOUT_MS = 10 * 60_000;

/** What an approver's decision (or the wait's end) means for the held line. */
export type ReviewAnswer = Awaited<Extract<Verdict, { action: 'review' }>['decision']>;

/** What the user reads while their line waits: who was asked, and why it is held. */
export function waitingMessage(number: number, asked: readonly string[], reasons: readonly string[]): string {
  return `this line waits for an approver (review #${number}; asked: ${asked.join(', ')}): ${reasons.join('; ')}. Ctrl-C gives it up.`;
}

/** What the user reads when no one but them could review the line. */
export function noReviewerMessage(reasons: readonly string[]): string {
  return `this line may not run: ${reasons.join('; ')}. It needs an approver, and its access group has none but you.`;
}

/**
 * The answer a review that is no longer pending gives the held line. `decidedBy` is the
 * approver's username; the comment is shown on one line, as the terminal shows every notice.
 */
export function answerOf(review: Pick<CommandDecision, 'number' | 'status' | 'comment'>, decidedBy: string | null, timeoutMs: number): ReviewAnswer | undefined {
  switch (review.status) {
    case 'allowed':
      return { allowed: true };
    case 'refused': {
      const comment = review.comment?.replace(/\s+/g, ' ').trim();
      return { allowed: false, message: `${decidedBy ?? 'an approver'} refused the line (review #${review.number})${comment ? `: ${comment}` : ''}; it did not run.` };
    }
    case 'expired':
      return { allowed: false, message: `no approver decided within ${describeWait(timeoutMs)} (review #${review.number}); the line did not run.` };
    case 'withdrawn':
      return { allowed: false, message: `review #${review.number} was withdrawn; the line did not run.` };
    default:
      return undefined;
  }
}

/** A wait in words: "10 minutes", "90 seconds". */
export function describeWait(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}`;
  return `${Math.round(ms / 1000)} seconds`;
}

/** A decision as callers see it; `usernames` maps user ids (asked, decided by) to usernames. */
export function presentCommandDecision(decision: CommandDecisionInSession, usernames: ReadonlyMap<string, string>): CommandReviewView {
  const name = (id: string) => usernames.get(id) ?? id;
  return {
    number: decision.number,
    status: decision.status,
    decision: decision.decision,
    line: decision.line,
    reasons: [...decision.reasons],
    session: decision.session.number,
    change: decision.session.changeName,
    device: decision.session.deviceName,
    user: decision.session.username,
    asked: decision.asked.map(name),
    decidedBy: decision.decidedBy === null ? null : name(decision.decidedBy),
    decidedAt: decision.decidedAt?.toISOString() ?? null,
    comment: decision.comment,
    time: decision.time.toISOString(),
    offsetSeconds: decision.offsetSeconds,
    where: decision.where,
    fromKeystrokes: decision.fromKeystrokes,
  };
}
