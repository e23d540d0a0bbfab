import type { Privilege } from '../access/index.ts';
import type { RestorePrivileges } from '../objects/object-store.ts';
import type { ObjectMeta } from '../objects/object.ts';

/** One privilege a restore needs, where, and why: the 403 names it. */
export interface RestoreNeed {
  readonly privilege: Privilege;
  /** The partition it must be held in; null: system-wide. */
  readonly partitionId: string | null;
  /** What the restore does that needs it, in the user's words: `brings the device back`. */
  readonly because: string;
}

/**
 * The privileges a restore needs besides AuditTrail.Restore: those that would allow the same write
 * directly, `what` naming the object in the reasons. Writing `target` over `current` is an edit (in the partition it is in and, when it
 * moves, the one it moves to), plus the guarded fields' privilege when one of them changes; with no
 * `current` it is a create; with no `target` it is a delete.
 */
export function restoreNeeds(rule: RestorePrivileges, what: string, current: ObjectMeta | undefined, target: ObjectMeta | undefined): RestoreNeed[] {
  const where = (object: ObjectMeta): string | null => (rule.scope === 'system' ? null : rule.scope === 'self' ? object.id : object.partitionId);
  const needs: RestoreNeed[] = [];
  const add = (privilege: Privilege, object: ObjectMeta, because: string) => {
    const partitionId = where(object);
    if (!needs.some((need) => need.privilege === privilege && need.partitionId === partitionId)) needs.push({ privilege, partitionId, because });
  };
  if (!current && target) {
    // A partition brought back is a new partition: created system-wide, as Partition.Create is.
    if (rule.scope === 'self') needs.push({ privilege: rule.create, partitionId: null, because: `brings the ${what} back` });
    else add(rule.create, target, `brings the ${what} back`);
    const guarded = rule.guarded;
    if (guarded?.onCreate?.some((field) => valueOf(target, field) !== 'null')) add(guarded.privilege, target, `brings the ${what} back with its ${guarded.what} set`);
  } else if (current && !target) {
    add(rule.delete, current, `deletes the ${what}`);
  } else if (current && target) {
    add(rule.edit, current, `changes the ${what}`);
    add(rule.edit, target, `changes the ${what}`);
    const guarded = rule.guarded;
    if (guarded && guarded.fields.some((field) => differs(current, target, field))) {
      add(guarded.privilege, current, `changes the ${what}'s ${guarded.what}`);
      add(guarded.privilege, target, `changes the ${what}'s ${guarded.what}`);
    }
  }
  return needs;
}

const valueOf = (object: ObjectMeta, field: string) => JSON.stringify((object as unknown as Record<string, unknown>)[field] ?? null);

const differs = (a: ObjectMeta, b: ObjectMeta, field: string) => valueOf(a, field) !== valueOf(b, field);
