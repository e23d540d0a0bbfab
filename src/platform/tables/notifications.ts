import type { Generated } from 'kysely';
import type { CreatedOnly, ObjectColumns } from './columns.ts';

/** Tables of the notifications module (in-app notices, webhooks, the delivery outbox). */
export interface NotificationTables {
  notice: NoticeTable;
  notification: NotificationTable;
  webhook: WebhookTable;
  notification_delivery: NotificationDeliveryTable;
}

/** What was notified, once, whatever the number of recipients and channels. */
export interface NoticeTable {
  id: CreatedOnly<string>;
  kind: CreatedOnly<string>;
  title: CreatedOnly<string>;
  body: CreatedOnly<string>;
  link: CreatedOnly<string | null>;
  data: CreatedOnly<Record<string, unknown>>;
  created_at: CreatedOnly<Date>;
}

/** One recipient's in-app copy of a notice. */
export interface NotificationTable {
  id: CreatedOnly<string>;
  seq: Generated<number>;
  notice_id: CreatedOnly<string>;
  user_id: CreatedOnly<string>;
  created_at: CreatedOnly<Date>;
  read_at: Date | null;
}

/** A configuration object, written through the object store; always in the GLOBAL partition. */
export interface WebhookTable extends ObjectColumns {
  partition_id: string;
  name: string;
  application_id: string | null;
  url: string;
  /** The HMAC secret sealed by the secret box under context `webhook:<id>`. */
  secret: string;
  kinds: string[];
  enabled: boolean;
}

export type DeliveryChannel = 'email' | 'webhook';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** The outbox: one e-mail or webhook delivery of a notice, with its attempts. */
export interface NotificationDeliveryTable {
  id: CreatedOnly<string>;
  notice_id: CreatedOnly<string>;
  channel: CreatedOnly<DeliveryChannel>;
  user_id: CreatedOnly<string | null>;
  address: CreatedOnly<string | null>;
  webhook_id: CreatedOnly<string | null>;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
  last_error: string | null;
  last_status_code: number | null;
  delivered_at: Date | null;
  created_at: CreatedOnly<Date>;
}
