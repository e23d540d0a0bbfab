import { Type, type Static } from 'typebox';
import type { SessionEndReason } from '../platform/tables/sessions.ts';

/** What leaves the process about a brokered session. */
export const SessionViewSchema = Type.Object({
  id: Type.String(),
  number: Type.Integer(),
  kind: Type.Union([Type.Literal('shell'), Type.Literal('exec'), Type.Literal('web')]),
  user: Type.String(),
  sourceIp: Type.String(),
  sourcePort: Type.Union([Type.Integer(), Type.Null()]),
  device: Type.String(),
  account: Type.String(),
  change: Type.String(),
  /** Null where the caller did not look it up. */
  request: Type.Union([Type.Integer(), Type.Null()], { description: 'The number of the approved request the session ran under' }),
  execCommand: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.String(),
  endedAt: Type.Union([Type.String(), Type.Null()]),
  /** Seconds; for a live session, so far. */
  durationSeconds: Type.Integer(),
  live: Type.Boolean(),
  /** The document says `string`; the TypeScript type says which reasons the service writes. */
  endReason: Type.Union([Type.Unsafe<SessionEndReason>({ type: 'string' }), Type.Null()]),
  endedBy: Type.Union([Type.String(), Type.Null()]),
  terminationReason: Type.Union([Type.String(), Type.Null()], { description: 'Why it was terminated, as whoever ended it told its user; null for any other ending' }),
  exitStatus: Type.Union([Type.Integer(), Type.Null()]),
  bytesIn: Type.Integer(),
  bytesOut: Type.Integer(),
  recordingSha256: Type.Union([Type.String(), Type.Null()]),
  captureLossy: Type.Boolean(),
  commandCount: Type.Integer(),
});

export type SessionView = Static<typeof SessionViewSchema>;

/** A command captured in a session, with its output and exit status. */
export const CommandViewSchema = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  offsetSeconds: Type.Number(),
  text: Type.String({ description: 'The command line the shell ran' }),
  typed: Type.Union([Type.String(), Type.Null()], { description: 'What was typed, when the shell ran another line: a history expansion (`sudo !!`)' }),
  output: Type.String(),
  outputTruncated: Type.Boolean(),
  exitStatus: Type.Union([Type.Integer(), Type.Null()]),
});

export type CommandView = Static<typeof CommandViewSchema>;
