import { randomUUID } from 'node:crypto';
import type { TestChangegate, TestClient } from '../../test/harness.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';
import type { SessionEndReason } from '../platform/tables/sessions.ts';
import type { CaptureReason } from '../sessions/index.ts';

/** A command as the capture stores it: its text, and optionally its output, exit status and whether it was rebuilt from keystrokes. */
export type StoredCommand = string | { readonly text: string; readonly output?: string; readonly exitStatus?: number | null; readonly fromKeystrokes?: boolean };

/** A note of the capture: its reason, from this many minutes after the session's start (and as many seconds into its recording). */
export interface StoredCaptureNote {
  readonly reason: CaptureReason;
  readonly minute: number;
}

export interface StoredSession {
  readonly change: string;
  readonly device: string;
  /** The executor, signed in: the session's request is theirs. */
  readonly user: { readonly username: string; readonly client: TestClient };
  /** Minutes from the test clock's now. */
  readonly startMinute: number;
  readonly commands: readonly StoredCommand[];
  /** How the session ended: `client_closed` with the shell's exit status 0 unless told. */
  readonly endReason?: SessionEndReason;
  readonly exitStatus?: number | null;
  /** Under this request of the user's (its ID) rather than a new one. */
  readonly requestId?: string;
  /** The capture's notes as the session ended: none (complete) unless told; null for unknown (an interrupted session, or one ended before they were kept). */
  readonly captureNotes?: readonly StoredCaptureNote[] | null;
}

/**
 * Stores a finished session of a change as the gateway writes it when a session ends (a request of
 * the user's, the session row, its captured commands) and recomputes the change's score, so that
 * the change audit can be checked on both databases without a device. Returns the session number.
 */
export async function storeSession(t: TestChangegate, session: StoredSession): Promise<number> {
  const stored = await storeSessionRecord(t, session);
  await t.cg.services.reviews.recompute(stored.changeId);
  return stored.number;
}

/** `storeSession` without the recompute: the session, its request (a new one unless given) and its commands. */
export async function storeSessionRecord(t: TestChangegate, session: StoredSession): Promise<{ number: number; changeId: string; requestId: string }> {
  const db = t.cg.database.db;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000);
  const found = await findChangeByName(db, session.change);
  if (!found) throw new Error(`no change ${session.change}`);
  const deviceRow = await db.selectFrom('device').selectAll().where('name', '=', session.device).executeTakeFirstOrThrow();
  const userRow = await db.selectFrom('app_user').selectAll().where('username', '=', session.user.username).executeTakeFirstOrThrow();
  const request = session.requestId ? { id: session.requestId } : await newRequest(db, session);
  const id = randomUUID();
  const row = await db
    .insertInto('session')
    .values({
      id,
      kind: 'shell',
      user_id: userRow.id,
      username: session.user.username,
      source_ip: '192.0.2.7',
      source_port: 50022,
      device_id: deviceRow.id,
      device_name: session.device,
      partition_id: deviceRow.partition_id,
      account: 'root',
      change_id: found.id,
      change_name: session.change,
      request_id: request.id,
      exec_command: null,
      term: 'xterm',
      started_at: at(session.startMinute),
      ended_at: at(session.startMinute + 10),
      end_reason: session.endReason ?? 'client_closed',
      ended_by: null,
      exit_status: session.exitStatus === undefined ? 0 : session.exitStatus,
      bytes_in: 10,
      bytes_out: 100,
      recording_path: `/nonexistent/${id}.cast`,
      recording_sha256: 'ab'.repeat(32),
      capture_lossy: false,
      capture_notes:
        session.captureNotes === null
          ? null
          : JSON.stringify(
              (session.captureNotes ?? []).map((note) => ({ reason: note.reason, since: at(session.startMinute + note.minute).toISOString(), offsetSeconds: 60 * note.minute })),
            ),
      instance_id: 'test',
      heartbeat_at: at(session.startMinute + 10),
    })
    .returning('number')
    .executeTakeFirstOrThrow();
  for (const [index, command] of session.commands.entries()) {
    const { text, output = '', exitStatus = 0, fromKeystrokes = false } = typeof command === 'string' ? { text: command } : command;
    await db
      .insertInto('session_command')
      .values({
        session_id: id,
        seq: index + 1,
        time: at(session.startMinute + index + 1),
        offset_seconds: 60 * (index + 1),
        text,
        from_keystrokes: fromKeystrokes,
        output,
        output_truncated: false,
        exit_status: exitStatus,
      })
      .execute();
  }
  return { number: Number(row.number), changeId: found.id, requestId: request.id };
}

async function newRequest(db: TestChangegate['cg']['database']['db'], session: StoredSession): Promise<{ id: string }> {
  const outcome = await session.user.client.post('/requests', { device: session.device, change: session.change });
  const request = await findRequestByNumber(db, outcome.body.request.number);
  if (!request) throw new Error(`no request for ${session.change}: ${JSON.stringify(outcome.body)}`);
  return request;
}
