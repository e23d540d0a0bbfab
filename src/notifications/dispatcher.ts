import type { Kysely } from 'kysely';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import type { OutboundAddresses } from '../platform/outbound-address.ts';
import type { SecretBox } from '../platform/secret-box.ts';
import { clipError, DEFAULT_RETRY_DELAYS_MS, retryTime, type DeliveryChannel } from './delivery.ts';
import { DeliveryError, describeFailure } from './delivery-error.ts';
import { claimDueDeliveries, loadDeliveries, recordAttempt, type Claim, type DeliveryToSend } from './delivery.store.ts';
import { SmtpMailer, type Mailer } from './email-sender.ts';
import { absoluteLink } from './notice.ts';
import { DELIVERY_HEADER, EVENT_HEADER, secretContext, WEBHOOK_TEST_KIND, type WebhookPayload } from './webhook.ts';
import { postWebhook } from './webhook-sender.ts';

export interface DispatcherOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly secrets: SecretBox;
  /** Where users reach Changegate, without a trailing slash: links in e-mails and webhooks are made absolute with it. */
  readonly publicUrl: string;
  /** The SMTP server; undefined means e-mail is not configured (and e-mail deliveries fail). */
  readonly smtpUrl?: string | undefined;
  readonly smtpFrom: string;
  /** The addresses webhooks may reach (public ones, and `CHANGEGATE_WEBHOOK_ALLOW`): checked on each delivery. */
  readonly webhookAddresses: OutboundAddresses;
  /** Another way to send e-mail than `smtpUrl` (tests, other transports); not closed by `stop()`. */
  readonly mailer?: Mailer;
  readonly logger?: Logger;
  /** Waits after each failed attempt; n delays allow n + 1 attempts. Default: DEFAULT_RETRY_DELAYS_MS. */
  readonly retryDelaysMs?: readonly number[];
  /** How often `start()` looks for due deliveries. Default 1 s. */
  readonly pollIntervalMs?: number;
  /** Most deliveries claimed and sent (concurrently) per round. Default 20. */
  readonly batchSize?: number;
  /** Limit on each send: connecting, and every wait for the other side. Default 10 s. */
  readonly sendTimeoutMs?: number;
  /** How long a claim keeps other instances off a delivery; past it, a crashed instance's claim is taken over. Default 5 min. */
  readonly leaseMs?: number;
  /** Counts each attempt by channel and outcome (platform/metrics.ts). */
  readonly metrics?: { deliveryAttempted(channel: DeliveryChannel, outcome: AttemptResult): void };
}

export type AttemptResult = 'delivered' | 'retrying' | 'failed';

/** What one attempt did, as `runOnce` reports it. */
export interface DeliveryAttempt {
  readonly id: string;
  readonly channel: DeliveryChannel;
  /** The attempt's number, from 1. */
  readonly attempt: number;
  readonly result: AttemptResult;
  readonly error?: string;
  readonly statusCode?: number | null;
  readonly nextAttemptAt?: Date;
}

/**
 * Sends the outbox that `NotificationService.notify` fills, in the background.
 *
 * Each round claims the due deliveries in a short transaction (FOR UPDATE SKIP LOCKED, so several
 * instances share the work without sending anything twice), sends them outside any transaction,
 * each within `sendTimeoutMs`, and records each outcome: delivered; pending again at the next time
 * of the retry schedule; or failed after the last attempt. Timing decisions read the `Clock`.
 *
 * @example
 *   const webhookAddresses = new OutboundAddresses({ allow: config.webhookAllow });
 *   const dispatcher = new Dispatcher({ db, clock, secrets, publicUrl, smtpUrl, smtpFrom, webhookAddresses, logger });
 *   dispatcher.start();          // polls every second
 *   …
 *   await dispatcher.stop();     // waits for the round under way
 */
export class Dispatcher {
  private readonly retryDelaysMs: readonly number[];
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly sendTimeoutMs: number;
  private readonly leaseMs: number;
  private smtp: SmtpMailer | undefined;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private wakeRequested = false;
  /** Rounds run one after another, whether from the poll loop or `runOnce`. */
  private rounds: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DispatcherOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.batchSize = options.batchSize ?? 20;
    this.sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    const problems = [
      this.retryDelaysMs.every((delay) => Number.isFinite(delay) && delay >= 0) ? undefined : 'retryDelaysMs must hold non-negative numbers',
      this.pollIntervalMs > 0 ? undefined : 'pollIntervalMs must be positive',
      Number.isInteger(this.batchSize) && this.batchSize > 0 ? undefined : 'batchSize must be a positive integer',
      this.sendTimeoutMs > 0 ? undefined : 'sendTimeoutMs must be positive',
      this.leaseMs > this.sendTimeoutMs * 3 ? undefined : 'leaseMs must exceed three send timeouts (connect, greeting, answer)',
    ].filter((problem): problem is string => problem !== undefined);
    if (problems.length > 0) throw new Error(`Dispatcher: ${problems.join('; ')}`);
  }

  /** Polls for due deliveries until `stop()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Runs a round soon instead of at the next poll, e.g. after a commit that queued deliveries. */
  wake(): void {
    if (!this.running) return;
    if (this.inFlight > 0) this.wakeRequested = true;
    else this.schedule(0);
  }

  /** Stops polling and waits for the round under way to record its outcomes. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.rounds;
    this.smtp?.close();
    this.smtp = undefined;
  }

  /** One round: claims the due deliveries, sends them and records the outcomes; answers what it did. */
  runOnce(): Promise<DeliveryAttempt[]> {
    const round = this.rounds.then(() => this.round());
    this.rounds = round.catch(() => undefined);
    return round;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delayMs);
    // A forgotten dispatcher must not keep the process alive.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    let more = false;
    this.inFlight += 1;
    try {
      more = (await this.runOnce()).length >= this.batchSize;
    } catch (error) {
      this.options.logger?.error({ err: error }, 'notification dispatcher: a round failed; trying again at the next poll');
    } finally {
      this.inFlight -= 1;
    }
    if (!this.running) return;
    const soon = more || this.wakeRequested;
    this.wakeRequested = false;
    this.schedule(soon ? 0 : this.pollIntervalMs);
  }

  private async round(): Promise<DeliveryAttempt[]> {
    const { db, clock } = this.options;
    const deliveries = await db.transaction().execute(async (trx) => {
      const now = clock.now();
      const claims = await claimDueDeliveries(trx, now, new Date(now.getTime() + this.leaseMs), this.batchSize);
      const rows = await loadDeliveries(trx, claims.map((claim) => claim.id));
      return claims.flatMap((claim) => {
        const row = rows.find((candidate) => candidate.id === claim.id);
        return row ? [{ claim, row }] : [];
      });
    });
    const attempts = await Promise.all(deliveries.map(({ claim, row }) => this.attempt(claim, row)));
    for (const attempt of attempts) this.options.metrics?.deliveryAttempted(attempt.channel, attempt.result);
    return attempts;
  }

  private async attempt(claim: Claim, delivery: DeliveryToSend): Promise<DeliveryAttempt> {
    const base = { id: claim.id, channel: delivery.channel, attempt: claim.attempts };
    let statusCode: number | null;
    try {
      statusCode = await this.send(delivery);
    } catch (error) {
      return this.recordFailure(claim, base, error);
    }
    const now = this.options.clock.now();
    await recordAttempt(this.options.db, claim, { status: 'delivered', next_attempt_at: null, last_error: null, last_status_code: statusCode, delivered_at: now });
    return { ...base, result: 'delivered', statusCode };
  }

  private async recordFailure(claim: Claim, base: Omit<DeliveryAttempt, 'result'>, error: unknown): Promise<DeliveryAttempt> {
    const now = this.options.clock.now();
    const message = clipError(describeFailure(error, this.sendTimeoutMs));
    const statusCode = error instanceof DeliveryError ? error.statusCode : null;
    const permanent = error instanceof DeliveryError && error.permanent;
    const next = permanent ? undefined : retryTime(this.retryDelaysMs, claim.attempts, now);
    await recordAttempt(this.options.db, claim, {
      status: next ? 'pending' : 'failed',
      next_attempt_at: next ?? null,
      last_error: message,
      last_status_code: statusCode,
    });
    // Never the URL or the payload: a URL may hold a token, a payload private details.
    this.options.logger?.warn(
      { deliveryId: claim.id, channel: base.channel, attempt: claim.attempts, error: message, ...(next && { nextAttemptAt: next.toISOString() }) },
      next ? 'notification delivery failed; it will be retried' : 'notification delivery failed for good',
    );
    return { ...base, result: next ? 'retrying' : 'failed', error: message, statusCode, ...(next && { nextAttemptAt: next }) };
  }

  /** Sends one delivery; resolves with the other side's status code, throws on any failure. */
  private async send(delivery: DeliveryToSend): Promise<number | null> {
    const link = absoluteLink(this.options.publicUrl, delivery.link);
    if (delivery.channel === 'email') {
      const mailer = this.mailer();
      if (!mailer) throw new DeliveryError('e-mail is not configured on this server (CHANGEGATE_SMTP_URL)');
      if (!delivery.address) throw new DeliveryError('the delivery has no e-mail address', null, true);
      return mailer.send({
        to: delivery.address,
        subject: delivery.title,
        text: link ? `${delivery.body}\n\n${link}\n` : `${delivery.body}\n`,
        headers: { [EVENT_HEADER]: delivery.kind, [DELIVERY_HEADER]: delivery.id, 'Auto-Submitted': 'auto-generated' },
      });
    }
    if (!delivery.webhook_url || delivery.webhook_secret_sealed === null || delivery.webhook_id === null) {
      throw new DeliveryError('the webhook no longer exists', null, true);
    }
    if (delivery.webhook_enabled === false && delivery.kind !== WEBHOOK_TEST_KIND) {
      throw new DeliveryError('the webhook is disabled; enable it and retry the delivery', null, true);
    }
    const payload: WebhookPayload = {
      id: delivery.id,
      kind: delivery.kind,
      title: delivery.title,
      body: delivery.body,
      link: delivery.link,
      url: link,
      data: delivery.data,
      createdAt: delivery.notice_created_at.toISOString(),
      sentAt: this.options.clock.now().toISOString(),
    };
    let secret: string;
    try {
      secret = this.options.secrets.open(delivery.webhook_secret_sealed, secretContext(delivery.webhook_id));
    } catch (error) {
      throw new DeliveryError(`the webhook's secret cannot be opened: ${(error as Error).message}`);
    }
    return postWebhook({ url: delivery.webhook_url, secret, payload, timeoutMs: this.sendTimeoutMs, addresses: this.options.webhookAddresses });
  }

  private mailer(): Mailer | undefined {
    if (this.options.mailer) return this.options.mailer;
    if (!this.options.smtpUrl) return undefined;
    this.smtp ??= new SmtpMailer({ url: this.options.smtpUrl, from: this.options.smtpFrom, timeoutMs: this.sendTimeoutMs });
    return this.smtp;
  }
}
