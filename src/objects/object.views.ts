import { Type } from 'typebox';

/**
 * The bookkeeping every configuration object shows, last in its view: spread into a view's
 * schema (`Type.Object({ …, ...objectStamps })`). Times are ISO-8601 strings.
 */
export const objectStamps = {
  version: Type.Integer(),
  createdAt: Type.String(),
  createdBy: Type.String(),
  updatedAt: Type.String(),
  updatedBy: Type.String(),
};
