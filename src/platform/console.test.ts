import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { createHttpServer, type Api } from './http.ts';

const PAGE = '<!doctype html><title>Changegate</title><script type="module" src="/assets/index-abc123.js"></script>';
const HTML = { accept: 'text/html,application/xhtml+xml' };

describe('the web console, served beside the API', () => {
  let dir: string;
  let app: Api;

  beforeAll(async () => {
    // A stand-in for the console's build: its page and one hashed asset.
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-console-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), PAGE);
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'export {};');
    app = await createHttpServer({ logger: createLogger('silent'), version: 'test', consoleDir: dir });
    app.get('/api/v1/health', async () => ({ status: 'ok' }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves its page at / and at any page a link may name, never cached, under the same security policy', async () => {
    for (const url of ['/', '/changes?status=open', '/requests/12', '/audit/sessions/3/video']) {
      const answer = await app.inject({ method: 'GET', url, headers: HTML });
      expect(answer.statusCode, url).toBe(200);
      expect(answer.body, url).toBe(PAGE);
      expect(answer.headers['content-type'], url).toMatch(/^text\/html/);
      expect(answer.headers['cache-control'], url).toBe('no-cache');
      expect(String(answer.headers['content-security-policy']), url).toContain("script-src 'self'");
    }
  });

  it('serves its assets, cached for good (their names change with their content)', async () => {
    const answer = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toBe('export {};');
    expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('keeps the JSON 404 for the API, for a missing asset, and for what a browser does not ask for as a page', async () => {
    for (const [url, headers] of [
      ['/api/v1/nothing-here', HTML],
      ['/api', HTML],
      ['/assets/missing.js', {}],
      ['/changes', { accept: 'application/json' }],
    ] as const) {
      const answer = await app.inject({ method: 'GET', url, headers });
      expect(answer.statusCode, url).toBe(404);
      expect(answer.json(), url).toMatchObject({ error: { code: 'route_not_found' } });
    }
    const post = await app.inject({ method: 'POST', url: '/changes', headers: HTML });
    expect(post.statusCode).toBe(404);
  });

  it('answers only from its own folder: a path that climbs out of it is not served', async () => {
    for (const url of ['/../package.json', '/assets/../../package.json', '/%2e%2e/%2e%2e/package.json', '/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.body, url).not.toContain('"name"');
    }
  });
});

describe('without a console build', () => {
  it('leads / to the API documentation, and every other path keeps its JSON 404', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'changegate-no-console-'));
    const app = await createHttpServer({ logger: createLogger('silent'), version: 'test', consoleDir: empty });
    try {
      const root = await app.inject({ method: 'GET', url: '/', headers: HTML });
      expect(root.statusCode).toBe(302);
      expect(root.headers.location).toBe('/api/docs');
      const page = await app.inject({ method: 'GET', url: '/changes', headers: HTML });
      expect(page.statusCode).toBe(404);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
