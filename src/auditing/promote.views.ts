import { Type, type Static } from 'typebox';
import { ImportReportSchema } from './bundle.ts';

/** A configured promotion target, as callers may see it: its name and address, never a secret. */
export const PromoteTargetSchema = Type.Object({ name: Type.String(), url: Type.String() });
export type PromoteTarget = Static<typeof PromoteTargetSchema>;

/** What a promotion did: the target's name and address, and the other instance's import report. */
export const PromoteResultSchema = Type.Object({ target: Type.String(), url: Type.String(), report: ImportReportSchema });
export type PromoteResult = Static<typeof PromoteResultSchema>;
