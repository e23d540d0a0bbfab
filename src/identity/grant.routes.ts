import { Type } from 'typebox';
import type { Api } from '../platform/http.ts';
import { actorOf } from '../access/request-actor.ts';
import type { GrantService } from './grant.service.ts';
import { isSystemOnly, PRIVILEGES } from '../access/privilege.ts';
import { GrantViewSchema } from './grant.views.ts';

/** Grants of privileges, and the privilege catalogue. */
export function grantRoutes(app: Api, grants: GrantService): void {
  const tags = ['privileges'];

  app.get(
    '/privileges',
    {
      schema: {
        tags,
        summary: 'The privilege catalogue',
        response: { 200: Type.Array(Type.Object({ name: Type.String(), systemOnly: Type.Boolean() })) },
      },
    },
    async (request) => {
      actorOf(request);
      return PRIVILEGES.map((name) => ({ name, systemOnly: isSystemOnly(name) }));
    },
  );

  app.get(
    '/grants',
    {
      schema: {
        tags,
        summary: 'Grants you may see: all for User.Admin, else yours and those you administer',
        querystring: Type.Object({ username: Type.Optional(Type.String()), privilege: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: Type.Array(GrantViewSchema) },
      },
    },
    async (request) => grants.list(actorOf(request), request.query),
  );

  app.post(
    '/grants',
    {
      schema: {
        tags,
        summary: 'Grant a privilege (you need it at Admin level over the same scope)',
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 64 }),
            privilege: Type.String({ minLength: 1, maxLength: 64 }),
            level: Type.Union([Type.Literal('access'), Type.Literal('admin')], { default: 'access' }),
            partition: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: GrantViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await grants.grant(actorOf(request), request.body)),
  );

  app.delete('/grants/:id', { schema: { tags, summary: 'Revoke a grant', params: Type.Object({ id: Type.String({ format: 'uuid' }) }) } }, async (request, reply) => {
    await grants.revoke(actorOf(request), request.params.id);
    return reply.status(204).send();
  });
}
