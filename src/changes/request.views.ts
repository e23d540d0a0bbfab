import { Type, type Static } from 'typebox';

export const RequestStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied'), Type.Literal('cancelled'), Type.Literal('expired')]);

/** What leaves the process about a request to run a change on a device. */
export const RequestViewSchema = Type.Object({
  id: Type.String(),
  /** The number users quote: request #42. */
  number: Type.Integer(),
  status: RequestStatusSchema,
  change: Type.String(),
  changeTitle: Type.String(),
  device: Type.String(),
  requester: Type.String(),
  justification: Type.Union([Type.String(), Type.Null()]),
  /** Who may approve, and how many approvals it needs. */
  approvers: Type.Array(Type.String()),
  approvalsRequired: Type.Integer(),
  /** `digest`: SHA-256 of the change's plan (window, devices, script, access group) the approver decided on. */
  decisions: Type.Array(Type.Object({ approver: Type.String(), decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')]), comment: Type.String(), decidedAt: Type.String(), digest: Type.Union([Type.String(), Type.Null()]) })),
  createdAt: Type.String(),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
  closedAt: Type.Union([Type.String(), Type.Null()]),
  closeReason: Type.Union([Type.String(), Type.Null()]),
  /** The request lapses when the change's window closes. */
  expiresAt: Type.String(),
});

export type RequestView = Static<typeof RequestViewSchema>;

/** The answer to asking for access: the request, and whether this call created it (the approvers were just notified). */
export const AccessOutcomeSchema = Type.Object({ request: RequestViewSchema, created: Type.Boolean() });

/**
 * A device account the user may start a session on (Credentials ➔ All): an executor of the change's
 * access group, within or before its window. Account names only: never a secret.
 */
export const SessionTargetViewSchema = Type.Object({
  device: Type.String(),
  partition: Type.String(),
  account: Type.String(),
  change: Type.String(),
  changeTitle: Type.String(),
  /** `scheduled` until the window opens: a session can be started only while it is `open`. */
  changeStatus: Type.Union([Type.Literal('scheduled'), Type.Literal('open')]),
  startAt: Type.String(),
  dueAt: Type.String(),
  accessGroup: Type.String(),
  justificationRequired: Type.Boolean(),
  approvers: Type.Array(Type.String()),
  approvalsRequired: Type.Integer(),
  /** What to connect to, as after "you@" at the gateway and in the web terminal's `target`: `PARTITION.device:account+change`. */
  target: Type.String(),
  /** The user's latest request for this change and device, if any. */
  request: Type.Union([Type.Object({ number: Type.Integer(), status: RequestStatusSchema }), Type.Null()]),
});

export type SessionTargetView = Static<typeof SessionTargetViewSchema>;
