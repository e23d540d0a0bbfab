import type { Executor } from '../platform/database.ts';
import { levelCovers, scopeCovers, type GrantLevel, type Privilege } from '../access/privilege.ts';

/**
 * What a user may do, as far as taking over their account would hand it to someone else: each of
 * their privilege grants, and each role they hold in an access group (an executor reaches devices
 * with vaulted credentials; an approver lets requests through).
 */
export type AccountPower =
  | {
      readonly kind: 'grant';
      readonly privilege: Privilege;
      readonly level: GrantLevel;
      readonly partitionId: string | null;
      readonly partitionName: string | null;
    }
  | AccessGroupRole;

/** A user's place in an access group. */
export interface AccessGroupRole {
  readonly kind: 'role';
  readonly role: 'executor' | 'approver';
  readonly groupId: string;
  /** The group's business key, `PARTITION.NAME`. */
  readonly group: string;
  readonly partitionId: string;
}

/**
 * Where a user's access-group roles come from. Access groups belong to the changes module, which
 * depends on identity, so identity asks through this and the composition root supplies it.
 */
export interface AccessGroupRoles {
  rolesOf(db: Executor, userId: string): Promise<AccessGroupRole[]>;
}

/** For a process without access groups (tests of identity alone). */
export const NO_ACCESS_GROUP_ROLES: AccessGroupRoles = { rolesOf: async () => [] };

/**
 * Whether one of the administrator's powers covers a power of the target: the same privilege at
 * the same or a higher level (Admin covers Access) in the same or a wider scope (system-wide covers
 * a partition); for an access-group role, the same role in the same group, or `AccessGroup.Edit`
 * where the group lives (its holder could put themself in the group anyway).
 */
function covers(held: AccountPower, wanted: AccountPower): boolean {
  if (wanted.kind === 'grant') {
    return held.kind === 'grant' && held.privilege === wanted.privilege && levelCovers(held.level, wanted.level) && scopeCovers(held, wanted);
  }
  if (held.kind === 'role') return held.groupId === wanted.groupId && held.role === wanted.role;
  return held.privilege === 'AccessGroup.Edit' && scopeCovers(held, { partitionId: wanted.partitionId });
}

/** The first of the target's powers that none of the administrator's covers; undefined when all are covered. */
export function uncoveredPower(target: readonly AccountPower[], administrator: readonly AccountPower[]): AccountPower | undefined {
  return target.find((wanted) => !administrator.some((held) => covers(held, wanted)));
}

/** A power as a person reads it: "User.Admin at Admin level system-wide", "executor in access group GLOBAL.ops". */
export function describePower(power: AccountPower): string {
  if (power.kind === 'role') return `${power.role} in access group ${power.group}`;
  const level = power.level === 'admin' ? 'Admin' : 'Access';
  return `${power.privilege} at ${level} level ${power.partitionName === null ? 'system-wide' : `in partition ${power.partitionName}`}`;
}
