import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import { APPLICATION_RULES, LEVEL_NAMES, MATCH_TYPES } from './audit-rule.ts';
import type { AuditRuleService } from './audit-rule.service.ts';
import type { AuditTrailService } from './audit-trail.service.ts';
import { BundleSchema, ImportReportSchema } from './bundle.ts';
import { PermalinkTargetSchema, type PermalinkTarget } from './permalink.views.ts';
import { PromoteResultSchema, PromoteTargetSchema } from './promote.views.ts';
import type { BundleService } from './bundle.service.ts';
import { FILTER_TARGETS } from './filter.ts';
import type { FilterService } from './filter.service.ts';
import { OBJECT_TYPES } from '../objects/object.ts';
import { SEARCH_MAX_LENGTH } from './search.ts';
import { AuditRuleViewSchema, PermalinksSchema, RuleUsersSchema } from './audit-rule.views.ts';
import { EntryPageSchema, AuditEntryViewSchema, PurgeResultSchema, RestoreResultSchema } from './audit-trail.views.ts';
import { FilterViewSchema } from './filter.views.ts';

export interface AuditingRouteServices {
  readonly auditRules: AuditRuleService;
  readonly auditTrail: AuditTrailService;
  readonly filters: FilterService;
  readonly bundles: BundleService;
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Level = Type.Enum([LEVEL_NAMES[1], LEVEL_NAMES[2]], { description: 'diff_only keeps the changed fields; full_audit the whole object before and after, so it can be restored' });
const Match = Type.Enum(MATCH_TYPES, { description: 'GLOB (* and ?) or RE2 regular expression, matching the whole name, case-sensitive or not' });
const Reason = Type.String({ maxLength: 2000, description: 'Why: written into the audit entry' });

const RuleFieldsSchema = {
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  namePattern: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Default *' })),
  nameMatch: Type.Optional(Match),
  applicationRule: Type.Optional(Type.Enum(APPLICATION_RULES, { description: 'Default all_objects; exact_application and sub_application need matchApplication' })),
  matchApplication: Type.Optional(Nullable(Type.String({ maxLength: 700, description: 'PARTITION.Path, or a path in the rule\'s partition' }))),
  partitionPattern: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Default *' })),
  partitionMatch: Type.Optional(Match),
  enabled: Type.Optional(Type.Boolean()),
};

const SecurityBody = {
  view: Type.Optional(RuleUsersSchema),
  edit: Type.Optional(RuleUsersSchema),
  delete: Type.Optional(RuleUsersSchema),
};

const PromoteBody = {
  target: Type.String({ minLength: 1, maxLength: 64, description: 'The name of a promotion target an administrator configured (CHANGEGATE_PROMOTE_TARGETS); GET /audit/promote-targets lists them' }),
  token: Type.String({ minLength: 1, maxLength: 200, description: 'An API token of a user of that instance; sent there only, never stored or logged' }),
  dryRun: Type.Optional(Type.Boolean({ description: 'Have the other instance report what it would do, writing nothing' })),
};

const Ref = Type.Object({ ref: Type.String({ minLength: 1, maxLength: 700, description: 'Id, PARTITION.name or name' }) });
const Seq = Type.Object({ seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
const Related = Type.Object({ related: Type.Optional(Type.Boolean({ description: 'Include the partition and applications it points at' })) }, { additionalProperties: false });
const ReasonBody = Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false });
const Query = {
  q: Type.Optional(Type.String({ maxLength: SEARCH_MAX_LENGTH, description: 'The search: t:14:05-14:06 u:jdoe o:Device k:GLOBAL.web a:M r:"disk full" l:2 cb:P30D' })),
  filter: Type.Optional(Type.String({ maxLength: 700, description: 'A saved filter (id, PARTITION.name or name) whose query applies too' })),
};
const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'nextCursor of the previous page' })),
  expand: Type.Optional(Type.Boolean({ description: 'Include the whole object before and after (Full entries)' })),
};

/** For the POSTs whose body is optional (a reason, a name): no body at all reads as `{}`. */
const optionalBody = {
  preValidation: async (request: FastifyRequest) => {
    request.body ??= {};
  },
};

/** Active auditing: audit rules, the audit trail with restore, the Trash Can, filters, export, import and promotion. */
export function auditingRoutes(app: Api, services: AuditingRouteServices): void {
  const { auditRules, auditTrail, filters, bundles } = services;
  const rulesTag = ['audit rules'];
  const trailTag = ['audit trail'];
  const filterTag = ['audit filters'];

  // --- audit rules ------------------------------------------------------------------------------

  app.get(
    '/audit/rules',
    {
      schema: {
        tags: rulesTag,
        summary: 'Audit rules you may view; q narrows them: n:Fin* o:Device l:2 e:yes p:GLOBAL',
        querystring: Type.Object(Query, { additionalProperties: false }),
        response: { 200: Type.Array(AuditRuleViewSchema) },
      },
    },
    async (request) => auditRules.list(actorOf(request), request.query),
  );

  app.post(
    '/audit/rules',
    {
      schema: {
        tags: rulesTag,
        summary: 'New audit rule',
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            partition: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Where the rule lives; default GLOBAL' })),
            application: Type.Optional(Nullable(Type.String({ maxLength: 600 }))),
            objectType: Type.Enum(OBJECT_TYPES),
            level: Level,
            ...RuleFieldsSchema,
            security: Type.Optional(Type.Object(SecurityBody, { additionalProperties: false })),
            reason: Type.Optional(Reason),
          },
          { additionalProperties: false },
        ),
        response: { 201: AuditRuleViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await auditRules.create(actorOf(request), request.body)),
  );

  app.get('/audit/rules/:ref', { schema: { tags: rulesTag, summary: 'One audit rule', params: Ref, response: { 200: AuditRuleViewSchema } } }, async (request) =>
    auditRules.get(actorOf(request), request.params.ref),
  );

  app.patch(
    '/audit/rules/:ref',
    {
      schema: {
        tags: rulesTag,
        summary: 'Edit an audit rule (never the built-in one)',
        params: Ref,
        body: Type.Object(
          {
            objectType: Type.Optional(Type.Enum(OBJECT_TYPES)),
            level: Type.Optional(Level),
            ...RuleFieldsSchema,
            expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
            reason: Type.Optional(Reason),
          },
          { additionalProperties: false },
        ),
        response: { 200: AuditRuleViewSchema },
      },
    },
    async (request) => auditRules.update(actorOf(request), request.params.ref, request.body),
  );

  app.delete(
    '/audit/rules/:ref',
    {
      schema: {
        tags: rulesTag,
        summary: 'Delete an audit rule (never the built-in one)',
        params: Ref,
        querystring: Type.Object({ reason: Type.Optional(Reason), expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      await auditRules.delete(actorOf(request), request.params.ref, request.query);
      return reply.status(204).send();
    },
  );

  for (const enabled of [false, true]) {
    app.post(
      `/audit/rules/:ref/${enabled ? 'enable' : 'disable'}`,
      { ...optionalBody, schema: { tags: rulesTag, summary: enabled ? 'Enable an audit rule' : 'Disable an audit rule (never the built-in one)', params: Ref, body: ReasonBody, response: { 200: AuditRuleViewSchema } } },
      async (request) => auditRules.setEnabled(actorOf(request), request.params.ref, enabled, request.body.reason),
    );
  }

  app.patch(
    '/audit/rules/:ref/security',
    {
      schema: {
        tags: rulesTag,
        summary: 'Edit security: who may view, edit and delete the rule (usernames; null: everyone holding the privilege)',
        params: Ref,
        body: Type.Object({ ...SecurityBody, reason: Type.Optional(Reason) }, { additionalProperties: false }),
        response: { 200: AuditRuleViewSchema },
      },
    },
    async (request) => auditRules.updateSecurity(actorOf(request), request.params.ref, request.body),
  );

  exportableRoutes(app, {
    path: '/audit/rules',
    tag: rulesTag,
    what: 'rule',
    exportSummary: 'Export the rule as a bundle, with its related objects if asked',
    promoteSummary: 'Promote the rule to a configured Changegate: export it and import it there with a token of that instance (needs the privileges to create what it promotes)',
    exportBundle: (actor, ref, options) => bundles.exportRule(actor, ref, options),
    permalinks: (actor, ref) => auditRules.permalinks(actor, ref),
    promote: (actor, ref, target) => bundles.promoteRule(actor, ref, target),
  });

  // --- audit trail ------------------------------------------------------------------------------

  app.get(
    '/audit/entries',
    {
      schema: {
        tags: trailTag,
        summary: 'The audit trail, newest first; q takes the search syntax, in your time zone',
        querystring: Type.Object({ ...Query, ...Paging }, { additionalProperties: false }),
        response: { 200: EntryPageSchema },
      },
    },
    async (request) => auditTrail.search(actorOf(request), request.query),
  );

  app.get('/audit/entries/:seq', { schema: { tags: trailTag, summary: 'One audit entry with its snapshots', params: Seq, response: { 200: AuditEntryViewSchema } } }, async (request) =>
    auditTrail.get(actorOf(request), request.params.seq),
  );

  for (const side of ['before', 'after'] as const) {
    app.post(
      `/audit/entries/:seq/restore-${side}`,
      {
        ...optionalBody,
        schema: {
          tags: trailTag,
          summary:
            side === 'before'
              ? 'Restore to before the change: undo it and every later change of the object'
              : 'Restore to after the change: undo every later change of the object',
          params: Seq,
          body: ReasonBody,
          response: { 200: RestoreResultSchema },
        },
      },
      async (request) =>
        side === 'before'
          ? auditTrail.restoreBefore(actorOf(request), request.params.seq, request.body.reason)
          : auditTrail.restoreAfter(actorOf(request), request.params.seq, request.body.reason),
    );
  }

  app.get(
    '/audit/trash',
    {
      schema: {
        tags: trailTag,
        summary: 'The Trash Can: audited objects deleted and not brought back, newest first',
        querystring: Type.Object({ q: Query.q, ...Paging }, { additionalProperties: false }),
        response: { 200: EntryPageSchema },
      },
    },
    async (request) => auditTrail.trash(actorOf(request), request.query),
  );

  app.post(
    '/audit/trash/:seq/restore',
    {
      ...optionalBody,
      schema: {
        tags: trailTag,
        summary: 'Bring a deleted object back (restore to before its deletion); 409 not_in_trash unless the entry is the deletion of an object still deleted',
        params: Seq,
        body: ReasonBody,
        response: { 200: RestoreResultSchema },
      },
    },
    async (request) => auditTrail.restoreFromTrash(actorOf(request), request.params.seq, request.body.reason),
  );

  app.post(
    '/audit/purge',
    {
      schema: {
        tags: trailTag,
        summary: 'Remove entries older than an ISO-8601 duration (P365D); needs AuditTrail.Restore at Admin level system-wide',
        body: Type.Object({ changedBefore: Type.String({ minLength: 2, maxLength: 40 }) }, { additionalProperties: false }),
        response: { 200: PurgeResultSchema },
      },
    },
    async (request) => auditTrail.purge(actorOf(request), request.body.changedBefore),
  );

  // --- filters ----------------------------------------------------------------------------------

  const NewFilterBody = Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 100 }),
      target: Type.Enum(FILTER_TARGETS, { description: 'AuditEntry: the audit trail; AuditRule: the rules' }),
      query: Type.String({ maxLength: SEARCH_MAX_LENGTH }),
      description: Type.Optional(Type.String({ maxLength: 2000 })),
      partition: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      application: Type.Optional(Nullable(Type.String({ maxLength: 600 }))),
    },
    { additionalProperties: false },
  );

  app.get(
    '/audit/filters',
    {
      schema: {
        tags: filterTag,
        summary: 'Saved filters you may use',
        querystring: Type.Object({ target: Type.Optional(Type.Enum(FILTER_TARGETS)) }, { additionalProperties: false }),
        response: { 200: Type.Array(FilterViewSchema) },
      },
    },
    async (request) => filters.list(actorOf(request), request.query),
  );

  for (const path of ['/audit/filters', '/audit/filters/from-search']) {
    app.post(
      path,
      {
        schema: {
          tags: filterTag,
          summary: path.endsWith('from-search') ? 'Create a filter from the current search' : 'New filter',
          body: NewFilterBody,
          response: { 201: FilterViewSchema },
        },
      },
      async (request, reply) => reply.status(201).send(await filters.create(actorOf(request), request.body)),
    );
  }

  app.get('/audit/filters/:ref', { schema: { tags: filterTag, summary: 'One filter', params: Ref, response: { 200: FilterViewSchema } } }, async (request) =>
    filters.get(actorOf(request), request.params.ref),
  );

  app.patch(
    '/audit/filters/:ref',
    {
      schema: {
        tags: filterTag,
        summary: 'Edit your filter',
        params: Ref,
        body: Type.Object(
          {
            query: Type.Optional(Type.String({ maxLength: SEARCH_MAX_LENGTH })),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
            expectedVersion: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: FilterViewSchema },
      },
    },
    async (request) => filters.update(actorOf(request), request.params.ref, request.body),
  );

  app.delete('/audit/filters/:ref', { schema: { tags: filterTag, summary: 'Delete your filter', params: Ref } }, async (request, reply) => {
    await filters.delete(actorOf(request), request.params.ref);
    return reply.status(204).send();
  });

  app.post(
    '/audit/filters/:ref/duplicate',
    {
      ...optionalBody,
      schema: {
        tags: filterTag,
        summary: 'Duplicate a filter: a copy you own',
        params: Ref,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })) }, { additionalProperties: false }),
        response: { 201: FilterViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await filters.duplicate(actorOf(request), request.params.ref, request.body)),
  );

  exportableRoutes(app, {
    path: '/audit/filters',
    tag: filterTag,
    what: 'filter',
    exportSummary: 'Export the filter as a bundle',
    promoteSummary: 'Promote the filter to a configured Changegate (needs the privileges to create what it promotes)',
    exportBundle: (actor, ref, options) => bundles.exportFilter(actor, ref, options),
    permalinks: (actor, ref) => filters.permalinks(actor, ref),
    promote: (actor, ref, target) => bundles.promoteFilter(actor, ref, target),
  });

  app.post(
    '/audit/filters/:ref/navigation',
    { schema: { tags: filterTag, summary: 'Add the filter to your navigation bar', params: Ref, response: { 200: Type.Array(FilterViewSchema) } } },
    async (request) => filters.addToNavigation(actorOf(request), request.params.ref),
  );

  app.delete(
    '/audit/filters/:ref/navigation',
    { schema: { tags: filterTag, summary: 'Take the filter off your navigation bar', params: Ref, response: { 200: Type.Array(FilterViewSchema) } } },
    async (request) => filters.removeFromNavigation(actorOf(request), request.params.ref),
  );

  app.get('/me/navigation', { schema: { tags: filterTag, summary: 'Your navigation bar: the filters you added', response: { 200: Type.Array(FilterViewSchema) } } }, async (request) =>
    filters.navigation(actorOf(request)),
  );

  // --- bundles and permalinks -------------------------------------------------------------------

  app.post(
    '/audit/import',
    {
      schema: {
        tags: rulesTag,
        summary: 'Import a bundle: idempotent; reports what was created, updated, unchanged and in conflict',
        querystring: Type.Object(
          {
            dryRun: Type.Optional(Type.Boolean({ description: 'Report without writing' })),
            overwrite: Type.Optional(Type.Boolean({ description: 'Replace objects that exist here with other values' })),
          },
          { additionalProperties: false },
        ),
        body: BundleSchema,
        response: { 200: ImportReportSchema },
      },
    },
    async (request) => bundles.import(actorOf(request), request.body, request.query),
  );

  app.get(
    '/audit/promote-targets',
    {
      schema: {
        tags: rulesTag,
        summary: 'The other Changegate instances rules and filters may be promoted to, as an administrator configured them (needs AuditingRule.View)',
        response: { 200: Type.Array(PromoteTargetSchema) },
      },
    },
    async (request) => bundles.promoteTargets(actorOf(request)),
  );

  app.post(
    '/audit/promote',
    {
      schema: {
        tags: rulesTag,
        summary: 'Edit further then promote: push a bundle you edited (objects taken out or changed) to a configured Changegate (needs the privileges to create its objects)',
        body: Type.Object({ ...PromoteBody, bundle: BundleSchema }, { additionalProperties: false }),
        response: { 200: PromoteResultSchema },
      },
    },
    async (request) => bundles.promote(actorOf(request), request.body.bundle, request.body),
  );

  const Permalink = Type.Object({ type: Type.Enum(['AuditRule', 'Filter']), key: Type.String({ minLength: 3, maxLength: 700, description: 'The business key, PARTITION.name' }) });

  app.get(
    '/audit/permalinks/:type/:key',
    {
      schema: {
        tags: rulesTag,
        summary: 'The audit rule or filter a permalink names, by business key',
        params: Permalink,
        response: { 200: PermalinkTargetSchema },
      },
    },
    async (request): Promise<PermalinkTarget> => {
      const { type, key } = request.params;
      return type === 'AuditRule'
        ? { type, businessKey: key, rule: await auditRules.get(actorOf(request), key) }
        : { type, businessKey: key, filter: await filters.get(actorOf(request), key) };
    },
  );

  app.get(
    '/audit/permalinks/:type/:key/export',
    { schema: { tags: rulesTag, summary: 'Export the object a permalink names', params: Permalink, querystring: Related, response: { 200: BundleSchema } } },
    async (request) =>
      request.params.type === 'AuditRule'
        ? bundles.exportRule(actorOf(request), request.params.key, request.query)
        : bundles.exportFilter(actorOf(request), request.params.key, request.query),
  );
}

/** What an exportable object type (rules, filters) offers: its bundle, its permalinks, and promotion. */
interface Exportable {
  readonly path: string;
  readonly tag: string[];
  readonly what: string;
  readonly exportSummary: string;
  readonly promoteSummary: string;
  exportBundle: BundleService['exportRule'];
  permalinks: AuditRuleService['permalinks'];
  promote: BundleService['promoteRule'];
}

const PromoteRelatedBody = Type.Object({ ...PromoteBody, related: Type.Optional(Type.Boolean()) }, { additionalProperties: false });

/** The export, permalinks and promote routes, the same for every exportable object type. */
function exportableRoutes(app: Api, exportable: Exportable): void {
  const tags = exportable.tag;
  app.get(
    `${exportable.path}/:ref/export`,
    { schema: { tags, summary: exportable.exportSummary, params: Ref, querystring: Related, response: { 200: BundleSchema } } },
    async (request) => exportable.exportBundle(actorOf(request), request.params.ref, request.query),
  );

  app.get(
    `${exportable.path}/:ref/permalinks`,
    { schema: { tags, summary: `Links to the ${exportable.what} by business key`, params: Ref, response: { 200: PermalinksSchema } } },
    async (request) => exportable.permalinks(actorOf(request), request.params.ref),
  );

  app.post(
    `${exportable.path}/:ref/promote`,
    { schema: { tags, summary: exportable.promoteSummary, params: Ref, body: PromoteRelatedBody, response: { 200: PromoteResultSchema } } },
    async (request) => exportable.promote(actorOf(request), request.params.ref, request.body),
  );
}
