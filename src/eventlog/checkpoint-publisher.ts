import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import type { Logger } from '../platform/logger.ts';
import { formatCheckpoint, checkpointRowProblem } from './checkpoint.ts';
import type { CheckpointSink } from './checkpoint-sinks.ts';
import { checkpointAt, insertCheckpoint, insertCosignature, rejectionLogged, type StoredCheckpoint } from './checkpoint.store.ts';
import { latestTrustedCheckpoint, type LogIdentity, type RejectedCheckpoint } from './checkpoint-trust.ts';
import { appendEvent } from './event-append.ts';
import type { LogSigningKey } from './log-signing-key.ts';
import { TreeAlteredError, treeSize } from './event-tree.ts';
import { EMPTY_ROOT } from './merkle.ts';
import { signNote, verifierOf } from './signed-note.ts';
import type { TreeHead, TreeHeadSource } from './tree-head.ts';

export interface CheckpointPublisherConfig {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** The event log's Merkle tree head. */
  readonly treeHead: TreeHeadSource;
  readonly signingKey: Pick<LogSigningKey, 'origin' | 'key' | 'keyId'>;
  /** At most one checkpoint this often, in seconds. */
  readonly intervalSeconds: number;
  readonly sinks: readonly CheckpointSink[];
  readonly logger?: Logger;
  /**
   * Whether this instance signs on its timer now (it holds the lease of the periodic signing);
   * always when absent. Instances sharing a database sign in turn, not all at once; a caller's
   * `checkpointCovering`, the start's pass and the shutdown's still sign on any instance.
   */
  readonly signsPeriodically?: () => Promise<boolean>;
}

/** A timer may fire a little early; a pass that early still counts as a full interval after the last. */
const TIMER_SLACK_MS = 50;

/**
 * How much longer than an interval a caller waits for a covering checkpoint: the pass itself signs
 * in milliseconds, but it also publishes to the witnesses (10 s each at most, side by side).
 */
export const COVERING_SLACK_MS = 15_000;

/** Planted rows reported one by one in a pass at most; the rest are counted in one line. */
const MAX_REPORTED = 10;

/** The action of the entry that records a checkpoint row the log does not trust. */
export const CHECKPOINT_REJECTED_ACTION = 'log.checkpoint.rejected';

/** What one pass did: what it signed, the latest checkpoint it trusts, and why it signed nothing when it could not. */
interface PassOutcome {
  readonly signed?: StoredCheckpoint;
  readonly latest?: StoredCheckpoint;
  /** Set when the log's head is not covered by `latest`: why no checkpoint was signed (no secrets). */
  readonly refusal?: string;
}

/** A caller of `checkpointCovering` waiting for a pass. */
interface CoveringWaiter {
  readonly size: number;
  /** Passes begun when it started waiting: a pass numbered above began after, so it saw the caller's entries. */
  readonly after: number;
  readonly resolve: (checkpoint: StoredCheckpoint) => void;
  readonly reject: (error: Error) => void;
  readonly deadline: NodeJS.Timeout;
}

/**
 * Signs a checkpoint of the event log whenever it has grown, at most once per interval, and once
 * more at shutdown; then copies the newest checkpoint to every sink that has not got it yet. A sink
 * that fails is logged and tried again on the next pass, with the newest checkpoint then (which
 * covers every older one). Nothing here ever throws into the server: a failed pass is logged.
 *
 * Only checkpoints this log signed count: the latest is the largest stored row whose note verifies
 * with the log's key and origin (checkpoint-trust.ts), or the last this instance signed. A row that
 * does not verify (inserted by someone who can write to the database, or signed by another key) is
 * ignored, said once in the server log and recorded once as a `log.checkpoint.rejected` entry.
 *
 * Several instances may share the database: each signs what it sees, one checkpoint per tree size
 * is kept, and the same key signs the same text identically (Ed25519 is deterministic).
 */
export class CheckpointPublisher {
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  /** The pass under way: passes never overlap. */
  private running: Promise<StoredCheckpoint | undefined> | undefined;
  /** When the last pass began, by the clock (what `tick` compares) and in real time (what a waiter's timer counts). */
  private lastPassAt: number | undefined;
  private lastPassMonotonic: number | undefined;
  private passesBegun = 0;
  /** The largest checkpoint size each sink has taken. */
  private readonly published = new Map<CheckpointSink, number>();
  /**
   * The last checkpoint this publisher signed: a base for the next root, and the latest when the
   * database could not keep it (a planted row holds its size).
   */
  private lastSigned: StoredCheckpoint | undefined;
  /** Said once, not on every pass: the log is shorter than its checkpoint, or another key signs. */
  private readonly warned = new Set<string>();
  /** Rejected rows already reported, by size and note hash. */
  private readonly reported = new Set<string>();
  private readonly waiters = new Set<CoveringWaiter>();
  /** The pass the waiters asked for, as soon as the interval allows. */
  private wake: NodeJS.Timeout | undefined;
  private readonly identity: LogIdentity;

  constructor(private readonly config: CheckpointPublisherConfig) {
    this.identity = { origin: config.signingKey.origin, key: verifierOf(config.signingKey.key) };
  }

  /** Signs now if the log has grown, then every interval; the timer never keeps the process alive. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.signNow();
    this.timer = setInterval(() => void this.tick(), this.config.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** A pass if a full interval passed since the last one (by the clock): what the timer calls. */
  async tick(): Promise<StoredCheckpoint | undefined> {
    const now = this.config.clock.now().getTime();
    if (this.lastPassAt !== undefined && now - this.lastPassAt < this.config.intervalSeconds * 1000 - TIMER_SLACK_MS) return undefined;
    if (!(await this.holdsTurn())) return undefined;
    return this.signNow();
  }

  /** Whether the periodic pass is this instance's to make; a lease that cannot be read is not held (the holder signs). */
  private async holdsTurn(): Promise<boolean> {
    if (!this.config.signsPeriodically) return true;
    try {
      return await this.config.signsPeriodically();
    } catch (error) {
      this.config.logger?.error({ err: error }, 'reading the lease of checkpoint signing failed; this instance skips the pass');
      return false;
    }
  }

  /**
   * Signs a checkpoint if the log has grown since the latest one and publishes the latest to the
   * sinks that lack it. Returns the checkpoint this pass signed, if any. Not rate-limited: for
   * start, shutdown and tests; a caller that needs a checkpoint covering its entries uses
   * `checkpointCovering`, which shares the next scheduled pass.
   */
  async signNow(): Promise<StoredCheckpoint | undefined> {
    // One pass at a time; a call during a pass waits for it and then runs its own, so it sees what was appended before it.
    while (this.running) await this.running.catch(() => undefined);
    const pass = this.pass();
    this.running = pass;
    try {
      return await pass;
    } finally {
      if (this.running === pass) this.running = undefined;
    }
  }

  /**
   * A checkpoint covering the first `size` entries (the caller's own, committed): the latest if it
   * does, else the one the next pass signs. That pass comes one interval after the last at the
   * earliest, whether the timer would have found the log grown or not, and every caller waiting
   * meanwhile shares it: many exports make one checkpoint, one file and one POST per witness.
   * Fails (503 `unavailable`) when that pass signs none covering it (it says why), when none comes
   * within `timeoutMs` (default: the interval and COVERING_SLACK_MS), or at shutdown.
   */
  async checkpointCovering(size: number, options: { readonly timeoutMs?: number } = {}): Promise<StoredCheckpoint> {
    if (this.closed) throw this.closing(size);
    const latest = this.newest((await latestTrustedCheckpoint(this.config.db, this.identity)).trusted);
    // One beyond the log (its last entries deleted) covers nothing the log now holds: the pass says why.
    if (latest && latest.size >= size && latest.size <= (await treeSize(this.config.db))) return latest;
    if (this.closed) throw this.closing(size);
    const timeoutMs = options.timeoutMs ?? this.config.intervalSeconds * 1000 + COVERING_SLACK_MS;
    return new Promise<StoredCheckpoint>((resolve, reject) => {
      const waiter: CoveringWaiter = {
        size,
        after: this.passesBegun,
        resolve,
        reject,
        deadline: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            errors.unavailable(
              `No checkpoint covering entry ${size} was signed within ${timeoutMs / 1000} s: the server logs why it signs none (see docs/evidence.md, "Signed checkpoints"). Try again in a few seconds.`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      this.armWake();
    });
  }

  /** Stops the timer, then signs what was appended since the last checkpoint and publishes it (when started). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.wake);
    this.wake = undefined;
    if (this.started) await this.signNow();
    else await this.running?.catch(() => undefined);
    for (const waiter of this.waiters) this.settle(waiter, this.closing(waiter.size));
  }

  private closing(size: number) {
    return errors.unavailable(`The server is shutting down: it signs no checkpoint covering entry ${size} any more. Try again once it is back.`);
  }

  /** Arms the pass the waiters need: one interval after the last pass began (in real time), at once if none ran. */
  private armWake(): void {
    if (this.wake || this.closed || this.waiters.size === 0) return;
    const since = this.lastPassMonotonic === undefined ? Number.POSITIVE_INFINITY : performance.now() - this.lastPassMonotonic;
    this.wake = setTimeout(() => void this.passForWaiters(), Math.max(0, this.config.intervalSeconds * 1000 - since));
  }

  private async passForWaiters(): Promise<void> {
    this.wake = undefined;
    if (this.closed || this.waiters.size === 0) return;
    if (this.running) {
      // A pass began meanwhile (the timer's, or a shutdown's): it settles whom it covers, and the next is an interval after it.
      await this.running.catch(() => undefined);
      this.armWake();
      return;
    }
    await this.signNow();
  }

  private settle(waiter: CoveringWaiter, outcome: StoredCheckpoint | Error): void {
    clearTimeout(waiter.deadline);
    this.waiters.delete(waiter);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  private async pass(): Promise<StoredCheckpoint | undefined> {
    this.lastPassAt = this.config.clock.now().getTime();
    this.lastPassMonotonic = performance.now();
    this.passesBegun += 1;
    const number = this.passesBegun;
    let outcome: PassOutcome;
    try {
      outcome = await this.signIfGrown();
    } catch (error) {
      this.config.logger?.error({ err: error }, 'signing a checkpoint of the event log failed; trying again on the next pass');
      outcome = { latest: this.lastSigned, refusal: 'signing failed (the server log says why)' };
    }
    if (outcome.latest) await this.publish(outcome.latest);
    // A pass that refused to sign vouches for nothing new: its latest may even be beyond the log.
    const covering = outcome.refusal === undefined ? outcome.latest : undefined;
    for (const waiter of this.waiters) {
      if (covering && covering.size >= waiter.size) this.settle(waiter, covering);
      else if (number > waiter.after) {
        // This pass read the log after the caller's entries were committed, and still signed none covering them.
        this.settle(waiter, errors.unavailable(`No checkpoint covering entry ${waiter.size} can be signed: ${outcome.refusal ?? 'the log holds fewer entries'}. See docs/evidence.md, "Signed checkpoints".`));
      }
    }
    this.armWake();
    return outcome.signed;
  }

  private async signIfGrown(): Promise<PassOutcome> {
    const { db, clock, signingKey } = this.config;
    const { trusted, rejected, rejectedCount } = await latestTrustedCheckpoint(db, this.identity);
    // Reported before the head is read, so this pass's checkpoint covers the entries that record them.
    await this.report(rejected, rejectedCount);
    const latest = this.newest(trusted);
    let head: TreeHead;
    try {
      head = await this.config.treeHead.head(latest ? { size: latest.size, root: latest.rootHash } : { size: 0, root: EMPTY_ROOT });
    } catch (error) {
      if (!(error instanceof TreeAlteredError)) throw error;
      this.warnOnce(`altered:${error.message}`, `the event log's tree is not what its entries give: ${error.message}; no checkpoint is signed until this is resolved (run \`changegate verify\`)`);
      return { latest, refusal: "the event log's stored tree was altered" };
    }
    if (latest && head.size < latest.size) {
      // A checkpoint the log's own key signed is beyond the log: entries were deleted from its end, or an
      // older backup restored. Signing the shorter log would sign a fork of what witnesses and auditors hold.
      this.warnOnce(
        `shrunk:${head.size}`,
        `the event log has ${head.size} entries but checkpoint ${latest.size} was signed: entries were removed (or an older backup restored); no checkpoint is signed until this is resolved (docs/evidence.md, "When the log's last entries were deleted")`,
      );
      return { latest, refusal: `the log holds ${head.size} entries, fewer than the ${latest.size} its checkpoint signed` };
    }
    if (latest && head.size === latest.size) {
      if (!head.root.equals(latest.rootHash)) {
        this.warnOnce(`forked:${head.size}`, `the event log's root at ${head.size} entries is not the one its checkpoint signed: the log was rewritten; no checkpoint is signed`);
        return { latest, refusal: `the log's root at ${head.size} entries is not the one its checkpoint signed` };
      }
      return { latest };
    }
    const text = formatCheckpoint({ origin: signingKey.origin, size: head.size, rootHash: head.root, extensions: [] });
    const checkpoint: StoredCheckpoint = {
      size: head.size,
      rootHash: head.root,
      origin: signingKey.origin,
      keyId: signingKey.keyId,
      note: signNote(text, signingKey.key),
      createdAt: clock.now(),
    };
    this.lastSigned = checkpoint;
    if (await insertCheckpoint(db, checkpoint)) return { signed: checkpoint, latest: checkpoint };
    const there = await checkpointAt(db, checkpoint.size);
    const problem = there && checkpointRowProblem(there, this.identity);
    // Another instance signed this size first: theirs (the same note) is the one kept.
    if (there && !problem) return { latest: there };
    // A row that is not the log's holds this size, and the table refuses to replace it: the
    // checkpoint is still signed and published to the sinks, only the database lacks it.
    if (there && problem) await this.report([{ checkpoint: there, ...problem }], 1);
    this.warnOnce(
      `held:${checkpoint.size}`,
      `checkpoint ${checkpoint.size} is signed and published, but not stored: a row that is not this log's holds its size in the checkpoint table; the next checkpoint is stored as usual`,
    );
    return { signed: checkpoint, latest: checkpoint };
  }

  /** The larger of the latest trusted row and the last checkpoint this publisher signed. */
  private newest(trusted: StoredCheckpoint | undefined): StoredCheckpoint | undefined {
    if (!this.lastSigned) return trusted;
    return trusted && trusted.size >= this.lastSigned.size ? trusted : this.lastSigned;
  }

  /**
   * Each rejected row once: a warning line, and a `log.checkpoint.rejected` entry unless the log
   * already holds one for the same row (another instance's, or before a restart). Never throws:
   * the report failing (an append refused) must not stop the signing.
   */
  private async report(rejected: readonly RejectedCheckpoint[], total: number): Promise<void> {
    let reported = 0;
    for (const { checkpoint, reason, message } of rejected) {
      const noteSha256 = createHash('sha256').update(checkpoint.note, 'utf8').digest('hex');
      const id = `${checkpoint.size}:${noteSha256}`;
      if (this.reported.has(id)) continue;
      if (reported >= MAX_REPORTED) break;
      this.reported.add(id);
      reported += 1;
      const hint = reason === 'unknown_key' ? ' (instances sharing a database must share the log signing key, CHANGEGATE_LOG_SIGNING_KEY)' : '';
      this.config.logger?.warn(
        { size: checkpoint.size, reason },
        `a row of the checkpoint table is not this log's and is ignored: ${message}${hint}; it was written outside Changegate's signing (see docs/evidence.md, "A checkpoint row that does not verify")`,
      );
      try {
        await this.config.db.transaction().execute(async (trx) => {
          if (await rejectionLogged(trx, checkpoint.size, noteSha256)) return;
          await appendEvent(trx, {
            actor: 'system',
            action: CHECKPOINT_REJECTED_ACTION,
            subject: `checkpoint:${checkpoint.size}`,
            data: { size: checkpoint.size, reason, keyId: checkpoint.keyId.slice(0, 16), noteSha256 },
            time: this.config.clock.now(),
          });
        });
      } catch (error) {
        this.config.logger?.error({ size: checkpoint.size, reason: (error as Error).message }, `recording the rejected checkpoint row ${checkpoint.size} in the event log failed`);
      }
    }
    if (total > MAX_REPORTED) {
      this.warnOnce(`rejected-many:${total}`, `${total} rows of the checkpoint table above the latest checkpoint of this log do not verify with its key; at most ${MAX_REPORTED} are reported in a pass`);
    }
  }

  private async publish(checkpoint: StoredCheckpoint): Promise<void> {
    await Promise.all(
      this.config.sinks.map(async (sink) => {
        if ((this.published.get(sink) ?? -1) >= checkpoint.size) return;
        try {
          const outcome = await sink.publish(checkpoint);
          // A witness's one line, verified with its key by the sink (which keeps no more).
          const [cosignature] = outcome.cosignatures;
          if (sink.witness !== undefined && cosignature) {
            await insertCosignature(this.config.db, { size: checkpoint.size, witness: sink.witness, ...cosignature, receivedAt: this.config.clock.now() });
          }
          if (outcome.warning) this.config.logger?.warn({ sink: sink.name, size: checkpoint.size }, outcome.warning);
          this.published.set(sink, checkpoint.size);
        } catch (error) {
          this.config.logger?.error({ sink: sink.name, size: checkpoint.size, reason: (error as Error).message }, `publishing checkpoint ${checkpoint.size} to ${sink.name} failed; trying again on the next pass`);
        }
      }),
    );
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.config.logger?.error(message);
  }
}
