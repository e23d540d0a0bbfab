import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

export const PolicyRuleSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('deny'), Type.Literal('review'), Type.Literal('warn')], {
      description: 'deny: the line is cleared and does not run; review: it waits until an approver allows it; warn: it runs, and the approvers are alerted',
    }),
    syntax: Type.Union([Type.Literal('glob'), Type.Literal('regex')], {
      description: 'glob: `*` any text, `?` one character, `[…]` a class, against the whole command; regex: an RE2 expression (linear time), searched in the command',
    }),
    pattern: Type.String({ minLength: 1, maxLength: 1000 }),
    name: Type.String({ maxLength: 100, description: 'What the user is told the rule is; empty for the pattern itself' }),
  },
  { additionalProperties: false },
);

export const CommandPolicySchema = Type.Object(
  {
    rules: Type.Array(PolicyRuleSchema, { maxItems: 200 }),
    strict: Type.Boolean({ description: 'Any command that is not the next step of the script (or an optional one) waits for an approver' }),
  },
  { additionalProperties: false, description: 'Checked at each Enter in the sessions of the changes that name the group, every simple command of the line' },
);

export const DeviationAlertsSchema = Type.Union([Type.Literal('off'), Type.Literal('extra'), Type.Literal('every')], {
  description: 'Which deviations from the script alert the approvers while a session runs: none, commands not in the script, or also steps run out of order',
});

/** What leaves the process about an access group; members are shown by username. */
export const AccessGroupViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  partition: Type.String(),
  description: Type.String(),
  executors: Type.Array(Type.String()),
  approvers: Type.Array(Type.String()),
  requiresJustification: Type.Boolean(),
  approvalsRequired: Type.Integer(),
  plannerMayExecute: Type.Boolean(),
  commandPolicy: CommandPolicySchema,
  deviationAlerts: DeviationAlertsSchema,
  ...objectStamps,
});

export type AccessGroupView = Static<typeof AccessGroupViewSchema>;
