import { Type, type Static } from 'typebox';

/** An entry of the event log with its hashes. */
export const EventViewSchema = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  subject: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
  leafHash: Type.String(),
  chainHash: Type.String(),
});

export type EventView = Static<typeof EventViewSchema>;

/** What recomputing every hash of the log found (`POST /events/verify`). */
export const EventLogVerifyReportViewSchema = Type.Object({
  ok: Type.Boolean(),
  verified: Type.Integer(),
  headSeq: Type.Integer(),
  headChainHash: Type.String(),
  complete: Type.Boolean({ description: "The walk reached the log's last entry; false when it stopped at a failure or after `limit` entries (continue with after=headSeq and chainHash=headChainHash)" }),
  failure: Type.Optional(
    Type.Object({
      kind: Type.Union([Type.Literal('deleted'), Type.Literal('edited'), Type.Literal('chain_broken')], {
        description: 'deleted: an entry is missing; edited: its content no longer matches its leaf hash; chain_broken: it does not link to the entry before',
      }),
      seq: Type.Integer(),
      message: Type.String(),
    }),
  ),
});

export type EventLogVerifyReportView = Static<typeof EventLogVerifyReportViewSchema>;
