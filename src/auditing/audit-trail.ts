import type { AuditLevel } from './audit-rule.ts';
import type { ObjectType } from '../objects/object.ts';
import type { AuditEntryView } from './audit-trail.views.ts';

/** One audited write. For Full (level 2) it keeps the whole object before and after, so it can be restored. */
export interface AuditEntry {
  readonly seq: number;
  readonly time: Date;
  readonly objectType: ObjectType;
  readonly objectId: string;
  readonly businessKey: string;
  readonly partitionId: string;
  readonly action: 'C' | 'M' | 'D';
  readonly level: AuditLevel;
  readonly user: string;
  readonly reason: string | null;
  readonly objectVersion: number;
  readonly diff: Readonly<Record<string, unknown>>;
  readonly before: Readonly<Record<string, unknown>> | null;
  readonly after: Readonly<Record<string, unknown>> | null;
  /** The rule that set the level; null for a restore, which is always Full. */
  readonly ruleId: string | null;
  /** For a restore: the entry it restored from. */
  readonly restoredFrom: number | null;
}

export type RestoreSide = 'before' | 'after';

/**
 * Which restores an entry offers, as the seed says: a creation only "to after", a modification
 * both, a deletion only "to before"; and only where the snapshot exists (Full entries).
 */
export function restoreAvailability(entry: Pick<AuditEntry, 'action' | 'before' | 'after'>): Record<RestoreSide, boolean> {
  return {
    before: (entry.action === 'M' || entry.action === 'D') && entry.before !== null,
    after: (entry.action === 'C' || entry.action === 'M') && entry.after !== null,
  };
}

/** Why a restore is not offered, in the user's words. */
export function unavailableReason(entry: Pick<AuditEntry, 'seq' | 'action' | 'level'>, side: RestoreSide): string {
  if (side === 'before' && entry.action === 'C') return `Entry #${entry.seq} records a creation: there is no state before it to restore. Restore to after, or delete the object.`;
  if (side === 'after' && entry.action === 'D') return `Entry #${entry.seq} records a deletion: there is no state after it to restore. Restore to before, to bring the object back.`;
  return `Entry #${entry.seq} was audited at Diff only: it keeps the changed fields, not the whole object, so it cannot be restored. Audit the object at Full to be able to restore it.`;
}

/** The reason a restore writes into its own audit entry: it names the entry, so the restore can be traced and restored again. */
export const restoreReason = (seq: number, side: RestoreSide, reason?: string): string =>
  `restore to ${side} entry #${seq}${reason ? `: ${reason}` : ''}`;

/** What secret fields show in the API: snapshots keep them sealed, answers do not show even that. */
export const REDACTED = '(secret)';

/** Replaces the values of secret fields in a snapshot or diff. */
export function redactFields<T extends Readonly<Record<string, unknown>> | null>(json: T, secretFields: readonly string[]): T {
  if (json === null || secretFields.length === 0) return json;
  const copy: Record<string, unknown> = { ...json };
  for (const field of secretFields) {
    const value = copy[field];
    if (value === undefined || value === null) continue;
    copy[field] = isFieldChange(value) ? { before: value.before === null ? null : REDACTED, after: value.after === null ? null : REDACTED } : REDACTED;
  }
  return copy as T;
}

const isFieldChange = (value: unknown): value is { before: unknown; after: unknown } =>
  typeof value === 'object' && value !== null && 'before' in value && 'after' in value;

export type { AuditEntryView } from './audit-trail.views.ts';

export function presentEntry(entry: AuditEntry, secretFields: readonly string[], expand: boolean): AuditEntryView {
  return {
    seq: entry.seq,
    time: entry.time.toISOString(),
    objectType: entry.objectType,
    objectId: entry.objectId,
    businessKey: entry.businessKey,
    action: entry.action,
    level: entry.level,
    user: entry.user,
    reason: entry.reason,
    objectVersion: entry.objectVersion,
    diff: redactFields({ ...entry.diff }, secretFields),
    restoredFrom: entry.restoredFrom,
    restore: restoreAvailability(entry),
    ...(expand && { before: redactFields(entry.before && { ...entry.before }, secretFields), after: redactFields(entry.after && { ...entry.after }, secretFields) }),
  };
}
