export { NOTICE_KINDS, type KnownNoticeKind, type Notice, type NoticeKind } from './notice.ts';
export { NotificationService, type NotificationServiceDeps, type NotifyResult } from './notification.service.ts';
export type { NotificationView } from './notification.ts';
export { WebhookService, type NewWebhook, type WebhookPatch, type WebhookServiceDeps } from './webhook.service.ts';
export type { WebhookWithSecret } from './webhook.views.ts';
export {
  DELIVERY_HEADER,
  EVENT_HEADER,
  SIGNATURE_HEADER,
  signWebhookBody,
  verifyWebhookSignature,
  WEBHOOK_TEST_KIND,
  type WebhookPayload,
  type WebhookView,
  NOTIFICATION_SEALED_COLUMNS,
} from './webhook.ts';
export { DeliveryService, type DeliveryQuery, type DeliveryServiceDeps } from './delivery.service.ts';
export { DEFAULT_RETRY_DELAYS_MS, type DeliveryChannel, type DeliveryStatus, type DeliveryView } from './delivery.ts';
export { Dispatcher, type AttemptResult, type DeliveryAttempt, type DispatcherOptions } from './dispatcher.ts';
export { SmtpMailer, type MailMessage, type Mailer } from './email-sender.ts';
export { webhookKind } from './webhook.store.ts';
