import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { EventLogService } from './event.service.ts';
import { EventLogVerifyReportViewSchema, EventViewSchema } from './event.views.ts';

const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

/** Reading and verifying the tamper-evident event log. */
export function eventRoutes(app: Api, events: EventLogService): void {
  const tags = ['event log'];

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary:
          'Entries in sequence order; page with `after` (the last seq you have). `order=desc` gives the newest first, paged with `before` (the oldest seq you have). Filters are exact, times ISO 8601 (`until` excluded)',
        querystring: Type.Object(
          {
            after: Type.Optional(Seq),
            before: Type.Optional(Seq),
            order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
            limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
            action: Type.Optional(Type.String()),
            actor: Type.Optional(Type.String()),
            subject: Type.Optional(Type.String()),
            from: Type.Optional(Type.String({ format: 'date-time', description: 'Entries written from this time on' })),
            until: Type.Optional(Type.String({ format: 'date-time', description: 'Entries written before this time' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(EventViewSchema) },
      },
    },
    async (request) => {
      const { after, before, order, from, until, ...rest } = request.query;
      return events.list(actorOf(request), {
        ...rest,
        afterSeq: after,
        beforeSeq: before,
        newestFirst: order === 'desc',
        ...(from !== undefined && { from: new Date(from) }),
        ...(until !== undefined && { until: new Date(until) }),
      });
    },
  );

  app.post(
    '/events/verify',
    {
      schema: {
        tags,
        summary:
          'Recompute every hash; names the first entry that does not match. To show progress, verify in ranges: `limit` entries at a time, each range continuing after the last (`after` its headSeq, `chainHash` its headChainHash) until `complete`',
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Continue after this entry, which an earlier range verified' })),
            chainHash: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: "The chain hash of entry `after`, as the earlier range's report gave it (headChainHash)" })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Verify at most this many entries' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: EventLogVerifyReportViewSchema,
        },
      },
    },
    async (request) => events.verify(actorOf(request), undefined, request.query),
  );
}
