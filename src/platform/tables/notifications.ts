/** Tables of the notifications module (in-app notices, webhooks, the delivery outbox). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NotificationTables {}
