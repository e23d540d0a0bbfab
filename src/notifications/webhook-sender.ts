import { DeliveryError } from './delivery-error.ts';
import { DELIVERY_HEADER, EVENT_HEADER, signWebhookBody, SIGNATURE_HEADER, type WebhookPayload } from './webhook.ts';

export interface WebhookCall {
  readonly url: string;
  readonly secret: string;
  readonly payload: WebhookPayload;
  readonly timeoutMs: number;
}

const SNIPPET_MAX = 200;

/**
 * POSTs the payload as JSON, signed with HMAC-SHA256 over the exact bytes sent. Resolves with the
 * status of a 2xx answer; anything else (another status, a redirect, a network error or no answer
 * in time) throws, and the dispatcher retries. Redirects are not followed: the signed body goes to
 * the configured address only.
 */
export async function postWebhook(call: WebhookCall): Promise<number> {
  const body = Buffer.from(JSON.stringify(call.payload), 'utf8');
  const response = await fetch(call.url, {
    method: 'POST',
    redirect: 'manual',
    signal: AbortSignal.timeout(call.timeoutMs),
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': 'Changegate-Webhook',
      [EVENT_HEADER]: call.payload.kind,
      [DELIVERY_HEADER]: call.payload.id,
      [SIGNATURE_HEADER]: signWebhookBody(call.secret, body),
    },
    body,
  });
  if (response.status >= 200 && response.status < 300) {
    await response.body?.cancel();
    return response.status;
  }
  const snippet = await readSnippet(response);
  const reason = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  throw new DeliveryError(snippet ? `${reason}: ${snippet}` : reason, response.status);
}

/** The start of an error answer, for the delivery log; the rest is not read. */
async function readSnippet(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < SNIPPET_MAX) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } catch {
    // The body is only a hint for the log; the status already says it failed.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, SNIPPET_MAX).replace(/\s+/g, ' ').trim();
}
