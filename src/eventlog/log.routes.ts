import { Type } from 'typebox';
import { actorOf } from '../identity/index.ts';
import type { Api } from '../platform/http.ts';
import type { CheckpointService } from './checkpoint.service.ts';

const LogKeySchema = Type.Object({
  origin: Type.String({ description: 'The log identity: the first line of every checkpoint, and the key name' }),
  verifierKey: Type.String({ description: 'C2SP signed-note verifier key: <origin>+<key ID>+<base64(0x01 ‖ Ed25519 public key)>' }),
  keyId: Type.String({ description: 'The key ID, 8 hex digits' }),
  algorithm: Type.Literal('Ed25519'),
});

const CheckpointSchema = Type.Object({
  origin: Type.String(),
  size: Type.Integer({ description: 'Entries in the log the checkpoint covers' }),
  rootHash: Type.String({ description: 'Base64 RFC 9162 Merkle tree hash at that size' }),
  keyId: Type.String(),
  createdAt: Type.String(),
  note: Type.String({ description: 'The signed note, exactly as served with format=text' }),
  cosignatures: Type.Array(
    Type.Object({ witness: Type.String(), keyName: Type.String(), keyId: Type.String(), line: Type.String(), receivedAt: Type.String() }),
    { description: "Witnesses' signature lines over the same checkpoint, as they answered them (not verified here: their keys are not configured)" },
  ),
});

const TEXT = 'text/plain; charset=utf-8';

/** The event log's public key and signed checkpoints (C2SP tlog-checkpoint). */
export function logRoutes(app: Api, checkpoints: CheckpointService): void {
  const tags = ['event log'];

  app.get(
    '/log/key',
    {
      schema: {
        tags,
        summary: "The log's public (verifier) key, which verifies its checkpoints; needs no sign-in. `format=text` answers the verifier key alone, as text/plain",
        security: [],
        querystring: Type.Object({ format: Type.Union([Type.Literal('json'), Type.Literal('text')], { default: 'json' }) }, { additionalProperties: false }),
        response: { 200: { content: { 'application/json': { schema: LogKeySchema }, 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (request, reply) => {
      const key = checkpoints.key();
      if (request.query.format === 'text') return reply.type(TEXT).send(`${key.verifierKey}\n`);
      return key;
    },
  );

  app.get(
    '/log/checkpoint',
    {
      schema: {
        tags,
        summary: 'The latest signed checkpoint as a C2SP signed note, text/plain (EventLog.View); save it to verify the log against later. `format=json` describes it',
        querystring: Type.Object({ format: Type.Union([Type.Literal('text'), Type.Literal('json')], { default: 'text' }) }, { additionalProperties: false }),
        response: { 200: { content: { 'text/plain': { schema: Type.String() }, 'application/json': { schema: CheckpointSchema } } } },
      },
    },
    async (request, reply) => {
      const checkpoint = await checkpoints.latest(actorOf(request));
      if (request.query.format === 'json') return checkpoint;
      return reply.type(TEXT).send(checkpoint.note);
    },
  );
}
