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
