import type { CaptureStatus, SessionView } from '../sessions/index.ts';
import type { BoardCaptureView } from './review.views.ts';

/** What the board needs of a session to say how far its capture can be trusted. */
export type CapturedSession = Pick<SessionView, 'number' | 'live' | 'endReason' | 'capture'>;

type BoardCaptureSession = BoardCaptureView['sessions'][number];
/** Why a session's capture status is not known: it still runs, a crash interrupted it, or it ended before statuses were kept. */
type UnknownCapture = NonNullable<BoardCaptureSession['unknownBecause']>;

/** A moment as the warning gives it: `14:02:11 UTC` (the console shows the structured times in the reader's zone). */
const clock = (iso: string) => `${iso.slice(11, 19)} UTC`;

/** `#3`, `#3 and #5`, `#3, #5 and #8`. */
function numbers(sessions: readonly BoardCaptureSession[]): string {
  const each = sessions.map((session) => `#${session.session}`);
  return each.length <= 1 ? (each[0] ?? '') : `${each.slice(0, -1).join(', ')} and ${each.at(-1)}`;
}

function unknownBecause(session: CapturedSession): UnknownCapture | null {
  if (session.capture) return null;
  if (session.live) return 'running';
  return session.endReason === 'interrupted' ? 'interrupted' : 'not_recorded';
}

/**
 * The capture status of a board and the warning that goes with its outcome, whatever the outcome
 * is: a board whose commands all match its script is still `as_planned`, since the outcome is
 * computed from the commands alone, but "may be incomplete because in session #3 a terminal
 * multiplexer ran on the device (from 14:02:11 UTC)". Lines rebuilt from keystrokes get a softer
 * note; a session a crash interrupted is mentioned, since what its capture noted is lost. A
 * session still running, or one ended before capture statuses were kept, makes the status unknown
 * (null) without a warning.
 */
export function boardCapture(sessions: readonly CapturedSession[]): BoardCaptureView {
  const each: BoardCaptureSession[] = [...sessions]
    .sort((a, b) => a.number - b.number)
    .map((session) => ({ session: session.number, status: session.capture?.status ?? null, unknownBecause: unknownBecause(session), reasons: session.capture?.reasons ?? [] }));
  // The worst of the sessions: limited if any is; else unknown if any is; else rebuilt if any is; else complete.
  const limited = each.filter((session) => session.status === 'limited');
  const interrupted = each.filter((session) => session.unknownBecause === 'interrupted');
  const rebuilt = each.filter((session) => session.reasons.some((reason) => reason.reason === 'keystrokes'));
  const status: CaptureStatus | null =
    limited.length > 0 ? 'limited' : each.some((session) => session.status === null) ? null : rebuilt.length > 0 ? 'rebuilt' : 'complete';

  const because = [
    ...limited.map((session) => {
      const reasons = session.reasons.filter((reason) => reason.reason !== 'keystrokes').map((reason) => `${reason.text} (from ${clock(reason.since)})`);
      return `in session #${session.session} ${reasons.join(' and ')}`;
    }),
    ...(interrupted.length > 0
      ? [`session${interrupted.length > 1 ? 's' : ''} ${numbers(interrupted)} ${interrupted.length > 1 ? 'were' : 'was'} interrupted, so whether ${interrupted.length > 1 ? 'their captures were' : 'its capture was'} complete is unknown`]
      : []),
  ];
  const sentences = [
    ...(because.length > 0 ? [`This board may be incomplete because ${because.join('; and ')}.`] : []),
    ...(rebuilt.length > 0
      ? [
          `Some lines of session${rebuilt.length > 1 ? 's' : ''} ${numbers(rebuilt)} were rebuilt from keystrokes, the terminal having echoed nothing (from ${rebuilt
            .map((session) => clock(session.reasons.find((reason) => reason.reason === 'keystrokes')?.since ?? ''))
            .join(', ')}): they are what was typed, not what the device showed.`,
        ]
      : []),
  ];
  return { status, warning: sentences.length > 0 ? sentences.join(' ') : null, sessions: each };
}
