import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { hasPrivilege, inPartition, partitionsWith, type Actor } from '../access/index.ts';
import { findAccessGroup } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { usernamesByIds } from '../identity/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { AppError, errors } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { notify, type DatabaseNotifications, type Unlisten } from '../platform/notifications.ts';
import {
  answerOf,
  describeWait,
  noReviewerMessage,
  presentCommandDecision,
  REVIEW_TIMEOUT_MS,
  waitingMessage,
  type CommandDecisionInSession,
  type ReviewAnswer,
  type ReviewStatus,
} from './command-review.ts';
import { decisionsOfChange, echoWasOffBefore, warnedSince, endReview, findCommandDecision, insertCommandDecision, listCommandDecisions } from './command-review.store.ts';
import type { CommandReviewView } from './command-review.views.ts';
import type { Verdict } from './enter-guard.ts';
import type { GateDecision } from './policy-gate.ts';
import { recordingTime } from './session.ts';
import { findSession } from './session.store.ts';

/** Where a review's end is announced to the instances sharing the database: the payload is its number. */
export const COMMAND_REVIEW_CHANNEL = 'changegate_command_review';

/** How often a held line reads its review again, should a wake be lost (a lost connection): only a backstop. */
const RECHECK_MS = 5_000;
/** The most of a line an approver's notice quotes. */
const MAX_QUOTED_LINE = 4_000;
/** A warned line this soon after the session's last one belongs to the same burst: on the board, without an alert of its own. */
const WARNING_WINDOW_MS = 60_000;
/** A notice's title is one line of at most 200 characters (notifications' `TITLE_MAX`). */
const TITLE_MAX = 200;

/** What a held line tells its approvers. The notifications module implements it; no network I/O in the transaction. */
export interface CommandReviewNotifier {
  notify(
    trx: Tx,
    notice: { kind: string; recipients: readonly string[]; title: string; body: string; link?: string; data: Record<string, unknown> },
  ): Promise<void>;
}

export interface CommandDecisionsDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly notifier: CommandReviewNotifier;
  /**
   * Where a decision made on another instance sharing the database is heard (the database
   * handle's `notifications`, once `start` listens); a decision made here wakes its line at once.
   */
  readonly notifications?: DatabaseNotifications;
  /** How long a held line waits for an approver; `REVIEW_TIMEOUT_MS` unless set. */
  readonly timeoutMs?: number;
  /** How often a held line reads its review again whatever it heard; `RECHECK_MS` unless set. */
  readonly recheckMs?: number;
  readonly logger?: Logger;
}

/** The session a decision is made in, as the gateway knows it. */
export interface DecisionSession {
  readonly sessionId: string;
  /** The session's user. */
  readonly actor: Actor;
  readonly changeId: string;
  readonly changeName: string;
  readonly deviceId: string;
  readonly deviceName: string;
  /** The access group of the session's change: its approvers review the held lines. */
  readonly accessGroupId: string;
  /** Called once a decision of the session is stored or its review changes: the live board shows it. */
  readonly onChange?: () => void;
}

/** A decision's session, and when in its recording the line was checked. */
export interface DecisionContext extends DecisionSession {
  readonly offsetSeconds: number;
}

/** What a session's relay is given: where its lines are recorded and held, and what the gateway knows of the session. */
export interface SessionDecisions {
  readonly service: Pick<CommandDecisions, 'record' | 'hold'>;
  readonly session: DecisionSession;
}

export interface CommandReviewFilter {
  readonly status?: ReviewStatus;
  /** The session's number. */
  readonly session?: number;
  /** `me`: only the reviews the caller was asked to decide. */
  readonly asked?: 'me';
  readonly limit?: number;
}

/** What an approver says of a held line. */
export interface ReviewChoice {
  readonly decision: 'allow' | 'refuse';
  /** Shown to the user in their terminal when the line is refused. */
  readonly comment?: string;
}

/** A held line's watch on its review: woken by any news of it since `woken` was last cleared. */
interface ReviewWatch {
  woken: boolean;
  /** Resolves at once if woken since, else at the next wake or after `ms`. */
  next(ms: number): Promise<void>;
  wake(): void;
  stop(): void;
}

/** The answer of a line given up (Ctrl-C, or the session's end): `EnterGuard` says so itself. */
const GIVEN_UP: ReviewAnswer = { allowed: false, message: 'the line was given up.' };

/**
 * What command policies decided in sessions (every decision but a plain allow, one row each with
 * its `session.command_policy` event), and the review of held lines: `hold` asks the access
 * group's approvers and waits for one of them to `decide`, on whichever instance sharing the
 * database, up to a timeout. `record` and `hold` are the gateway's: the session's admission is
 * their privilege check. The others check the caller first: a decision is seen by the session's
 * user, the approvers it asked, the group's approvers now, and holders of Session.View in the
 * session's partition; anyone else reads "not found".
 */
export class CommandDecisions {
  /** Held lines of this instance waiting for their review to change, by its number. */
  private readonly waiting = new Map<number, Set<ReviewWatch>>();
  private unlisten: Unlisten | undefined;

  constructor(private readonly deps: CommandDecisionsDeps) {}

  /** Listens for decisions made on the other instances sharing the database. */
  async start(): Promise<void> {
    this.unlisten ??= await this.deps.notifications?.listen(COMMAND_REVIEW_CHANNEL, (payload) => this.wake(Number(payload)));
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
  }

  /**
   * Stores a decision that holds nothing (deny, warn, a line rebuilt from keys) with its event, in
   * one transaction; returns its number. A warning, and the session's first line rebuilt from the
   * keys typed (echo off, so the screen could not show what ran), alert the access group's
   * approvers, but the session's user, in the same transaction.
   */
  async record(decision: GateDecision, context: DecisionContext): Promise<number> {
    const number = await this.deps.db.transaction().execute(async (trx) => {
      const written = await this.write(trx, decision, context, []);
      const echoOff = decision.decision === 'allow' && decision.fromKeystrokes && !(await echoWasOffBefore(trx, context.sessionId, written.number));
      // One alert per burst: a line warned of within a minute of the session's last one is on the board, not alerted again.
      const since = new Date(this.deps.clock.now().getTime() - WARNING_WINDOW_MS);
      const warn = decision.decision === 'warn' && !(await warnedSince(trx, context.sessionId, since, written.number));
      if (warn || echoOff) await this.alert(trx, decision, context, written.number, echoOff);
      return written.number;
    });
    context.onChange?.();
    return number;
  }

  /**
   * Holds a line for review: stores it pending with its event and tells the access group's
   * approvers (but the session's user), in one transaction. The verdict's `decision` resolves
   * when one of them decides, or when the wait times out (the review expires, the line is refused);
   * `cancel` withdraws it. A group with no approver but the user refuses the line at once.
   */
  async hold(decision: GateDecision, context: DecisionContext): Promise<Verdict> {
    const held = await this.deps.db.transaction().execute(async (trx) => {
      const group = await findAccessGroup(trx, context.accessGroupId);
      const asked = (group?.approvers ?? []).filter((id) => id !== context.actor.userId);
      if (asked.length === 0) {
        const reasons = [...decision.reasons, `no approver but ${context.actor.username} could review it`];
        await this.write(trx, { ...decision, decision: 'deny', reasons }, context, []);
        return undefined;
      }
      const written = await this.write(trx, decision, context, asked);
      const names = await usernamesByIds(trx, asked);
      const askedNames = asked.map((id) => names.get(id) ?? id).sort();
      const session = await findSession(trx, context.sessionId);
      if (!session) throw new Error(`session ${context.sessionId} is not stored`);
      const user = context.actor.username;
      const quoted = decision.line === null ? '(not shown: the screen and the keys typed do not tell it)' : quote(decision.line);
      await this.deps.notifier.notify(trx, {
        kind: 'command.review',
        recipients: asked,
        title: `Review #${written.number}: ${user} waits to run a line on ${context.deviceName} (${context.changeName})`.slice(0, TITLE_MAX),
        body:
          `${user}'s line in session #${session.number} on ${context.deviceName}, under change ${context.changeName}, waits for an approver:\n\n${quoted}\n\n` +
          `Why: ${decision.reasons.join('; ')}.\nAllow or refuse it within ${describeWait(this.timeoutMs)}; until then nothing more typed in the session reaches the device.`,
        link: `/approvals?review=${written.number}`,
        data: { review: written.number, session: session.number, change: context.changeName, device: context.deviceName, user },
      });
      return { ...written, asked: askedNames };
    });
    context.onChange?.();
    if (!held) return { action: 'deny', message: noReviewerMessage(decision.reasons) };
    let givenUp = false;
    return {
      action: 'review',
      message: waitingMessage(held.number, held.asked, decision.reasons),
      decision: this.answer(held.id, held.number, context, () => givenUp),
      cancel: () => {
        if (givenUp) return;
        givenUp = true;
        this.wake(held.number);
        this.withdraw(held.id, held.number, context).catch((error: unknown) =>
          this.deps.logger?.error({ err: error, session: context.sessionId, review: held.number }, 'withdrawing a review failed'),
        );
      },
    };
  }

  /** The decisions the caller may see: pending reviews first, then newest first. */
  async list(actor: Actor, filter: CommandReviewFilter = {}): Promise<CommandReviewView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partitions = await partitionsWith(trx, actor, 'Session.View');
      const rows = await listCommandDecisions(trx, {
        partitionIds: partitions,
        userId: actor.userId,
        ...(filter.status && { status: filter.status }),
        ...(filter.session !== undefined && { sessionNumber: filter.session }),
        askedOnly: filter.asked === 'me',
        limit: filter.limit ?? 200,
      });
      return this.present(trx, rows);
    });
  }

  async get(actor: Actor, number: number): Promise<CommandReviewView> {
    return this.deps.db.transaction().execute(async (trx) => (await this.present(trx, [await this.visible(trx, actor, number)]))[0] as CommandReviewView);
  }

  /**
   * An approver of the line's access group as it is now, other than the session's user, allows or
   * refuses a pending review; the held line goes on or is refused at once, on whichever instance
   * runs its session. A review whose session has ended is withdrawn instead (409).
   */
  async decide(actor: Actor, number: number, choice: ReviewChoice): Promise<CommandReviewView> {
    const outcome = await this.deps.db.transaction().execute(async (trx): Promise<CommandReviewView | AppError> => {
      const review = await this.visible(trx, actor, number);
      if (review.userId === actor.userId) throw errors.selfReview(number);
      if (review.decision !== 'review') throw errors.reviewNotPending(number, review.decision);
      const group = await findAccessGroup(trx, review.accessGroupId);
      if (!group?.approvers.includes(actor.userId)) throw errors.forbidden(`Review #${number} is decided by an approver of the access group its session ran under, and you are not one.`);
      if (review.status !== 'pending') throw errors.reviewNotPending(number, review.status ?? 'ended');
      const comment = choice.comment?.trim() || null;
      // Line breaks and tabs become spaces in the user's terminal; any other control character would steer it.
      if (comment !== null && /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/.test(comment)) {
        throw errors.validation("The comment is shown in the user's terminal: it cannot hold control characters.", [{ path: '/comment', message: 'must not contain control characters' }]);
      }
      const now = this.deps.clock.now();
      const change = review.session.changeName;
      if (review.session.endedAt !== null) {
        // Its instance stopped without withdrawing it: no one waits for the answer any more.
        await endReview(trx, review.id, { status: 'withdrawn', at: now, by: null, comment: null });
        await appendEvent(trx, { actor: 'system', action: 'session.command_review.withdrawn', subject: `session:${review.sessionId}`, data: { review: number, change, reason: 'the session ended' }, time: now });
        await notify(trx, COMMAND_REVIEW_CHANNEL, String(number));
        return errors.reviewNotPending(number, 'withdrawn');
      }
      const status = choice.decision === 'allow' ? 'allowed' : 'refused';
      if (!(await endReview(trx, review.id, { status, at: now, by: actor.userId, comment }))) {
        // Ended meanwhile (the wait's end, Ctrl-C, another approver): read again once that committed.
        throw errors.reviewNotPending(number, (await findCommandDecision(trx, number))?.status ?? 'ended');
      }
      await appendEvent(trx, { actor: actor.username, action: 'session.command_review.decided', subject: `session:${review.sessionId}`, data: { review: number, change, status, comment }, time: now });
      // The instance that runs the session may be another: it hears this once the decision commits.
      await notify(trx, COMMAND_REVIEW_CHANNEL, String(number));
      return (await this.present(trx, [{ ...review, status, decidedBy: actor.userId, decidedAt: now, comment }]))[0] as CommandReviewView;
    });
    this.wake(number);
    if (outcome instanceof AppError) throw outcome;
    return outcome;
  }

  private get timeoutMs(): number {
    return this.deps.timeoutMs ?? REVIEW_TIMEOUT_MS;
  }

  private async write(trx: Tx, decision: GateDecision, context: DecisionContext, asked: readonly string[]): Promise<{ id: string; number: number }> {
    const id = randomUUID();
    const time = this.deps.clock.now();
    const number = await insertCommandDecision(trx, {
      id,
      sessionId: context.sessionId,
      changeId: context.changeId,
      deviceId: context.deviceId,
      accessGroupId: context.accessGroupId,
      userId: context.actor.userId,
      time,
      offsetSeconds: context.offsetSeconds,
      line: decision.line,
      reasons: decision.reasons,
      decision: decision.decision,
      where: decision.where,
      fromKeystrokes: decision.fromKeystrokes,
      asked,
    });
    await appendEvent(trx, {
      actor: context.actor.username,
      action: 'session.command_policy',
      subject: `session:${context.sessionId}`,
      data: { change: context.changeName, line: decision.line, decision: decision.decision, reasons: decision.reasons, where: decision.where, fromKeystrokes: decision.fromKeystrokes, number },
      time,
    });
    return { id, number };
  }

  /**
   * Waits for the review's end, reading it again at each wake (the database is the truth) and at
   * least every `recheckMs`; expires it once the wait is over. Never rejects: the verdict may be
   * dropped unawaited (the line given up), and a failure refuses the line.
   */
  private async answer(id: string, number: number, context: DecisionContext, givenUp: () => boolean): Promise<ReviewAnswer> {
    const deadline = performance.now() + this.timeoutMs;
    // Watched from before the first reading: a wake while the review is read is not lost.
    const watch = this.watch(number);
    try {
      for (;;) {
        watch.woken = false;
        const review = await findCommandDecision(this.deps.db, number);
        if (givenUp()) return GIVEN_UP;
        if (!review) throw new Error(`review #${number} is not stored`);
        if (review.status !== 'pending') {
          context.onChange?.();
          const decidedBy = review.decidedBy === null ? null : ((await usernamesByIds(this.deps.db, [review.decidedBy])).get(review.decidedBy) ?? null);
          return answerOf(review, decidedBy, this.timeoutMs) ?? GIVEN_UP;
        }
        const left = deadline - performance.now();
        if (left <= 0) await this.expire(id, number, context);
        else await watch.next(Math.min(left, this.deps.recheckMs ?? RECHECK_MS));
      }
    } catch (error) {
      this.deps.logger?.error({ err: error, session: context.sessionId, review: number }, 'following a review failed');
      // An approver must not allow a line its user was told did not run.
      await this.withdraw(id, number, context).catch(() => undefined);
      return { allowed: false, message: `review #${number} could not be followed, so the line did not run.` };
    } finally {
      watch.stop();
    }
  }

  private async expire(id: string, number: number, context: DecisionContext): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      if (!(await endReview(trx, id, { status: 'expired', at: now, by: null, comment: null }))) return;
      await appendEvent(trx, { actor: 'system', action: 'session.command_review.expired', subject: `session:${context.sessionId}`, data: { review: number, change: context.changeName }, time: now });
    });
    context.onChange?.();
  }

  /** The user gave the line up (Ctrl-C), or the session ended while it waited. */
  private async withdraw(id: string, number: number, context: DecisionContext): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      if (!(await endReview(trx, id, { status: 'withdrawn', at: now, by: null, comment: null }))) return;
      await appendEvent(trx, {
        actor: context.actor.username,
        action: 'session.command_review.withdrawn',
        subject: `session:${context.sessionId}`,
        data: { review: number, change: context.changeName },
        time: now,
      });
    });
    context.onChange?.();
  }

  /** Tells the access group's approvers, but the session's user, of a warned line, or that echo is off in a session under a policy. */
  private async alert(trx: Tx, decision: GateDecision, context: DecisionContext, number: number, echoOff: boolean): Promise<void> {
    const group = await findAccessGroup(trx, context.accessGroupId);
    const recipients = (group?.approvers ?? []).filter((id) => id !== context.actor.userId);
    const session = await findSession(trx, context.sessionId);
    if (recipients.length === 0 || !session) return;
    const user = context.actor.username;
    const quoted = decision.line === null ? '(not shown)' : quote(decision.line);
    const at = `session #${session.number} on ${context.deviceName}, under change ${context.changeName}`;
    await this.deps.notifier.notify(trx, {
      kind: echoOff ? 'command.echo_off' : 'command.warning',
      recipients,
      title: (echoOff
        ? `Echo is off in ${user}'s session #${session.number} on ${context.deviceName}: lines are checked as rebuilt from the keys typed`
        : `${user} ran a line the command policy warns of, on ${context.deviceName} (${context.changeName})`
      ).slice(0, TITLE_MAX),
      body: echoOff
        ? `The terminal of ${user}'s ${at} echoes nothing, so the command policy checks each line as rebuilt from the keys typed; what the keys cannot tell (completion, history) is held for review. First such line (decision #${number}):\n\n${quoted}`
        : `${user} ran this line in ${at}:\n\n${quoted}\n\nWhy it is warned of: ${decision.reasons.join('; ')}.\nLines of this session warned of within a minute of the one before are not alerted one by one: the change's board lists them all.`,
      link: `/live-sessions/${session.number}#t=${recordingTime(context.offsetSeconds)}`,
      data: { decision: number, session: session.number, change: context.changeName, device: context.deviceName, user },
    });
  }

  /** Watches review `number` for changes (a decision here or elsewhere, a withdrawal) until stopped. */
  private watch(number: number): ReviewWatch {
    let watches = this.waiting.get(number);
    if (!watches) this.waiting.set(number, (watches = new Set()));
    const own = watches;
    let wakeNow: (() => void) | undefined;
    const watch: ReviewWatch = {
      woken: false,
      next: (ms) =>
        watch.woken
          ? Promise.resolve()
          : new Promise((resolve) => {
              const timer = setTimeout(() => wakeNow?.(), ms);
              wakeNow = () => {
                clearTimeout(timer);
                wakeNow = undefined;
                resolve();
              };
            }),
      wake: () => {
        watch.woken = true;
        wakeNow?.();
      },
      stop: () => {
        own.delete(watch);
        if (own.size === 0) this.waiting.delete(number);
      },
    };
    own.add(watch);
    return watch;
  }

  private wake(number: number): void {
    for (const watch of this.waiting.get(number) ?? []) watch.wake();
  }

  /** A decision, if the caller may see it: its session's user, an approver it asked or of its group now, or a holder of Session.View where the session ran. */
  private async visible(trx: Tx, actor: Actor, number: number): Promise<CommandDecisionInSession> {
    const decision = await findCommandDecision(trx, number);
    const may =
      decision &&
      (decision.userId === actor.userId ||
        decision.asked.includes(actor.userId) ||
        (decision.decision === 'review' && (await findAccessGroup(trx, decision.accessGroupId))?.approvers.includes(actor.userId)) ||
        (await hasPrivilege(trx, actor, 'Session.View', inPartition(decision.session.partitionId))));
    if (!decision || !may) throw errors.notFound('command review', String(number));
    return decision;
  }

  private async present(trx: Tx, decisions: readonly CommandDecisionInSession[]): Promise<CommandReviewView[]> {
    const usernames = await usernamesByIds(trx, decisions.flatMap((decision) => [...decision.asked, ...(decision.decidedBy === null ? [] : [decision.decidedBy])]));
    return decisions.map((decision) => presentCommandDecision(decision, usernames));
  }
}

/**
 * The decisions made in a change's sessions, on one device or all, as its board shows them, by
 * device ID. No privilege check: for the change audit, which checked its caller.
 */
export async function decisionsOnBoard(db: Executor, changeId: string, deviceId?: string): Promise<Map<string, CommandReviewView[]>> {
  const decisions = await decisionsOfChange(db, changeId, deviceId);
  const usernames = await usernamesByIds(db, decisions.flatMap((decision) => [...decision.asked, ...(decision.decidedBy === null ? [] : [decision.decidedBy])]));
  const byDevice = new Map<string, CommandReviewView[]>();
  for (const decision of decisions) {
    const list = byDevice.get(decision.deviceId) ?? [];
    list.push(presentCommandDecision(decision, usernames));
    byDevice.set(decision.deviceId, list);
  }
  return byDevice;
}

/** A line as an approver's notice quotes it: indented, cut where it is very long. */
function quote(line: string): string {
  const cut = line.length > MAX_QUOTED_LINE ? `${line.slice(0, MAX_QUOTED_LINE)}… (${line.length - MAX_QUOTED_LINE} more characters)` : line;
  return cut
    .split('\n')
    .map((text) => `    ${text}`)
    .join('\n');
}
