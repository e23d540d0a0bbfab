import { Type } from 'typebox';
import type { Api } from '../platform/http.ts';
import { actorOf } from '../access/request-actor.ts';
import { NewSshKey, ProfilePatch } from './auth.routes.ts';
import type { UserService } from './user.service.ts';
import { SshKeyViewSchema } from './ssh-key.views.ts';
import { UserViewSchema } from './user.views.ts';

const Username = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) });
const Password = Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });

/** User administration (`User.Admin`); a user may also read and edit their own record. */
export function userRoutes(app: Api, users: UserService): void {
  const tags = ['users'];

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'List users',
        querystring: Type.Object({ includeDisabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: Type.Array(UserViewSchema) },
      },
    },
    async (request) => users.list(actorOf(request), { includeDisabled: request.query.includeDisabled ?? true }),
  );

  app.post(
    '/users',
    {
      schema: {
        tags,
        summary: 'Create a user',
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 64 }),
            displayName: Type.Optional(Type.String({ maxLength: 200 })),
            email: Type.Optional(Type.Union([Type.String({ maxLength: 320 }), Type.Null()])),
            timeZone: Type.Optional(Type.String({ maxLength: 64 })),
            password: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: UserViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await users.create(actorOf(request), request.body)),
  );

  app.get('/users/:username', { schema: { tags, summary: 'One user', params: Username, response: { 200: UserViewSchema } } }, async (request) =>
    users.get(actorOf(request), request.params.username),
  );

  app.patch('/users/:username', { schema: { tags, summary: 'Edit a profile', params: Username, body: ProfilePatch, response: { 200: UserViewSchema } } }, async (request) =>
    users.update(actorOf(request), request.params.username, request.body),
  );

  app.post('/users/:username/disable', { schema: { tags, summary: 'Disable a user; their sessions end', params: Username, response: { 200: UserViewSchema } } }, async (request) =>
    users.setDisabled(actorOf(request), request.params.username, true),
  );

  app.post('/users/:username/enable', { schema: { tags, summary: 'Enable a user again', params: Username, response: { 200: UserViewSchema } } }, async (request) =>
    users.setDisabled(actorOf(request), request.params.username, false),
  );

  app.post('/users/:username/password', { schema: { tags, summary: "Set a user's password (lifts a lockout)", params: Username, body: Password } }, async (request, reply) => {
    await users.setPassword(actorOf(request), request.params.username, request.body.password);
    return reply.status(204).send();
  });

  app.delete('/users/:username/totp', { schema: { tags, summary: "Remove a user's two-factor enrolment", params: Username } }, async (request, reply) => {
    await users.resetTotp(actorOf(request), request.params.username);
    return reply.status(204).send();
  });

  app.get('/users/:username/ssh-keys', { schema: { tags, summary: "A user's SSH public keys", params: Username, response: { 200: Type.Array(SshKeyViewSchema) } } }, async (request) =>
    users.listSshKeys(actorOf(request), request.params.username),
  );

  app.post(
    '/users/:username/ssh-keys',
    { schema: { tags, summary: 'Register an SSH public key for a user', params: Username, body: NewSshKey, response: { 201: SshKeyViewSchema } } },
    async (request, reply) =>
      reply.status(201).send(await users.addSshKey(actorOf(request), request.params.username, { name: request.body.name ?? '', publicKey: request.body.publicKey })),
  );

  app.delete(
    '/users/:username/ssh-keys/:id',
    { schema: { tags, summary: "Remove a user's SSH key", params: Type.Intersect([Username, Type.Object({ id: Type.String({ format: 'uuid' }) })]) } },
    async (request, reply) => {
      await users.removeSshKey(actorOf(request), request.params.username, request.params.id);
      return reply.status(204).send();
    },
  );
}
