import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { EventLogService } from './event.service.ts';
import { EventLogVerifyReportViewSchema, EventViewSchema } from './event.views.ts';

/** Reading and verifying the tamper-evident event log. */
export function eventRoutes(app: Api, events: EventLogService): void {
  const tags = ['event log'];

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary: 'Entries in sequence order; page with `after` (the last seq you have)',
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
            action: Type.Optional(Type.String()),
            actor: Type.Optional(Type.String()),
            subject: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(EventViewSchema) },
      },
    },
    async (request) => {
      const { after, ...rest } = request.query;
      return events.list(actorOf(request), { ...rest, afterSeq: after });
    },
  );

  app.post(
    '/events/verify',
    {
      schema: {
        tags,
        summary: 'Recompute every hash; names the first entry that does not match',
        response: {
          200: EventLogVerifyReportViewSchema,
        },
      },
    },
    async (request) => events.verify(actorOf(request)),
  );
}
