import type { Insertable, Updateable } from 'kysely';
import type { Executor, Tx } from '../platform/database.ts';
import type { DeliveryChannel, DeliveryStatus, NotificationDeliveryTable } from '../platform/tables/notifications.ts';
import type { StoredDelivery } from './delivery.ts';

export async function insertDeliveries(db: Executor, rows: ReadonlyArray<Insertable<NotificationDeliveryTable>>): Promise<void> {
  if (rows.length > 0) await db.insertInto('notification_delivery').values([...rows]).execute();
}

export interface Claim {
  readonly id: string;
  /** The attempt number this claim makes; the outcome is recorded only while it still matches. */
  readonly attempts: number;
}

/**
 * Claims up to `limit` due deliveries inside the caller's short transaction: locks them with
 * FOR UPDATE SKIP LOCKED (rows another instance is claiming are passed over, not waited for),
 * counts the attempt and moves `next_attempt_at` to the end of the lease. Once the transaction
 * commits, the rows are no longer due, so nobody else sends them while this instance does; if it
 * dies, they come due again when the lease ends.
 */
export async function claimDueDeliveries(trx: Tx, now: Date, leaseUntil: Date, limit: number): Promise<Claim[]> {
  const due = await trx
    .selectFrom('notification_delivery')
    .select('id')
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  if (due.length === 0) return [];
  return trx
    .updateTable('notification_delivery')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), last_attempt_at: now, next_attempt_at: leaseUntil }))
    .where(
      'id',
      'in',
      due.map((row) => row.id),
    )
    .returning(['id', 'attempts'])
    .execute();
}

/** A claimed delivery with what it takes to send it. */
export interface DeliveryToSend {
  readonly id: string;
  readonly channel: DeliveryChannel;
  readonly address: string | null;
  readonly webhook_id: string | null;
  readonly webhook_url: string | null;
  readonly webhook_secret_sealed: string | null;
  readonly webhook_enabled: boolean | null;
  readonly kind: string;
  readonly title: string;
  readonly body: string;
  readonly link: string | null;
  readonly data: Record<string, unknown>;
  readonly notice_created_at: Date;
}

export async function loadDeliveries(db: Executor, ids: readonly string[]): Promise<DeliveryToSend[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('notification_delivery as d')
    .innerJoin('notice as n', 'n.id', 'd.notice_id')
    .leftJoin('webhook as w', 'w.id', 'd.webhook_id')
    .select([
      'd.id',
      'd.channel',
      'd.address',
      'd.webhook_id',
      'w.url as webhook_url',
      'w.secret as webhook_secret_sealed',
      'w.enabled as webhook_enabled',
      'n.kind',
      'n.title',
      'n.body',
      'n.link',
      'n.data',
      'n.created_at as notice_created_at',
    ])
    .where('d.id', 'in', [...ids])
    .execute();
}

export type AttemptOutcome = Pick<Updateable<NotificationDeliveryTable>, 'status' | 'next_attempt_at' | 'last_error' | 'last_status_code' | 'delivered_at'>;

/**
 * Records how an attempt went, only if the delivery is still at the attempt this instance claimed
 * (a claim whose lease ran out may have been taken over). Returns whether it was recorded.
 */
export async function recordAttempt(db: Executor, claim: Claim, outcome: AttemptOutcome): Promise<boolean> {
  const result = await db
    .updateTable('notification_delivery')
    .set(outcome)
    .where('id', '=', claim.id)
    .where('attempts', '=', claim.attempts)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface DeliveryLogFilter {
  readonly status?: DeliveryStatus;
  readonly channel?: DeliveryChannel;
  readonly webhookId?: string;
  readonly limit: number;
  /** Only deliveries older than this one (the last of the page you have). */
  readonly before?: { readonly createdAt: Date; readonly id: string };
}

function logQuery(db: Executor) {
  return db
    .selectFrom('notification_delivery as d')
    .innerJoin('notice as n', 'n.id', 'd.notice_id')
    .leftJoin('webhook as w', 'w.id', 'd.webhook_id')
    .select([
      'd.id',
      'd.channel',
      'n.kind',
      'n.title',
      'd.status',
      'd.attempts',
      'd.next_attempt_at',
      'd.last_attempt_at',
      'd.last_error',
      'd.last_status_code',
      'd.delivered_at',
      'd.created_at',
      'd.address',
      'd.user_id',
      'd.webhook_id',
      'w.name as webhook_name',
    ]);
}

/** The delivery log, newest first. */
export async function listDeliveries(db: Executor, filter: DeliveryLogFilter): Promise<StoredDelivery[]> {
  let query = logQuery(db);
  if (filter.status) query = query.where('d.status', '=', filter.status);
  if (filter.channel) query = query.where('d.channel', '=', filter.channel);
  if (filter.webhookId) query = query.where('d.webhook_id', '=', filter.webhookId);
  const before = filter.before;
  if (before) query = query.where((eb) => eb(eb.refTuple('d.created_at', 'd.id'), '<', eb.tuple(before.createdAt, before.id)));
  return query.orderBy('d.created_at', 'desc').orderBy('d.id', 'desc').limit(filter.limit).execute();
}

export async function findDelivery(db: Executor, id: string): Promise<StoredDelivery | undefined> {
  return logQuery(db).where('d.id', '=', id).executeTakeFirst();
}

/** Puts a failed delivery back in the queue, due now, with a fresh schedule of attempts. */
export async function requeueDelivery(db: Executor, id: string, now: Date): Promise<void> {
  await db
    .updateTable('notification_delivery')
    .set({ status: 'pending', attempts: 0, next_attempt_at: now, delivered_at: null })
    .where('id', '=', id)
    .where('status', '=', 'failed')
    .execute();
}
