import type { OutboundAddresses } from '../platform/outbound-address.ts';
import { OutboundFailure, postOutbound } from '../platform/outbound-request.ts';
import { DeliveryError } from './delivery-error.ts';
import { DELIVERY_HEADER, EVENT_HEADER, signWebhookBody, SIGNATURE_HEADER, type WebhookPayload } from './webhook.ts';

export interface WebhookCall {
  readonly url: string;
  readonly secret: string;
  readonly payload: WebhookPayload;
  readonly timeoutMs: number;
  /** The addresses a webhook may reach: checked again at each delivery, on the address connected to. */
  readonly addresses: OutboundAddresses;
}

/**
 * POSTs the payload as JSON, signed with HMAC-SHA256 over the exact bytes sent. Resolves with the
 * status of a 2xx answer; anything else throws a DeliveryError, and the dispatcher retries.
 * Redirects are not followed: the signed body goes to the configured address only.
 *
 * The host is resolved again for each delivery and only an address the policy allows is connected
 * to, so a name that resolved to a public address when the webhook was saved and to 127.0.0.1 now
 * is refused; that refusal is permanent (not retried). What the receiver answered is never kept:
 * the delivery log holds `HTTP 500`, or the kind of network failure.
 */
export async function postWebhook(call: WebhookCall): Promise<number> {
  const body = Buffer.from(JSON.stringify(call.payload), 'utf8');
  let status: number;
  try {
    ({ status } = await postOutbound({
      url: new URL(call.url),
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'Changegate-Webhook',
        [EVENT_HEADER]: call.payload.kind,
        [DELIVERY_HEADER]: call.payload.id,
        [SIGNATURE_HEADER]: signWebhookBody(call.secret, body),
      },
      body,
      timeoutMs: call.timeoutMs,
      maxAnswerBytes: 0,
      addresses: call.addresses,
    }));
  } catch (error) {
    if (error instanceof OutboundFailure) throw new DeliveryError(error.message, null, error.addressRefused);
    throw error;
  }
  if (status >= 200 && status < 300) return status;
  // Only the status: the reason phrase and the body are the receiver's words.
  throw new DeliveryError(`HTTP ${status}`, status);
}
