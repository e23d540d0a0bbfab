import type { Executor } from './database.ts';

/** A Changegate instance as the `instance` table keeps it. */
export interface Instance {
  readonly id: string;
  readonly hostName: string;
  readonly pid: number;
  readonly version: string;
  readonly httpPort: number | null;
  readonly sshPort: number | null;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly drainingSince: Date | null;
  readonly stoppedAt: Date | null;
}

/** What an instance says of itself when it registers. */
export type InstanceStart = Omit<Instance, 'heartbeatAt' | 'drainingSince' | 'stoppedAt'>;

/** Registers an instance as starting now; a restart of the same instance (its data directory) starts its row afresh. */
export async function registerInstance(db: Executor, start: InstanceStart): Promise<void> {
  const row = {
    host_name: start.hostName,
    pid: start.pid,
    version: start.version,
    http_port: start.httpPort,
    ssh_port: start.sshPort,
    started_at: start.startedAt,
    heartbeat_at: start.startedAt,
    draining_since: null,
    stopped_at: null,
  };
  await db
    .insertInto('instance')
    .values({ id: start.id, ...row })
    .onConflict((conflict) => conflict.column('id').doUpdateSet(row))
    .execute();
}

/** The instance says it is alive; false when it has no row (deleted by hand): it registers again. */
export async function instanceHeartbeat(db: Executor, id: string, at: Date): Promise<boolean> {
  const result = await db.updateTable('instance').set({ heartbeat_at: at }).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function markInstanceDraining(db: Executor, id: string, at: Date): Promise<void> {
  await db.updateTable('instance').set({ draining_since: at, heartbeat_at: at }).where('id', '=', id).where('draining_since', 'is', null).execute();
}

export async function markInstanceStopped(db: Executor, id: string, at: Date): Promise<void> {
  await db.updateTable('instance').set({ stopped_at: at, heartbeat_at: at }).where('id', '=', id).execute();
}

/** Every instance that ever registered, the most recently started first. */
export async function listInstances(db: Executor): Promise<Instance[]> {
  const rows = await db.selectFrom('instance').selectAll().orderBy('started_at', 'desc').orderBy('id').execute();
  return rows.map((row) => ({
    id: row.id,
    hostName: row.host_name,
    pid: row.pid,
    version: row.version,
    httpPort: row.http_port,
    sshPort: row.ssh_port,
    startedAt: row.started_at,
    heartbeatAt: row.heartbeat_at,
    drainingSince: row.draining_since,
    stoppedAt: row.stopped_at,
  }));
}

/**
 * Which instances are gone (stopped, or silent since before `silentSince`) and which ever
 * registered: a session whose instance is gone was interrupted; one whose instance never
 * registered (a version before the registry) is judged by its own heartbeat.
 */
export async function instanceSilence(db: Executor, silentSince: Date): Promise<InstanceSilence> {
  const rows = await db.selectFrom('instance').select(['id', 'heartbeat_at', 'stopped_at']).execute();
  return {
    gone: rows.filter((row) => row.stopped_at !== null || row.heartbeat_at < silentSince).map((row) => row.id),
    registered: rows.map((row) => row.id),
  };
}

/** The instances whose sessions another may mark interrupted, and every registered one. */
export interface InstanceSilence {
  readonly gone: readonly string[];
  readonly registered: readonly string[];
}
