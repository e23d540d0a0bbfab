import type { FastifyRequest } from 'fastify';
import { errors } from '../platform/errors.ts';
import type { Actor } from './actor.ts';

/** Who is calling, resolved once per request by the authentication hook (identity's auth routes). */
export interface Authenticated {
  readonly actor: Actor;
  /** Set for cookie sessions: state-changing requests must echo it in `X-CSRF-Token`. */
  readonly csrfToken?: string;
  readonly sessionId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    authenticated?: Authenticated;
  }
}

/** The user behind a request, or 401. Every route but login and health calls this first. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.authenticated) throw errors.unauthenticated();
  return request.authenticated.actor;
}
