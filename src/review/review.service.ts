import type { Kysely } from 'kysely';
import { changeStatus, findChange, findVisibleChange, parseScript, requestNumbers, type Change } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findUserByName } from '../identity/index.ts';
import { hasPrivilege, inPartition, partitionsWith, type Actor } from '../access/index.ts';
import { findDeviceByRef, findDevicesByIds } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { partitionName } from '../objects/index.ts';
import {
  commandCountsOf,
  commandsOfChange,
  decisionsOnBoard,
  findSessionByNumber,
  interruptedSessionEnds,
  listSessions,
  presentCapture,
  presentSession,
  sessionsOfChange,
  sessionsOfChanges,
  type ChangeCommand,
  type Session,
} from '../sessions/index.ts';
import { boardCapture, type CapturedSession } from './board-capture.ts';
import { changeToHearOf, isSubscribed, subscribe, unsubscribe } from './deviation-subscription.ts';
import { executedCommands, LiveBoards } from './live-board.ts';
import { compareChange, type BoardRow, type ComparisonCounts, type ExecutedCommand, type Outcome } from './comparison.ts';
import { findReviewResultEvent, loggedResult, REVIEW_RESULT_ACTION, type LoggedReviewResult } from './review-log.ts';
import type { AuditedSessionView, BoardCommandView, BoardRowView, ChangeAuditView, DeviceAuditView, LiveProgressView } from './review.views.ts';
import { changesScored, computedTimes, reviewsOf, saveReview, storedReview } from './review.store.ts';

/** Least time between two recomputes of a change as its sessions end: at most about one a second per change. */
export const RECOMPUTE_INTERVAL_MS = 1000;

/** Endings of a change's sessions waiting for its score, and when its last recompute started (`performance.now()`). */
interface ChangeRecompute {
  readonly waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }>;
  lastStartedAt: number;
  loop: Promise<void> | undefined;
}

/** An id no user or device has: a filter naming one that does not exist matches nothing. */
const NO_ONE = '00000000-0000-0000-0000-000000000000';

/** Which audited sessions to list. */
export interface AuditedSessionFilter {
  readonly change?: string;
  readonly user?: string;
  readonly device?: string;
  readonly from?: Date;
  readonly to?: Date;
  readonly outcome?: Outcome;
  readonly scoreMin?: number;
  readonly scoreMax?: number;
  /** Sessions that ran a command containing this text, e.g. `rm -rf`. */
  readonly command?: string;
  readonly limit?: number;
}

/**
 * The change audit (the seed's "Auditing the sessions"): the commands executed on each device of a
 * change, across all its sessions, against its script. Reading it needs Session.View in the
 * change's partition, since it shows what was typed and printed.
 */
export class ReviewService {
  private readonly recomputes = new Map<string, ChangeRecompute>();
  private readonly intervalMs: number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(
    private readonly deps: {
      readonly db: Kysely<Database>;
      readonly clock: Clock;
      /** Least time between the starts of two recomputes of one change after its sessions ended; `RECOMPUTE_INTERVAL_MS` unless set. */
      readonly recomputeIntervalMs?: number;
      /** How the rest of an interval is waited out (a timer unless given: a test ends the wait when it likes). */
      readonly wait?: (ms: number) => Promise<void>;
      /** The boards of running sessions (`LiveBoards`): what `progress` answers. */
      readonly boards?: Pick<LiveBoards, 'snapshot'>;
      /** The board of a session this instance runs, kept in memory as it goes (no database read); undefined for one it does not run. */
      readonly running?: (sessionId: string) => object | undefined;
    },
  ) {
    this.intervalMs = deps.recomputeIntervalMs ?? RECOMPUTE_INTERVAL_MS;
    this.wait = deps.wait ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Recomputes a change's score after one of its sessions ended. A recompute reads every session
   * of the change, so endings are debounced per change: the first recomputes at once, those that
   * follow within the interval share one recompute at its end, however many there are. A thousand
   * sessions ending over a few seconds cost a few recomputes, not a thousand. Resolves once a
   * recompute that started after this call finished: the score then reflects this ending.
   */
  recomputeAfterSession(changeId: string): Promise<void> {
    const state = this.recomputes.get(changeId) ?? { waiting: [], lastStartedAt: Number.NEGATIVE_INFINITY, loop: undefined };
    this.recomputes.set(changeId, state);
    const done = new Promise<void>((resolve, reject) => state.waiting.push({ resolve, reject }));
    state.loop ??= this.recomputeWhileWaited(changeId, state);
    return done;
  }

  /** Recomputes, an interval apart, while endings wait; forgets the change once its interval is over. */
  private async recomputeWhileWaited(changeId: string, state: ChangeRecompute): Promise<void> {
    while (state.waiting.length > 0) {
      const wait = state.lastStartedAt + this.intervalMs - performance.now();
      if (wait > 0) await this.wait(wait);
      const waiting = state.waiting.splice(0);
      state.lastStartedAt = performance.now();
      try {
        await this.recompute(changeId);
        for (const ending of waiting) ending.resolve();
      } catch (error) {
        for (const ending of waiting) ending.reject(error);
      }
    }
    state.loop = undefined;
    // An ending after the interval recomputes at once: nothing of this change need be kept until then.
    const forget = setTimeout(() => {
      if (!state.loop && this.recomputes.get(changeId) === state) this.recomputes.delete(changeId);
    }, this.intervalMs);
    forget.unref();
  }

  async audit(actor: Actor, changeName: string): Promise<ChangeAuditView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const change = await findVisibleChange(trx, actor, changeName);
      if (!(await hasPrivilege(trx, actor, 'Session.View', inPartition(change.partitionId)))) {
        throw errors.forbidden('You need the Session.View privilege to audit the sessions of a change.');
      }
      return this.build(trx, change);
    });
  }

  /**
   * A session's device board against its change's script, as its watchers are sent it (live or
   * ended): for the session's own user and holders of Session.View in its partition.
   */
  async progress(actor: Actor, ref: string): Promise<LiveProgressView> {
    const session = await this.deps.db.transaction().execute(async (trx) => {
      const found = /^\d+$/.test(ref) && Number(ref) <= Number.MAX_SAFE_INTEGER ? await findSessionByNumber(trx, Number(ref)) : undefined;
      const mayView = found && (found.userId === actor.userId || (await hasPrivilege(trx, actor, 'Session.View', inPartition(found.partitionId))));
      if (!found || !mayView) throw errors.notFound('session', ref);
      return found;
    });
    // A session running here: its live board as it stands. Elsewhere (or ended), read from what was stored.
    const running = this.deps.running?.(session.id);
    if (running) return running as LiveProgressView;
    const snapshot = await (this.deps.boards ?? new LiveBoards({ db: this.deps.db, clock: this.deps.clock })).snapshot(session.id);
    if (!snapshot) throw errors.notFound('session', ref);
    return snapshot.board;
  }

  /** Whether the caller hears of the change's deviations as a subscriber (approvers of its group always do, as the group says). */
  async deviationSubscription(actor: Actor, changeName: string): Promise<{ subscribed: boolean }> {
    return this.deps.db.transaction().execute(async (trx) => {
      const change = await changeToHearOf(trx, actor, changeName);
      return { subscribed: await isSubscribed(trx, change.id, actor.userId) };
    });
  }

  /** Subscribes the caller to, or unsubscribes them from, the change's deviation alerts. */
  async setDeviationSubscription(actor: Actor, changeName: string, subscribed: boolean): Promise<{ subscribed: boolean }> {
    return this.deps.db.transaction().execute(async (trx) => {
      // Leaving needs no privilege: someone who lost it may still stop hearing nothing.
      const change = subscribed ? await changeToHearOf(trx, actor, changeName) : await findVisibleChange(trx, actor, changeName);
      if (subscribed) await subscribe(trx, change.id, actor.userId, this.deps.clock.now());
      else await unsubscribe(trx, change.id, actor.userId);
      return { subscribed };
    });
  }

  /** Audited sessions, with the score and outcome of their change; filters combine. */
  async listSessions(actor: Actor, filter: AuditedSessionFilter = {}): Promise<AuditedSessionView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partitions = await partitionsWith(trx, actor, 'Session.View');
      if (partitions !== 'all' && partitions.length === 0) throw errors.forbidden('You need the Session.View privilege to list audited sessions.');
      // Sessions are the sessions module's, scores this one's: the score filters pick the changes first.
      const scored = filter.outcome || filter.scoreMin !== undefined || filter.scoreMax !== undefined;
      const changeIds = scored ? await changesScored(trx, { outcome: filter.outcome, scoreMin: filter.scoreMin, scoreMax: filter.scoreMax }) : undefined;
      const userId = filter.user ? ((await findUserByName(trx, filter.user))?.id ?? NO_ONE) : undefined;
      const deviceId = filter.device ? ((await findDeviceByRef(trx, actor, filter.device).catch(() => undefined))?.id ?? NO_ONE) : undefined;
      const sessions = await listSessions(trx, {
        partitionIds: partitions,
        changeIds,
        changeName: filter.change,
        userId,
        deviceId,
        live: false,
        from: filter.from,
        to: filter.to,
        commandText: filter.command,
        limit: filter.limit ?? 200,
      });
      const listed = [...new Set(sessions.map((session) => session.changeId))];
      const reviews = await reviewsOf(trx, listed);
      const counts = await commandCountsOf(trx, sessions.map((session) => session.id));
      const requests = await requestNumbers(trx, sessions.map((session) => session.requestId));
      // The capture of the change's board, over all its sessions (not only those listed), as the audit shows it.
      const ofChange = new Map<string, CapturedSession[]>(listed.map((id) => [id, []]));
      for (const session of await sessionsOfChanges(trx, listed)) ofChange.get(session.changeId)?.push(capturedSession(session));
      const captures = new Map([...ofChange].map(([id, captured]) => [id, boardCapture(captured)]));
      const now = this.deps.clock.now();
      return sessions.map((session) => {
        const capture = captures.get(session.changeId);
        return {
          ...presentSession(session, now, counts.get(session.id) ?? 0, requests.get(session.requestId) ?? null),
          changeScore: reviews.get(session.changeId)?.score ?? null,
          changeOutcome: reviews.get(session.changeId)?.outcome ?? null,
          changeCapture: { status: capture?.status ?? null, warning: capture?.warning ?? null },
        };
      });
    });
  }

  /**
   * Recomputes and stores a change's score after one of its sessions ended, and logs the result
   * (score, outcome, counts, board digest) in the event log in the same transaction: a
   * `review.result` event, once per distinct result (a session that changed nothing on the board
   * writes nothing). A system change.
   */
  async recompute(changeId: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const change = await findChange(trx, changeId);
      if (!change) return;
      // The board alone: the score does not need the list of sessions the audit shows.
      const audit = await this.board(trx, change, await sessionsOfChange(trx, change.id, 'number'));
      const result = loggedResult(change.id, audit);
      const stored = await storedReview(trx, change.id);
      if (stored && stored.score === result.score && stored.outcome === result.outcome) {
        const previous = await findReviewResultEvent(trx, change.id, stored.computedAt);
        if (previous && sameResult(previous.logged, result)) return;
      }
      const now = this.deps.clock.now();
      const devices = audit.devices.map((device) => ({ ...device, rows: [] }));
      await saveReview(trx, change.id, { devices, counts: audit.counts, score: audit.score, outcome: audit.outcome }, now);
      await appendEvent(trx, { actor: 'system', action: REVIEW_RESULT_ACTION, subject: `change:${change.name}`, data: { ...result }, time: now });
    });
  }

  /**
   * After a restart marked sessions a crash left open as interrupted: recomputes (and logs) the
   * score of their changes, as a session's end would have. Returns how many changes.
   */
  async recomputeAfterInterruptions(): Promise<number> {
    const changeIds = await this.scoredBeforeInterruption();
    for (const changeId of changeIds) await this.recomputeAfterSession(changeId);
    return changeIds.length;
  }

  /** Scores of several changes, for lists. */
  async scores(changeIds: readonly string[]): Promise<Map<string, { score: number; outcome: string }>> {
    return reviewsOf(this.deps.db, changeIds);
  }

  /** Changes with a session a crash interrupted (no session end recomputed their score) since their score was last computed. */
  private async scoredBeforeInterruption(): Promise<string[]> {
    const interrupted = await interruptedSessionEnds(this.deps.db);
    const computed = await computedTimes(this.deps.db, [...interrupted.keys()]);
    return [...interrupted]
      .filter(([changeId, lastEnded]) => {
        const at = computed.get(changeId);
        return at === undefined || (lastEnded !== null && at < lastEnded);
      })
      .map(([changeId]) => changeId);
  }

  private async build(trx: Tx, change: Change): Promise<ChangeAuditView> {
    const sessions = await sessionsOfChange(trx, change.id, 'started');
    const board = await this.board(trx, change, sessions);
    const counts = await commandCountsOf(trx, sessions.map((session) => session.id));
    const requests = await requestNumbers(trx, sessions.map((session) => session.requestId));
    const now = this.deps.clock.now();
    return { ...board, sessions: sessions.map((session) => presentSession(session, now, counts.get(session.id) ?? 0, requests.get(session.requestId) ?? null)), generatedAt: now.toISOString() };
  }

  /** The audit without its list of sessions: the change, its board, its score and how far the capture of `sessions` (the change's) can be trusted. */
  private async board(trx: Tx, change: Change, sessions: readonly Session[]): Promise<Omit<ChangeAuditView, 'sessions' | 'generatedAt'>> {
    const parsed = parseScript(change.script);
    // A saved change's script always parses; an empty one would only come from a database edit.
    const script = parsed.ok ? parsed.script : { steps: [] };
    const devices = await findDevicesByIds(trx, change.devices);
    const names = new Map(devices.map((device) => [device.id, device.name]));
    const executed = await commandsOfChange(trx, change.id);
    // By ID: a board is the same board whatever its devices are called now.
    const byDevice = new Map<string, ExecutedCommand[]>(change.devices.map((id) => [id, []]));
    const rowsById = new Map<string, ChangeCommand>();
    const commands = executedCommands(executed);
    executed.forEach((row, k) => {
      const command = commands[k] as ExecutedCommand;
      rowsById.set(command.id, row);
      const list = byDevice.get(row.deviceId) ?? [];
      list.push(command);
      byDevice.set(row.deviceId, list);
    });
    const comparison = compareChange(script, byDevice);
    const decisions = await decisionsOnBoard(trx, change.id);
    const presentCommand = (command: ExecutedCommand): BoardCommandView => {
      const row = rowsById.get(command.id) as ChangeCommand;
      return {
        session: row.sessionNumber,
        seq: row.seq,
        time: row.time.toISOString(),
        offsetSeconds: row.offsetSeconds,
        text: row.text,
        typed: row.typed ?? null,
        fromKeystrokes: row.fromKeystrokes ?? false,
        output: row.output,
        outputTruncated: row.outputTruncated,
        exitStatus: row.exitStatus,
        recording: `/api/v1/sessions/${row.sessionNumber}/recording`,
      };
    };
    const presentRow = (row: BoardRow): BoardRowView => ({
      kind: row.kind,
      step: 'step' in row ? { index: row.step.index, line: row.step.line, text: row.step.text, optional: row.step.optional, expect: row.step.expect?.pattern ?? null } : null,
      command: 'command' in row ? presentCommand(row.command) : null,
      linkedRow: row.kind === 'missing' ? (row.outOfOrderRow ?? null) : row.kind === 'out_of_order' ? row.missingRow : null,
    });
    const now = this.deps.clock.now();
    const partition = await partitionName(trx, change.partitionId);
    return {
      change: {
        name: change.name,
        title: change.title,
        description: change.description,
        partition: partition ?? '',
        startAt: change.startAt.toISOString(),
        dueAt: change.dueAt.toISOString(),
        status: changeStatus(change, now),
        devices: change.devices.map((id) => names.get(id) ?? id),
        script: change.script,
      },
      score: comparison.score,
      outcome: comparison.outcome,
      counts: comparison.counts,
      devices: comparison.devices.map((device) => ({
        device: names.get(device.device) ?? device.device,
        deviceId: device.device,
        score: device.score,
        outcome: device.outcome,
        counts: device.counts,
        rows: device.rows.map(presentRow),
        capture: boardCapture(sessions.filter((session) => session.deviceId === device.device).map(capturedSession)),
        decisions: decisions.get(device.device) ?? [],
      })),
      capture: boardCapture(sessions.map(capturedSession)),
    };
  }
}

const capturedSession = (session: Session): CapturedSession => ({
  number: session.number,
  live: session.endedAt === null,
  endReason: session.endReason,
  capture: presentCapture(session.captureNotes),
});

/**
 * The change's counts are the devices' summed, which the board holds: the digest covers them. A
 * result logged with an older digest is not the same: it is logged again, with the current one.
 */
const sameResult = (a: LoggedReviewResult, b: LoggedReviewResult) =>
  a.score === b.score && a.outcome === b.outcome && a.boardDigest === b.boardDigest && (a.boardDigestVersion ?? 1) === (b.boardDigestVersion ?? 1);
