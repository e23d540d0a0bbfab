import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import type { DatabaseNotifications, Unlisten } from '../platform/notifications.ts';
import { claimLease } from '../platform/work-lease.ts';
import { listEntries } from './event.store.ts';
import { exportedEntry } from './siem-export.ts';
import type { SiemSink } from './siem-export-sinks.ts';
import { advanceAckedSeq, ackedSeq } from './siem-export.store.ts';

/** The channel migration 0025's trigger notifies on each statement that appends entries. */
export const EVENT_APPENDED_CHANNEL = 'event_appended';

export interface SiemExportConfig {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly sink: SiemSink;
  /** This instance's id: the holder of the export's lease. */
  readonly holder: string;
  /** Wakes the export as soon as entries are committed, on any instance; without it, it polls only. */
  readonly notifications?: DatabaseNotifications;
  readonly logger?: Logger;
  /** Entries read and sent at a time: what bounds the memory the export takes. */
  readonly batchSize?: number;
  /** How often the export looks for new entries when nothing woke it. */
  readonly pollMs?: number;
  /** Waits between attempts while the sink (or the database) fails: the last repeats. */
  readonly retryDelaysMs?: readonly number[];
  /** How long the lease lasts: another instance takes the export over this long after its holder died. */
  readonly leaseMs?: number;
  /** At `close`, how long the export may go on sending what was logged until then. */
  readonly closeTimeoutMs?: number;
}

const BATCH_SIZE = 500;
const POLL_MS = 1_000;
const RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];
const LEASE_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Streams every event-log entry, in sequence order, to a SIEM sink (docs/siem.md). At least once:
 * the cursor (`siem_export`) moves past a batch only after the sink accepted it, so a restart, a
 * crash or a sink outage resumes after the last accepted entry and may send the entries of the
 * batch under way again, never skip one; each line carries its `seq` for the SIEM to deduplicate.
 *
 * One instance at a time exports (the lease `siem-export:<sink>`). It reads `batchSize` entries at
 * a time, never the whole log; wakes on `event_appended` and polls as a backstop; while the sink
 * fails it retries with growing waits, logging the outage once and the recovery once.
 *
 * ```ts
 * const siem = new SiemExport({ db, clock, sink: new FileSink('/var/log/changegate.jsonl'), holder: instanceId, notifications });
 * await siem.start();
 * // … at shutdown:
 * await siem.close();
 * ```
 */
export class SiemExport {
  private running: Promise<void> | undefined;
  private unlisten: Unlisten | undefined;
  private closing = false;
  private closeDeadline = Infinity;
  /** Set by a wake during a pass: the next wait ends at once. */
  private woken = false;
  private endWait: (() => void) | undefined;
  /** When the current outage began, and how many attempts failed since. */
  private outage: { readonly since: number; failures: number } | undefined;
  /** Until when this instance holds the lease, as far as it knows. */
  private leaseUntil = 0;
  private nextClaim = 0;

  constructor(private readonly config: SiemExportConfig) {}

  get sinkName(): string {
    return this.config.sink.name;
  }

  /** Starts exporting: from where the sink's cursor stands, then as entries come. */
  async start(): Promise<void> {
    if (this.running) return;
    this.unlisten = await this.config.notifications?.listen(EVENT_APPENDED_CHANNEL, () => this.wake());
    this.running = this.run();
  }

  /** Looks for new entries now rather than at the next poll (a wait between retries is not cut short). */
  wake(): void {
    this.woken = true;
    if (!this.outage) this.endWait?.();
  }

  /** The last entry the sink accepted (0 before the first). */
  acknowledged(): Promise<number> {
    return ackedSeq(this.config.db, this.config.sink.name);
  }

  /** Sends what was logged until now (for at most `closeTimeoutMs`, and not while the sink fails), then stops. */
  async close(): Promise<void> {
    this.closing = true;
    this.closeDeadline = Date.now() + (this.config.closeTimeoutMs ?? CLOSE_TIMEOUT_MS);
    this.endWait?.();
    // A sink stuck in a write (a receiver that stopped reading) is not waited for beyond the deadline: closing it ends the write.
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      this.running?.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, this.closeDeadline - Date.now()) + 1_000))),
    ]);
    clearTimeout(timer);
    if (ended === false) await this.config.sink.close();
    await this.running;
    this.running = undefined;
    await this.unlisten?.().catch(() => undefined);
    await this.config.sink.close();
  }

  private async run(): Promise<void> {
    const retryDelays = this.config.retryDelaysMs ?? RETRY_DELAYS_MS;
    for (;;) {
      let more = false;
      try {
        more = await this.pass();
        this.recovered();
      } catch (error) {
        this.failed(error);
      }
      if (this.closing && (!more || this.outage || Date.now() >= this.closeDeadline)) return;
      if (more) continue;
      const wait = this.outage ? (retryDelays[Math.min(this.outage.failures - 1, retryDelays.length - 1)] as number) : (this.config.pollMs ?? POLL_MS);
      await this.waitFor(wait);
      if (this.closing && this.outage) return;
    }
  }

  /** Sends the next batch after the cursor, if this instance holds the lease; true when more entries wait. */
  private async pass(): Promise<boolean> {
    this.woken = false;
    if (!(await this.holdsLease())) return false;
    const { db, clock, sink } = this.config;
    const batchSize = this.config.batchSize ?? BATCH_SIZE;
    const after = await ackedSeq(db, sink.name);
    const entries = await listEntries(db, { afterSeq: after, limit: batchSize });
    const last = entries.at(-1);
    if (!last) return false;
    await sink.deliver(entries.map(exportedEntry));
    await advanceAckedSeq(db, sink.name, Number(last.seq), clock.now());
    return entries.length === batchSize;
  }

  /**
   * Claims or renews the lease once a third of it has passed; an instance that does not hold it
   * tries again as often. So two instances export at once only when one's lease ran out while it
   * sent: the SIEM then sees a batch twice, which it does anyway after any failure.
   */
  private async holdsLease(): Promise<boolean> {
    const { db, clock, sink, holder } = this.config;
    const leaseMs = this.config.leaseMs ?? LEASE_MS;
    const now = clock.now().getTime();
    if (now < this.nextClaim) return now < this.leaseUntil;
    const held = await claimLease(db, `siem-export:${sink.name}`, holder, leaseMs, new Date(now));
    this.leaseUntil = held ? now + leaseMs : 0;
    this.nextClaim = now + leaseMs / 3;
    return held;
  }

  private failed(error: unknown): void {
    if (this.outage) {
      this.outage.failures += 1;
      this.config.logger?.debug({ err: error, sink: this.sinkName, failures: this.outage.failures }, 'SIEM export still failing');
      return;
    }
    this.outage = { since: Date.now(), failures: 1 };
    // Once per outage: a sink down for a day logs this line and the recovery, nothing between (debug aside).
    this.config.logger?.warn({ err: error, sink: this.sinkName }, 'SIEM export failed; retrying with backoff until the sink accepts entries again (nothing is skipped)');
  }

  private recovered(): void {
    if (!this.outage) return;
    const { since, failures } = this.outage;
    this.outage = undefined;
    this.config.logger?.info({ sink: this.sinkName, outageMs: Date.now() - since, failures }, 'SIEM export recovered; sending from where it stopped');
  }

  /** Waits `ms`, or less when woken (not while the sink fails) or closing. */
  private waitFor(ms: number): Promise<void> {
    if (this.closing || (this.woken && !this.outage)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endWait = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.endWait = done;
    });
  }
}
