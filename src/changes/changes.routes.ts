import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { AccessGroupService } from './access-group.service.ts';
import type { ChangeService } from './change.service.ts';
import type { RequestService } from './request.service.ts';
import { AccessGroupViewSchema, DeviationAlertsSchema, PolicyRuleSchema } from './access-group.views.ts';
import { ChangeStatusSchema, ChangeViewSchema, ScriptCheckViewSchema } from './change.views.ts';
import { AccessOutcomeSchema, RequestStatusSchema, RequestViewSchema, SessionTargetViewSchema } from './request.views.ts';

const Usernames = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 500 });
const GroupFields = {
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  executors: Type.Optional(Usernames),
  approvers: Type.Optional(Usernames),
  requiresJustification: Type.Optional(Type.Boolean()),
  approvalsRequired: Type.Optional(Type.Integer({ minimum: 1 })),
  plannerMayExecute: Type.Optional(Type.Boolean()),
  commandPolicy: Type.Optional(
    Type.Object(
      {
        rules: Type.Array(Type.Object({ ...PolicyRuleSchema.properties, name: Type.Optional(PolicyRuleSchema.properties.name) }, { additionalProperties: false }), { maxItems: 200 }),
        strict: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
  ),
  deviationAlerts: Type.Optional(DeviationAlertsSchema),
};
const GroupRef = Type.Object({ group: Type.String({ minLength: 1, maxLength: 200 }) });
const ChangeRef = Type.Object({ change: Type.String({ minLength: 1, maxLength: 64 }) });
const RequestNumber = Type.Object({ number: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
const Version = Type.Object({ expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });
const Time = Type.String({ format: 'date-time', description: 'ISO-8601 with a time zone, e.g. 2026-11-21T22:00:00Z' });
const Comment = Type.Object({ comment: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });

const ChangeFields = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.String({ maxLength: 10000 })),
  startAt: Time,
  dueAt: Time,
  accessGroup: Type.String({ minLength: 1, maxLength: 200 }),
  devices: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 1000 }),
  script: Type.String({ maxLength: 1_000_000 }),
};

const RequestQuery = Type.Object(
  {
    scope: Type.Union([Type.Literal('mine'), Type.Literal('approvals'), Type.Literal('all')], { default: 'mine' }),
    status: Type.Optional(RequestStatusSchema),
    change: Type.Optional(Type.String()),
    device: Type.Optional(Type.String()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/**
 * For actions whose body is optional (cancel, approve, deny): a POST without one reads as `{}`.
 * Fastify validates a missing body against the schema too and would answer 400 "must be object".
 */
const optionalBody = {
  preValidation: async (request: FastifyRequest) => {
    request.body ??= {};
  },
};

const date = (text: string | undefined) => (text === undefined ? undefined : new Date(text));

/** Access groups, changes, and requests with their approvals. */
export function changeRoutes(app: Api, services: { groups: AccessGroupService; changes: ChangeService; requests: RequestService }): void {
  const { groups, changes, requests } = services;

  app.get('/access-groups', { schema: { tags: ['access groups'], summary: 'Access groups you may view', response: { 200: Type.Array(AccessGroupViewSchema) } } }, async (request) =>
    groups.list(actorOf(request)),
  );

  app.post(
    '/access-groups',
    {
      schema: {
        tags: ['access groups'],
        summary: 'Create an access group: executors, approvers and the approval rule',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 128 }), partition: Type.Optional(Type.String()), application: Type.Optional(Type.Union([Type.String(), Type.Null()])), ...GroupFields },
          { additionalProperties: false },
        ),
        response: { 201: AccessGroupViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await groups.create(actorOf(request), request.body)),
  );

  app.get('/access-groups/:group', { schema: { tags: ['access groups'], summary: 'One access group', params: GroupRef, response: { 200: AccessGroupViewSchema } } }, async (request) =>
    groups.get(actorOf(request), request.params.group),
  );

  app.patch(
    '/access-groups/:group',
    {
      schema: {
        tags: ['access groups'],
        summary: 'Edit an access group',
        params: GroupRef,
        body: Type.Object({ ...GroupFields, expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
        response: { 200: AccessGroupViewSchema },
      },
    },
    async (request) => groups.update(actorOf(request), request.params.group, request.body),
  );

  app.delete('/access-groups/:group', { schema: { tags: ['access groups'], summary: 'Delete an access group no change uses', params: GroupRef, querystring: Version } }, async (request, reply) => {
    await groups.delete(actorOf(request), request.params.group, request.query.expectedVersion);
    return reply.status(204).send();
  });

  app.get(
    '/changes',
    {
      schema: {
        tags: ['changes'],
        summary: 'Changes you may view',
        querystring: Type.Object(
          { status: Type.Optional(ChangeStatusSchema), device: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(ChangeViewSchema) },
      },
    },
    async (request) => changes.list(actorOf(request), request.query),
  );

  app.post(
    '/changes',
    {
      schema: {
        tags: ['changes'],
        summary: 'Register a change (the seed\'s ID is `name`)',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 64 }), partition: Type.Optional(Type.String()), application: Type.Optional(Type.Union([Type.String(), Type.Null()])), ...ChangeFields },
          { additionalProperties: false },
        ),
        response: { 201: ChangeViewSchema },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await changes.create(actorOf(request), { ...body, startAt: new Date(body.startAt), dueAt: new Date(body.dueAt) });
      return reply.status(201).send(created);
    },
  );

  app.post(
    '/changes/script/check',
    {
      schema: {
        tags: ['changes'],
        summary: 'Check a change script without saving it (the editor, as the planner types): its steps, or its errors with line and column',
        body: Type.Object({ script: ChangeFields.script }, { additionalProperties: false }),
        response: { 200: ScriptCheckViewSchema },
      },
    },
    async (request) => changes.checkScript(actorOf(request), request.body.script),
  );

  app.get('/changes/:change', { schema: { tags: ['changes'], summary: 'One change', params: ChangeRef, response: { 200: ChangeViewSchema } } }, async (request) =>
    changes.get(actorOf(request), request.params.change),
  );

  app.patch(
    '/changes/:change',
    {
      schema: {
        tags: ['changes'],
        summary: 'Edit a change (the script only until its first session: then 409 script_frozen)',
        params: ChangeRef,
        body: Type.Partial(Type.Object({ ...ChangeFields, description: Type.String({ maxLength: 10000 }), expectedVersion: Type.Integer({ minimum: 1 }) }), { additionalProperties: false }),
        response: { 200: ChangeViewSchema },
      },
    },
    async (request) => {
      const { startAt, dueAt, ...rest } = request.body;
      return changes.update(actorOf(request), request.params.change, { ...rest, startAt: date(startAt), dueAt: date(dueAt) });
    },
  );

  app.post(
    '/changes/:change/cancel',
    {
      ...optionalBody,
      schema: {
        tags: ['changes'],
        summary: 'Cancel a change; its open requests close',
        params: ChangeRef,
        body: Type.Optional(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false })),
        response: { 200: ChangeViewSchema },
      },
    },
    async (request) => changes.cancel(actorOf(request), request.params.change, request.body?.reason),
  );

  app.delete('/changes/:change', { schema: { tags: ['changes'], summary: 'Delete a change that never had requests', params: ChangeRef, querystring: Version } }, async (request, reply) => {
    await changes.delete(actorOf(request), request.params.change, request.query.expectedVersion);
    return reply.status(204).send();
  });

  app.get(
    '/requests',
    {
      schema: {
        tags: ['requests'],
        summary: 'scope=mine (My requests), approvals (My approvals, pending first) or all (Request.View)',
        querystring: RequestQuery,
        response: { 200: Type.Array(RequestViewSchema) },
      },
    },
    async (request) => {
      const { scope, ...filter } = request.query;
      const actor = actorOf(request);
      if (scope === 'approvals') return requests.listApprovals(actor, filter);
      if (scope === 'all') return requests.listAll(actor, filter);
      return requests.listMine(actor, filter);
    },
  );

  app.get(
    '/session-targets',
    {
      schema: {
        tags: ['requests'],
        summary: 'Credentials ➔ All: the device accounts you may start a session on, as an executor of an open or scheduled change (account names only)',
        response: { 200: Type.Array(SessionTargetViewSchema) },
      },
    },
    async (request) => requests.sessionTargets(actorOf(request)),
  );

  app.post(
    '/requests',
    {
      schema: {
        tags: ['requests'],
        summary: 'Ask to run a change on a device (what the gateway does on connect): 201 when created, 200 when it existed',
        body: Type.Object(
          {
            device: Type.String({ minLength: 1, maxLength: 200 }),
            change: Type.Optional(Type.String({ maxLength: 64 })),
            justification: Type.Optional(Type.String({ maxLength: 2000 })),
            again: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: AccessOutcomeSchema, 201: AccessOutcomeSchema },
      },
    },
    async (request, reply) => {
      const { device, ...query } = request.body;
      const outcome = await requests.requestAccess(actorOf(request), device, query);
      return reply.status(outcome.created ? 201 : 200).send(outcome);
    },
  );

  app.get('/requests/:number', { schema: { tags: ['requests'], summary: 'One request', params: RequestNumber, response: { 200: RequestViewSchema } } }, async (request) =>
    requests.get(actorOf(request), request.params.number),
  );

  app.post(
    '/requests/:number/approve',
    { ...optionalBody, schema: { tags: ['requests'], summary: 'Approve (N of the approvers are needed)', params: RequestNumber, body: Type.Optional(Comment), response: { 200: RequestViewSchema } } },
    async (request) => requests.approve(actorOf(request), request.params.number, request.body?.comment),
  );

  app.post(
    '/requests/:number/deny',
    { ...optionalBody, schema: { tags: ['requests'], summary: 'Deny, with a comment for the requester', params: RequestNumber, body: Type.Optional(Comment), response: { 200: RequestViewSchema } } },
    async (request) => requests.deny(actorOf(request), request.params.number, request.body?.comment),
  );

  app.post(
    '/requests/:number/revoke',
    {
      schema: {
        tags: ['requests'],
        summary: 'Revoke an approved request (its approvers, or Request.Revoke): its live sessions end, its requester is told',
        params: RequestNumber,
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 2000, description: 'Why: the requester and the session user are told' }) }, { additionalProperties: false }),
        response: { 200: RequestViewSchema },
      },
    },
    async (request) => requests.revoke(actorOf(request), request.params.number, request.body.reason),
  );

  app.post('/requests/:number/cancel', { schema: { tags: ['requests'], summary: 'Withdraw your request', params: RequestNumber, response: { 200: RequestViewSchema } } }, async (request) =>
    requests.cancel(actorOf(request), request.params.number),
  );
}
