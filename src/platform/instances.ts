import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Clock } from './clock.ts';
import type { Database, Executor } from './database.ts';
import { instanceHeartbeat, instanceSilence, listInstances, markInstanceDraining, markInstanceStopped, registerInstance, type Instance, type InstanceSilence } from './instance.store.ts';
import type { InstanceView } from './instance.views.ts';
import { claimLease, releaseLeases } from './work-lease.ts';

export type { Instance, InstanceSilence } from './instance.store.ts';

/** How an instance looks to the others: serving, draining (no new sessions), silent (presumed dead), or stopped cleanly. */
export type InstanceStatus = 'live' | 'draining' | 'silent' | 'stopped';

/**
 * Heartbeats an instance may miss before the others call it silent and interrupt its sessions.
 * With the takeover scan running every heartbeat, a killed instance's sessions are marked
 * interrupted within SILENT_AFTER_HEARTBEATS + 1 intervals (README, "Running several instances").
 */
export const SILENT_AFTER_HEARTBEATS = 3;

/**
 * A lease outlives this many runs of its work: one late timer does not hand the work over, and a
 * dead holder's lease has run out by the time its instance is called silent (2 < 3 heartbeats),
 * so the takeover bound holds even when the dead instance held the takeover scan.
 */
const LEASE_RUNS = 2;

/** Work that one instance at a time does, by the name of its lease. */
export type SingletonWork = 'request-expiry' | 'web-session-purge' | 'session-takeover' | 'checkpoint-signing';

/** What an instance's status is, seen at `now` by an instance beating every `heartbeatMs`. */
export function instanceStatus(instance: Pick<Instance, 'heartbeatAt' | 'drainingSince' | 'stoppedAt'>, now: Date, heartbeatMs: number): InstanceStatus {
  if (instance.stoppedAt) return 'stopped';
  if (now.getTime() - instance.heartbeatAt.getTime() > SILENT_AFTER_HEARTBEATS * heartbeatMs) return 'silent';
  return instance.drainingSince ? 'draining' : 'live';
}

export interface InstanceRegistryConfig {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** This instance's id (`instance-id` in its data directory): its sessions carry it. */
  readonly id: string;
  readonly version: string;
  /** How often the instance says it is alive, in milliseconds. */
  readonly heartbeatMs: number;
  /** Counts the heartbeats written (platform/metrics.ts). */
  readonly metrics?: { heartbeatWritten(): void };
}

/**
 * This instance among those sharing the database: it registers, beats, drains and stops in the
 * `instance` table, holds the leases of singleton work, and tells which other instances are gone.
 */
export class InstanceRegistry {
  private drainStart: Date | undefined;
  private ports: { readonly httpPort: number | null; readonly sshPort: number | null } = { httpPort: null, sshPort: null };

  constructor(private readonly config: InstanceRegistryConfig) {}

  get id(): string {
    return this.config.id;
  }

  get heartbeatMs(): number {
    return this.config.heartbeatMs;
  }

  /** Set once `drain` began: the instance takes no new sessions and says it is not ready. */
  get drainingSince(): Date | undefined {
    return this.drainStart;
  }

  /** Registers this instance as serving, on these ports. */
  async register(ports: { readonly httpPort: number | null; readonly sshPort: number | null }): Promise<void> {
    this.ports = ports;
    await registerInstance(this.config.db, { id: this.config.id, hostName: hostname(), pid: process.pid, version: this.config.version, startedAt: this.config.clock.now(), ...ports });
  }

  /** Says the instance is alive; registers it again if its row was removed. */
  async beat(): Promise<void> {
    const { db, clock, id } = this.config;
    if (!(await instanceHeartbeat(db, id, clock.now()))) {
      await this.register(this.ports);
      if (this.drainStart) await markInstanceDraining(db, id, this.drainStart);
    }
    this.config.metrics?.heartbeatWritten();
  }

  /** Marks the instance draining (a stop was asked for); at once, before any session is told. */
  async drain(): Promise<void> {
    this.drainStart ??= this.config.clock.now();
    await markInstanceDraining(this.config.db, this.config.id, this.drainStart);
  }

  /** Marks the instance stopped and gives up its leases, so that another takes its work on its next pass. */
  async stop(): Promise<void> {
    await markInstanceStopped(this.config.db, this.config.id, this.config.clock.now());
    await releaseLeases(this.config.db, this.config.id);
  }

  /** Whether this instance holds (taking or renewing) the lease of work it does every `everyMs`. */
  holds(work: SingletonWork, everyMs: number): Promise<boolean> {
    return claimLease(this.config.db, work, this.config.id, LEASE_RUNS * everyMs, this.config.clock.now());
  }

  /** Which instances are gone (stopped, or silent for more than SILENT_AFTER_HEARTBEATS heartbeats) and which ever registered. */
  silence(): Promise<InstanceSilence> {
    return instanceSilence(this.config.db, new Date(this.config.clock.now().getTime() - SILENT_AFTER_HEARTBEATS * this.config.heartbeatMs));
  }

  /** Every registered instance with its status as seen from here. */
  async list(db: Executor = this.config.db): Promise<Array<Instance & { readonly status: InstanceStatus }>> {
    const now = this.config.clock.now();
    return (await listInstances(db)).map((instance) => ({ ...instance, status: instanceStatus(instance, now, this.config.heartbeatMs) }));
  }
}

/** An instance and its status as the API shows them. */
export function presentInstance(instance: Instance & { readonly status: InstanceStatus }): InstanceView {
  return {
    id: instance.id,
    hostName: instance.hostName,
    pid: instance.pid,
    version: instance.version,
    httpPort: instance.httpPort,
    sshPort: instance.sshPort,
    startedAt: instance.startedAt.toISOString(),
    heartbeatAt: instance.heartbeatAt.toISOString(),
    drainingSince: instance.drainingSince?.toISOString() ?? null,
    stoppedAt: instance.stoppedAt?.toISOString() ?? null,
    status: instance.status,
  };
}
