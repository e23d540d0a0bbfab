import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import { renderReport, type ReportFormat } from './report.ts';
import type { ReviewService } from './review.service.ts';
import { AuditedSessionViewSchema, ChangeAuditViewSchema, DeviationSubscriptionViewSchema as Subscription, LiveProgressViewSchema, OutcomeSchema } from './review.views.ts';

const ChangeRef = Type.Object({ change: Type.String({ minLength: 1, maxLength: 64 }) });

/** The change audit: the board and score of a change, its reports, and the audited sessions. */
export function reviewRoutes(app: Api, reviews: ReviewService): void {
  const tags = ['change audit'];

  app.get(
    '/changes/:change/audit',
    {
      schema: {
        tags,
        summary: 'Change details, the board per device (missing, extra, …), the score and the sessions (Session.View)',
        params: ChangeRef,
        response: { 200: ChangeAuditViewSchema },
      },
    },
    async (request) => reviews.audit(actorOf(request), request.params.change),
  );

  app.get(
    '/changes/:change/audit/report',
    {
      schema: {
        tags,
        summary: 'The audit of a change as a file: JSON, CSV, or one self-contained HTML page',
        params: ChangeRef,
        querystring: Type.Object({ format: Type.Union([Type.Literal('json'), Type.Literal('csv'), Type.Literal('html')], { default: 'html' }) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const report = renderReport(await reviews.audit(actorOf(request), request.params.change), request.query.format as ReportFormat);
      void reply.header('content-type', report.contentType);
      void reply.header('content-disposition', `attachment; filename="${report.fileName}"`);
      return reply.send(report.body);
    },
  );

  app.get(
    '/changes/:change/deviation-alerts',
    {
      schema: {
        tags,
        summary: "Whether you are subscribed to the change's deviation alerts (Session.View in its partition, or an approver of its group)",
        params: ChangeRef,
        response: { 200: Subscription },
      },
    },
    async (request) => reviews.deviationSubscription(actorOf(request), request.params.change),
  );
  app.put(
    '/changes/:change/deviation-alerts',
    {
      schema: {
        tags,
        summary: "Subscribe to (true) or leave (false) the change's deviation alerts: a notice for each burst of commands off its script while its sessions run",
        params: ChangeRef,
        body: Subscription,
        response: { 200: Subscription },
      },
    },
    async (request) => reviews.setDeviationSubscription(actorOf(request), request.params.change, request.body.subscribed),
  );

  app.get(
    '/sessions/:session/progress',
    {
      schema: {
        tags,
        summary: "A session's device board against its change's script, and the steps expected next: what its watchers are sent live (its user, or Session.View)",
        params: Type.Object({ session: Type.String({ pattern: '^[0-9]{1,15}$', description: 'The session number' }) }),
        response: { 200: LiveProgressViewSchema },
      },
    },
    async (request) => reviews.progress(actorOf(request), request.params.session),
  );

  app.get(
    '/audit/sessions',
    {
      schema: {
        tags,
        summary: 'Audited sessions with their change\'s score; filter by change, user, device, time, outcome, score and command text',
        querystring: Type.Object(
          {
            change: Type.Optional(Type.String()),
            user: Type.Optional(Type.String()),
            device: Type.Optional(Type.String()),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
            outcome: Type.Optional(OutcomeSchema),
            scoreMin: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
            scoreMax: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
            command: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(AuditedSessionViewSchema) },
      },
    },
    async (request) => {
      const { from, to, ...rest } = request.query;
      return reviews.listSessions(actorOf(request), { ...rest, ...(from && { from: new Date(from) }), ...(to && { to: new Date(to) }) });
    },
  );
}
