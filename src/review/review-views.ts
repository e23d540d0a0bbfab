/** What the change audit shows: the board of a change, device by device, and the audited sessions. */
import type { SessionView } from '../sessions/index.ts';
import type { BoardRow, ComparisonCounts, Outcome } from './comparison.ts';

export interface BoardCommandView {
  readonly session: number;
  readonly seq: number;
  readonly time: string;
  readonly offsetSeconds: number;
  readonly text: string;
  readonly output: string;
  readonly outputTruncated: boolean;
  readonly exitStatus: number | null;
  /** Where to watch it: the session's recording, at `offsetSeconds`. */
  readonly recording: string;
}

export interface BoardRowView {
  readonly kind: BoardRow['kind'];
  readonly step: { readonly index: number; readonly line: number; readonly text: string; readonly optional: boolean; readonly expect: string | null } | null;
  readonly command: BoardCommandView | null;
  /** For `missing` and `out_of_order`: the index of the row it pairs with. */
  readonly linkedRow: number | null;
}

export interface DeviceAuditView {
  /** The device's name as it is now. */
  readonly device: string;
  /** Its ID, which a rename keeps: the board digest covers it rather than the name. */
  readonly deviceId: string;
  readonly score: number;
  readonly outcome: Outcome;
  readonly counts: ComparisonCounts;
  readonly rows: BoardRowView[];
}

/** The seed's "Change details" and "Change Audit" board, and the "Session Logs", for one change. */
export interface ChangeAuditView {
  readonly change: {
    readonly name: string;
    readonly title: string;
    readonly description: string;
    readonly partition: string;
    readonly startAt: string;
    readonly dueAt: string;
    readonly status: string;
    readonly devices: string[];
    readonly script: string;
  };
  readonly score: number;
  readonly outcome: Outcome;
  readonly counts: ComparisonCounts;
  readonly devices: DeviceAuditView[];
  readonly sessions: SessionView[];
  readonly generatedAt: string;
}

export interface AuditedSessionView extends SessionView {
  /** The score and outcome of the session's change, over all its sessions. */
  readonly changeScore: number | null;
  readonly changeOutcome: string | null;
}

export interface AuditedSessionFilter {
  readonly change?: string;
  readonly user?: string;
  readonly device?: string;
  readonly from?: Date;
  readonly to?: Date;
  readonly outcome?: Outcome;
  readonly scoreMin?: number;
  readonly scoreMax?: number;
  /** Sessions that ran a command containing this text, e.g. `rm -rf`. */
  readonly command?: string;
  readonly limit?: number;
}
