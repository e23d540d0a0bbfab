import type { CreatedOnly } from './columns.ts';

/** The instances serving the database, and the leases of work one instance at a time does. */
export interface InstanceTables {
  instance: InstanceTable;
  work_lease: WorkLeaseTable;
}

export interface InstanceTable {
  id: CreatedOnly<string>;
  host_name: string;
  pid: number;
  version: string;
  http_port: number | null;
  ssh_port: number | null;
  started_at: Date;
  heartbeat_at: Date;
  draining_since: Date | null;
  stopped_at: Date | null;
}

export interface WorkLeaseTable {
  name: CreatedOnly<string>;
  holder: string;
  expires_at: Date;
}
