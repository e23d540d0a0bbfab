import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

/** A saved search of the audit trail or the audit rules. */
export const FilterViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  partition: Type.String(),
  businessKey: Type.String(),
  application: Type.Union([Type.String(), Type.Null()]),
  description: Type.String(),
  target: Type.String(),
  query: Type.String(),
  owner: Type.String(),
  /** Whether it is on the caller's navigation bar. */
  inNavigation: Type.Boolean(),
  ...objectStamps,
});

export type FilterView = Static<typeof FilterViewSchema>;
