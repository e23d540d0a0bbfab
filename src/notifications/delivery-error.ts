/**
 * Why one attempt to deliver failed, as the delivery log shows it. `statusCode` is the HTTP status
 * or SMTP reply code when the other side answered; `permanent` failures are not retried.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | null = null,
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/**
 * A one-line description of any failure. Webhook failures arrive as DeliveryErrors that hold only a
 * status or the kind of network failure; an e-mail failure names its cause (the SMTP server is the
 * administrator's own, and its reply says what to fix).
 */
export function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DeliveryError) return error.message;
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message) return `${error.message}: ${cause.message}`;
    return error.message || error.name;
  }
  return String(error);
}
