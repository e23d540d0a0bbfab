import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where the web console's build lands (`web/dist`, beside src/ and dist/ alike). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/**
 * Serves the web console: the files of its build at `/`, and `index.html` for any other page a
 * browser asks for (`/changes?status=open`, `/requests/12`), where the console's router takes
 * over. The API, its documentation and anything a browser does not ask for as a page keep their
 * JSON 404. Without a build (the console is built by `npm start` and `npm run build`), `/` leads to
 * the API documentation instead.
 *
 * Returns whether the console is served.
 */
export async function registerConsole(app: FastifyInstance, dir: string = CONSOLE_DIR): Promise<boolean> {
  if (!existsSync(path.join(dir, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/api/docs'));
    return false;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    index: false,
    wildcard: true,
    // Vite names each asset by a hash of its content: a name is never reused for other bytes.
    setHeaders: (reply, file) => {
      const immutable = path.relative(dir, file).startsWith(`assets${path.sep}`);
      void reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  app.get('/', { schema: { hide: true } }, (_request, reply) => sendPage(reply));
  return true;
}

/** The console's page, for a browser asking for a path the console routes itself. */
export function isConsolePage(request: FastifyRequest): boolean {
  const pathname = request.url.split('?')[0] ?? '';
  return (request.method === 'GET' || request.method === 'HEAD') && !pathname.startsWith('/api/') && pathname !== '/api' && (request.headers.accept ?? '').includes('text/html');
}

export function sendPage(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-cache').sendFile('index.html');
}
