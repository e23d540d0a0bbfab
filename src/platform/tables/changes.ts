import type { ColumnType } from 'kysely';
import type { CreatedOnly, ObjectColumns } from './columns.ts';

/** Tables of inventory (devices, credentials) and changes (access groups, changes, requests). */
export interface ChangeTables {
  device: DeviceTable;
  credential: CredentialTable;
  access_group: AccessGroupTable;
  change: ChangeTable;
  access_request: AccessRequestTable;
  request_decision: RequestDecisionTable;
}

/** The columns of a configuration object that lives in a partition and may belong to an application. */
export interface PartitionedObjectColumns extends ObjectColumns {
  partition_id: string;
  name: string;
  application_id: string | null;
}

/** Lists of ids or words kept as jsonb arrays: pass `JSON.stringify(list)` on write, read back an array. */
type JsonList = ColumnType<string[], string, string>;

export interface DeviceTable extends PartitionedObjectColumns {
  hostname: string;
  port: number;
  protocol: 'ssh';
  description: string;
  tags: JsonList;
  host_key: string | null;
  host_key_fingerprint: string | null;
}

export interface CredentialTable extends PartitionedObjectColumns {
  device_id: string;
  account: string;
  kind: 'password' | 'private_key';
  secret: string;
  passphrase: string | null;
  description: string;
  /** The device host key fingerprint the credential is confirmed for (migration 0007). */
  host_key_fingerprint: string | null;
}

export interface AccessGroupTable extends PartitionedObjectColumns {
  description: string;
  executors: JsonList;
  approvers: JsonList;
  requires_justification: boolean;
  approvals_required: number;
  planner_may_execute: boolean;
  /** `CommandPolicy` as JSON: pass `JSON.stringify(policy)` on write. */
  command_policy: ColumnType<StoredCommandPolicy, string | undefined, string>;
  deviation_alerts: ColumnType<DeviationAlerts, DeviationAlerts | undefined, DeviationAlerts>;
}

/** Which deviations from a change's script alert its group's approvers while a session runs. */
export type DeviationAlerts = 'off' | 'extra' | 'every';

/** A command policy as the `command_policy` column holds it. */
export interface StoredCommandPolicy {
  readonly rules: readonly { readonly kind: 'deny' | 'review' | 'warn'; readonly syntax: 'glob' | 'regex'; readonly pattern: string; readonly name?: string }[];
  readonly strict: boolean;
}

export interface ChangeTable extends PartitionedObjectColumns {
  title: string;
  description: string;
  start_at: Date;
  due_at: Date;
  access_group_id: string;
  devices: JsonList;
  script: string;
  cancelled_at: Date | null;
  cancelled_by: string | null;
  cancel_reason: string | null;
  script_frozen_at: Date | null;
}

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'cancelled' | 'expired';

export interface AccessRequestTable {
  id: CreatedOnly<string>;
  number: ColumnType<number, never, never>;
  change_id: CreatedOnly<string>;
  device_id: CreatedOnly<string>;
  requester_id: CreatedOnly<string>;
  justification: CreatedOnly<string | null>;
  status: RequestStatus;
  created_at: CreatedOnly<Date>;
  decided_at: Date | null;
  closed_at: Date | null;
  close_reason: string | null;
}

export interface RequestDecisionTable {
  request_id: string;
  approver_id: string;
  decision: 'approve' | 'deny';
  comment: string;
  decided_at: Date;
  /** SHA-256 of the change's plan when the approver decided (migration 0009); null before it. */
  digest: string | null;
}
