import { Type } from 'typebox';
import type { FastifyReply } from 'fastify';
import { errors, isAppError } from '../platform/errors.ts';
import type { Api } from '../platform/http.ts';
import { ErrorResponse, setSessionCookie } from './auth.routes.ts';
import { isReturnPath } from './oidc.ts';
import type { OidcService } from './oidc.service.ts';
import { OidcSignedInViewSchema, OidcSignInOptionViewSchema } from './oidc.views.ts';

/** The browser's half of a sign-in under way at the provider: sent back only to these routes. */
export const OIDC_FLOW_COOKIE = 'changegate_oidc';
const FLOW_COOKIE_PATH = '/api/v1/auth/oidc';

/** Where the sign-in page picks up after the provider: with `oidc=totp` it asks for the code, with `oidc_error` it says what went wrong. */
const signInPage = (next: string, extra: Record<string, string>) => `/signin?${new URLSearchParams({ ...(next !== '/' && { next }), ...extra }).toString()}`;

/**
 * Sign-in through an OpenID Connect provider (docs/oidc.md). `GET /auth/oidc` (for the sign-in page to ask)
 * and the TOTP step are always there; the redirects only when a provider is configured.
 */
export function oidcRoutes(app: Api, services: { readonly oidc: OidcService | undefined; readonly cookieSecure: boolean }): void {
  const { oidc, cookieSecure } = services;
  const tags = ['auth'];
  const setFlowCookie = (reply: FastifyReply, token: string, seconds: number) =>
    void reply.setCookie(OIDC_FLOW_COOKIE, token, { httpOnly: true, secure: cookieSecure, sameSite: 'lax', path: FLOW_COOKIE_PATH, maxAge: seconds });
  const clearFlowCookie = (reply: FastifyReply) => void reply.clearCookie(OIDC_FLOW_COOKIE, { path: FLOW_COOKIE_PATH });

  app.get(
    '/auth/oidc',
    {
      schema: {
        tags,
        summary: 'Whether sign-in through an OpenID Connect provider is offered, and the provider’s name for the button',
        security: [],
        response: { 200: OidcSignInOptionViewSchema },
      },
    },
    async () => ({ enabled: oidc !== undefined, displayName: oidc?.displayName ?? null }),
  );
  app.post(
    '/auth/oidc/totp',
    {
      schema: {
        tags,
        summary: 'Finish a sign-in through the provider with the TOTP code, when the account has TOTP and the provider’s MFA does not stand for it',
        security: [],
        body: Type.Object({ totp: Type.String({ minLength: 1, maxLength: 16 }) }, { additionalProperties: false }),
        response: { 200: OidcSignedInViewSchema, '4xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      // Off, no sign-in through a provider can be waiting for its code.
      if (!oidc) throw errors.oidcSignInExpired();
      const { session, next } = await oidc.proveTotp({ flowToken: request.cookies[OIDC_FLOW_COOKIE], totp: request.body.totp, sourceIp: request.ip });
      clearFlowCookie(reply);
      setSessionCookie(reply, session, cookieSecure);
      return { user: session.user, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString(), next };
    },
  );

  if (!oidc) return;

  app.get(
    '/auth/oidc/start',
    {
      schema: {
        tags,
        summary: 'Start signing in through the OpenID Connect provider: redirects the browser there (303)',
        security: [],
        querystring: Type.Object({ next: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
        response: { '4xx': ErrorResponse, '5xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      const next = request.query.next ?? '/';
      // Only a page of this console: never another site (an open redirect).
      if (!isReturnPath(next)) throw errors.validation('`next` must be a page of this console: a path starting with a single "/".', [{ path: '/next', message: 'must be a path of this site' }]);
      let started: Awaited<ReturnType<OidcService['start']>>;
      try {
        started = await oidc.start(next, request.ip);
      } catch (error) {
        // The provider is down: the browser goes back to the sign-in page, which says so (the log has why).
        if (isAppError(error, 'oidc_unavailable')) return reply.redirect(signInPage(next, { oidc_error: 'unavailable' }), 303);
        throw error;
      }
      if (started === 'throttled') return reply.redirect(signInPage(next, { oidc_error: 'throttled' }), 303);
      setFlowCookie(reply, started.flowToken, 10 * 60);
      return reply.redirect(started.url, 303);
    },
  );

  app.get(
    '/auth/oidc/callback',
    {
      schema: {
        tags,
        summary: 'Where the provider sends the browser back: signs in and redirects (303) to the page the sign-in started from, or to the sign-in page saying why not',
        security: [],
        querystring: Type.Record(Type.String(), Type.String({ maxLength: 4096 })),
      },
    },
    async (request, reply) => {
      const query = new URLSearchParams(request.query as Record<string, string>);
      const outcome = await oidc.finish({ flowToken: request.cookies[OIDC_FLOW_COOKIE], query, sourceIp: request.ip });
      if (!(outcome.kind === 'refused' && outcome.keepFlow)) clearFlowCookie(reply);
      switch (outcome.kind) {
        case 'signed_in':
          setSessionCookie(reply, outcome.session, cookieSecure);
          return reply.redirect(outcome.next, 303);
        case 'totp':
          setFlowCookie(reply, outcome.flowToken, 5 * 60);
          return reply.redirect(signInPage(outcome.next, { oidc: 'totp' }), 303);
        case 'refused':
          return reply.redirect(signInPage(outcome.next, { oidc_error: outcome.reason }), 303);
      }
    },
  );

}
