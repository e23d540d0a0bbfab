import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import { InstanceViewSchema } from '../platform/instance.views.ts';
import type { InstanceService } from './instance.service.ts';

/** The Changegate instances sharing the database (User.Admin). */
export function instanceRoutes(app: Api, instances: InstanceService): void {
  app.get(
    '/instances',
    {
      schema: {
        tags: ['health'],
        summary: 'The Changegate instances serving this database, each live, draining, silent or stopped; needs User.Admin',
        response: { 200: Type.Array(InstanceViewSchema) },
      },
    },
    async (request) => instances.list(actorOf(request)),
  );
}
