import { Type, type Static } from 'typebox';
import { objectStamps } from '../objects/index.ts';

const objectFields = {
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  ...objectStamps,
};

export const PartitionViewSchema = Type.Object(objectFields);

export type PartitionView = Static<typeof PartitionViewSchema>;

export const ApplicationViewSchema = Type.Object({
  ...objectFields,
  partition: Type.String(),
  /** The enclosing application (`Finance` for `Finance/Reporting`), or null at the top. */
  parent: Type.Union([Type.String(), Type.Null()]),
});

export type ApplicationView = Static<typeof ApplicationViewSchema>;
