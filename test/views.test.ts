/**
 * Each answer's schema and its TypeScript type come from one definition: a `*ViewSchema` in a
 * module's `x.views.ts`, whose `Static` type the service returns. A route that writes its own
 * copy of a view's schema would let the two drift apart again, so every object a route answers
 * with must be one of those schemas (the very object, not a look-alike), or be listed below as an
 * answer the route composes itself.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestChangegate } from './harness.ts';

const routes: RouteOptions[] = [];

// The routes' schemas are read as they are registered, before Fastify compiles them.
vi.mock('../src/platform/http.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/platform/http.ts')>();
  return {
    ...actual,
    createHttpServer: async (options: Parameters<typeof actual.createHttpServer>[0]) => {
      const app = await actual.createHttpServer(options);
      app.addHook('onRoute', (route) => void routes.push(route as RouteOptions));
      return app;
    },
  };
});

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * Answers a route builds from views in place, with no hand-kept type to drift from: `METHOD url
 * status`. A new entry needs a reason; an answer a service returns belongs in a views file.
 */
const COMPOSED_IN_ROUTE = new Set([
  'GET /api/v1/privileges 200',
  'GET /api/v1/health 200',
  'POST /api/v1/auth/login 200',
  'POST /api/v1/auth/reauthenticate 200',
  'GET /api/v1/me 200',
  'POST /api/v1/me/totp 200',
  'GET /api/v1/notifications/unread-count 200',
  'POST /api/v1/notifications/read-all 200',
]);

/** GET routes that answer a file or open a WebSocket: no JSON answer to declare. */
const NOT_JSON = new Set([
  '/api/v1/sessions/:session/recording',
  '/api/v1/sessions/:session/watch',
  '/api/v1/terminal',
  '/api/v1/changes/:change/audit/report',
  '/api/v1/changes/:change/evidence',
]);

/** Every schema a module exports from its `*.views.ts` files, and the bundle's (`auditing/bundle.ts`), which led the way. */
async function viewSchemas(): Promise<Set<unknown>> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.views.ts'));
  files.push(path.join('auditing', 'bundle.ts'));
  const schemas = new Set<unknown>();
  for (const file of files) {
    const exported: Record<string, unknown> = await import(pathToFileURL(path.join(SRC, file)).href);
    for (const [name, value] of Object.entries(exported)) if (name.endsWith('Schema')) schemas.add(value);
  }
  return schemas;
}

interface Answer {
  readonly where: string;
  readonly schema: Record<string, unknown>;
}

/** The object schemas a route answers with: per success status and content type, arrays read as their items. */
function answersOf(route: RouteOptions): Answer[] {
  const response = (route.schema?.response ?? {}) as Record<string, Record<string, unknown>>;
  const answers: Answer[] = [];
  for (const method of [route.method].flat()) {
    if (method === 'HEAD') continue;
    for (const [status, declared] of Object.entries(response)) {
      if (!/^2/.test(status)) continue;
      const content = declared.content as Record<string, { schema: Record<string, unknown> }> | undefined;
      const schemas = content ? Object.values(content).map((entry) => entry.schema) : [declared];
      for (let schema of schemas) {
        if (schema.type === 'array') schema = schema.items as Record<string, unknown>;
        if (schema.type === 'object' || 'allOf' in schema) answers.push({ where: `${method} ${route.url} ${status}`, schema });
      }
    }
  }
  return answers;
}

describe('route answers and their views', () => {
  let t: TestChangegate;
  beforeAll(async () => {
    // The suite shares modules between test files: load the server afresh here, so that it is
    // built with the mocked createHttpServer above, and the views read below are the same objects.
    vi.resetModules();
    const { startTestChangegate } = await import('./harness.ts');
    t = await startTestChangegate('pglite');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers with a view schema from a views file wherever a route returns what a service presents', async () => {
    const views = await viewSchemas();
    const answers = routes.flatMap(answersOf);
    expect(answers.length).toBeGreaterThan(50);
    const strays = answers.filter((answer) => !views.has(answer.schema) && !COMPOSED_IN_ROUTE.has(answer.where));
    expect(strays.map((answer) => answer.where)).toEqual([]);
  });

  it('declares the answer of every GET but the files and sockets listed, so the document describes what a client reads', () => {
    const undeclared = routes
      .filter((route) => [route.method].flat().includes('GET'))
      .filter((route) => !Object.keys((route.schema?.response ?? {}) as object).some((status) => /^2/.test(status)))
      .map((route) => route.url);
    expect(undeclared.sort()).toEqual([...NOT_JSON].sort());
  });

  it('lists only routes that exist and still answer with their own schema', async () => {
    const views = await viewSchemas();
    const own = new Set(routes.flatMap(answersOf).filter((answer) => !views.has(answer.schema)).map((answer) => answer.where));
    for (const listed of COMPOSED_IN_ROUTE) expect(own, listed).toContain(listed);
  });
});
