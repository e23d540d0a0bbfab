import type { Executor } from '../platform/database.ts';
import type { LiveSessionControl, LiveSessionMatch, SessionEnding } from '../platform/live-session-control.ts';
import type { Logger } from '../platform/logger.ts';
import { notify, type DatabaseNotifications, type Unlisten } from '../platform/notifications.ts';
import type { CastEvent, Recorder } from './recorder.ts';

/** The channel on which instances ask each other to end sessions. */
export const SESSION_CONTROL_CHANNEL = 'changegate_session_control';

/** What one instance asks the others: end the sessions a security change reaches, or one session. */
type ControlMessage =
  | { readonly op: 'end'; readonly from: string; readonly match: LiveSessionMatch; readonly ending: SessionEnding }
  | { readonly op: 'terminate'; readonly from: string; readonly session: string; readonly by: string; readonly reason?: string };

/** A session running in this process, as watchers and terminators reach it. */
export interface LiveSession {
  readonly id: string;
  /** Whose session, on which device, under which request and change: what a security change matches. */
  readonly userId: string;
  readonly deviceId: string;
  readonly requestId: string;
  readonly changeId: string;
  readonly recorder: Recorder;
  readonly counters: () => { bytesIn: number; bytesOut: number };
  /** Bytes waiting for the command capture (the metrics' capture backlog). */
  readonly captureBacklogBytes?: () => number;
  /** Ends the session, telling the user who ended it and, when given, why. */
  terminate(by: string, reason?: string): Promise<void>;
  /** Ends the session because this instance is stopping. */
  stop(): Promise<void>;
  /** Tells the user something from Changegate in their terminal, on a line of its own (the recording keeps it). */
  tell(message: string): void;
  /** The device's board against the change's script as it stands (session-progress.ts), when the session has one. */
  progress?(): object | undefined;
  /** Calls `listener` when the board changes other than by a command the recording marks (a decision); returns how to stop. */
  onProgress?(listener: () => void): () => void;
}

/**
 * The sessions this instance runs. Watching and terminating reach a session through here. Once
 * `joinCluster` has run, ending sessions reaches every instance sharing the database: a security
 * change (a disabled user, a revoked request, a moved device) and a terminate are sent as a
 * message to all of them, and each ends the matching sessions it runs.
 */
export class LiveSessions implements LiveSessionControl {
  private readonly sessions = new Map<string, LiveSession>();
  private cluster: { readonly db: Executor; readonly instanceId: string; readonly unlisten: Unlisten } | undefined;

  /**
   * From now on, ends requested here are sent to the other instances too, and theirs are carried
   * out here. Resolves once this instance listens; `leaveCluster` stops it.
   */
  async joinCluster(options: { readonly db: Executor; readonly notifications: DatabaseNotifications; readonly instanceId: string; readonly logger?: Logger }): Promise<void> {
    const { instanceId, logger } = options;
    const unlisten = await options.notifications.listen(SESSION_CONTROL_CHANNEL, (payload) => {
      const message = parseControl(payload);
      if (!message || message.from === instanceId) return;
      const done = message.op === 'end' ? this.endHere(message.match, message.ending) : this.terminateHere(message.session, message.by, message.reason);
      void done.catch((error: unknown) => logger?.error({ err: error, op: message.op }, 'ending a session another instance asked for failed'));
    });
    this.cluster = { db: options.db, instanceId, unlisten };
  }

  async leaveCluster(): Promise<void> {
    const cluster = this.cluster;
    this.cluster = undefined;
    await cluster?.unlisten();
  }

  /**
   * Asks the instance running a session to end it (a terminate from another instance). Resolves
   * once asked; the session's record says when it has ended. False when there is no cluster to ask.
   */
  async terminateElsewhere(sessionId: string, by: string, reason?: string): Promise<boolean> {
    if (!this.cluster) return false;
    await this.send({ op: 'terminate', from: this.cluster.instanceId, session: sessionId, by, ...(reason !== undefined && { reason }) });
    return true;
  }

  add(session: LiveSession): void {
    this.sessions.set(session.id, session);
  }

  remove(id: string): void {
    this.sessions.delete(id);
  }

  get(id: string): LiveSession | undefined {
    return this.sessions.get(id);
  }

  all(): LiveSession[] {
    return [...this.sessions.values()];
  }

  /** Ends the matching sessions here and asks the other instances to end theirs; resolves with how many ended here. */
  async end(match: LiveSessionMatch, ending: SessionEnding): Promise<number> {
    // A match with no field would end every session: that is never what a security change means.
    if (Object.values(match).every((value) => value === undefined)) return 0;
    if (this.cluster) await this.send({ op: 'end', from: this.cluster.instanceId, match, ending });
    return this.endHere(match, ending);
  }

  private async endHere(match: LiveSessionMatch, ending: SessionEnding): Promise<number> {
    const matching = this.all().filter(
      (session) =>
        (match.userId === undefined || session.userId === match.userId) &&
        (match.deviceId === undefined || session.deviceId === match.deviceId) &&
        (match.requestId === undefined || session.requestId === match.requestId) &&
        (match.changeId === undefined || session.changeId === match.changeId),
    );
    if (Object.values(match).every((value) => value === undefined)) return 0;
    await Promise.all(matching.map((session) => session.terminate(ending.by, ending.reason)));
    return matching.length;
  }

  private async terminateHere(sessionId: string, by: string, reason?: string): Promise<void> {
    await this.sessions.get(sessionId)?.terminate(by, reason);
  }

  private async send(message: ControlMessage): Promise<void> {
    if (this.cluster) await notify(this.cluster.db, SESSION_CONTROL_CHANNEL, JSON.stringify(message));
  }

  /** Follows a session's recording events; undefined when it is not running here. */
  follow(id: string, listener: (event: CastEvent, index: number) => void): (() => void) | undefined {
    return this.sessions.get(id)?.recorder.subscribe(listener);
  }
}

/** A message from another instance, or undefined when it is not one this version understands. */
function parseControl(payload: string): ControlMessage | undefined {
  try {
    const message = JSON.parse(payload) as Partial<ControlMessage> & Record<string, unknown>;
    if (typeof message.from !== 'string') return undefined;
    if (message.op === 'end' && typeof message.match === 'object' && message.match !== null && typeof message.ending === 'object' && message.ending !== null) {
      return message as ControlMessage;
    }
    if (message.op === 'terminate' && typeof message.session === 'string' && typeof message.by === 'string') return message as ControlMessage;
  } catch {
    // Not JSON: not ours.
  }
  return undefined;
}
