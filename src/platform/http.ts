import type { IncomingMessage, ServerResponse } from 'node:http';
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';
import fastifyCookie from '@fastify/cookie';
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RawServerDefault } from 'fastify';
import { isConsolePage, registerConsole, sendPage } from './console.ts';
import { AppError, errors, type FieldProblem } from './errors.ts';
import type { Logger } from './logger.ts';

/** The Fastify instance every module registers its routes on, typed by the TypeBox schemas. */
export type Api = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export const API_PREFIX = '/api/v1';
const BODY_LIMIT = 1024 * 1024;
/**
 * Arrays and objects nested deeper than this are refused before parsing: no request of the API
 * needs more than a handful of levels, and code that walks a parsed body recursively (validation,
 * the NUL check below, audit diffs) would otherwise overflow the stack on `[[[[…` and answer 500.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * What pages served here may load: scripts, styles, fonts, images and API calls from this origin
 * only (inline styles too, which the API docs and component libraries set), no plug-ins, no
 * framing by any page (`frame-ancestors 'none'`: no clickjacking of an approval button), forms
 * that post only here. Scripts may compile WebAssembly (`'wasm-unsafe-eval'`: the recording
 * player's terminal is WebAssembly), never JavaScript from a string (no `'unsafe-eval'`). JSON
 * answers carry the same header; it is harmless there.
 */
const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  imgSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  workerSrc: ["'self'", 'blob:'],
};

/**
 * Each route's request validators and response serializers, compiled once per process rather than
 * once per server: the schemas are the same for every server the process makes (the tests make
 * hundreds), and compiling them is most of what starting a server costs. Keyed by the schema's
 * JSON and the compiler's options, so a server with other options never gets another's code.
 */
/** What Fastify calls to compile one route's schema (it passes the route along with the schema). */
type Compile = (route: { readonly schema: unknown }) => unknown;
type CompilerFactory = (externalSchemas: unknown, options: unknown) => Compile;

function onceCompiled(factory: CompilerFactory): CompilerFactory {
  const compiled = new Map<string, unknown>();
  return (externalSchemas, options) => {
    const build = factory(externalSchemas, options);
    const settings = JSON.stringify([externalSchemas, options]);
    return (route) => {
      const key = `${settings}\n${JSON.stringify(route.schema)}`;
      if (!compiled.has(key)) compiled.set(key, build(route));
      return compiled.get(key);
    };
  };
}

// The factories' published types describe the compiler as taking the schema alone; Fastify passes the route.
const SHARED_COMPILERS = {
  buildValidator: onceCompiled(AjvCompiler() as unknown as CompilerFactory) as unknown as ValidatorFactory,
  buildSerializer: onceCompiled(SerializerSelector() as unknown as CompilerFactory) as unknown as SerializerFactory,
};

export interface HttpOptions {
  readonly logger: Logger;
  readonly version: string;
  /**
   * Proxies (CIDRs) whose `X-Forwarded-For` is believed. Empty: the client is the socket's peer,
   * and a forwarded header, which anyone can send, is ignored.
   */
  readonly trustedProxies?: readonly string[];
  /** The web console's build to serve at `/` (default `web/dist`); without one, `/` leads to the API documentation. */
  readonly consoleDir?: string;
  /** Counts each answered request by its route's pattern and status, with its latency (platform/metrics.ts). */
  readonly metrics?: { httpAnswered(method: string, route: string | undefined, status: number, seconds: number): void };
}

/**
 * The HTTP server: JSON API under /api/v1, OpenAPI at /api/docs, and one error handler that turns
 * every failure into `{"error":{"code","message","details"}}`, with a 4xx for anything the caller
 * got wrong.
 */
export async function createHttpServer(options: HttpOptions): Promise<Api> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    trustProxy: options.trustedProxies && options.trustedProxies.length > 0 ? [...options.trustedProxies] : false,
    // Unknown fields are an error the caller should hear about, not something silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    schemaController: { compilersFactory: SHARED_COMPILERS },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const metrics = options.metrics;
  // The route's pattern, never the URL: a caller cannot make up label values (unmatched is one value).
  if (metrics) app.addHook('onResponse', async (request, reply) => metrics.httpAnswered(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000));

  await app.register(fastifyHelmet, { contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY }, frameguard: { action: 'deny' } });
  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Changegate API', version: options.version, description: 'Controlled changes to critical servers.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API token from POST /api/v1/tokens.' },
          session: { type: 'apiKey', in: 'cookie', name: 'changegate_session', description: 'The web session POST /api/v1/auth/login sets.' },
          csrf: {
            type: 'apiKey',
            in: 'header',
            name: 'X-CSRF-Token',
            description: 'With the session cookie, every request that changes something echoes the csrfToken of POST /api/v1/auth/login or GET /api/v1/me.',
          },
        },
      },
      // A token alone, or the session cookie with its CSRF token: so the documentation page can send what changes something too.
      security: [{ bearer: [] }, { session: [], csrf: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' });

  // Only JSON is accepted: a text/plain body is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser (prototype poisoning refused), behind a nesting check.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestsDeeperThan(body as string, MAX_JSON_DEPTH)) return done(errors.jsonTooDeep(MAX_JSON_DEPTH), undefined);
    parseJson(request, body as string, done);
  });
  // PostgreSQL cannot store U+0000 in text: refuse it here, naming the field, rather than fail at the database.
  app.addHook('preValidation', async (request) => {
    const where = nulPath(request.params, '/params') ?? nulPath(request.query, '/querystring') ?? nulPath(request.body, '/body');
    if (where) throw errors.validation(`The request is not valid: ${where} holds a NUL character (U+0000).`, [{ path: where, message: 'must not hold a NUL character' }]);
  });

  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = error instanceof AppError || error.code !== 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? toAppError(error) : errors.unsupportedMediaType(request.headers['content-type'] ?? 'none');
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    const retryAfter = (appError.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (appError.status === 429 && typeof retryAfter === 'number') void reply.header('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
    void reply.status(appError.status).send({ error: { code: appError.code, message: appError.message, ...(appError.details && { details: appError.details }) } });
  });
  const consoleServed = await registerConsole(app, options.consoleDir);
  app.setNotFoundHandler((request, reply) => {
    if (consoleServed && isConsolePage(request)) return sendPage(reply);
    const error = errors.routeNotFound(request.method, request.url.split('?')[0] ?? request.url);
    void reply.status(404).send({ error: { code: error.code, message: error.message } });
  });
  return app;
}

function toAppError(error: FastifyError | AppError): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) {
    const where = error.validationContext ?? 'body';
    const problems: FieldProblem[] = error.validation.map((issue) => {
      const params = issue.params as Record<string, unknown>;
      const field = typeof params.missingProperty === 'string' ? `/${params.missingProperty}` : typeof params.additionalProperty === 'string' ? `/${params.additionalProperty}` : '';
      const message = typeof params.additionalProperty === 'string' ? 'is not a known field' : (issue.message ?? 'is not valid');
      return { path: `/${where}${issue.instancePath}${field}`, message };
    });
    const summary = problems.map((problem) => `${problem.path} ${problem.message}`).join('; ');
    return errors.validation(`The request is not valid: ${summary}.`, problems);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(BODY_LIMIT);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalidJson('the body is empty; send a JSON object or no Content-Type');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.invalidJson(error.message);
  }
  if (error instanceof SyntaxError) return errors.invalidJson(error.message);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return errors.badRequest(error.message, status);
  return errors.internal();
}

/**
 * Whether JSON text opens more than `limit` arrays or objects inside one another. A linear scan
 * that skips strings (and the escapes in them); it does not validate: the parser does that next.
 */
export function jsonNestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let k = 0; k < text.length; k++) {
    const code = text.charCodeAt(k);
    if (inString) {
      if (code === 0x5c) k++; // a backslash escapes the next character, a quote included
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** The JSON pointer of the first string holding U+0000 in a request part, if any. */
function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    if (key.includes('\u0000')) return `${path}/${key}`;
    const found = nulPath(inner, `${path}/${key}`);
    if (found) return found;
  }
  return undefined;
}
