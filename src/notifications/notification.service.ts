import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely } from 'kysely';
import type { Actor } from '../access/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import type { NotificationDeliveryTable } from '../platform/tables/notifications.ts';
import { insertDeliveries } from './delivery.store.ts';
import { noticeProblem, type Notice } from './notice.ts';
import { NOTIFICATION_PAGE_DEFAULT, presentNotification, type NotificationFilter, type NotificationView } from './notification.ts';
import {
  countUnread,
  findNotification,
  insertNotice,
  insertNotifications,
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
} from './notification.store.ts';
import { subscribedWebhookIds } from './webhook.store.ts';
import type { Recipients } from './recipients.ts';

export interface NotificationServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** SMTP is configured: recipients with an e-mail address also get an e-mail. */
  readonly emailEnabled: boolean;
  /** Who the recipients are: their usernames, e-mail addresses, whether they are disabled. */
  readonly users: Recipients;
}

/** What `notify` queued. */
export interface NotifyResult {
  readonly noticeId: string;
  /** In-app notifications written, one per recipient. */
  readonly inApp: number;
  /** E-mail deliveries queued. */
  readonly emails: number;
  /** Webhook deliveries queued. */
  readonly webhooks: number;
}

/**
 * Notifying, and each user's in-app notifications.
 *
 * `notify` runs inside the caller's transaction and only writes rows: the in-app notifications and
 * an outbox of e-mail and webhook deliveries that the `Dispatcher` sends afterwards. So a notice
 * exists exactly when the change that caused it commits, and no channel, however slow or broken,
 * can fail or delay the caller.
 */
export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  /**
   * Queues a notice for its recipients and subscribed webhooks, in the caller's transaction; no
   * network I/O. Throws a plain Error for a malformed notice or an unknown recipient: both are bugs.
   *
   * @example
   *   await db.transaction().execute(async (trx) => {
   *     const request = await insertRequest(trx, …);
   *     await notifications.notify(trx, {
   *       kind: 'request.created',
   *       recipients: approverIds,
   *       title: `CHG-42: alice asks to run "Patch web01"`,
   *       body: 'Justification: kernel update.',
   *       link: `/requests/${request.id}`,
   *       data: { requestId: request.id, change: 'CHG-42', requester: 'alice' },
   *     });
   *   });
   */
  async notify(trx: Tx, notice: Notice): Promise<NotifyResult> {
    const problem = noticeProblem(notice);
    if (problem) throw new Error(`notify: the notice is not valid: ${problem}`);
    const recipientIds = [...new Set(notice.recipients)];
    const recipients = await this.deps.users.recipientsOf(trx, recipientIds);
    const missing = recipientIds.filter((id) => !recipients.some((recipient) => recipient.id === id));
    if (missing.length > 0) throw new Error(`notify: no user has the id ${missing.join(', ')}`);

    const now = this.deps.clock.now();
    const noticeId = randomUUID();
    await insertNotice(trx, {
      id: noticeId,
      kind: notice.kind,
      title: notice.title,
      body: notice.body,
      link: notice.link ?? null,
      // A round trip through JSON stores exactly what webhooks will receive (no undefined, no Dates).
      data: JSON.parse(JSON.stringify(notice.data)) as Record<string, unknown>,
      created_at: now,
    });
    await insertNotifications(
      trx,
      recipients.map((recipient) => ({ id: randomUUID(), notice_id: noticeId, user_id: recipient.id, created_at: now, read_at: null })),
    );

    const pending = { status: 'pending', attempts: 0, next_attempt_at: now, created_at: now, notice_id: noticeId } as const;
    const emails: Insertable<NotificationDeliveryTable>[] = this.deps.emailEnabled
      ? recipients
          .filter((recipient) => recipient.email !== null && !recipient.disabled)
          .map((recipient) => ({ ...pending, id: randomUUID(), channel: 'email', user_id: recipient.id, address: recipient.email }))
      : [];
    const webhooks: Insertable<NotificationDeliveryTable>[] = (await subscribedWebhookIds(trx, notice.kind)).map((webhookId) => ({
      ...pending,
      id: randomUUID(),
      channel: 'webhook',
      webhook_id: webhookId,
    }));
    await insertDeliveries(trx, [...emails, ...webhooks]);
    return { noticeId, inApp: recipients.length, emails: emails.length, webhooks: webhooks.length };
  }

  /** The caller's own notifications, newest first. */
  async list(actor: Actor, filter: Partial<NotificationFilter> = {}): Promise<NotificationView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      let beforeSeq: number | undefined;
      if (filter.before !== undefined) {
        const before = await findNotification(trx, actor.userId, filter.before);
        if (!before) throw errors.notFound('notification', filter.before);
        beforeSeq = before.seq;
      }
      const rows = await listNotifications(trx, actor.userId, {
        unreadOnly: filter.unreadOnly ?? false,
        limit: filter.limit ?? NOTIFICATION_PAGE_DEFAULT,
        ...(beforeSeq !== undefined && { beforeSeq }),
      });
      return rows.map(presentNotification);
    });
  }

  async unreadCount(actor: Actor): Promise<number> {
    return this.deps.db.transaction().execute((trx) => countUnread(trx, actor.userId));
  }

  /** Marks one of the caller's notifications read (again is fine); another user's is "not found". */
  async markRead(actor: Actor, id: string): Promise<NotificationView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const row = await findNotification(trx, actor.userId, id);
      if (!row) throw errors.notFound('notification', id);
      if (row.read_at !== null) return presentNotification(row);
      const now = this.deps.clock.now();
      await markNotificationRead(trx, actor.userId, id, now);
      return presentNotification({ ...row, read_at: now });
    });
  }

  /** Marks all the caller's notifications read; returns how many were unread. */
  async markAllRead(actor: Actor): Promise<number> {
    return this.deps.db.transaction().execute((trx) => markAllNotificationsRead(trx, actor.userId, this.deps.clock.now()));
  }
}
