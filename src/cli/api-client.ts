import { AppError, isAppError, isErrorCode } from '../platform/errors.ts';
import { CommandError, EXIT } from './command-error.ts';

/** How a request proves who calls: an API token, or a web session's cookie and CSRF token (sign-in only). */
export type ApiCredentials = { readonly token: string } | { readonly sessionCookie: string; readonly csrfToken: string } | undefined;

type QueryValue = string | number | boolean | Date | undefined | null;
export type Query = Readonly<Record<string, QueryValue>>;

/** The server no longer accepts the API token: unknown, expired or revoked. */
export class TokenRejected extends CommandError {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRejected';
  }
}

/** A path segment: a device, change or rule reference may hold `/`, `.`, `#` or spaces. */
export const segment = (value: string | number): string => encodeURIComponent(String(value));

/**
 * The base address of a Changegate server as people write it: `https://changegate.example.com`,
 * with or without a trailing `/` or `/api/v1`. A usage error names what is wrong.
 */
export function normalizeServerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CommandError(`"${raw}" is not a URL: give the server's address, such as https://changegate.example.com or http://localhost:8080.`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CommandError(`"${raw}" is not an http:// or https:// address of a Changegate server.`, EXIT.usage);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}`;
}

/**
 * A client of Changegate's HTTP API (`/api/v1`, JSON). An error answer `{"error": {code, message,
 * details}}` is thrown as the same `AppError` the server raised, so commands present it, and branch
 * on its code, exactly as they would in-process (a code this build does not know, as a CommandError).
 */
export class ApiClient {
  constructor(
    /** The server's base address, without `/api/v1`. */
    readonly baseUrl: string,
    private readonly credentials: ApiCredentials,
    /** What to tell someone whose token the server no longer accepts. */
    private readonly signInHint = `Sign in again: changegate login ${baseUrl}`,
  ) {}

  get = <T>(path: string, query?: Query) => this.json<T>('GET', path, { query });
  post = <T>(path: string, body?: unknown, query?: Query) => this.json<T>('POST', path, { body: body ?? {}, query });
  patch = <T>(path: string, body: unknown) => this.json<T>('PATCH', path, { body });
  delete = <T = undefined>(path: string, query?: Query) => this.json<T>('DELETE', path, { query });

  /** Sends a request and returns the answer as it is, after the same error handling: a recording, a report. */
  async send(method: string, path: string, options: { readonly body?: unknown; readonly query?: Query } = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (this.credentials && 'token' in this.credentials) headers.authorization = `Bearer ${this.credentials.token}`;
    if (this.credentials && 'sessionCookie' in this.credentials) {
      headers.cookie = `changegate_session=${this.credentials.sessionCookie}`;
      headers['x-csrf-token'] = this.credentials.csrfToken;
    }
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/api/v1${path}${queryString(options.query)}`, {
        method,
        headers,
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
        redirect: 'error',
      });
    } catch (error) {
      throw new CommandError(`Cannot reach Changegate at ${this.baseUrl} (${reasonOf(error)}): is the server running there, and is the address right?`);
    }
    if (!response.ok) throw await this.errorOf(response);
    return response;
  }

  private async json<T>(method: string, path: string, options: { readonly body?: unknown; readonly query?: Query }): Promise<T> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  private async errorOf(response: Response): Promise<Error> {
    const text = await response.text();
    const problem = parseProblem(text);
    if (!problem) {
      return new CommandError(`The server at ${this.baseUrl} answered ${response.status} ${response.statusText} without a Changegate error: is this the address of a Changegate server?`);
    }
    // A code this build does not know comes from a newer server: its message is all there is to go on.
    if (!isErrorCode(problem.code)) return new CommandError(problem.message);
    const error = new AppError(problem.code, problem.message, problem.details as AppError['details'], response.status);
    if (response.status === 401 && isAppError(error, 'unauthenticated') && this.credentials && 'token' in this.credentials) {
      return new TokenRejected(`${error.message} ${this.signInHint}`);
    }
    return error;
  }
}

function queryString(query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    params.set(name, value instanceof Date ? value.toISOString() : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function parseProblem(text: string): { code: string; message: string; details?: unknown } | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') return undefined;
    return { code: body.error.code, message: body.error.message, details: body.error.details };
  } catch {
    return undefined;
  }
}

/** Why fetch failed, in a word: `ECONNREFUSED`, `ENOTFOUND`, a certificate problem. */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
