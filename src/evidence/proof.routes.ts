import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { LogProofService } from './proof.service.ts';
import { ConsistencyProofViewSchema, InclusionProofViewSchema, RootViewSchema } from './proof.views.ts';

const Position = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description });

/**
 * The event log's Merkle tree (RFC 9162): roots and the inclusion and consistency proofs an
 * auditor checks against a checkpoint. Hashes are base64, as in the checkpoint.
 */
export function proofRoutes(app: Api, proofs: LogProofService): void {
  const tags = ['event log'];

  app.get(
    '/log/proof/inclusion',
    {
      schema: {
        tags,
        summary: 'Proof that entry `seq` is in the tree of the first `size` entries (RFC 9162 §2.1.3); size defaults to the whole log',
        querystring: Type.Object({ seq: Position('the entry, from 1'), size: Type.Optional(Position('the tree size, from seq up to the number of entries')) }, { additionalProperties: false }),
        response: { 200: InclusionProofViewSchema },
      },
    },
    async (request) => proofs.inclusion(actorOf(request), request.query),
  );

  app.get(
    '/log/proof/consistency',
    {
      schema: {
        tags,
        summary: 'Proof that the tree of the first `from` entries is the beginning of the tree of the first `to` (RFC 9162 §2.1.4); to defaults to the whole log',
        querystring: Type.Object({ from: Position('the older tree size, from 1'), to: Type.Optional(Position('the newer tree size, from `from` up to the number of entries')) }, { additionalProperties: false }),
        response: { 200: ConsistencyProofViewSchema },
      },
    },
    async (request) => proofs.consistency(actorOf(request), request.query),
  );

  app.get(
    '/log/root',
    {
      schema: {
        tags,
        summary: 'The root hash of the tree of the first `size` entries; size defaults to the whole log',
        querystring: Type.Object({ size: Type.Optional(Position('the tree size, up to the number of entries')) }, { additionalProperties: false }),
        response: { 200: RootViewSchema },
      },
    },
    async (request) => proofs.root(actorOf(request), request.query),
  );
}
