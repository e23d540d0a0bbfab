import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createChangegate, type Changegate, type ChangegateOptions } from '../src/changegate.ts';
import { ManualClock } from '../src/platform/clock.ts';
import { loadConfig } from '../src/platform/config.ts';
import type { DatabaseKind } from '../src/platform/database.ts';
import { openTestDatabase } from './databases.ts';

export const ADMIN_PASSWORD = 'admin-password-for-tests';
export const TEST_MASTER_KEY = 'a'.repeat(64);

export interface TestChangegate {
  readonly cg: Changegate;
  readonly clock: ManualClock;
  /** Signed in as the first administrator. */
  readonly admin: TestClient;
  /** PostgreSQL only: where another instance reaches the same database. */
  readonly databaseUrl?: string;
  close(): Promise<void>;
}

/** A Changegate on a fresh database of the given kind, with a clock that moves only when told. */
export async function startTestChangegate(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  options: Pick<ChangegateOptions, 'upstream' | 'sessionTiming' | 'hostKeys' | 'logger'> & {
    /** Where the clock starts (a fixed day by default); a browser, on the real clock, drops cookies that expired by its own. */
    readonly clockStart?: Date;
  } = {},
): Promise<TestChangegate> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'changegate-test-'));
  const database = await openTestDatabase(kind);
  const { clockStart, ...changegateOptions } = options;
  const clock = new ManualClock(clockStart);
  const config = loadConfig({
    env: {
      CHANGEGATE_DATA_DIR: dataDir,
      CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY,
      CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      CHANGEGATE_LOG_LEVEL: 'silent',
      ...env,
    },
  });
  const cg = await createChangegate({ ...changegateOptions, config, clock, database });
  const admin = await signIn(cg, 'admin', ADMIN_PASSWORD);
  return {
    cg,
    clock,
    admin,
    databaseUrl: database.url,
    close: async () => {
      await cg.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Answer {
  readonly status: number;
  // Tests read answers loosely; the routes' response schemas fix their shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly headers: Record<string, unknown>;
}

type Credentials = { readonly bearer: string } | { readonly cookie: string; readonly csrf: string } | undefined;

/** Calls the API in-process the way a browser (cookie + CSRF header) or a script (bearer token) would. */
export class TestClient {
  constructor(
    private readonly cg: Changegate,
    readonly credentials: Credentials,
    /** Where the requests come from (the server's `request.ip`); Fastify's inject says 127.0.0.1 otherwise. */
    readonly from?: string,
  ) {}

  get = (url: string) => this.request('GET', url);
  post = (url: string, body?: unknown) => this.request('POST', url, body);
  patch = (url: string, body?: unknown) => this.request('PATCH', url, body);
  put = (url: string, body?: unknown) => this.request('PUT', url, body);
  delete = (url: string, body?: unknown) => this.request('DELETE', url, body);

  async request(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.credentials && 'bearer' in this.credentials) headers.authorization = `Bearer ${this.credentials.bearer}`;
    if (this.credentials && 'cookie' in this.credentials) {
      headers.cookie = `changegate_session=${this.credentials.cookie}`;
      if (method !== 'GET' && headers['x-csrf-token'] === undefined) headers['x-csrf-token'] = this.credentials.csrf;
    }
    const response = await this.cg.app.inject({
      method,
      url: url.startsWith('/api/') ? url : `/api/v1${url}`,
      headers,
      ...(this.from !== undefined && { remoteAddress: this.from }),
      ...(body !== undefined && { payload: body as object }),
    });
    const text = response.body;
    return { status: response.statusCode, body: text ? safeJson(text) : undefined, headers: response.headers };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Signs in over the API and returns a client holding the session cookie and CSRF token. */
export async function signIn(cg: Changegate, username: string, password: string, totp?: string, from?: string): Promise<TestClient> {
  const answer = await new TestClient(cg, undefined, from).post('/auth/login', { username, password, ...(totp && { totp }) });
  if (answer.status !== 200) throw new Error(`sign-in as ${username} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  const setCookie = String(answer.headers['set-cookie']);
  const cookie = /changegate_session=([^;]+)/.exec(setCookie)?.[1];
  if (!cookie) throw new Error('no session cookie was set');
  return new TestClient(cg, { cookie, csrf: answer.body.csrfToken }, from);
}

let userCounter = 0;

/** Creates a user through the API (as admin) and returns a signed-in client for them. */
export async function buildUser(
  t: TestChangegate,
  fields: { username?: string; password?: string; grants?: Array<{ privilege: string; level?: 'access' | 'admin'; partition?: string }> } = {},
): Promise<{ username: string; password: string; client: TestClient }> {
  userCounter += 1;
  const username = fields.username ?? `user${userCounter}`;
  const password = fields.password ?? `password-of-${username}`;
  const created = await t.admin.post('/users', { username, password, displayName: `User ${userCounter}` });
  if (created.status !== 201) throw new Error(`creating ${username} failed: ${JSON.stringify(created.body)}`);
  for (const grant of fields.grants ?? []) {
    const answer = await t.admin.post('/grants', { username, level: 'access', ...grant });
    if (answer.status !== 201) throw new Error(`granting ${grant.privilege} failed: ${JSON.stringify(answer.body)}`);
  }
  return { username, password, client: await signIn(t.cg, username, password) };
}
