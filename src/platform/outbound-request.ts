import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { AddressNotAllowedError, NameNotResolvedError, type OutboundAddresses } from './outbound-address.ts';

/**
 * One HTTP request Changegate makes to another server (a webhook's receiver, a promotion target),
 * and the one place that turns what went wrong into words a caller may see.
 *
 * What the other server answered never leaves this module as text: a caller learns the status, and
 * at most `maxAnswerBytes` of a 2xx answer's body (a larger one fails); an error answer's body is not
 * read at all. A network failure is told by its kind (`connection refused`, `timed out`), never by
 * its message, which can quote the other side. Redirects are not followed.
 */
export interface OutboundRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** Limit on the whole exchange: resolving, connecting, sending and the answer. */
  readonly timeoutMs: number;
  /** Most bytes of a 2xx answer read; 0 reads none. */
  readonly maxAnswerBytes: number;
  /** When given, only addresses it allows are connected to (webhooks); absent for configured targets. */
  readonly addresses?: OutboundAddresses;
}

export interface OutboundAnswer {
  readonly status: number;
  /** The 2xx answer's body, empty for any other status. */
  readonly body: Buffer;
}

/** Why a request got no answer, in words that quote nothing from the other side. */
export class OutboundFailure extends Error {
  constructor(
    message: string,
    /** The address was refused by policy: retrying will not help until the URL or the allowed networks change. */
    readonly addressRefused = false,
  ) {
    super(message);
    this.name = 'OutboundFailure';
  }
}

/** POSTs the body and answers the status (and a bounded 2xx body), or throws OutboundFailure. */
export async function postOutbound(request: OutboundRequest): Promise<OutboundAnswer> {
  const { url } = request;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundFailure(`${url.protocol} is not http or https`);
  if (request.addresses) {
    // Node connects to an IP address without calling `lookup`: such a host is checked here.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host)) {
      const checked = await request.addresses.check(host);
      if (!checked.ok) throw new OutboundFailure(`address not allowed: ${checked.reason}`, true);
    }
  }
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...request.headers, 'Content-Length': String(request.body.length) },
    // A fresh connection each time: a pooled one would skip the address check of `lookup`.
    agent: false,
    ...(request.addresses && { lookup: request.addresses.lookup }),
  };
  return new Promise<OutboundAnswer>((resolve, reject) => {
    const timeout = new OutboundFailure(`timed out (no answer within ${request.timeoutMs / 1000} s)`);
    let timedOut = false;
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    // Once timed out, whatever the destroyed connection reports next is the timeout.
    const fail = (error: unknown) => finish(() => reject(timedOut ? timeout : toFailure(error)));
    const sent = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (answer: IncomingMessage) => {
      const status = answer.statusCode ?? 0;
      if (status < 200 || status > 299 || request.maxAnswerBytes === 0) {
        answer.destroy();
        finish(() => resolve({ status, body: Buffer.alloc(0) }));
        return;
      }
      readBounded(answer, request.maxAnswerBytes).then((body) => finish(() => resolve({ status, body })), fail);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      sent.destroy(timeout);
    }, request.timeoutMs);
    sent.on('error', fail);
    sent.end(request.body);
  });
}

async function readBounded(answer: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(answer.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    answer.destroy();
    throw new OutboundFailure(`the answer is larger than ${max} bytes`);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of answer) {
    length += (chunk as Buffer).length;
    if (length > max) {
      answer.destroy();
      throw new OutboundFailure(`the answer is larger than ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const NETWORK_KINDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection closed without an answer',
  EPIPE: 'connection closed without an answer',
  ETIMEDOUT: 'timed out connecting',
  ENOTFOUND: 'name not found',
  EAI_AGAIN: 'name lookup failed, try again later',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  CERT_HAS_EXPIRED: 'TLS: the certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: the certificate is for another name',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: the certificate is not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: the certificate is not trusted (self-signed)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: the certificate is not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS: the certificate is not trusted',
};

/** The kind of a failure (`connection refused`), never its message. */
function toFailure(error: unknown): OutboundFailure {
  if (error instanceof OutboundFailure) return error;
  if (error instanceof AddressNotAllowedError) return new OutboundFailure(error.message, true);
  // Its message is ours: the name and the kind of failure.
  if (error instanceof NameNotResolvedError) return new OutboundFailure(error.message);
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  const kind = NETWORK_KINDS[code];
  if (kind) return new OutboundFailure(kind);
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_)/.test(code)) return new OutboundFailure('TLS handshake failed');
  if (code.startsWith('HPE_')) return new OutboundFailure('the answer is not HTTP');
  return new OutboundFailure(/^[A-Z][A-Z0-9_]*$/.test(code) ? `network error (${code})` : 'network error');
}
