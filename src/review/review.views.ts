/** What the change audit shows: the board of a change, device by device, and the audited sessions. */
import { Type, type Static } from 'typebox';
import { CaptureReasonViewSchema, CaptureStatusSchema, CommandReviewViewSchema, CommandViewSchema, SessionViewSchema } from '../sessions/index.ts';

export const OutcomeSchema = Type.Union([Type.Literal('as_planned'), Type.Literal('incomplete'), Type.Literal('exceeded'), Type.Literal('incomplete_and_exceeded')], {
  description: 'as_planned: every required step ran and nothing else; incomplete: a required step is missing; exceeded: commands beyond the script ran',
});

/** What a score is made of. */
export const ComparisonCountsSchema = Type.Object({
  matched: Type.Integer(),
  missing: Type.Integer(),
  skipped: Type.Integer(),
  extra: Type.Integer(),
  outOfOrder: Type.Integer(),
  failedExpectation: Type.Integer(),
  requiredSteps: Type.Integer(),
  optionalRun: Type.Integer({ description: 'Optional steps that ran at their place (matched or failed their expectation)' }),
});

/** A command on the board: the session's command, with which session ran it and where to watch it. */
export const BoardCommandViewSchema = Type.Object({
  session: Type.Integer({ description: 'The number of the session that ran it' }),
  ...CommandViewSchema.properties,
  recording: Type.String({ description: "Where to watch it: the session's recording, at `offsetSeconds`" }),
});

export type BoardCommandView = Static<typeof BoardCommandViewSchema>;

export const BoardStepViewSchema = Type.Object({
  index: Type.Integer(),
  line: Type.Integer({ description: "The step's line in the script" }),
  text: Type.String(),
  optional: Type.Boolean(),
  expect: Type.Union([Type.String(), Type.Null()]),
});

/** One line of the board. */
export const BoardRowViewSchema = Type.Object({
  kind: Type.Union(
    [
      Type.Literal('matched'),
      Type.Literal('failed_expectation'),
      Type.Literal('missing'),
      Type.Literal('skipped'),
      Type.Literal('extra'),
      Type.Literal('session_end'),
      Type.Literal('out_of_order'),
    ],
    { description: 'missing is red on the board, extra green; a required step run at the wrong place shows as missing where the script has it and as out_of_order where it ran' },
  ),
  step: Type.Union([BoardStepViewSchema, Type.Null()]),
  command: Type.Union([BoardCommandViewSchema, Type.Null()]),
  linkedRow: Type.Union([Type.Integer(), Type.Null()], { description: 'For missing and out_of_order: the index of the row it pairs with' }),
});

export type BoardRowView = Static<typeof BoardRowViewSchema>;

/** How far the capture of one session the board rests on can be trusted. */
export const BoardCaptureSessionViewSchema = Type.Object({
  session: Type.Integer({ description: 'The number of the session' }),
  status: Type.Union([CaptureStatusSchema, Type.Null()], { description: 'Null when unknown: see `unknownBecause`' }),
  unknownBecause: Type.Union([Type.Literal('running'), Type.Literal('interrupted'), Type.Literal('not_recorded'), Type.Null()], {
    description: 'Why the status is unknown: the session still runs, a crash interrupted it, or it ended before capture statuses were kept; null when known',
  }),
  reasons: Type.Array(CaptureReasonViewSchema),
});

/** The capture status of a board, over its sessions, and the warning that goes with its outcome. */
export const BoardCaptureViewSchema = Type.Object(
  {
    status: Type.Union([CaptureStatusSchema, Type.Null()], {
      description: 'limited if any session is; otherwise null (unknown) if any session is unknown, rebuilt if any is, complete if all are',
    }),
    warning: Type.Union([Type.String(), Type.Null()], {
      description:
        'What must be read with the outcome, which is computed from the commands alone: "This board may be incomplete because in session #3 a terminal multiplexer ran on the device (from 14:02:11 UTC)." when a session is limited or was interrupted, a softer note when lines were rebuilt from keystrokes; null otherwise',
    }),
    sessions: Type.Array(BoardCaptureSessionViewSchema, { description: 'Each session the board rests on, by number' }),
  },
  { description: "How far the board's commands can be trusted: an as_planned outcome over a limited capture always comes with a warning" },
);

export type BoardCaptureView = Static<typeof BoardCaptureViewSchema>;

/** What the command policy decided of the lines typed on a device, beside the board's rows. */
const BoardDecisionsSchema = Type.Array(CommandReviewViewSchema, {
  description:
    "The command policy's decisions in the change's sessions on the device, in the order they were made (the latest 500): lines denied, warned of, held for review (with the review's course) and lines rebuilt from the keys typed. Not part of the board digest: each is in the event log as it is made",
});

export const DeviceAuditViewSchema = Type.Object({
  device: Type.String({ description: "The device's name as it is now" }),
  deviceId: Type.String({ description: 'Its ID, which a rename keeps: the board digest covers it rather than the name' }),
  score: Type.Integer(),
  outcome: OutcomeSchema,
  counts: ComparisonCountsSchema,
  rows: Type.Array(BoardRowViewSchema),
  capture: BoardCaptureViewSchema,
  decisions: BoardDecisionsSchema,
});

export type DeviceAuditView = Static<typeof DeviceAuditViewSchema>;

/** The seed's "Change details" and "Change Audit" board, and the "Session Logs", for one change. */
export const ChangeAuditViewSchema = Type.Object({
  change: Type.Object({
    name: Type.String(),
    title: Type.String(),
    description: Type.String(),
    partition: Type.String(),
    startAt: Type.String(),
    dueAt: Type.String(),
    status: Type.String(),
    devices: Type.Array(Type.String()),
    script: Type.String(),
  }),
  score: Type.Integer(),
  outcome: OutcomeSchema,
  counts: ComparisonCountsSchema,
  devices: Type.Array(DeviceAuditViewSchema),
  capture: BoardCaptureViewSchema,
  sessions: Type.Array(SessionViewSchema),
  generatedAt: Type.String(),
});

export type ChangeAuditView = Static<typeof ChangeAuditViewSchema>;

/** A session, with the score and outcome of its change over all of the change's sessions. */
export const AuditedSessionViewSchema = Type.Object({
  ...SessionViewSchema.properties,
  changeScore: Type.Union([Type.Integer(), Type.Null()]),
  changeOutcome: Type.Union([Type.String(), Type.Null()]),
  changeCapture: Type.Object(
    {
      status: BoardCaptureViewSchema.properties.status,
      warning: BoardCaptureViewSchema.properties.warning,
    },
    { description: "The capture status of the change's board, over all its sessions, and its warning: shown with `changeOutcome`" },
  ),
});

export type AuditedSessionView = Static<typeof AuditedSessionViewSchema>;

/** A command on the live board: enough to name it and find it in the recording (its output is in the session log). */
export const LiveCommandViewSchema = Type.Object({
  session: Type.Integer({ description: 'The number of the session that ran it' }),
  seq: Type.Integer(),
  time: Type.String(),
  offsetSeconds: Type.Number({ description: "Seconds from the start of its session's recording" }),
  text: Type.String(),
  exitStatus: Type.Union([Type.Integer(), Type.Null()]),
});

export type LiveCommandView = Static<typeof LiveCommandViewSchema>;

export const LiveBoardRowViewSchema = Type.Object({
  kind: BoardRowViewSchema.properties.kind,
  step: Type.Union([BoardStepViewSchema, Type.Null()]),
  command: Type.Union([LiveCommandViewSchema, Type.Null()]),
  linkedRow: Type.Union([Type.Integer(), Type.Null()], { description: 'For missing and out_of_order: the index of the row it pairs with' }),
});

export type LiveBoardRowView = Static<typeof LiveBoardRowViewSchema>;

/**
 * A running session's device board, as its watchers are sent it at each captured command: the
 * change audit's board of the device over every session of the change so far, and the steps the
 * script expects next.
 */
export const LiveProgressViewSchema = Type.Object({
  session: Type.Integer({ description: 'The number of the running session' }),
  change: Type.String(),
  device: Type.String(),
  score: Type.Integer(),
  outcome: OutcomeSchema,
  counts: ComparisonCountsSchema,
  rows: Type.Array(LiveBoardRowViewSchema),
  next: Type.Array(BoardStepViewSchema, { description: 'The steps expected next: the optional ones on the way and the first required one; empty when the script is done' }),
  decisions: BoardDecisionsSchema,
  at: Type.String({ description: 'When the board was computed' }),
});

export type LiveProgressView = Static<typeof LiveProgressViewSchema>;

/** Whether a user hears of a change's deviations as a subscriber. */
export const DeviationSubscriptionViewSchema = Type.Object({ subscribed: Type.Boolean() });

export type DeviationSubscriptionView = Static<typeof DeviationSubscriptionViewSchema>;
