import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { CommandDecisions } from './command-review.service.ts';
import { CommandReviewViewSchema, ReviewStatusSchema } from './command-review.views.ts';

const ReviewNumber = Type.Object({ number: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

/** What command policies decided in sessions, and the review of held lines by their approvers. */
export function commandReviewRoutes(app: Api, reviews: CommandDecisions): void {
  const tags = ['command reviews'];

  app.get(
    '/command-reviews',
    {
      schema: {
        tags,
        summary: 'Command policy decisions you may see: reviews you are asked to decide, your own sessions\', and with Session.View those in its partitions; pending reviews first',
        querystring: Type.Object(
          {
            status: Type.Optional(ReviewStatusSchema),
            session: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'The session number' })),
            asked: Type.Optional(Type.Literal('me', { description: 'Only the reviews you were asked to decide' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(CommandReviewViewSchema) },
      },
    },
    async (request) => reviews.list(actorOf(request), request.query),
  );

  app.get('/command-reviews/:number', { schema: { tags, summary: 'One command policy decision, or review', params: ReviewNumber, response: { 200: CommandReviewViewSchema } } }, async (request) =>
    reviews.get(actorOf(request), request.params.number),
  );

  app.post(
    '/command-reviews/:number/decision',
    {
      schema: {
        tags,
        summary: 'Allow or refuse a held line (an approver of its access group, not its user): the session waiting for it goes on at once',
        params: ReviewNumber,
        body: Type.Object(
          {
            decision: Type.Union([Type.Literal('allow'), Type.Literal('refuse')]),
            comment: Type.Optional(Type.String({ maxLength: 2000, description: "Shown to the user in their terminal when the line is refused" })),
          },
          { additionalProperties: false },
        ),
        response: { 200: CommandReviewViewSchema },
      },
    },
    async (request) => reviews.decide(actorOf(request), request.params.number, request.body),
  );
}
