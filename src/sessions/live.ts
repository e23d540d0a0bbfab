import type { CastEvent, Recorder } from './recorder.ts';

/** A session running in this process, as watchers and terminators reach it. */
export interface LiveSession {
  readonly id: string;
  readonly recorder: Recorder;
  readonly counters: () => { bytesIn: number; bytesOut: number };
  /** Ends the session, telling the user who ended it. */
  terminate(by: string): Promise<void>;
  /** Ends the session because this instance is stopping. */
  stop(): Promise<void>;
}

/**
 * The sessions this instance runs. Watching and terminating reach a session through here; a session
 * run by another instance is not reachable (LISTEN/NOTIFY fan-out would lift that).
 */
export class LiveSessions {
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

  /** Follows a session's recording events; undefined when it is not running here. */
  follow(id: string, listener: (event: CastEvent, index: number) => void): (() => void) | undefined {
    return this.sessions.get(id)?.recorder.subscribe(listener);
  }
}
