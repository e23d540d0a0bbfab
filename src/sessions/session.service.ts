import type { Kysely } from 'kysely';
import { findChangeByName, requestNumbers, type Change, type ChangeService } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findUserByName } from '../identity/index.ts';
import { hasPrivilege, inPartition, partitionsWith, type Actor } from '../access/index.ts';
import { findDeviceByRef, type Device } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors, type AppError } from '../platform/errors.ts';
import { isUuid } from '../platform/ids.ts';
import type { InstanceSilence } from '../platform/instances.ts';
import type { ChannelWakes } from '../platform/notifications.ts';
import type { LiveSessions } from './live.ts';
import type { CastEvent } from './recorder.ts';
import { CastLines, castEvent, followElsewhere } from './recording-follow.ts';
import type { RecordingStore, RecordingStoreKind, RecordingStores } from './recording-store.ts';
import { presentCommand, presentSession, type CommandView, type Session, type SessionKind, type SessionView } from './session.ts';
import { withdrawPendingReviews } from './command-review.store.ts';
import { commandCounts, commandsOf, endSession, findSession, findSessionByNumber, insertSession, listSessions, orphanedSessions, type SessionEnd } from './session.store.ts';
import type { ProgressTracking } from './session-progress.ts';
import { WatchProgress } from './watch-progress.ts';

export interface SessionListFilter {
  readonly user?: string;
  readonly device?: string;
  readonly change?: string;
  readonly live?: boolean;
  readonly from?: Date;
  readonly to?: Date;
  /** Sessions that ran a command containing this text (e.g. `rm -rf`). */
  readonly command?: string;
  readonly limit?: number;
}

/**
 * How far a watcher may fall behind a live session, in characters of events not yet taken, before
 * it is dropped: a few seconds of heavy output (a terminal streams 15–30 MB/s at most).
 */
export const MAX_WATCH_BEHIND_BYTES = 8 * 1024 * 1024;

/** Watchers of one session at once, in this instance; more are refused with `too_many_watchers`. */
export const MAX_WATCHERS_PER_SESSION = 16;
/** Watchers one user has open at once, over all sessions, in this instance; more are refused too. */
export const MAX_WATCHERS_PER_USER = 16;
/**
 * A watcher that takes nothing of the replayed recording for this long is dropped: it holds its
 * bound, an open file and a poll, and an ended session gives no other reason to let it go.
 */
export const WATCH_STALL_MS = 60_000;

/** How long a terminate waits for the instance that runs the session to end it. */
export const TERMINATE_ELSEWHERE_MS = 10_000;

/** A brokered session about to connect: who, from where, to which device account, under which change and request. */
export interface SessionStart {
  readonly id: string;
  readonly kind: SessionKind;
  readonly actor: Actor;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  readonly device: Device;
  readonly account: string;
  readonly change: Change;
  readonly request: { readonly id: string; readonly number: number };
  /** The command of an exec request. */
  readonly execCommand: string | null;
  /** The terminal type of an interactive session. */
  readonly term: string | null;
  readonly startedAt: Date;
  /** Which store holds the recording (the one new recordings go to), and where in it. */
  readonly recordingStore: RecordingStoreKind;
  readonly recordingPath: string;
  readonly instanceId: string;
}

/** How a session ended, and who ended it (`endedBy`, for a termination) and why. */
export interface SessionEnding extends SessionEnd {
  readonly why?: string;
}

/** Why a watcher is disconnected: an error message with a stable code. */
export type WatchDrop = AppError<'watcher_too_slow'>;

/** Someone watching a session: where its events go, and how far behind they are. */
export interface Watcher {
  send(event: CastEvent): void;
  /** The device's board against the change's script, at the start and after each command (session-progress.ts). */
  progress?(board: object): void;
  /** Characters sent but not yet taken by the watcher (a WebSocket's `bufferedAmount`). */
  behindBytes(): number;
  /** The watcher fell too far behind the live session, or took nothing for too long; it is told why and disconnected. */
  drop(why: WatchDrop): void;
  readonly closed: boolean;
}

/**
 * Sends a recording's events to a watcher, a line at a time, waiting while the watcher is behind,
 * so that replaying a long recording holds a chunk and the watcher's bound, not the recording.
 * Stops at a torn last line (a crash mid-write), when `stopped()`, when the watcher closes, or when
 * it has taken nothing for `stallMs` while behind (`stalled`). Returns the events sent and the
 * offset after the last whole line, where following the recording as it grows goes on.
 */
async function replayRecording(
  recording: { readonly store: RecordingStore; readonly location: string },
  watcher: Watcher,
  stopped: () => boolean,
  stallMs: number,
): Promise<{ events: number; offset: number; stalled: boolean }> {
  let events = 0;
  let header = true;
  const lines = new CastLines();
  // A recording not written yet (a session that has printed nothing so far) reads as empty: the
  // watcher gets its events live.
  for await (const bytes of recording.store.read(recording.location)) {
    for (const line of lines.push(bytes)) {
      if (stopped() || watcher.closed) return { events, offset: lines.offset, stalled: false };
      if (header) {
        header = false;
        continue;
      }
      const event = castEvent(line);
      if (!event) continue;
      watcher.send(event);
      events++;
      // Progress is what the watcher takes: what it is behind by going down. Real time, not the
      // service's clock: this is the pace of a network peer.
      let behind = watcher.behindBytes();
      let progressAt = Date.now();
      while (behind > MAX_WATCH_BEHIND_BYTES / 2 && !watcher.closed && !stopped()) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const now = watcher.behindBytes();
        if (now < behind) progressAt = Date.now();
        else if (Date.now() - progressAt > stallMs) return { events, offset: lines.offset, stalled: true };
        behind = now;
      }
    }
  }
  return { events, offset: lines.offset, stalled: false };
}

/** How many of something are open, by key; a key with none is forgotten. */
class OpenCount {
  private readonly counts = new Map<string, number>();

  of(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string): void {
    this.counts.set(key, this.of(key) + 1);
  }

  remove(key: string): void {
    const left = this.of(key) - 1;
    if (left > 0) this.counts.set(key, left);
    else this.counts.delete(key);
  }
}

/** Text as one line: runs of white space (newlines from a text box) become one space, the ends trimmed. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The longest reason for a termination: a line in the user's terminal. */
export const MAX_TERMINATION_REASON = 500;

/**
 * A termination's reason as the user will read it, on one line of their terminal: runs of white
 * space (newlines from a text box) become one space, and the ends are trimmed; an empty one is
 * none. Other control characters are refused: they would steer the user's terminal (an escape
 * sequence can retitle it, move the cursor or rewrite what they see).
 */
export function terminationReason(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const text = oneLine(raw);
  if (text.length > MAX_TERMINATION_REASON) {
    throw errors.validation(`The reason is longer than ${MAX_TERMINATION_REASON} characters.`, [{ path: '/reason', message: `must be at most ${MAX_TERMINATION_REASON} characters` }]);
  }
  if (/\p{Cc}/u.test(text)) {
    throw errors.validation("The reason is shown in the user's terminal: it cannot hold control characters.", [{ path: '/reason', message: 'must not contain control characters' }]);
  }
  return text === '' ? undefined : text;
}

/** A reason said elsewhere (a revoke, a cancellation), kept as a terminate's would be: one line of printable text, cut to the limit. */
function storedReason(said: string): string | undefined {
  const text = oneLine(said.replace(/\p{Cc}/gu, ' '));
  if (text === '') return undefined;
  return text.length > MAX_TERMINATION_REASON ? `${text.slice(0, MAX_TERMINATION_REASON - 1)}…` : text;
}

/** A session of an instance that never registered (an older version) is silent this long before another instance declares it interrupted. */
const SILENT_AFTER_MS = 90_000;

/**
 * Session records for auditors and administrators: listing, details, commands, recordings, live
 * watching and terminating. Users always see their own sessions; others need Session.View.
 */
export class SessionService {
  /** Watchers open in this instance, by session and by user. */
  private readonly watchersOfSession = new OpenCount();
  private readonly watchersOfUser = new OpenCount();

  constructor(
    private readonly deps: {
      readonly db: Kysely<Database>;
      readonly clock: Clock;
      readonly live: LiveSessions;
      /** A change's script is frozen once its first session starts. */
      readonly scripts: Pick<ChangeService, 'freezeScript'>;
      /** A replaying watcher that takes nothing this long is dropped; `WATCH_STALL_MS` unless set. */
      readonly watchStallMs?: number;
      /** Where recordings are kept: each session's is read from the store its row names. */
      readonly recordings: RecordingStores;
      /** Announces that a session's recording grew in the shared store: a watcher follows a session another instance runs. */
      readonly recordingGrowth?: Pick<ChannelWakes, 'next'>;
      /** How long a terminate waits for another instance to end its session; `TERMINATE_ELSEWHERE_MS` unless set. */
      readonly terminateElsewhereMs?: number;
      /** Reads the board of a session another instance runs, for its watchers here. */
      readonly progress?: Pick<ProgressTracking, 'snapshot'>;
    },
  ) {}

  /**
   * Stores a session as it starts, with its `session.start` event, and freezes its change's
   * script. The gateway calls it once the broker has admitted the user (an approved request):
   * that admission is the privilege check.
   */
  async start(session: SessionStart): Promise<void> {
    const { actor, device, change } = session;
    await this.deps.db.transaction().execute(async (trx) => {
      await this.deps.scripts.freezeScript(trx, change);
      await insertSession(trx, {
        id: session.id,
        kind: session.kind,
        userId: actor.userId,
        username: actor.username,
        sourceIp: session.sourceIp,
        sourcePort: session.sourcePort,
        deviceId: device.id,
        deviceName: device.name,
        partitionId: device.partitionId,
        account: session.account,
        changeId: change.id,
        changeName: change.name,
        requestId: session.request.id,
        execCommand: session.execCommand,
        term: session.term,
        startedAt: session.startedAt,
        recordingStore: session.recordingStore,
        recordingPath: session.recordingPath,
        instanceId: session.instanceId,
        heartbeatAt: session.startedAt,
        endedAt: null,
        endReason: null,
        endedBy: null,
        terminationReason: null,
        exitStatus: null,
        bytesIn: 0,
        bytesOut: 0,
        recordingSha256: null,
        captureLossy: false,
        captureNotes: null,
      });
      await appendEvent(trx, {
        actor: actor.username,
        action: 'session.start',
        subject: `session:${session.id}`,
        data: { kind: session.kind, device: device.name, account: session.account, change: change.name, request: session.request.number, sourceIp: session.sourceIp },
        time: session.startedAt,
      });
    });
  }

  /**
   * Stores how a session of this instance ended, with its `session.end` event; a session already
   * ended keeps its first ending (and no second event). Called by the gateway that ran it.
   */
  async end(sessionId: string, actor: Actor, ending: SessionEnding): Promise<void> {
    const { why: said, ...end } = ending;
    // Whoever ended it may have said more than a terminate's reason allows (a revoke's reason is
    // 2 000 characters of free text): the session keeps what a terminate would, on one line.
    const why = said === undefined ? undefined : storedReason(said);
    await this.deps.db.transaction().execute(async (trx) => {
      const ended = await endSession(trx, sessionId, { ...end, terminationReason: why ?? null });
      if (!ended) return;
      await appendEvent(trx, {
        actor: end.endedBy ?? actor.username,
        action: 'session.end',
        subject: `session:${sessionId}`,
        data: { reason: end.reason, ...(why && { why }), exitStatus: end.exitStatus, bytesIn: end.bytesIn, bytesOut: end.bytesOut, recordingSha256: end.recordingSha256 },
        time: end.endedAt,
      });
    });
  }

  /** Watchers of a session (by id) open now in this instance. */
  watcherCount(sessionId: string): number {
    return this.watchersOfSession.of(sessionId);
  }

  async list(actor: Actor, filter: SessionListFilter = {}): Promise<SessionView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partitions = await partitionsWith(trx, actor, 'Session.View');
      const own = partitions !== 'all' && partitions.length === 0;
      let userId: string | undefined;
      if (filter.user) {
        const user = await findUserByName(trx, filter.user);
        if (!user) return [];
        userId = user.id;
      }
      if (own) {
        if (userId && userId !== actor.userId) return [];
        userId = actor.userId;
      }
      const deviceId = filter.device ? (await findDeviceByRef(trx, actor, filter.device).catch(() => undefined))?.id : undefined;
      if (filter.device && !deviceId) return [];
      const changeId = filter.change ? (await findChangeByName(trx, filter.change))?.id : undefined;
      if (filter.change && !changeId) return [];
      const rows = await listSessions(trx, {
        partitionIds: own ? 'all' : partitions,
        userId,
        deviceId,
        changeId,
        live: filter.live,
        from: filter.from,
        to: filter.to,
        commandText: filter.command,
        limit: filter.limit ?? 200,
      });
      return this.present(trx, rows);
    });
  }

  async get(actor: Actor, ref: string): Promise<SessionView> {
    return this.deps.db.transaction().execute(async (trx) => (await this.present(trx, [await this.visible(trx, actor, ref)]))[0] as SessionView);
  }

  async commands(actor: Actor, ref: string): Promise<CommandView[]> {
    return this.deps.db.transaction().execute(async (trx) => (await commandsOf(trx, (await this.visible(trx, actor, ref)).id)).map(presentCommand));
  }

  /**
   * The recording's bytes as stored now, for download or playback, read from the store that holds
   * it; a live session's recording grows while it runs.
   */
  async recording(actor: Actor, ref: string): Promise<{ bytes: AsyncIterable<Buffer>; sha256: string | null; live: boolean; number: number }> {
    const session = await this.deps.db.transaction().execute((trx) => this.visible(trx, actor, ref));
    const bytes = this.deps.recordings.for(session).read(session.recordingPath);
    return { bytes, sha256: session.recordingSha256, live: session.endedAt === null, number: session.number };
  }

  /**
   * Follows a session with Session.Watch: the events recorded so far, read from the file a line at
   * a time and sent as fast as the watcher takes them, then each new one. `onEnd` is called when
   * the session ends (or at once for an ended session, after its events). A watcher that falls
   * behind the live session by more than `MAX_WATCH_BEHIND_BYTES` (events waiting while the file
   * is replayed, or unsent in its socket), or takes nothing of the replay for `WATCH_STALL_MS`, is
   * dropped (`watcher.drop()`): the session never waits for a watcher, and the gateway keeps no
   * unbounded output for one. At most `MAX_WATCHERS_PER_SESSION` watch a session and a user has at
   * most `MAX_WATCHERS_PER_USER` watches open (`429 too_many_watchers`). Returns the function that
   * ends the watch; it ends by itself when the session ends or the watcher is dropped.
   */
  async watch(actor: Actor, ref: string, given: Watcher, onEnd: () => void): Promise<() => void> {
    const session = await this.deps.db.transaction().execute(async (trx) => {
      const found = await this.visible(trx, actor, ref);
      if (!(await hasPrivilege(trx, actor, 'Session.Watch', inPartition(found.partitionId)))) {
        throw errors.forbidden('You need the Session.Watch privilege to watch sessions.');
      }
      return found;
    });
    if (this.watchersOfSession.of(session.id) >= MAX_WATCHERS_PER_SESSION) {
      throw errors.tooManyWatchersOfSession(session.number, MAX_WATCHERS_PER_SESSION);
    }
    if (this.watchersOfUser.of(actor.userId) >= MAX_WATCHERS_PER_USER) {
      throw errors.tooManyWatchersOfUser(MAX_WATCHERS_PER_USER);
    }
    this.watchersOfSession.add(session.id);
    this.watchersOfUser.add(actor.userId);
    // Each command the recording marks sends the watcher the board too, once the replay is done.
    const snapshot = this.deps.progress && (() => (this.deps.progress as Pick<ProgressTracking, 'snapshot'>).snapshot(session.id));
    const boards = new WatchProgress(
      { local: () => this.deps.live.get(session.id)?.progress?.(), ...(snapshot && { snapshot }) },
      (board) => given.progress?.(board),
      () => given.closed,
    );
    const watcher: Watcher = {
      send: (event) => {
        given.send(event);
        if (event[1] === 'm') boards.marked();
      },
      behindBytes: () => given.behindBytes(),
      drop: (why) => given.drop(why),
      get closed() {
        return given.closed;
      },
    };
    const queued: Array<[CastEvent, number]> = [];
    let queuedBytes = 0;
    let replayed = -1;
    let dropped = false;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    const unfollowBoard = given.progress && this.deps.live.get(session.id)?.onProgress?.(() => boards.changed());
    const finish = () => {
      if (finished) return;
      finished = true;
      if (timer) clearInterval(timer);
      unsubscribe?.();
      unfollowBoard?.();
      queued.length = 0;
      this.watchersOfSession.remove(session.id);
      this.watchersOfUser.remove(actor.userId);
    };
    const drop = (why: WatchDrop) => {
      if (dropped) return;
      dropped = true;
      finish();
      watcher.drop(why);
    };
    const tooSlow = () => drop(errors.watcherFellBehind());
    try {
      const live = this.deps.live.get(session.id);
      unsubscribe = this.deps.live.follow(session.id, (event, index) => {
        if (dropped) return;
        if (replayed < 0) {
          queued.push([event, index]);
          queuedBytes += event[2].length;
          if (queuedBytes > MAX_WATCH_BEHIND_BYTES) tooSlow();
        } else if (index >= replayed) {
          if (watcher.behindBytes() > MAX_WATCH_BEHIND_BYTES) tooSlow();
          else watcher.send(event);
        }
      });
      await live?.recorder.flush();
      const stallMs = this.deps.watchStallMs ?? WATCH_STALL_MS;
      const replay = await replayRecording({ store: this.deps.recordings.for(session), location: session.recordingPath }, watcher, () => dropped, stallMs);
      if (replay.stalled) {
        drop(errors.watcherStalled(Math.round(stallMs / 1000)));
      }
      if (dropped || watcher.closed) {
        finish();
        return finish;
      }
      replayed = replay.events;
      for (const [event, index] of queued.splice(0)) if (index >= replayed) watcher.send(event);
      if (given.progress) boards.release();
      if (!unsubscribe && session.endedAt === null && this.deps.recordingGrowth) {
        // Another instance runs it: its recording is followed in the shared store as it grows.
        const followed = followElsewhere({
          store: this.deps.recordings.for(session),
          location: session.recordingPath,
          sessionId: session.id,
          offset: replay.offset,
          grown: this.deps.recordingGrowth,
          ended: async () => (await findSession(this.deps.db, session.id))?.endedAt != null,
          send: (event) => {
            if (watcher.behindBytes() > MAX_WATCH_BEHIND_BYTES) tooSlow();
            if (dropped || finished || watcher.closed) return false;
            watcher.send(event);
            return true;
          },
          stopped: () => dropped || finished || watcher.closed,
        });
        followed.then(
          (ended) => {
            finish();
            if (ended) onEnd();
          },
          () => finish(),
        );
        return finish;
      }
      if (!unsubscribe) {
        finish();
        onEnd();
        return finish;
      }
      timer = setInterval(() => {
        if (!this.deps.live.get(session.id)) {
          finish();
          onEnd();
        }
      }, 250);
      return finish;
    } catch (error) {
      finish();
      throw error;
    }
  }

  /**
   * Ends a running session with Session.Terminate. Its user reads who ended it and, when given, why
   * (`reason`: see `terminationReason`), which the `session.end` event and the stored session keep.
   * A session another instance runs is ended there (asked through the database); the answer waits
   * until its record says it ended, and is `session_elsewhere` when that instance does not end it
   * within `TERMINATE_ELSEWHERE_MS`.
   */
  async terminate(actor: Actor, ref: string, reason?: string): Promise<SessionView> {
    const session = await this.deps.db.transaction().execute(async (trx) => {
      const found = await this.visible(trx, actor, ref);
      if (!(await hasPrivilege(trx, actor, 'Session.Terminate', inPartition(found.partitionId)))) {
        throw errors.forbidden('You need the Session.Terminate privilege to end sessions.');
      }
      return found;
    });
    const why = terminationReason(reason);
    if (session.endedAt) throw errors.sessionEnded(session.number, session.endReason);
    const live = this.deps.live.get(session.id);
    if (live) await live.terminate(actor.username, why);
    else await this.terminateElsewhere(session, actor.username, why);
    return this.get(actor, session.id);
  }

  private async terminateElsewhere(session: Session, by: string, why: string | undefined): Promise<void> {
    const waitMs = this.deps.terminateElsewhereMs ?? TERMINATE_ELSEWHERE_MS;
    const seconds = Math.round(waitMs / 1000);
    if (!(await this.deps.live.terminateElsewhere(session.id, by, why))) throw errors.sessionElsewhere(session.number, 0);
    const deadline = Date.now() + waitMs;
    for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
      if ((await findSession(this.deps.db, session.id))?.endedAt) return;
      if (Date.now() >= deadline) throw errors.sessionElsewhere(session.number, seconds);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /**
   * Marks sessions no instance runs any more as interrupted: those this instance left open when it
   * `restarted`, those of instances the registry finds gone (`instances`: stopped, or silent for 3
   * heartbeats), and those of instances that never registered whose own heartbeat is older than
   * SILENT_AFTER_MS. Their recordings keep everything up to the last flush; the hash of what is
   * there goes into the event log. A system change. Several instances may run it at once: each
   * session ends once, with one entry. Returns how many this call ended.
   */
  async recoverInterrupted(search: { readonly restarted?: string; readonly instances?: InstanceSilence }): Promise<number> {
    const now = this.deps.clock.now();
    const orphans = await orphanedSessions(this.deps.db, { ...search, silentSince: new Date(now.getTime() - SILENT_AFTER_MS) });
    let interrupted = 0;
    for (const session of orphans) {
      const stored = await this.deps.recordings
        .for(session)
        .stat(session.recordingPath)
        .catch(() => undefined);
      const sha256 = stored?.sha256 ?? null;
      const size = stored?.bytes ?? 0;
      const written = stored?.lastWrite;
      // The recording is flushed every second, heartbeats come every 15: its last write says better when the session was last alive.
      const lastWrite = written && written > session.heartbeatAt && written <= now ? written : undefined;
      await this.deps.db.transaction().execute(async (trx) => {
        const ended = await endSession(trx, session.id, {
          endedAt: lastWrite ?? session.heartbeatAt,
          reason: 'interrupted',
          endedBy: null,
          exitStatus: null,
          bytesIn: session.bytesIn,
          bytesOut: session.bytesOut,
          recordingSha256: sha256,
          captureLossy: session.captureLossy,
          // What the capture noted died with the instance: its status is unknown.
          captureNotes: null,
        });
        if (!ended) return;
        interrupted += 1;
        await appendEvent(trx, {
          actor: 'system',
          action: 'session.interrupted',
          subject: `session:${session.id}`,
          data: { lastHeartbeat: session.heartbeatAt.toISOString(), lastRecordingWrite: written?.toISOString() ?? null, recordingSha256: sha256, recordingBytes: size },
          time: now,
        });
        // Lines its instance held for review can no longer run: no approver is asked to decide them.
        for (const review of await withdrawPendingReviews(trx, session.id, now)) {
          await appendEvent(trx, {
            actor: 'system',
            action: 'session.command_review.withdrawn',
            subject: `session:${session.id}`,
            data: { review, change: session.changeName, reason: 'the session was interrupted' },
            time: now,
          });
        }
      });
    }
    return interrupted;
  }

  private async visible(trx: Tx, actor: Actor, ref: string): Promise<Session> {
    const session = /^\d+$/.test(ref) && Number(ref) <= Number.MAX_SAFE_INTEGER ? await findSessionByNumber(trx, Number(ref)) : isUuid(ref) ? await findSession(trx, ref) : undefined;
    const mayView = session && (session.userId === actor.userId || (await hasPrivilege(trx, actor, 'Session.View', inPartition(session.partitionId))));
    if (!session || !mayView) throw errors.notFound('session', ref);
    return session;
  }

  private async present(trx: Tx, rows: readonly Session[]): Promise<SessionView[]> {
    const counts = await commandCounts(trx, rows.map((row) => row.id));
    const numbers = await requestNumbers(trx, rows.map((row) => row.requestId));
    const now = this.deps.clock.now();
    return rows.map((row) => presentSession(row, now, counts.get(row.id) ?? 0, numbers.get(row.requestId) ?? null));
  }
}
