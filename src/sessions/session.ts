import type { RecordingStoreKind, SessionEndReason, SessionKind } from '../platform/tables/sessions.ts';
import { CAPTURE_REASON_TEXT, captureStatusOf, type CaptureNote } from './capture-status.ts';
import type { CapturedCommand } from './line-reader.ts';
import type { CommandView, SessionCaptureView, SessionView } from './session.views.ts';

export type { RecordingStoreKind, SessionEndReason, SessionKind } from '../platform/tables/sessions.ts';

/**
 * A brokered session as stored: who ran it from where, on which device account, under which
 * change and request, and how it ended (`endedAt` null while it runs). Names are kept as they were
 * when it started, so a later rename does not rewrite the record.
 */
export interface Session {
  readonly id: string;
  /** The number people quote: session #7. */
  readonly number: number;
  readonly kind: SessionKind;
  readonly userId: string;
  readonly username: string;
  readonly sourceIp: string;
  readonly sourcePort: number | null;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly partitionId: string;
  readonly account: string;
  readonly changeId: string;
  readonly changeName: string;
  readonly requestId: string;
  readonly execCommand: string | null;
  readonly term: string | null;
  readonly startedAt: Date;
  readonly endedAt: Date | null;
  readonly endReason: SessionEndReason | null;
  readonly endedBy: string | null;
  /** Why it was terminated, as whoever ended it said (null for any other ending, or none given). */
  readonly terminationReason: string | null;
  readonly exitStatus: number | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Which store holds the recording, and where in it (recording-store.ts). */
  readonly recordingStore: RecordingStoreKind;
  readonly recordingPath: string;
  readonly recordingSha256: string | null;
  readonly captureLossy: boolean;
  /**
   * The capture's notes (capture-status.ts), kept as the session ended: none for a complete
   * capture. Null while it runs, and when unknown: interrupted by a crash, or ended before they were kept.
   */
  readonly captureNotes: readonly CaptureNote[] | null;
  /** The gateway instance that runs it, and when that instance last said it was alive. */
  readonly instanceId: string;
  readonly heartbeatAt: Date;
}

/** A command captured in a session, with its output, at its offset in the recording. */
export interface SessionCommand extends CapturedCommand {
  readonly sessionId: string;
}

/** A command run under a change, with the session it ran in: what the change audit compares with the script. */
export interface ChangeCommand extends SessionCommand {
  readonly sessionNumber: number;
  readonly deviceId: string;
  readonly sessionKind: SessionKind;
  /** Why its session ended, and the status the device's shell exited with (null if it did not exit). */
  readonly sessionEndReason: SessionEndReason | null;
  readonly sessionExitStatus: number | null;
}

/** What a user typed to reach a device at the gateway: `alice@web01`, `alice@web01:root`, `alice@web01:root+CHG-42`. */
export interface SessionTarget {
  readonly username: string;
  /** `web01` or `PARTITION.web01`; undefined when the login name named no device. */
  readonly device?: string;
  /** The device account to use, when the device has several. */
  readonly account?: string;
  /** The change ID, when several open changes include the device. */
  readonly change?: string;
}

/**
 * Reads the gateway login name `user@device[:account][+change]`. The first `@` ends the username
 * (usernames hold none); `:` and `+` cannot occur in device names, so the parts never collide.
 */
export function parseSessionTarget(login: string): SessionTarget {
  const at = login.indexOf('@');
  if (at < 0) return { username: login };
  const username = login.slice(0, at);
  let rest = login.slice(at + 1);
  let change: string | undefined;
  const plus = rest.indexOf('+');
  if (plus >= 0) {
    change = rest.slice(plus + 1) || undefined;
    rest = rest.slice(0, plus);
  }
  const colon = rest.indexOf(':');
  const device = (colon >= 0 ? rest.slice(0, colon) : rest) || undefined;
  const account = colon >= 0 ? rest.slice(colon + 1) || undefined : undefined;
  return { username, ...(device && { device }), ...(account && { account }), ...(change && { change }) };
}

export type { SessionView } from './session.views.ts';

export function presentSession(session: Session, now: Date, commandCount: number, requestNumber: number | null = null): SessionView {
  const end = session.endedAt ?? now;
  return {
    id: session.id,
    number: session.number,
    kind: session.kind,
    user: session.username,
    sourceIp: session.sourceIp,
    sourcePort: session.sourcePort,
    device: session.deviceName,
    account: session.account,
    change: session.changeName,
    request: requestNumber,
    execCommand: session.execCommand,
    startedAt: session.startedAt.toISOString(),
    endedAt: session.endedAt?.toISOString() ?? null,
    durationSeconds: Math.max(0, Math.round((end.getTime() - session.startedAt.getTime()) / 1000)),
    live: session.endedAt === null,
    endReason: session.endReason,
    endedBy: session.endedBy,
    terminationReason: session.terminationReason,
    exitStatus: session.exitStatus,
    bytesIn: session.bytesIn,
    bytesOut: session.bytesOut,
    recordingSha256: session.recordingSha256,
    captureLossy: session.captureLossy,
    capture: presentCapture(session.captureNotes),
    commandCount,
  };
}

/** A session's capture status and its reasons, each in words and from when it began; null when unknown. */
export function presentCapture(notes: readonly CaptureNote[] | null): SessionCaptureView | null {
  if (notes === null) return null;
  return {
    status: captureStatusOf(notes),
    reasons: notes.map((note) => ({ reason: note.reason, text: CAPTURE_REASON_TEXT[note.reason], since: note.since.toISOString(), offsetSeconds: note.offsetSeconds })),
  };
}

export type { CommandView } from './session.views.ts';

export const presentCommand = (command: SessionCommand): CommandView => ({
  seq: command.seq,
  time: command.time.toISOString(),
  offsetSeconds: command.offsetSeconds,
  text: command.text,
  typed: command.typed ?? null,
  fromKeystrokes: command.fromKeystrokes ?? false,
  output: command.output,
  outputTruncated: command.outputTruncated,
  exitStatus: command.exitStatus,
});

/** `m:ss`, or `h:mm:ss` past an hour: where in the recording. */
export function recordingTime(seconds: number): string {
  const whole = Math.max(0, Math.floor(seconds));
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
