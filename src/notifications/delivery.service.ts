import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { presentDelivery, type DeliveryChannel, type DeliveryLogRow, type DeliveryStatus, type DeliveryView, type StoredDelivery } from './delivery.ts';
import type { Recipients } from './recipients.ts';
import { findDelivery, listDeliveries, requeueDelivery } from './delivery.store.ts';
import { findWebhook } from './webhook.store.ts';

export interface DeliveryServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** The usernames of e-mails' recipients. */
  readonly users: Recipients;
  /** Called after a retry commits, so the dispatcher sends it now rather than at its next poll. */
  readonly wake?: () => void;
}

export interface DeliveryQuery {
  readonly status?: DeliveryStatus;
  readonly channel?: DeliveryChannel;
  readonly limit?: number;
  /** Only deliveries older than this one (the id of the last of the page you have). */
  readonly before?: string;
}

export const DELIVERY_PAGE_DEFAULT = 100;

/** The delivery log of e-mails and webhook calls, and retrying a failed one. `User.Admin` system-wide. */
export class DeliveryService {
  constructor(private readonly deps: DeliveryServiceDeps) {}

  async list(actor: Actor, query: DeliveryQuery = {}): Promise<DeliveryView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      return this.page(trx, query);
    });
  }

  /** One webhook's deliveries, newest first. */
  async ofWebhook(actor: Actor, webhookId: string, query: Omit<DeliveryQuery, 'channel'> = {}): Promise<DeliveryView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      if (!(await findWebhook(trx, webhookId))) throw errors.notFound('webhook', webhookId);
      return this.page(trx, { ...query, channel: 'webhook' }, webhookId);
    });
  }

  async get(actor: Actor, id: string): Promise<DeliveryView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const row = await findDelivery(trx, id);
      if (!row) throw errors.notFound('delivery', id);
      const [named] = await this.withUsernames(trx, [row]);
      return presentDelivery(named as DeliveryLogRow);
    });
  }

  /** Puts a failed delivery back in the queue, due now, with a fresh schedule of attempts. */
  async retry(actor: Actor, id: string): Promise<DeliveryView> {
    const view = await this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const row = await findDelivery(trx, id);
      if (!row) throw errors.notFound('delivery', id);
      if (row.status !== 'failed') {
        throw errors.conflict(`Only a failed delivery can be retried; this one is ${row.status}.`, { status: row.status });
      }
      const now = this.deps.clock.now();
      await requeueDelivery(trx, id, now);
      await appendEvent(trx, {
        actor: actor.username,
        action: 'notification.delivery.retry',
        subject: `delivery:${id}`,
        data: { channel: row.channel, kind: row.kind, attemptsBefore: row.attempts, ...(row.webhook_name !== null && { webhook: row.webhook_name }) },
        time: now,
      });
      const [named] = await this.withUsernames(trx, [row]);
      return presentDelivery({ ...(named as DeliveryLogRow), status: 'pending', attempts: 0, next_attempt_at: now, delivered_at: null });
    });
    this.deps.wake?.();
    return view;
  }

  private async page(trx: Tx, query: DeliveryQuery, webhookId?: string): Promise<DeliveryView[]> {
    let before: { createdAt: Date; id: string } | undefined;
    if (query.before !== undefined) {
      const row = await findDelivery(trx, query.before);
      if (!row) throw errors.notFound('delivery', query.before);
      before = { createdAt: row.created_at, id: row.id };
    }
    const rows = await listDeliveries(trx, {
      ...(query.status && { status: query.status }),
      ...(query.channel && { channel: query.channel }),
      ...(webhookId && { webhookId }),
      ...(before && { before }),
      limit: query.limit ?? DELIVERY_PAGE_DEFAULT,
    });
    return (await this.withUsernames(trx, rows)).map(presentDelivery);
  }

  /** The deliveries with their recipients' usernames, asked once for the page. */
  private async withUsernames(trx: Tx, rows: readonly StoredDelivery[]): Promise<DeliveryLogRow[]> {
    const userIds = [...new Set(rows.map((row) => row.user_id).filter((id): id is string => id !== null))];
    const usernames = new Map((await this.deps.users.recipientsOf(trx, userIds)).map((user) => [user.id, user.username]));
    return rows.map(({ user_id: userId, ...row }) => ({ ...row, username: (userId !== null && usernames.get(userId)) || null }));
  }
}
