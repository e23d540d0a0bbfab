import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Kysely } from 'kysely';
import { findChangeByName } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findUserByName, hasPrivilege, inPartition, partitionsWith, type Actor } from '../identity/index.ts';
import { findDeviceByRef } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { AppError, errors } from '../platform/errors.ts';
import { isUuid } from '../platform/ids.ts';
import type { LiveSessions } from './live.ts';
import { sha256OfFile, type CastEvent } from './recorder.ts';
import { presentCommand, presentSession, type CommandView, type SessionRow, type SessionView } from './session.ts';
import { commandCounts, commandsOf, endSession, findSession, findSessionByNumber, listSessions, orphanedSessions, requestNumbers } from './session.store.ts';

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

/** Someone watching a session: where its events go, and how far behind they are. */
export interface Watcher {
  send(event: CastEvent): void;
  /** Characters sent but not yet taken by the watcher (a WebSocket's `bufferedAmount`). */
  behindBytes(): number;
  /** The watcher fell too far behind the live session; it is told so and disconnected. */
  drop(): void;
  readonly closed: boolean;
}

/**
 * Sends a recording's events to a watcher, a line of the file at a time, waiting while the watcher
 * is behind, so that replaying a long recording holds a line and the watcher's bound, not the
 * file. Stops at a torn last line (a crash mid-write) or when `stopped()`; returns the events sent.
 */
async function replayRecording(file: string, watcher: Watcher, stopped: () => boolean): Promise<number> {
  let count = 0;
  let header = true;
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  // A recording not written yet (or gone) replays as nothing, as before.
  input.on('error', () => lines.close());
  try {
    for await (const line of lines) {
      if (stopped() || watcher.closed) break;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        break;
      }
      if (header) {
        header = false;
        continue;
      }
      watcher.send(value as CastEvent);
      count++;
      while (watcher.behindBytes() > MAX_WATCH_BEHIND_BYTES / 2 && !watcher.closed && !stopped()) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    lines.close();
    input.destroy();
  }
  return count;
}

/** A session is silent this long before another instance declares it interrupted. */
const SILENT_AFTER_MS = 90_000;

/**
 * Session records for auditors and administrators: listing, details, commands, recordings, live
 * watching and terminating. Users always see their own sessions; others need Session.View.
 */
export class SessionService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly clock: Clock; readonly live: LiveSessions }) {}

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

  /** Where the recording is, for download or playback; a live session's file grows while it runs. */
  async recording(actor: Actor, ref: string): Promise<{ path: string; sha256: string | null; live: boolean; number: number }> {
    return this.deps.db.transaction().execute(async (trx) => {
      const session = await this.visible(trx, actor, ref);
      return { path: session.recording_path, sha256: session.recording_sha256, live: session.ended_at === null, number: session.number };
    });
  }

  /**
   * Follows a session with Session.Watch: the events recorded so far, read from the file a line at
   * a time and sent as fast as the watcher takes them, then each new one. `onEnd` is called when
   * the session ends (or at once for an ended session, after its events). A watcher that falls
   * behind the live session by more than `MAX_WATCH_BEHIND_BYTES` (events waiting while the file
   * is replayed, or unsent in its socket) is dropped (`watcher.drop()`): the session never waits
   * for a watcher, and the gateway keeps no unbounded output for one.
   */
  async watch(actor: Actor, ref: string, watcher: Watcher, onEnd: () => void): Promise<() => void> {
    const session = await this.deps.db.transaction().execute(async (trx) => {
      const found = await this.visible(trx, actor, ref);
      if (!(await hasPrivilege(trx, actor, 'Session.Watch', inPartition(found.partition_id)))) {
        throw errors.forbidden('You need the Session.Watch privilege to watch sessions.');
      }
      return found;
    });
    const queued: Array<[CastEvent, number]> = [];
    let queuedBytes = 0;
    let replayed = -1;
    let dropped = false;
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    const stop = () => {
      if (timer) clearInterval(timer);
      unsubscribe?.();
    };
    const drop = () => {
      if (dropped) return;
      dropped = true;
      stop();
      queued.length = 0;
      watcher.drop();
    };
    const live = this.deps.live.get(session.id);
    unsubscribe = this.deps.live.follow(session.id, (event, index) => {
      if (dropped) return;
      if (replayed < 0) {
        queued.push([event, index]);
        queuedBytes += event[2].length;
        if (queuedBytes > MAX_WATCH_BEHIND_BYTES) drop();
      } else if (index >= replayed) {
        if (watcher.behindBytes() > MAX_WATCH_BEHIND_BYTES) drop();
        else watcher.send(event);
      }
    });
    await live?.recorder.flush();
    const count = await replayRecording(session.recording_path, watcher, () => dropped);
    if (dropped) return () => {};
    replayed = count;
    for (const [event, index] of queued.splice(0)) if (index >= replayed) watcher.send(event);
    if (!unsubscribe) {
      onEnd();
      return () => {};
    }
    timer = setInterval(() => {
      if (!this.deps.live.get(session.id)) {
        stop();
        onEnd();
      }
    }, 250);
    return stop;
  }

  /** Ends a running session with Session.Terminate; its user sees who ended it. */
  async terminate(actor: Actor, ref: string): Promise<SessionView> {
    const session = await this.deps.db.transaction().execute(async (trx) => {
      const found = await this.visible(trx, actor, ref);
      if (!(await hasPrivilege(trx, actor, 'Session.Terminate', inPartition(found.partition_id)))) {
        throw errors.forbidden('You need the Session.Terminate privilege to end sessions.');
      }
      return found;
    });
    if (session.ended_at) throw new AppError('session_ended', 409, `Session ${session.number} already ended (${session.end_reason}).`);
    const live = this.deps.live.get(session.id);
    if (!live) throw new AppError('session_elsewhere', 409, `Session ${session.number} runs on another Changegate instance: terminate it there.`);
    await live.terminate(actor.username);
    return this.get(actor, session.id);
  }

  /**
   * Marks sessions left open by a crash as interrupted: this instance's own (it restarted) and any
   * instance's that went silent. Their recordings keep everything up to the last flush; the hash of
   * what is there goes into the event log. A system change. Returns how many were found.
   */
  async recoverInterrupted(instanceId: string): Promise<number> {
    const now = this.deps.clock.now();
    const orphans = await orphanedSessions(this.deps.db, instanceId, new Date(now.getTime() - SILENT_AFTER_MS));
    for (const session of orphans) {
      const sha256 = await sha256OfFile(session.recording_path).catch(() => null);
      const file = await stat(session.recording_path).catch(() => undefined);
      const size = file?.size ?? 0;
      // The recording is flushed every second, heartbeats come every 15: its last write says better when the session was last alive.
      const lastWrite = file && file.mtime > session.heartbeat_at && file.mtime <= now ? file.mtime : undefined;
      await this.deps.db.transaction().execute(async (trx) => {
        const ended = await endSession(trx, session.id, {
          endedAt: lastWrite ?? session.heartbeat_at,
          reason: 'interrupted',
          endedBy: null,
          exitStatus: null,
          bytesIn: session.bytes_in,
          bytesOut: session.bytes_out,
          recordingSha256: sha256,
          captureLossy: session.capture_lossy,
        });
        if (!ended) return;
        await appendEvent(trx, {
          actor: 'system',
          action: 'session.interrupted',
          subject: `session:${session.id}`,
          data: { lastHeartbeat: session.heartbeat_at.toISOString(), lastRecordingWrite: file?.mtime.toISOString() ?? null, recordingSha256: sha256, recordingBytes: size },
          time: now,
        });
      });
    }
    return orphans.length;
  }

  private async visible(trx: Tx, actor: Actor, ref: string): Promise<SessionRow> {
    const session = /^\d+$/.test(ref) && Number(ref) <= Number.MAX_SAFE_INTEGER ? await findSessionByNumber(trx, Number(ref)) : isUuid(ref) ? await findSession(trx, ref) : undefined;
    const mayView = session && (session.user_id === actor.userId || (await hasPrivilege(trx, actor, 'Session.View', inPartition(session.partition_id))));
    if (!session || !mayView) throw errors.notFound('session', ref);
    return session;
  }

  private async present(trx: Tx, rows: readonly SessionRow[]): Promise<SessionView[]> {
    const counts = await commandCounts(trx, rows.map((row) => row.id));
    const numbers = await requestNumbers(trx, rows.map((row) => row.request_id));
    const now = this.deps.clock.now();
    return rows.map((row) => presentSession(row, now, counts.get(row.id) ?? 0, numbers.get(row.request_id) ?? null));
  }
}
