import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

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
  ...objectStamps,
});

export type AccessGroupView = Static<typeof AccessGroupViewSchema>;
