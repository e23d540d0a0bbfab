import type { Selectable } from 'kysely';
import type { SessionCommandTable, SessionEndReason, SessionKind, SessionTable } from '../platform/tables/sessions.ts';
import type { CommandView, SessionView } from './session.views.ts';

export type { SessionEndReason, SessionKind } from '../platform/tables/sessions.ts';
export type SessionRow = Selectable<SessionTable>;
export type SessionCommandRow = Selectable<SessionCommandTable>;

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

export function presentSession(row: SessionRow, now: Date, commandCount: number, requestNumber: number | null = null): SessionView {
  const end = row.ended_at ?? now;
  return {
    id: row.id,
    number: row.number,
    kind: row.kind,
    user: row.username,
    sourceIp: row.source_ip,
    sourcePort: row.source_port,
    device: row.device_name,
    account: row.account,
    change: row.change_name,
    request: requestNumber,
    execCommand: row.exec_command,
    startedAt: row.started_at.toISOString(),
    endedAt: row.ended_at?.toISOString() ?? null,
    durationSeconds: Math.max(0, Math.round((end.getTime() - row.started_at.getTime()) / 1000)),
    live: row.ended_at === null,
    endReason: row.end_reason,
    endedBy: row.ended_by,
    exitStatus: row.exit_status,
    bytesIn: row.bytes_in,
    bytesOut: row.bytes_out,
    recordingSha256: row.recording_sha256,
    captureLossy: row.capture_lossy,
    commandCount,
  };
}

export type { CommandView } from './session.views.ts';

export const presentCommand = (row: SessionCommandRow): CommandView => ({
  seq: row.seq,
  time: row.time.toISOString(),
  offsetSeconds: row.offset_seconds,
  text: row.text,
  output: row.output,
  outputTruncated: row.output_truncated,
  exitStatus: row.exit_status,
});
