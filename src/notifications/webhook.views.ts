import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

/** What leaves the process about a webhook: never its secret. */
export const WebhookViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  url: Type.String(),
  /** Notice kinds it receives; empty means all. */
  kinds: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  ...objectStamps,
});

export type WebhookView = Static<typeof WebhookViewSchema>;

/** Answered by create and secret rotation only: the one time the secret is shown. */
export const WebhookWithSecretSchema = Type.Object({
  webhook: WebhookViewSchema,
  secret: Type.String({ description: 'The HMAC-SHA256 key for X-Changegate-Signature. Shown this once: store it now.' }),
});

export type WebhookWithSecret = Static<typeof WebhookWithSecretSchema>;
