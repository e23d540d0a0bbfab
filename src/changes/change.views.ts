import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

export const ChangeStatusSchema = Type.Union([Type.Literal('scheduled'), Type.Literal('open'), Type.Literal('closed'), Type.Literal('cancelled')]);

/** What leaves the process about a change. */
export const ChangeViewSchema = Type.Object({
  id: Type.String(),
  /** The change ID the planner entered. */
  name: Type.String({ description: 'The change ID, such as CHG-2026-042' }),
  partition: Type.String(),
  title: Type.String(),
  description: Type.String(),
  startAt: Type.String(),
  dueAt: Type.String(),
  status: ChangeStatusSchema,
  accessGroup: Type.String(),
  devices: Type.Array(Type.String()),
  script: Type.String(),
  scriptFrozen: Type.Boolean(),
  scriptFrozenAt: Type.Union([Type.String(), Type.Null()]),
  /** The digest of the plan an approval records: see `planDigest`. */
  planDigest: Type.String({ description: 'SHA-256 of the plan an approval is for: window, devices, script, access group' }),
  cancelledAt: Type.Union([Type.String(), Type.Null()]),
  cancelledBy: Type.Union([Type.String(), Type.Null()]),
  cancelReason: Type.Union([Type.String(), Type.Null()]),
  ...objectStamps,
});

export type ChangeView = Static<typeof ChangeViewSchema>;

/** A script as the change editor checks it while the planner types: its steps, or where it is wrong. */
export const ScriptCheckViewSchema = Type.Object({
  steps: Type.Integer({ description: 'How many commands the script holds (0 while it has errors)' }),
  errors: Type.Array(Type.Object({ line: Type.Integer({ minimum: 1 }), column: Type.Integer({ minimum: 1 }), message: Type.String() }), {
    description: 'Every error, in line order, with its 1-based line and column',
  }),
});

export type ScriptCheckView = Static<typeof ScriptCheckViewSchema>;
