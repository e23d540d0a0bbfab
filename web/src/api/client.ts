import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/** The CSRF token of this browser's web session: every request that changes something echoes it. */
let csrfToken: string | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

const listeners = new Set<() => void>();

/** Called when the API answers 401 to a signed-in console: the web session ended or expired. */
export function onSignedOut(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const session: Middleware = {
  onRequest({ request }) {
    if (request.method !== 'GET' && request.method !== 'HEAD' && csrfToken) request.headers.set('X-CSRF-Token', csrfToken);
    return request;
  },
  onResponse({ request, response }) {
    // A failed sign-in is an answer for the form, and /me answers 401 to a visitor not yet signed
    // in (SignedIn sends them to sign in): neither is the end of a session.
    const path = new URL(request.url).pathname;
    if (response.status === 401 && !path.startsWith('/api/v1/auth/') && path !== '/api/v1/me') for (const listener of listeners) listener();
    return response;
  },
};

/** The API, typed by its OpenAPI document (`npm run api:types`). Paths are written whole: `/api/v1/changes`. */
export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use(session);

/** What every API error carries. */
export interface ApiErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: { readonly problems?: ReadonlyArray<{ readonly path: string; readonly message: string }>; readonly [key: string]: unknown };
  };
}

/** An API error as the console shows it: its message, its stable code, and the fields it names. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ApiErrorBody['error']['details'],
  ) {
    super(message);
  }

  /**
   * The message for one field, or for a part of it (`/devices/0` for `devices`, `/security/edit/0`
   * for `security/edit`), when the API named it: by the request's schema (`/body/name`) or by a
   * service (`/name`).
   */
  fieldMessage(field: string): string | undefined {
    return this.details?.problems?.find((problem) => isAt(problem.path, field))?.message;
  }

  /** Whether the API named problems, each at one of `fields`: a form showing those fields shows them all. */
  namesOnly(fields: readonly string[]): boolean {
    const problems = this.details?.problems ?? [];
    return problems.length > 0 && problems.every((problem) => fields.some((field) => isAt(problem.path, field)));
  }
}

/** Whether a problem's path (`/body/devices/0`, `/namePattern`) is at the field or inside it. */
function isAt(path: string, field: string): boolean {
  const at = path.replace(/^\/((body|querystring|params)\/)?/, '');
  return at === field || at.startsWith(`${field}/`);
}

/** The server's message for one field when `error` is an API error that names it (see ApiError.fieldMessage). */
export function fieldMessageOf(error: unknown, field: string): string | undefined {
  return error instanceof ApiError ? error.fieldMessage(field) : undefined;
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  return typeof body === 'object' && body !== null && typeof (body as ApiErrorBody).error?.code === 'string';
}

/** The data of an answer, or its error thrown as an ApiError (for TanStack Query). */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  if (isErrorBody(result.error)) throw new ApiError(result.response.status, result.error.error.code, result.error.error.message, result.error.error.details);
  throw new ApiError(result.response.status, 'http_error', `The server answered ${result.response.status} ${result.response.statusText}.`, undefined);
}
