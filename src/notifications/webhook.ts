import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ObjectMeta } from '../objects/index.ts';
import type { FieldProblem } from '../platform/errors.ts';
import type { SealedColumn } from '../platform/reseal.ts';
import { NOTICE_KIND_PATTERN } from './notice.ts';
import type { WebhookView } from './webhook.views.ts';

/**
 * Where notices are POSTed: a configuration object (versioned, in the event log, audited), always
 * in the GLOBAL partition since webhooks are system-wide.
 */
export interface Webhook extends ObjectMeta {
  readonly url: string;
  /** Sealed (`v1.<key id>.…`) under `secretContext(id)`: the HMAC key. */
  readonly secret: string;
  /** Notice kinds it receives; empty means all. */
  readonly kinds: readonly string[];
  readonly enabled: boolean;
}

export const SIGNATURE_HEADER = 'X-Changegate-Signature';
export const EVENT_HEADER = 'X-Changegate-Event';
export const DELIVERY_HEADER = 'X-Changegate-Delivery';

/** The notice kind of a test an administrator sends to one webhook, enabled or not, to check the receiver. */
export const WEBHOOK_TEST_KIND = 'webhook.test';

/** The context a webhook's secret is sealed under, so a sealed secret copied to another webhook does not open. */
export const secretContext = (webhookId: string) => `webhook:${webhookId}`;

/** Where notifications keep sealed values, for the vault rotation. */
export const NOTIFICATION_SEALED_COLUMNS: readonly SealedColumn[] = [{ table: 'webhook', column: 'secret', context: secretContext }];

export type { WebhookView } from './webhook.views.ts';

export function presentWebhook(webhook: Webhook): WebhookView {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    kinds: [...webhook.kinds],
    enabled: webhook.enabled,
    version: webhook.version,
    createdAt: webhook.createdAt.toISOString(),
    createdBy: webhook.createdBy,
    updatedAt: webhook.updatedAt.toISOString(),
    updatedBy: webhook.updatedBy,
  };
}

export interface WebhookFields {
  readonly name?: string;
  readonly url?: string;
  readonly kinds?: readonly string[];
  readonly secret?: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$/;
const URL_MAX = 2000;
const KINDS_MAX = 50;
const SECRET_MIN = 16;
const SECRET_MAX = 256;

/** Checks the fields given (absent ones are not checked). */
export function webhookProblems(fields: WebhookFields): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (fields.name !== undefined && !NAME_PATTERN.test(fields.name)) {
    problems.push({ path: '/name', message: 'must start with a letter or digit and hold at most 100 letters, digits, spaces, ".", "_" or "-"' });
  }
  if (fields.url !== undefined) {
    const problem = urlProblem(fields.url);
    if (problem) problems.push({ path: '/url', message: problem });
  }
  if (fields.kinds !== undefined) {
    if (fields.kinds.length > KINDS_MAX) problems.push({ path: '/kinds', message: `must list at most ${KINDS_MAX} kinds` });
    fields.kinds.forEach((kind, index) => {
      if (!NOTICE_KIND_PATTERN.test(kind)) problems.push({ path: `/kinds/${index}`, message: `"${kind}" is not a notice kind such as request.created` });
    });
  }
  if (fields.secret !== undefined && (fields.secret.length < SECRET_MIN || fields.secret.length > SECRET_MAX)) {
    problems.push({ path: '/secret', message: `must be ${SECRET_MIN} to ${SECRET_MAX} characters (leave it out to get a generated one)` });
  }
  return problems;
}

function urlProblem(text: string): string | undefined {
  if (text.length > URL_MAX) return `must be at most ${URL_MAX} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  // Credentials in the URL would be sent as Basic auth; the signature authenticates Changegate to the receiver.
  if (url.username !== '' || url.password !== '') return 'must not hold a user name or password';
  return undefined;
}

/** Distinct kinds in the order given. */
export const normalizeKinds = (kinds: readonly string[]): string[] => [...new Set(kinds)];

/** A fresh secret: `whsec_` and 32 random bytes in base64url. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The `X-Changegate-Signature` value: `sha256=` and the hex HMAC-SHA256 of the exact body bytes. */
export function signWebhookBody(secret: string, rawBody: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** What a receiver does with the header: recompute over the raw body and compare in constant time. */
export function verifyWebhookSignature(secret: string, rawBody: string | Uint8Array, header: string | undefined): boolean {
  if (header === undefined) return false;
  const expected = Buffer.from(signWebhookBody(secret, rawBody));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The JSON a webhook receives. `id` is the delivery's id: the same on every retry, so receivers can drop repeats. */
export interface WebhookPayload {
  readonly id: string;
  readonly kind: string;
  readonly title: string;
  readonly body: string;
  /** The path inside Changegate, and `url` the same as a full address. */
  readonly link: string | null;
  readonly url: string | null;
  readonly data: Readonly<Record<string, unknown>>;
  /** When the notice was made. */
  readonly createdAt: string;
  /** When this attempt was sent: receivers may refuse old ones to blunt replays. */
  readonly sentAt: string;
}
