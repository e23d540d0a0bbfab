import type { LiveSessionControl, LiveSessionMatch, SessionEnding } from '../platform/live-session-control.ts';
import type { CastEvent, Recorder } from './recorder.ts';

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
  /** Ends the session, telling the user who ended it and, when given, why. */
  terminate(by: string, reason?: string): Promise<void>;
  /** Ends the session because this instance is stopping. */
  stop(): Promise<void>;
}

/**
 * The sessions this instance runs. Watching and terminating reach a session through here; a session
 * run by another instance is not reachable (LISTEN/NOTIFY fan-out would lift that).
 */
export class LiveSessions implements LiveSessionControl {
  private readonly sessions = new Map<string, LiveSession>();

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

  async end(match: LiveSessionMatch, ending: SessionEnding): Promise<number> {
    const matching = this.all().filter(
      (session) =>
        (match.userId === undefined || session.userId === match.userId) &&
        (match.deviceId === undefined || session.deviceId === match.deviceId) &&
        (match.requestId === undefined || session.requestId === match.requestId) &&
        (match.changeId === undefined || session.changeId === match.changeId),
    );
    // A match with no field would end every session: that is never what a security change means.
    if (Object.values(match).every((value) => value === undefined)) return 0;
    await Promise.all(matching.map((session) => session.terminate(ending.by, ending.reason)));
    return matching.length;
  }

  /** Follows a session's recording events; undefined when it is not running here. */
  follow(id: string, listener: (event: CastEvent, index: number) => void): (() => void) | undefined {
    return this.sessions.get(id)?.recorder.subscribe(listener);
  }
}
