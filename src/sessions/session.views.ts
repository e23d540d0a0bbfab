import { Type, type Static } from 'typebox';
import type { SessionEndReason } from '../platform/tables/sessions.ts';

export const CaptureStatusSchema = Type.Union([Type.Literal('complete'), Type.Literal('rebuilt'), Type.Literal('limited')], {
  description: 'complete: every command was read; rebuilt: complete, but some lines were rebuilt from the keys typed (the terminal echoed nothing); limited: some commands may be missing',
});

/** One reason a session's capture is not plain, from when it applied; the reasons are capture-status.ts's `CAPTURE_REASONS` (`presentCapture` fails to compile when they differ). */
export const CaptureReasonViewSchema = Type.Object({
  reason: Type.Union(
    [
      Type.Literal('keystrokes'),
      Type.Literal('echo_off'),
      Type.Literal('multiplexer'),
      Type.Literal('editor'),
      Type.Literal('unrecognised_prompt'),
      Type.Literal('backlog_overflow'),
    ],
    {
      description:
        'keystrokes: lines rebuilt from the keys typed; echo_off: echo was off and a line could not be rebuilt; multiplexer: a terminal multiplexer (tmux, screen) ran on the device; editor: a command edited in an editor could not be read; unrecognised_prompt: lines typed at a prompt not known as a shell\'s; backlog_overflow: the device sent more than the capture could analyse',
    },
  ),
  text: Type.String({ description: 'The reason in words, as the board and the reports say it' }),
  since: Type.String({ description: 'When it first applied (ISO 8601)' }),
  offsetSeconds: Type.Number({ description: "The same moment, as an offset in the session's recording" }),
});

/** How far a session's command list can be trusted. */
export const SessionCaptureViewSchema = Type.Object(
  {
    status: CaptureStatusSchema,
    reasons: Type.Array(CaptureReasonViewSchema, { description: 'Why it is rebuilt or limited, each from when it began; empty when complete' }),
  },
  { description: 'The capture status of the command list: null while the session runs, and when unknown (a session a crash interrupted, or one that ended before capture statuses were kept)' },
);

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
  captureLossy: Type.Boolean({ description: 'The device sent more than the capture could analyse: some commands may be missing or cut (also a `backlog_overflow` reason in `capture`)' }),
  capture: Type.Union([SessionCaptureViewSchema, Type.Null()]),
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
  fromKeystrokes: Type.Boolean({ description: 'The terminal echoed nothing (`stty -echo`): the line was rebuilt from the keys typed' }),
  output: Type.String(),
  outputTruncated: Type.Boolean(),
  exitStatus: Type.Union([Type.Integer(), Type.Null()]),
});

export type CommandView = Static<typeof CommandViewSchema>;
export type SessionCaptureView = Static<typeof SessionCaptureViewSchema>;
export type CaptureReasonView = Static<typeof CaptureReasonViewSchema>;
