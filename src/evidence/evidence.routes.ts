import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { EvidenceService } from './evidence.service.ts';

const ChangeRef = Type.Object({ change: Type.String({ minLength: 1, maxLength: 64 }) });

/** A change's evidence bundle, as a zip an auditor verifies offline. */
export function evidenceRoutes(app: Api, evidence: EvidenceService): void {
  app.get(
    '/changes/:change/evidence',
    {
      schema: {
        tags: ['change audit'],
        summary:
          'The evidence bundle of a change (zip): the change as approved, requests and decisions, sessions with recordings and commands, the board, its audit trail, the log entries it rests on with inclusion proofs, a signed checkpoint, the log key and verify.mjs (Session.View and EventLog.View). The export is logged.',
        params: ChangeRef,
      },
    },
    async (request, reply) => {
      // Refusals come from here, before any byte. Once the zip streams, a failure destroys the
      // connection (Fastify does, for a stream that errors after the headers): the client sees a
      // broken download, never a zip cut short that ends as if whole.
      const bundle = await evidence.export(actorOf(request), request.params.change);
      void reply.header('content-type', 'application/zip');
      void reply.header('content-disposition', `attachment; filename="${bundle.fileName}"`);
      return reply.send(bundle.zip);
    },
  );
}
