import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import { DELIVERY_PAGE_DEFAULT, type DeliveryService } from './delivery.service.ts';
import type { WebhookService } from './webhook.service.ts';
import { DeliveryStatusSchema, DeliveryViewSchema } from './delivery.views.ts';
import { WebhookViewSchema, WebhookWithSecretSchema } from './webhook.views.ts';

const URL_DESCRIPTION =
  'http:// or https://; its host must resolve to public addresses only (checked again at each delivery), unless CHANGEGATE_WEBHOOK_ALLOW lists their network';

const Id = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Kinds = Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50, description: 'Notice kinds to receive, e.g. request.created; empty means all' });
const Paging = {
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: DELIVERY_PAGE_DEFAULT }),
  before: Type.Optional(Type.String({ format: 'uuid', description: 'The id of the last delivery of the page you have' })),
};

export interface WebhookRouteServices {
  readonly webhooks: WebhookService;
  readonly deliveries: DeliveryService;
}

/** Webhooks and the delivery log of e-mails and webhook calls; all need `User.Admin` system-wide. */
export function webhookRoutes(app: Api, services: WebhookRouteServices): void {
  const { webhooks, deliveries } = services;
  const tags = ['webhooks'];

  app.get('/webhooks', { schema: { tags, summary: 'List webhooks (never their secrets)', response: { 200: Type.Array(WebhookViewSchema) } } }, async (request) =>
    webhooks.list(actorOf(request)),
  );

  app.post(
    '/webhooks',
    {
      schema: {
        tags,
        summary: 'Create a webhook; the answer holds its secret, shown this once',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            url: Type.String({ minLength: 1, maxLength: 2000, description: URL_DESCRIPTION }),
            kinds: Type.Optional(Kinds),
            enabled: Type.Optional(Type.Boolean()),
            secret: Type.Optional(Type.String({ maxLength: 256, description: 'Your own HMAC secret (16 to 256 characters); leave it out to get a generated one' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: WebhookWithSecretSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await webhooks.create(actorOf(request), request.body)),
  );

  app.get('/webhooks/:id', { schema: { tags, summary: 'One webhook', params: Id, response: { 200: WebhookViewSchema } } }, async (request) =>
    webhooks.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/webhooks/:id',
    {
      schema: {
        tags,
        summary: 'Change a webhook; give `expectedVersion` to refuse the change if someone else changed it first',
        params: Id,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            url: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, description: URL_DESCRIPTION })),
            kinds: Type.Optional(Kinds),
            enabled: Type.Optional(Type.Boolean()),
            expectedVersion: Type.Optional(Type.Integer({ minimum: 1, description: "The version you last read: if the webhook changed since, the answer is 409" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: WebhookViewSchema },
      },
    },
    async (request) => webhooks.update(actorOf(request), request.params.id, request.body),
  );

  app.delete('/webhooks/:id', { schema: { tags, summary: 'Delete a webhook and its deliveries', params: Id } }, async (request, reply) => {
    await webhooks.remove(actorOf(request), request.params.id);
    return reply.status(204).send();
  });

  app.post(
    '/webhooks/:id/secret',
    {
      schema: {
        tags,
        summary: 'Replace the secret with yours or a generated one, shown this once',
        params: Id,
        body: Type.Object({ secret: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false }),
        response: { 200: WebhookWithSecretSchema },
      },
    },
    async (request) => webhooks.rotateSecret(actorOf(request), request.params.id, request.body.secret),
  );

  app.post(
    '/webhooks/:id/test',
    { schema: { tags, summary: 'Send a webhook.test notice to this webhook alone', params: Id, response: { 202: DeliveryViewSchema } } },
    async (request, reply) => reply.status(202).send(await webhooks.test(actorOf(request), request.params.id)),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        summary: "This webhook's deliveries, newest first: attempts, last error, next attempt",
        params: Id,
        querystring: Type.Object({ status: Type.Optional(DeliveryStatusSchema), ...Paging }, { additionalProperties: false }),
        response: { 200: Type.Array(DeliveryViewSchema) },
      },
    },
    async (request) => deliveries.ofWebhook(actorOf(request), request.params.id, request.query),
  );

  const logTags = ['deliveries'];

  app.get(
    '/deliveries',
    {
      schema: {
        tags: logTags,
        summary: 'The delivery log of e-mails and webhook calls, newest first',
        querystring: Type.Object(
          { status: Type.Optional(DeliveryStatusSchema), channel: Type.Optional(Type.Union([Type.Literal('email'), Type.Literal('webhook')])), ...Paging },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(DeliveryViewSchema) },
      },
    },
    async (request) => deliveries.list(actorOf(request), request.query),
  );

  app.get('/deliveries/:id', { schema: { tags: logTags, summary: 'One delivery', params: Id, response: { 200: DeliveryViewSchema } } }, async (request) =>
    deliveries.get(actorOf(request), request.params.id),
  );

  app.post(
    '/deliveries/:id/retry',
    { schema: { tags: logTags, summary: 'Send a failed delivery again now, with a fresh schedule of attempts', params: Id, response: { 200: DeliveryViewSchema } } },
    async (request) => deliveries.retry(actorOf(request), request.params.id),
  );
}
