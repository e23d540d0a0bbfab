import { Type } from 'typebox';
import { actorOf } from '../access/index.ts';
import type { Api } from '../platform/http.ts';
import type { CheckpointService } from './checkpoint.service.ts';
import type { LogVerifyService } from './log-verify.service.ts';
import { CheckpointViewSchema, LogKeyViewSchema, LogVerifyReportViewSchema } from './checkpoint.views.ts';

const TEXT = 'text/plain; charset=utf-8';

/** A checkpoint note is a few hundred bytes; witnesses' lines add a little each. */
const NOTE_LIMIT = 64 * 1024;

/** The event log's public key and signed checkpoints (C2SP tlog-checkpoint). */
export function logRoutes(app: Api, checkpoints: CheckpointService, verifier: LogVerifyService): void {
  const tags = ['event log'];

  app.get(
    '/log/key',
    {
      schema: {
        tags,
        summary: "The log's public (verifier) key, which verifies its checkpoints; needs no sign-in. `format=text` answers the verifier key alone, as text/plain",
        security: [],
        querystring: Type.Object({ format: Type.Union([Type.Literal('json'), Type.Literal('text')], { default: 'json' }) }, { additionalProperties: false }),
        response: { 200: { content: { 'application/json': { schema: LogKeyViewSchema }, 'text/plain': { schema: Type.String() } } } },
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
        summary:
          "The latest checkpoint the log signed, as a C2SP signed note, text/plain (EventLog.View): the largest stored one whose signature verifies with the log's key, with the witnesses' verified cosignatures; save it to verify the log against later. `format=json` describes it",
        querystring: Type.Object({ format: Type.Union([Type.Literal('text'), Type.Literal('json')], { default: 'text' }) }, { additionalProperties: false }),
        response: { 200: { content: { 'text/plain': { schema: Type.String() }, 'application/json': { schema: CheckpointViewSchema } } } },
      },
    },
    async (request, reply) => {
      const checkpoint = await checkpoints.latest(actorOf(request));
      if (request.query.format === 'json') return checkpoint;
      return reply.type(TEXT).send(checkpoint.note);
    },
  );

  // The only route that takes a text body: the note as saved, so `curl --data-binary @cp.txt` works.
  void app.register(async (scoped: Api) => {
    scoped.addContentTypeParser('text/plain', { parseAs: 'string', bodyLimit: NOTE_LIMIT }, (_request, body, done) => done(null, body));
    scoped.post(
      '/log/verify',
      {
        bodyLimit: NOTE_LIMIT,
        schema: {
          tags,
          summary:
            'Verify the stored log against a checkpoint kept elsewhere (EventLog.Verify): its signature, then that the log holds that many entries, that its tree has that root, and that every entry hashes to its leaf. ' +
            "Send the note as text/plain, or JSON {checkpoint, verifierKey}: without verifierKey the running log's own key is used, which proves only as much as this server. Names the first entry that does not match",
          body: Type.Union([
            Type.String({ description: 'The signed checkpoint note, as saved' }),
            Type.Object(
              {
                checkpoint: Type.String({ description: 'The signed checkpoint note, as saved' }),
                verifierKey: Type.Optional(Type.String({ description: 'A verifier key obtained independently: <origin>+<key ID>+<base64 key>' })),
              },
              { additionalProperties: false },
            ),
          ]),
          response: { 200: LogVerifyReportViewSchema },
        },
      },
      async (request) => {
        const body = request.body;
        return verifier.verify(actorOf(request), typeof body === 'string' ? { checkpoint: body } : body);
      },
    );
  });
}
