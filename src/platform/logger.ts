import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log line: credentials in request headers and any
 * field named like a secret. A secret must never reach a log, even at trace level.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.token',
  '*.secret',
  '*.totp',
  '*.masterKey',
  '*.adminPassword',
];

/** Query parameters whose values never reach a log: an OpenID Connect callback's code and state, tokens. */
const SECRET_QUERY_PARAMETERS = /([?&](?:code|state|session_state|id_token|access_token|refresh_token|token)=)[^&#]*/gi;

/** A request's URL as the log keeps it: the values of secret query parameters blanked. */
export function loggedUrl(url: string): string {
  return url.replace(SECRET_QUERY_PARAMETERS, '$1[redacted]');
}

/** How a request is logged: what Fastify logs of it, its URL without secrets. */
const requestSerializer = (request: { method?: string; url?: string; hostname?: string; ip?: string; socket?: { remotePort?: number } }) => ({
  method: request.method,
  url: request.url === undefined ? undefined : loggedUrl(request.url),
  hostname: request.hostname,
  remoteAddress: request.ip,
  remotePort: request.socket?.remotePort,
});

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: requestSerializer } }, destination ?? process.stdout);
}
