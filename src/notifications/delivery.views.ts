import { Type, type Static } from 'typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const DeliveryStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]);

/** What the delivery log shows: attempts, the last error and the next attempt. */
export const DeliveryViewSchema = Type.Object({
  id: Type.String(),
  channel: Type.Union([Type.Literal('email'), Type.Literal('webhook')]),
  kind: Type.String(),
  title: Type.String(),
  status: DeliveryStatusSchema,
  attempts: Type.Integer(),
  /** Set while the delivery is pending. */
  nextAttemptAt: Nullable(Type.String()),
  lastAttemptAt: Nullable(Type.String()),
  lastError: Nullable(Type.String()),
  /** The HTTP status of the last webhook attempt, or the SMTP reply code of the last e-mail attempt. */
  lastStatusCode: Nullable(Type.Integer()),
  deliveredAt: Nullable(Type.String()),
  createdAt: Type.String(),
  /** E-mail only: who and at which address. */
  recipient: Nullable(Type.Object({ username: Nullable(Type.String()), address: Type.String() })),
  /** Webhook only. */
  webhook: Nullable(Type.Object({ id: Type.String(), name: Type.String() })),
});

export type DeliveryView = Static<typeof DeliveryViewSchema>;
