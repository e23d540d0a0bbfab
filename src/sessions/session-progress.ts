import type { CapturedCommand } from './line-reader.ts';

/**
 * A running session's progress against its change's script: the device's board, kept up to date
 * at each captured command. The change audit (`review`, above this module) keeps it; the relay
 * feeds it and asks it, and watchers are sent what it answers. The board is plain JSON here: only
 * the change audit knows its shape (`LiveProgressView`).
 */
export interface SessionProgress {
  /** A command the capture just read: the device's board as it stands with it. */
  add(command: CapturedCommand): object;
  /** The board as it stands. */
  current(): object;
  /**
   * Whether `line` carries out a step the script expects next on the device, once the lines in
   * `pending` (allowed at their Enter, not yet read back by the capture) have run: what strict
   * mode lets through.
   */
  isNextStep(line: string, pending: readonly string[]): boolean;
  /** A decision of the command policy in the session was stored, or its review changed: the board shows it once read again. */
  decided(): void;
  /** Calls `listener` each time the board changes other than by a command (a decision); returns how to stop. */
  onChange(listener: () => void): () => void;
  /** The session ended: deviations not yet alerted are alerted now. */
  close(): Promise<void>;
}

/** Who opens and reads the progress of sessions (the change audit's `LiveBoards`). */
export interface ProgressTracking {
  /** The progress of a session just started, or undefined for one no change script covers. */
  open(sessionId: string): Promise<SessionProgress | undefined>;
  /**
   * The board of a session running on another instance, from its stored commands, and how many of
   * its commands it counts: a watcher there reads it again when the recording has marked more.
   */
  snapshot(sessionId: string): Promise<{ readonly board: object; readonly commands: number } | undefined>;
}
