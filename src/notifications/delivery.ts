import type { DeliveryChannel, DeliveryStatus } from '../platform/tables/notifications.ts';
import type { DeliveryView } from './delivery.views.ts';

export type { DeliveryChannel, DeliveryStatus } from '../platform/tables/notifications.ts';

export const DELIVERY_CHANNELS: readonly DeliveryChannel[] = ['email', 'webhook'];
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed'];

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * How long to wait after each failed attempt: 10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h. With the
 * first attempt that makes 8 attempts over about 3 h 43 min, after which a delivery is `failed`
 * (an administrator may retry it).
 */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [10 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR];

/**
 * When to try again after attempt number `attempts` (1-based) failed, or undefined when it was the
 * last one: a schedule of n delays allows n + 1 attempts.
 */
export function retryTime(retryDelaysMs: readonly number[], attempts: number, now: Date): Date | undefined {
  const delay = retryDelaysMs[attempts - 1];
  return delay === undefined ? undefined : new Date(now.getTime() + delay);
}

/** The longest text of an error kept in the delivery log. */
export const ERROR_TEXT_MAX = 500;

export function clipError(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > ERROR_TEXT_MAX ? `${oneLine.slice(0, ERROR_TEXT_MAX - 1)}…` : oneLine;
}

/** A delivery as stored, with its notice's kind and title and its webhook's name; the recipient is a user id. */
export type StoredDelivery = Omit<DeliveryLogRow, 'username'> & { readonly user_id: string | null };

/** A delivery with what the log shows about its notice and recipient. */
export interface DeliveryLogRow {
  readonly id: string;
  readonly channel: DeliveryChannel;
  readonly kind: string;
  readonly title: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly next_attempt_at: Date | null;
  readonly last_attempt_at: Date | null;
  readonly last_error: string | null;
  readonly last_status_code: number | null;
  readonly delivered_at: Date | null;
  readonly created_at: Date;
  readonly address: string | null;
  readonly username: string | null;
  readonly webhook_id: string | null;
  readonly webhook_name: string | null;
}

export type { DeliveryView } from './delivery.views.ts';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export function presentDelivery(row: DeliveryLogRow): DeliveryView {
  return {
    id: row.id,
    channel: row.channel,
    kind: row.kind,
    title: row.title,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? iso(row.next_attempt_at) : null,
    lastAttemptAt: iso(row.last_attempt_at),
    lastError: row.last_error,
    lastStatusCode: row.last_status_code,
    deliveredAt: iso(row.delivered_at),
    createdAt: row.created_at.toISOString(),
    recipient: row.channel === 'email' && row.address !== null ? { username: row.username, address: row.address } : null,
    webhook: row.channel === 'webhook' && row.webhook_id !== null ? { id: row.webhook_id, name: row.webhook_name ?? '' } : null,
  };
}
