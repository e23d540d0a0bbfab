import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { jsonNestsDeeperThan, MAX_JSON_DEPTH } from './http.ts';

describe('jsonNestsDeeperThan', () => {
  it.each([
    ['[]', 1, false],
    ['[[]]', 1, true],
    ['{"a":{"b":[1]}}', 3, false],
    ['{"a":{"b":[1]}}', 2, true],
    ['"[[[[[[["', 1, false],
    ['["\\"[[[["]', 1, false],
    ['["\\\\", [[1]]]', 2, true],
    ['[1], [2], [3]', 1, false],
  ] as const)('%s beyond %d: %s', (text, limit, deeper) => {
    expect(jsonNestsDeeperThan(text, limit)).toBe(deeper);
  });
});

/** A body a caller can send: refused with a 4xx naming what is wrong, never a 500, and the server goes on. */
describe('request bodies that could bring the API down', () => {
  let t: TestChangegate;
  const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
  const devices = async () => (await t.admin.get('/devices')).body.map((device: { name: string }) => device.name);

  /** Posts raw text as JSON, in-process, as the signed-in administrator. */
  async function rawPost(url: string, payload: string) {
    const credentials = t.admin.credentials as { cookie: string; csrf: string };
    const response = await t.cg.app.inject({
      method: 'POST',
      url: `/api/v1${url}`,
      headers: { 'content-type': 'application/json', cookie: `changegate_session=${credentials.cookie}`, 'x-csrf-token': credentials.csrf },
      payload,
    });
    return { status: response.statusCode, body: JSON.parse(response.body) };
  }

  beforeAll(async () => {
    t = await startTestChangegate('pglite');
  });
  afterAll(() => t.close());

  it.each([
    ['100,000 nested arrays, closed', deep(100_000)],
    ['100,000 opening brackets', '['.repeat(100_000)],
    ['an object nested 50,000 deep', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`],
    ['a field nested one level too deep', `{"name":"web09","hostname":"192.0.2.9","tags":${deep(MAX_JSON_DEPTH)}}`],
  ])('answers %s with 400 json_too_deep, creates nothing, and keeps answering', async (_what, payload) => {
    const before = await devices();
    const answer = await rawPost('/devices', payload);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('json_too_deep');
    expect(answer.body.error.message).toContain(`more than ${MAX_JSON_DEPTH} levels`);
    expect(await devices()).toEqual(before);
    expect((await t.admin.get('/me')).status).toBe(200);
  });

  it('still parses a body nested as deep as allowed, and validates it as usual', async () => {
    const answer = await rawPost('/devices', `{"name":"web09","hostname":"192.0.2.9","tags":${deep(MAX_JSON_DEPTH - 1)}}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(answer.body.error.message).toContain('/body/tags');
  });

  it('answers a body over the size limit with 413 payload_too_large', async () => {
    const answer = await rawPost('/devices', JSON.stringify({ name: 'web09', hostname: '192.0.2.9', description: 'x'.repeat(1024 * 1024) }));
    expect(answer.status).toBe(413);
    expect(answer.body.error).toEqual({ code: 'payload_too_large', message: 'The request body is larger than 1048576 bytes.' });
  });

  it('keeps refusing prototype poisoning', async () => {
    const answer = await rawPost('/devices', '{"name":"web09","hostname":"192.0.2.9","__proto__":{"admin":true}}');
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_json');
  });

  it('answers the same over a real socket, and the server keeps serving', async () => {
    await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.cg.app.server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}/api/v1`;
    const credentials = t.admin.credentials as { cookie: string; csrf: string };
    const headers = { 'content-type': 'application/json', cookie: `changegate_session=${credentials.cookie}`, 'x-csrf-token': credentials.csrf };
    const answer = await fetch(`${base}/devices`, { method: 'POST', headers, body: deep(100_000) });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('json_too_deep');
    const huge = await fetch(`${base}/devices`, { method: 'POST', headers, body: `[${'1,'.repeat(600_000)}1]` });
    expect(huge.status).toBe(413);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const created = await fetch(`${base}/devices`, { method: 'POST', headers, body: JSON.stringify({ name: 'web10', hostname: '192.0.2.10' }) });
    expect(created.status).toBe(201);
  });
});

describe('security headers', () => {
  let t: TestChangegate;

  beforeAll(async () => {
    t = await startTestChangegate('pglite');
  });
  afterAll(() => t.close());

  /** The headers a browser acts on, as one answer carries them. */
  function securityHeaders(headers: Record<string, unknown>) {
    const policy = String(headers['content-security-policy'] ?? '');
    const directives = new Map(policy.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]));
    return { directives, nosniff: headers['x-content-type-options'], referrer: headers['referrer-policy'], frame: headers['x-frame-options'] };
  }

  it.each([
    ['an API answer', '/api/v1/health', 200],
    ['an error for a caller not signed in', '/api/v1/devices', 401],
    ['an unknown route', '/api/v1/nothing-here', 404],
    ['the API documentation page', '/api/docs', 200],
  ])('are on %s: no framing, no sniffing, no referrer, scripts from this origin only, no eval', async (_what, url, status) => {
    const answer = await t.cg.app.inject({ method: 'GET', url });
    expect(answer.statusCode).toBe(status);
    const { directives, nosniff, referrer, frame } = securityHeaders(answer.headers);
    expect(directives.get('frame-ancestors')).toBe("'none'");
    expect(directives.get('default-src')).toBe("'self'");
    // WebAssembly may be compiled (the recording player), JavaScript from strings never.
    expect(directives.get('script-src')).toBe("'self' 'wasm-unsafe-eval'");
    expect(directives.get('object-src')).toBe("'none'");
    expect(nosniff).toBe('nosniff');
    expect(referrer).toBe('no-referrer');
    expect(frame).toBe('DENY');
  });

  it('let the API documentation load: its page uses no inline script, which the policy would block', async () => {
    const page = await t.cg.app.inject({ method: 'GET', url: '/api/docs' });
    const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/api\/docs\//);
      expect(body?.trim()).toBe('');
    }
  });
});

describe('the API documentation', () => {
  let t: TestChangegate;

  beforeAll(async () => {
    t = await startTestChangegate('pglite');
  });
  afterAll(() => t.close());

  interface Scheme {
    readonly type: string;
    readonly in?: string;
    readonly name?: string;
    readonly scheme?: string;
  }
  const documentOf = async () =>
    JSON.parse((await t.cg.app.inject({ method: 'GET', url: '/api/docs/json' })).body) as {
      components: { securitySchemes: Record<string, Scheme> };
      security: Array<Record<string, string[]>>;
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };

  it('declares the bearer token, and the session cookie with its CSRF header, so its page can send a POST too', async () => {
    const document = await documentOf();
    expect(document.security).toEqual([{ bearer: [] }, { session: [], csrf: [] }]);
    expect(document.components.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      session: { type: 'apiKey', in: 'cookie', name: 'changegate_session' },
      csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
    });
    // Sign-in and health stay open to anyone.
    expect(document.paths['/api/v1/auth/login']?.post?.security).toEqual([]);
    expect(document.paths['/api/v1/health']?.get?.security).toEqual([]);

    // What the page sends once the user puts the CSRF token under Authorize: the cookie, and the header the document names.
    const signIn = await t.cg.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'admin', password: ADMIN_PASSWORD } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string;
    const csrf = document.components.securitySchemes.csrf as Scheme;
    const post = (headers: Record<string, string>) =>
      t.cg.app.inject({ method: 'POST', url: '/api/v1/devices', headers: { cookie, ...headers }, payload: { name: 'docs01', hostname: '192.0.2.31' } });
    const refused = await post({});
    expect(refused.statusCode).toBe(403);
    expect(JSON.parse(refused.body).error.code).toBe('csrf_token_invalid');
    expect((await t.admin.get('/devices')).body.map((device: { name: string }) => device.name)).not.toContain('docs01');
    const created = await post({ [csrf.name as string]: (JSON.parse(signIn.body) as { csrfToken: string }).csrfToken });
    expect(created.statusCode).toBe(201);
  });
});

describe('the client address behind a reverse proxy', () => {
  const login = (t: TestChangegate, forwardedFor: string, password: string) =>
    t.cg.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      payload: JSON.stringify({ username: 'admin', password }),
    });
  const failUntilRefused = async (t: TestChangegate, forwardedFor: (attempt: number) => string) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const answer = await login(t, forwardedFor(attempt), 'not the password');
      if (answer.statusCode === 429) return attempt;
      expect([401, 423]).toContain(answer.statusCode);
    }
    throw new Error('never refused');
  };

  it('is the forwarded one only from a trusted proxy: one client hitting the limit leaves the others behind the proxy alone', async () => {
    const t = await startTestChangegate('pglite', { CHANGEGATE_TRUSTED_PROXIES: '127.0.0.1/32' });
    try {
      expect(await failUntilRefused(t, () => '203.0.113.5')).toBe(10);
      const other = await login(t, '203.0.113.6', ADMIN_PASSWORD);
      expect(other.statusCode).toBe(200);
      const failures = (await t.admin.get('/events?action=auth.login.failure&limit=1000')).body as { data: { sourceIp: string } }[];
      expect(failures.map((event) => event.data.sourceIp)).toContain('203.0.113.5');
    } finally {
      await t.close();
    }
  });

  it('is the socket peer otherwise: a forged X-Forwarded-For does not buy fresh attempts', async () => {
    const t = await startTestChangegate('pglite');
    try {
      expect(await failUntilRefused(t, (attempt) => `198.51.100.${attempt}`)).toBe(10);
      const failures = (await t.admin.get('/events?action=auth.login.failure&limit=1000')).body as { data: { sourceIp: string } }[];
      expect(new Set(failures.map((event) => event.data.sourceIp))).toEqual(new Set(['127.0.0.1']));
    } finally {
      await t.close();
    }
  });
});
