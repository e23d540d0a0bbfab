import { Type } from 'typebox';
import type { Api } from '../platform/http.ts';
import { actorOf } from '../access/request-actor.ts';
import type { PartitionService } from './partition.service.ts';
import { ApplicationViewSchema, PartitionViewSchema } from './partition.views.ts';

const Description = Type.Object({ description: Type.String({ maxLength: 2000 }) }, { additionalProperties: false });
const PartitionName = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) });
/** Applications are addressed by partition and path: `/applications/GLOBAL/Finance/Reporting`. */
const ApplicationKey = Type.Object({ partition: Type.String({ minLength: 1, maxLength: 64 }), '*': Type.String({ minLength: 1, maxLength: 600 }) });

/** Partitions and applications. */
export function partitionRoutes(app: Api, partitions: PartitionService): void {
  const tags = ['partitions'];

  app.get('/partitions', { schema: { tags, summary: 'Partitions you may view', response: { 200: Type.Array(PartitionViewSchema) } } }, async (request) =>
    partitions.listPartitions(actorOf(request)),
  );

  app.post(
    '/partitions',
    {
      schema: {
        tags,
        summary: 'Create a partition',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), description: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
        response: { 201: PartitionViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await partitions.createPartition(actorOf(request), request.body)),
  );

  app.get('/partitions/:name', { schema: { tags, summary: 'One partition', params: PartitionName, response: { 200: PartitionViewSchema } } }, async (request) =>
    partitions.getPartition(actorOf(request), request.params.name),
  );

  app.patch(
    '/partitions/:name',
    { schema: { tags, summary: "Edit a partition's description", params: PartitionName, body: Description, response: { 200: PartitionViewSchema } } },
    async (request) => partitions.updatePartition(actorOf(request), request.params.name, request.body),
  );

  app.delete('/partitions/:name', { schema: { tags, summary: 'Delete an empty partition', params: PartitionName } }, async (request, reply) => {
    await partitions.deletePartition(actorOf(request), request.params.name);
    return reply.status(204).send();
  });

  app.get(
    '/applications',
    {
      schema: {
        tags,
        summary: 'Applications you may view',
        querystring: Type.Object({ partition: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: { 200: Type.Array(ApplicationViewSchema) },
      },
    },
    async (request) => partitions.listApplications(actorOf(request), request.query),
  );

  app.post(
    '/applications',
    {
      schema: {
        tags,
        summary: 'Create an application; its parent (Finance for Finance/Reporting) must exist',
        body: Type.Object(
          {
            partition: Type.String({ minLength: 1, maxLength: 64, default: 'GLOBAL' }),
            name: Type.String({ minLength: 1, maxLength: 600 }),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ApplicationViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await partitions.createApplication(actorOf(request), request.body)),
  );

  app.get('/applications/:partition/*', { schema: { tags, summary: 'One application', params: ApplicationKey, response: { 200: ApplicationViewSchema } } }, async (request) =>
    partitions.getApplication(actorOf(request), request.params.partition, request.params['*']),
  );

  app.patch(
    '/applications/:partition/*',
    { schema: { tags, summary: "Edit an application's description", params: ApplicationKey, body: Description, response: { 200: ApplicationViewSchema } } },
    async (request) => partitions.updateApplication(actorOf(request), request.params.partition, request.params['*'], request.body),
  );

  app.delete('/applications/:partition/*', { schema: { tags, summary: 'Delete an application without sub-applications', params: ApplicationKey } }, async (request, reply) => {
    await partitions.deleteApplication(actorOf(request), request.params.partition, request.params['*']);
    return reply.status(204).send();
  });
}
