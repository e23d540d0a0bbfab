import type { ColumnType } from 'kysely';
import type { CreatedOnly } from './columns.ts';

/** Tables of brokered sessions and their captured commands. */
export interface SessionTables {
  session: SessionTable;
  session_command: SessionCommandTable;
  recording_chunk: RecordingChunkTable;
  command_decision: CommandDecisionTable;
}

export type SessionKind = 'shell' | 'exec' | 'web';
/** Where a session's recording is kept: a file in the data directory, or chunks in the database (migration 0016). */
export type RecordingStoreKind = 'files' | 'database';

export type SessionEndReason = 'client_closed' | 'due_date_reached' | 'terminated' | 'upstream_failed' | 'gateway_stopped' | 'interrupted';

/** A note of the capture as `session.capture_notes` keeps it (capture-status.ts's `CaptureNote`, its time as ISO 8601). */
export interface StoredCaptureNote {
  readonly reason: string;
  readonly since: string;
  readonly offsetSeconds: number;
}

export interface SessionTable {
  id: CreatedOnly<string>;
  number: ColumnType<number, never, never>;
  kind: CreatedOnly<SessionKind>;
  user_id: CreatedOnly<string>;
  username: CreatedOnly<string>;
  source_ip: CreatedOnly<string>;
  source_port: CreatedOnly<number | null>;
  device_id: CreatedOnly<string>;
  device_name: CreatedOnly<string>;
  partition_id: CreatedOnly<string>;
  account: CreatedOnly<string>;
  change_id: CreatedOnly<string>;
  change_name: CreatedOnly<string>;
  request_id: CreatedOnly<string>;
  exec_command: CreatedOnly<string | null>;
  term: CreatedOnly<string | null>;
  started_at: CreatedOnly<Date>;
  ended_at: Date | null;
  end_reason: SessionEndReason | null;
  ended_by: string | null;
  termination_reason: string | null;
  exit_status: number | null;
  bytes_in: number;
  bytes_out: number;
  /** Where the recording is within its store; changed only by `changegate recordings migrate`. */
  recording_path: string;
  recording_store: ColumnType<RecordingStoreKind, RecordingStoreKind | undefined, RecordingStoreKind>;
  recording_sha256: string | null;
  capture_lossy: boolean;
  /**
   * jsonb (migration 0020): the capture's notes as the session ended, written as
   * `JSON.stringify(notes)`; `[]` for a complete capture. Null while it runs, and for a session
   * ended before the migration or interrupted by a crash: its capture status is unknown.
   */
  capture_notes: ColumnType<StoredCaptureNote[] | null, string | null | undefined, string | null>;
  instance_id: CreatedOnly<string>;
  heartbeat_at: Date;
}

export interface SessionCommandTable {
  session_id: string;
  seq: number;
  time: Date;
  offset_seconds: number;
  text: string;
  /** What was typed, when the shell ran another line (a history expansion). */
  typed_text: ColumnType<string | null, string | null | undefined, never>;
  /** The terminal echoed nothing: the line was rebuilt from the keys typed (migration 0020). */
  from_keystrokes: ColumnType<boolean, boolean | undefined, never>;
  output: string;
  output_truncated: boolean;
  exit_status: number | null;
}

/** One flush of a session's recorder, in a recording kept in the database. */
export interface RecordingChunkTable {
  session_id: CreatedOnly<string>;
  seq: CreatedOnly<number>;
  data: CreatedOnly<Buffer>;
  written_at: CreatedOnly<Date>;
}

export type CommandDecisionKind = 'deny' | 'warn' | 'review' | 'allow';
export type ReviewStatus = 'pending' | 'allowed' | 'refused' | 'withdrawn' | 'expired';
/** Where a line was typed: at the shell's prompt, in a program, at a password prompt, in a full-screen program. */
export type TypedIn = 'shell' | 'program' | 'secret' | 'screen';

/** Lists kept as jsonb arrays: pass `JSON.stringify(list)` on write, read back an array. */
type JsonList = ColumnType<string[], string, string>;

/** A command policy's decision of a line other than a plain allow, and for a held line its review (migration 0022). */
export interface CommandDecisionTable {
  id: CreatedOnly<string>;
  number: ColumnType<number, never, never>;
  session_id: CreatedOnly<string>;
  change_id: CreatedOnly<string>;
  device_id: CreatedOnly<string>;
  access_group_id: CreatedOnly<string>;
  /** The session's user. */
  user_id: CreatedOnly<string>;
  time: CreatedOnly<Date>;
  offset_seconds: CreatedOnly<number>;
  line: CreatedOnly<string | null>;
  reasons: ColumnType<string[], string, never>;
  decision: CreatedOnly<CommandDecisionKind>;
  typed_in: CreatedOnly<TypedIn>;
  from_keystrokes: CreatedOnly<boolean>;
  /** Null unless the line was held for review. */
  status: ReviewStatus | null;
  /** The approvers asked (user ids); null unless held for review. */
  asked: ColumnType<string[] | null, string | null, never>;
  decided_by: string | null;
  decided_at: Date | null;
  comment: string | null;
}
