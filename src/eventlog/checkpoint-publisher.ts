import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import { CheckpointFormatError, formatCheckpoint, parseCheckpoint } from './checkpoint.ts';
import type { CheckpointSink } from './checkpoint-sinks.ts';
import { insertCheckpoint, insertCosignature, latestCheckpoint, type StoredCheckpoint } from './checkpoint.store.ts';
import type { LogSigningKey } from './log-signing-key.ts';
import { TreeAlteredError } from './event-tree.ts';
import { EMPTY_ROOT } from './merkle.ts';
import { NoteError, signNote, verifierOf, verifyNote } from './signed-note.ts';
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
}

/** A timer may fire a little early; a pass that early still counts as a full interval after the last. */
const TIMER_SLACK_MS = 50;

/**
 * Signs a checkpoint of the event log whenever it has grown, at most once per interval, and once
 * more at shutdown; then copies the newest checkpoint to every sink that has not got it yet. A sink
 * that fails is logged and tried again on the next pass, with the newest checkpoint then (which
 * covers every older one). Nothing here ever throws into the server: a failed pass is logged.
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
  private lastPassAt: number | undefined;
  /** The largest checkpoint size each sink has taken. */
  private readonly published = new Map<CheckpointSink, number>();
  /** The last head this publisher signed: what a new root is recomputed from when the latest checkpoint is not its log's. */
  private signedHead: TreeHead | undefined;
  /** Said once, not on every pass: the log is shorter than its checkpoint, or another key signs. */
  private readonly warned = new Set<string>();

  constructor(private readonly config: CheckpointPublisherConfig) {}

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
    return this.signNow();
  }

  /**
   * Signs a checkpoint if the log has grown since the latest one and publishes the latest to the
   * sinks that lack it. Returns the checkpoint this pass signed, if any.
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

  /** Stops the timer, then signs what was appended since the last checkpoint and publishes it (when started). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (this.started) await this.signNow();
    else await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<StoredCheckpoint | undefined> {
    this.lastPassAt = this.config.clock.now().getTime();
    let signed: StoredCheckpoint | undefined;
    let latest: StoredCheckpoint | undefined;
    try {
      ({ signed, latest } = await this.signIfGrown());
    } catch (error) {
      this.config.logger?.error({ err: error }, 'signing a checkpoint of the event log failed; trying again on the next pass');
      return undefined;
    }
    if (latest) await this.publish(latest);
    return signed;
  }

  private async signIfGrown(): Promise<{ signed?: StoredCheckpoint; latest?: StoredCheckpoint }> {
    const { db, clock, signingKey } = this.config;
    const latest = await latestCheckpoint(db);
    let head: TreeHead;
    try {
      head = await this.config.treeHead.head(this.trustedHead(latest));
    } catch (error) {
      if (!(error instanceof TreeAlteredError)) throw error;
      this.warnOnce(`altered:${error.message}`, `the event log's tree is not what its entries give: ${error.message}; no checkpoint is signed until this is resolved (run \`changegate verify\`)`);
      return latest ? { latest } : {};
    }
    if (latest && latest.keyId !== signingKey.keyId) this.warnOnce(`key:${latest.keyId}`, `the latest checkpoint was signed with key ${latest.keyId}, this instance signs with ${signingKey.keyId}: instances sharing a database must share the log signing key (CHANGEGATE_LOG_SIGNING_KEY)`);
    if (latest && head.size < latest.size) {
      // Never sign a checkpoint inconsistent with one signed before: entries were deleted, or the database restored.
      this.warnOnce(`shrunk:${head.size}`, `the event log has ${head.size} entries but checkpoint ${latest.size} was signed: entries were removed (or an older backup restored); no checkpoint is signed until this is resolved`);
      return { latest };
    }
    if (latest && head.size === latest.size) {
      if (!head.root.equals(latest.rootHash)) this.warnOnce(`forked:${head.size}`, `the event log's root at ${head.size} entries is not the one its checkpoint signed: the log was rewritten; no checkpoint is signed`);
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
    const inserted = await insertCheckpoint(db, checkpoint);
    this.signedHead = head;
    // Another instance signed this size first: theirs is the one kept.
    return inserted ? { signed: checkpoint, latest: checkpoint } : { latest: await latestCheckpoint(db) };
  }

  /**
   * The head a new root is recomputed from: the latest checkpoint if its signature verifies with
   * this log's key (a row inserted by hand cannot be signed), else the last this publisher signed,
   * else the empty tree (every leaf is then hashed once).
   */
  private trustedHead(latest: StoredCheckpoint | undefined): TreeHead {
    if (latest) {
      try {
        const checkpoint = parseCheckpoint(verifyNote(latest.note, verifierOf(this.config.signingKey.key)).text);
        if (checkpoint.origin === this.config.signingKey.origin && checkpoint.size === latest.size) return { size: checkpoint.size, root: checkpoint.rootHash };
      } catch (error) {
        if (!(error instanceof NoteError || error instanceof CheckpointFormatError)) throw error;
      }
    }
    return this.signedHead ?? { size: 0, root: EMPTY_ROOT };
  }

  private async publish(checkpoint: StoredCheckpoint): Promise<void> {
    await Promise.all(
      this.config.sinks.map(async (sink) => {
        if ((this.published.get(sink) ?? -1) >= checkpoint.size) return;
        try {
          const outcome = await sink.publish(checkpoint);
          // A witness's one line (the sink keeps no more), unless its key name is another witness's.
          const [cosignature] = outcome.cosignatures;
          if (sink.witness !== undefined && cosignature) {
            const kept = await insertCosignature(this.config.db, { size: checkpoint.size, witness: sink.witness, ...cosignature, receivedAt: this.config.clock.now() });
            if (kept.claimedBy !== undefined) {
              this.warnOnce(`claimed:${sink.witness}:${cosignature.keyName}`, `${sink.name} answered a signature under the key name ${cosignature.keyName}, which witness ${kept.claimedBy} answers under: it is not kept (check which witness holds that key)`);
            }
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
