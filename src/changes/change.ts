import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import type { ObjectMeta } from '../objects/index.ts';
import type { FieldProblem } from '../platform/errors.ts';
import { formatScriptError, parseScript, type ScriptError } from './script.ts';
import type { ChangeView } from './change.views.ts';

/**
 * A planned change: which script, on which devices, in which time window, run by the executors of
 * its access group once its approvers agree. Its `name` is the change ID the planner enters.
 */
export interface Change extends ObjectMeta {
  readonly title: string;
  readonly description: string;
  readonly startAt: Date;
  readonly dueAt: Date;
  readonly accessGroupId: string;
  /** Device ids. */
  readonly devices: readonly string[];
  readonly script: string;
  readonly cancelledAt: Date | null;
  readonly cancelledBy: string | null;
  readonly cancelReason: string | null;
  /** When the first session of the change started; from then on the script cannot change. */
  readonly scriptFrozenAt: Date | null;
}

export type ChangeStatus = 'scheduled' | 'open' | 'closed' | 'cancelled';
export const CHANGE_STATUSES: readonly ChangeStatus[] = ['scheduled', 'open', 'closed', 'cancelled'];

/** Status is derived, never stored: cancelled, else where `now` falls against the window. */
export function changeStatus(change: Pick<Change, 'cancelledAt' | 'startAt' | 'dueAt'>, now: Date): ChangeStatus {
  if (change.cancelledAt) return 'cancelled';
  if (now < change.startAt) return 'scheduled';
  if (now < change.dueAt) return 'open';
  return 'closed';
}

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string;

/** What an approval is for: the fields of a change whose edit needs a new approval. */
export type ApprovedPlan = Pick<Change, 'startAt' | 'dueAt' | 'devices' | 'script' | 'accessGroupId'>;

/**
 * The digest an approval records: SHA-256 (hex) over the RFC 8785 canonical JSON of the change's
 * window, devices (as a set: sorted ids), script and access group (id). Title and description are
 * not in it: rewording a change does not need a new approval.
 *
 * @example planDigest({ startAt, dueAt, devices: [web01Id], script: 'uptime', accessGroupId }) // '3f1c…'
 */
export function planDigest(plan: ApprovedPlan): string {
  const canonical = canonicalize({
    accessGroup: plan.accessGroupId,
    devices: [...new Set(plan.devices)].sort(),
    dueAt: plan.dueAt.toISOString(),
    script: plan.script,
    startAt: plan.startAt.toISOString(),
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** Which parts of the approved plan differ between two versions of a change, in words ("the script"). */
export function planChanges(before: ApprovedPlan, after: ApprovedPlan): string[] {
  const parts: string[] = [];
  if (before.startAt.getTime() !== after.startAt.getTime()) parts.push('the start time');
  if (before.dueAt.getTime() !== after.dueAt.getTime()) parts.push('the due date');
  const set = (ids: readonly string[]) => [...new Set(ids)].sort().join(',');
  if (set(before.devices) !== set(after.devices)) parts.push('the devices');
  if (before.script !== after.script) parts.push('the script');
  if (before.accessGroupId !== after.accessGroupId) parts.push('the access group');
  return parts;
}

/** Change IDs such as `CHG-2026-042`. */
export const CHANGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ChangeFieldsInput {
  readonly name?: string;
  readonly title?: string;
  readonly startAt?: Date;
  readonly dueAt?: Date;
  readonly devices?: readonly string[];
  readonly script?: string;
}

/** Field problems of a change as the planner entered it; the script's errors come back separately, with line and column. */
export function changeProblems(input: ChangeFieldsInput): { problems: FieldProblem[]; scriptErrors: ScriptError[] } {
  const problems: FieldProblem[] = [];
  if (input.name !== undefined && !CHANGE_ID.test(input.name)) {
    problems.push({ path: '/name', message: 'the change ID takes letters, digits, ".", "_" and "-", such as CHG-2026-042' });
  }
  if (input.title !== undefined && input.title.trim() === '') problems.push({ path: '/title', message: 'must not be empty' });
  if (input.startAt && input.dueAt && input.dueAt <= input.startAt) {
    problems.push({ path: '/dueAt', message: `the due date must be after the start time (${input.startAt.toISOString()})` });
  }
  if (input.devices !== undefined && input.devices.length === 0) {
    problems.push({ path: '/devices', message: 'a change needs at least one device: add the devices it will change' });
  }
  let scriptErrors: ScriptError[] = [];
  if (input.script !== undefined) {
    const parsed = parseScript(input.script);
    if (!parsed.ok) {
      scriptErrors = parsed.errors;
      for (const error of parsed.errors) problems.push({ path: '/script', message: formatScriptError(error) });
    }
  }
  return { problems, scriptErrors };
}

export type { ChangeView } from './change.views.ts';

export function presentChange(change: Change, now: Date, names: { partition: string; accessGroup: string; devices: string[] }): ChangeView {
  return {
    id: change.id,
    name: change.name,
    partition: names.partition,
    title: change.title,
    description: change.description,
    startAt: change.startAt.toISOString(),
    dueAt: change.dueAt.toISOString(),
    status: changeStatus(change, now),
    accessGroup: names.accessGroup,
    devices: names.devices,
    script: change.script,
    scriptFrozen: change.scriptFrozenAt !== null,
    scriptFrozenAt: change.scriptFrozenAt?.toISOString() ?? null,
    planDigest: planDigest(change),
    cancelledAt: change.cancelledAt?.toISOString() ?? null,
    cancelledBy: change.cancelledBy,
    cancelReason: change.cancelReason,
    version: change.version,
    createdAt: change.createdAt.toISOString(),
    createdBy: change.createdBy,
    updatedAt: change.updatedAt.toISOString(),
    updatedBy: change.updatedBy,
  };
}
