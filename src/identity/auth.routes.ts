import { timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import { ERROR_CODES, errors, type ErrorCode } from '../platform/errors.ts';
import type { Api } from '../platform/http.ts';
import type { Actor } from '../access/actor.ts';
import type { FastifyReply } from 'fastify';
import type { AuthService, WebSession } from './auth.service.ts';
import { actorOf } from '../access/request-actor.ts';
import type { GrantService } from './grant.service.ts';
import type { UserService } from './user.service.ts';
import { ApiTokenViewSchema, NewApiTokenViewSchema } from './api-token.views.ts';
import { GrantViewSchema } from './grant.views.ts';
import { SshKeyViewSchema } from './ssh-key.views.ts';
import { UserViewSchema } from './user.views.ts';

export const SESSION_COOKIE = 'changegate_session';

/** Hands the browser a new web session's cookie: the same after every kind of sign-in. */
export function setSessionCookie(reply: FastifyReply, session: Pick<WebSession, 'token' | 'expiresAt'>, secure: boolean): void {
  void reply.setCookie(SESSION_COOKIE, session.token, {
    httpOnly: true,
    secure,
    sameSite: 'strict',
    path: '/',
    expires: new Date(session.expiresAt.getTime() + 12 * 60 * 60 * 1000),
  });
}
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const sameToken = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Resolves who is calling, once per request: an `Authorization: Bearer` API token, else the
 * session cookie. A cookie-authenticated request that changes state must also carry the session's
 * CSRF token in `X-CSRF-Token` (synchronizer token), so another site cannot ride the cookie.
 */
export function registerAuthentication(app: Api, auth: AuthService): void {
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      request.authenticated = match?.[1] ? await auth.authenticateToken(match[1]) : undefined;
      if (!request.authenticated) throw errors.unauthenticated('The API token is not valid: it is unknown, expired or revoked.');
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    if (!cookie) return;
    request.authenticated = await auth.authenticateSession(cookie);
    if (request.authenticated && UNSAFE_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      const expected = request.authenticated.csrfToken ?? '';
      if (typeof sent !== 'string' || !sameToken(sent, expected)) throw errors.csrf();
    }
  });
  // Refuse an anonymous caller before the body is validated: a 401 says more than a 400 would.
  app.addHook('preValidation', async (request) => {
    const isPublic = request.routeOptions.schema?.security?.length === 0;
    if (!request.authenticated && !isPublic && request.routeOptions.url !== undefined) throw errors.unauthenticated();
  });
}

// The enum documents the codes; it does not check them (the serializer writes any string as it is).
const ProblemCode = Type.Unsafe<ErrorCode>({ type: 'string', enum: [...ERROR_CODES], description: 'A stable code: docs/errors.md says what each means and what to do.' });
const Problem = Type.Object({ code: ProblemCode, message: Type.String(), details: Type.Optional(Type.Unknown()) });
export const ErrorResponse = Type.Object({ error: Problem });

export const ProfilePatch = Type.Object(
  {
    displayName: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
    timeZone: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const NewSshKey = Type.Object(
  { name: Type.Optional(Type.String({ maxLength: 200 })), publicKey: Type.String({ minLength: 1, maxLength: 16384 }) },
  { additionalProperties: false },
);

const Code = Type.Object({ code: Type.String({ minLength: 1, maxLength: 16 }) }, { additionalProperties: false });
const Id = Type.Object({ id: Type.String({ format: 'uuid' }) });

export interface IdentityRouteServices {
  readonly auth: AuthService;
  readonly users: UserService;
  readonly grants: GrantService;
  readonly cookieSecure: boolean;
}

/** Sign-in and the caller's own account: profile, password, TOTP, SSH keys and API tokens. */
export function authRoutes(app: Api, services: IdentityRouteServices): void {
  const { auth, users, grants } = services;
  const tags = ['auth'];

  app.post(
    '/auth/login',
    {
      schema: {
        tags,
        summary: 'Sign in; sets the session cookie and returns the CSRF token',
        security: [],
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 200 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
            totp: Type.Optional(Type.String({ maxLength: 16 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ user: UserViewSchema, csrfToken: Type.String(), expiresAt: Type.String() }), '4xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      const session = await auth.login({ ...request.body, sourceIp: request.ip });
      setSessionCookie(reply, session, services.cookieSecure);
      return { user: session.user, csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() };
    },
  );

  app.post(
    '/auth/reauthenticate',
    {
      schema: {
        tags,
        summary: 'Prove your password (and TOTP code) again: for 10 minutes this web session may create tokens, add SSH keys, change passwords and TOTP',
        body: Type.Object(
          { password: Type.String({ minLength: 1, maxLength: 1024 }), totp: Type.Optional(Type.String({ maxLength: 16 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ authenticatedAt: Type.String(), recentUntil: Type.String() }), '4xx': ErrorResponse },
      },
    },
    async (request) => {
      const proved = await auth.reauthenticate(actorOf(request), { ...request.body, sourceIp: request.ip });
      return { authenticatedAt: proved.authenticatedAt.toISOString(), recentUntil: proved.recentUntil.toISOString() };
    },
  );

  app.post('/auth/logout', { schema: { tags, summary: 'Sign out and end the web session' } }, async (request, reply) => {
    actorOf(request);
    const cookie = request.cookies[SESSION_COOKIE];
    if (cookie) await auth.logout(cookie);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.status(204).send();
  });

  app.get(
    '/me',
    {
      schema: {
        tags,
        summary: 'The signed-in user, their grants and, for a web session, the CSRF token',
        response: { 200: Type.Object({ user: UserViewSchema, grants: Type.Array(GrantViewSchema), csrfToken: Type.Optional(Type.String()) }) },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const user = await users.get(actor, actor.username);
      return { user, grants: await grants.mine(actor), ...(request.authenticated?.csrfToken && { csrfToken: request.authenticated.csrfToken }) };
    },
  );

  app.patch('/me', { schema: { tags, summary: 'Edit your profile', body: ProfilePatch, response: { 200: UserViewSchema } } }, async (request) => {
    const actor = actorOf(request);
    return users.update(actor, actor.username, request.body);
  });

  app.post(
    '/me/password',
    {
      schema: {
        tags,
        summary: 'Change your password',
        body: Type.Object({ currentPassword: Type.String({ maxLength: 1024 }), newPassword: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      await users.changeOwnPassword(actorOf(request), request.body.currentPassword, request.body.newPassword);
      return reply.status(204).send();
    },
  );

  app.post(
    '/me/totp',
    {
      schema: {
        tags,
        summary: 'Start two-factor enrolment: returns the secret and otpauth:// URI once',
        response: { 200: Type.Object({ secret: Type.String(), uri: Type.String() }) },
      },
    },
    async (request) => auth.beginTotp(actorOf(request)),
  );

  app.post('/me/totp/confirm', { schema: { tags, summary: 'Finish enrolment with a current code', body: Code } }, async (request, reply) => {
    await auth.confirmTotp(actorOf(request), request.body.code);
    return reply.status(204).send();
  });

  app.delete('/me/totp', { schema: { tags, summary: 'Turn two-factor sign-in off, proving it with a current code', body: Code } }, async (request, reply) => {
    await auth.disableTotp(actorOf(request), request.body.code);
    return reply.status(204).send();
  });

  app.get('/me/ssh-keys', { schema: { tags, summary: 'Your SSH public keys for the gateway', response: { 200: Type.Array(SshKeyViewSchema) } } }, async (request) => {
    const actor = actorOf(request);
    return users.listSshKeys(actor, actor.username);
  });

  app.post('/me/ssh-keys', { schema: { tags, summary: 'Register an SSH public key', body: NewSshKey, response: { 201: SshKeyViewSchema } } }, async (request, reply) => {
    const actor = actorOf(request);
    const key = await users.addSshKey(actor, actor.username, { name: request.body.name ?? '', publicKey: request.body.publicKey });
    return reply.status(201).send(key);
  });

  app.delete('/me/ssh-keys/:id', { schema: { tags, summary: 'Remove one of your SSH keys', params: Id } }, async (request, reply) => {
    const actor = actorOf(request);
    await users.removeSshKey(actor, actor.username, request.params.id);
    return reply.status(204).send();
  });

  const tokenTags = ['tokens'];
  app.get('/tokens', { schema: { tags: tokenTags, summary: 'Your API tokens (never the tokens themselves)', response: { 200: Type.Array(ApiTokenViewSchema) } } }, async (request) =>
    auth.listTokens(actorOf(request)),
  );

  app.post(
    '/tokens',
    {
      schema: {
        tags: tokenTags,
        summary: 'Create an API token; the token is in this answer only',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 200 }), expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) },
          { additionalProperties: false },
        ),
        response: { 201: NewApiTokenViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await auth.createToken(actorOf(request), request.body)),
  );

  app.delete('/tokens/:id', { schema: { tags: tokenTags, summary: 'Revoke an API token', params: Id, response: { 200: ApiTokenViewSchema } } }, async (request) =>
    auth.revokeToken(actorOf(request), request.params.id),
  );
}

