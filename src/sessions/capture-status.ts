/**
 * How far a session's command list can be trusted: complete, partly rebuilt from keystrokes, or
 * limited, with each reason and the moment it began. The capture notes a reason the first time
 * it applies; the session keeps the notes, and the change audit warns on any board that rests on
 * a session whose capture was not complete.
 */

/**
 * - `keystrokes`: the shell echoed nothing (`stty -echo`), and lines were rebuilt from the keys typed;
 * - `echo_off`: the shell echoed nothing and a line used keys that cannot be replayed (completion,
 *   history), so it is missing;
 * - `multiplexer`: a terminal multiplexer (tmux, screen) ran on the device, where lines are not read;
 * - `editor`: a command edited in an editor (Ctrl-X Ctrl-E, `fc`) could not be read back;
 * - `unrecognised_prompt`: lines were typed at a prompt that repeats like a shell's but is not known as one;
 * - `backlog_overflow`: the device sent more than the capture could analyse, and some of it was skipped.
 */
export const CAPTURE_REASONS = ['keystrokes', 'echo_off', 'multiplexer', 'editor', 'unrecognised_prompt', 'backlog_overflow'] as const;

export type CaptureReason = (typeof CAPTURE_REASONS)[number];

/** `rebuilt`: complete, but some lines come from keystrokes; `limited`: some commands may be missing. */
export type CaptureStatus = 'complete' | 'rebuilt' | 'limited';

/** A reason the capture is not plain, from when it first applied. */
export interface CaptureNote {
  readonly reason: CaptureReason;
  readonly since: Date;
  /** The same moment, as an offset in the session's recording. */
  readonly offsetSeconds: number;
}

/** What each reason means, in the words the board and the reports use. */
export const CAPTURE_REASON_TEXT: Record<CaptureReason, string> = {
  keystrokes: 'lines rebuilt from keystrokes (the terminal echoed nothing)',
  echo_off: 'echo was off and a line could not be rebuilt from its keystrokes',
  multiplexer: 'a terminal multiplexer ran on the device',
  editor: 'a command edited in an editor could not be read',
  unrecognised_prompt: 'lines were typed at a prompt not recognised as a shell prompt',
  backlog_overflow: 'the device sent output faster than it could be analysed',
};

export function captureStatusOf(notes: readonly CaptureNote[]): CaptureStatus {
  if (notes.some((note) => note.reason !== 'keystrokes')) return 'limited';
  return notes.length > 0 ? 'rebuilt' : 'complete';
}

/** Notes each reason once, at the first time it applies. */
export class CaptureNotes {
  private readonly notes: CaptureNote[] = [];

  note(reason: CaptureReason, since: Date, offsetSeconds: number): void {
    if (this.notes.some((note) => note.reason === reason)) return;
    this.notes.push({ reason, since, offsetSeconds });
  }

  get all(): readonly CaptureNote[] {
    return this.notes;
  }

  get status(): CaptureStatus {
    return captureStatusOf(this.notes);
  }
}
