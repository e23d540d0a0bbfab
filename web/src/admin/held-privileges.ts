import type { Me } from '../session.tsx';

export type GrantLevel = 'access' | 'admin';

/** A privilege the user may grant, and where: `partition` null means system-wide (and so in every partition). */
export interface GrantableScope {
  readonly privilege: string;
  readonly partition: string | null;
}

/**
 * Whether the user holds `privilege` at `level` (Admin covers Access) where `partition` lives: a
 * system-wide grant covers every partition. The server decides; this only spares a click it would refuse.
 */
export function holdsIn(me: Me, privilege: string, partition: string | null, level: GrantLevel = 'access'): boolean {
  return me.grants.some((grant) => grant.privilege === privilege && (level === 'access' || grant.level === 'admin') && (grant.partition === null || grant.partition === partition));
}

/** Whether the user holds `privilege` anywhere at Admin level. */
export function administers(me: Me, privilege: string): boolean {
  return me.grants.some((grant) => grant.privilege === privilege && grant.level === 'admin');
}

/** What the user may grant: each privilege they hold at Admin level, in the scope of that grant, sorted by privilege. */
export function grantableScopes(me: Me): GrantableScope[] {
  return me.grants
    .filter((grant) => grant.level === 'admin')
    .map((grant) => ({ privilege: grant.privilege, partition: grant.partition }))
    .sort((a, b) => a.privilege.localeCompare(b.privilege) || (a.partition ?? '').localeCompare(b.partition ?? ''));
}

/** A scope as a person reads it: "system-wide", "in partition FIN". */
export function describeScope(partition: string | null): string {
  return partition === null ? 'system-wide' : `in partition ${partition}`;
}
