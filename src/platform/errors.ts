/**
 * The one catalogue of errors a caller can see. Each has a stable `code` (clients branch on it),
 * an HTTP status, and a message that says what to fix. Services throw these; the HTTP error
 * handler and the CLI present them. Anything else that escapes is a bug and becomes a 500.
 */
export type ErrorDetails = Record<string, unknown> | readonly unknown[];

export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** One field that failed validation: where (a JSON pointer like `/body/email`) and why. */
export interface FieldProblem {
  readonly path: string;
  readonly message: string;
}

export const errors = {
  validation: (message: string, problems: readonly FieldProblem[] = []) =>
    new AppError('validation_failed', 400, message, problems.length > 0 ? { problems } : undefined),
  invalidJson: (message: string) => new AppError('invalid_json', 400, `The request body is not valid JSON: ${message}`),
  jsonTooDeep: (limit: number) =>
    new AppError('json_too_deep', 400, `The request body nests arrays or objects more than ${limit} levels deep: no request needs that, send a flatter document.`, { maxDepth: limit }),
  unauthenticated: (message = 'Sign in first: send the session cookie or an `Authorization: Bearer <token>` header.') =>
    new AppError('unauthenticated', 401, message),
  invalidCredentials: () =>
    new AppError('invalid_credentials', 401, 'The username, password or one-time code is not correct.'),
  totpRequired: () =>
    new AppError('totp_required', 401, 'This account uses two-factor sign-in: send the 6-digit `totp` code from your authenticator app.'),
  accountLocked: (until: Date) =>
    new AppError('account_locked', 423, `Too many failed sign-ins: the account is locked until ${until.toISOString()}.`, {
      lockedUntil: until.toISOString(),
    }),
  /** Too many attempts from one address or at one account: the HTTP answer carries `Retry-After`. */
  tooManyRequests: (retryAfterSeconds: number, message = `Too many attempts: wait ${retryAfterSeconds} s before trying again.`) =>
    new AppError('too_many_requests', 429, message, { retryAfterSeconds }),
  csrf: () =>
    new AppError('csrf_token_invalid', 403, 'Send the `X-CSRF-Token` header with the token from POST /api/v1/auth/login or GET /api/v1/me.'),
  forbidden: (message: string) => new AppError('forbidden', 403, message),
  /** Creating tokens, adding SSH keys, TOTP and passwords need a web session that proved the password lately. */
  recentSignInRequired: (message: string, details?: ErrorDetails) => new AppError('recent_sign_in_required', 403, message, details),
  /** A user administrator acting on an account that holds a privilege they do not. */
  morePrivilegedUser: (message: string, details?: ErrorDetails) => new AppError('more_privileged_user', 403, message, details),
  /** Also answered when the caller may not see the object, so a denial never reveals that it exists. */
  notFound: (what: string, key: string) => new AppError('not_found', 404, `No ${what} "${key}" exists, or you may not see it.`),
  routeNotFound: (method: string, url: string) =>
    new AppError('route_not_found', 404, `There is no route ${method} ${url}. The API is described at /api/docs.`),
  conflict: (message: string, details?: ErrorDetails) => new AppError('conflict', 409, message, details),
  alreadyExists: (what: string, key: string) => new AppError('already_exists', 409, `A ${what} named "${key}" already exists.`),
  /** `objects` names those of them the caller may see (at most a few); `count` counts them all, when known. */
  applicationInUse: (key: string, count: number | null, objects: readonly { type: string; businessKey: string }[] = []) => {
    const listed = objects.map((object) => `${object.type} ${object.businessKey}`);
    const rest = (count ?? 0) - objects.length;
    const names = listed.length === 0 ? '' : `: ${listed.join(', ')}${rest > 0 ? ` and ${rest} more` : ''}`;
    return new AppError(
      'application_in_use',
      409,
      `Application ${key} is still used by ${count === null ? 'other objects' : `${count} object(s)`}${names}. Move them to another application (or none), or delete them, first.`,
      { count, objects },
    );
  },
  /** A tree size, entry or pair of sizes the event log's Merkle tree cannot answer for. */
  invalidLogRange: (message: string, details?: ErrorDetails) => new AppError('invalid_log_range', 400, message, details),
  payloadTooLarge: (limit: number) => new AppError('payload_too_large', 413, `The request body is larger than ${limit} bytes.`),
  unsupportedMediaType: (type: string) =>
    new AppError('unsupported_media_type', 415, `Content type "${type}" is not accepted: send application/json.`),
  unavailable: (message: string) => new AppError('unavailable', 503, message),
} as const;
