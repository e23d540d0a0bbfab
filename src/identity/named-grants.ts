import { findGrant, listGrants, type Grant } from '../access/grant.store.ts';
import { partitionNamesByIds } from '../objects/partition.store.ts';
import type { Executor } from '../platform/database.ts';
import { usernamesByIds } from './user.store.ts';

/** A grant with the names of its user and partition, as identity presents and compares grants. */
export interface NamedGrant extends Grant {
  readonly username: string;
  /** The partition's name, or null for a system-wide grant. */
  readonly partitionName: string | null;
}

/** Grants by username, privilege and partition name (system-wide last), as `listGrants` filters them. */
export async function listNamedGrants(db: Executor, filter: { userId?: string; privilege?: string }): Promise<NamedGrant[]> {
  return nameGrants(db, await listGrants(db, filter));
}

export async function findNamedGrant(db: Executor, id: string): Promise<NamedGrant | undefined> {
  const grant = await findGrant(db, id);
  return grant && (await nameGrants(db, [grant]))[0];
}

/**
 * Names the grants' users and partitions, one query each, and orders the grants by username,
 * privilege and partition name. Each order is the database's: the positions of the names as the
 * lookups return them, and of the privileges as `listGrants` returns them.
 */
export async function nameGrants(db: Executor, grants: readonly Grant[]): Promise<NamedGrant[]> {
  const usernames = await usernamesByIds(db, grants.map((grant) => grant.userId));
  const partitions = await partitionNamesByIds(db, grants.flatMap((grant) => (grant.partitionId === null ? [] : [grant.partitionId])));
  const userRank = positions(usernames.keys());
  const privilegeRank = positions(grants.map((grant) => grant.privilege));
  const partitionRank = positions(partitions.keys());
  // System-wide grants come last, as NULL names do in an ascending ORDER BY.
  const partitionPlace = (grant: Grant) => (grant.partitionId === null ? partitions.size : (partitionRank.get(grant.partitionId) ?? partitions.size));
  return grants
    .flatMap((grant): NamedGrant[] => {
      const username = usernames.get(grant.userId);
      // A grant of a user who is gone names no one: it is not shown.
      if (username === undefined) return [];
      return [{ ...grant, username, partitionName: grant.partitionId === null ? null : (partitions.get(grant.partitionId) ?? null) }];
    })
    .sort(
      (a, b) =>
        (userRank.get(a.userId) as number) - (userRank.get(b.userId) as number) ||
        (privilegeRank.get(a.privilege) as number) - (privilegeRank.get(b.privilege) as number) ||
        partitionPlace(a) - partitionPlace(b),
    );
}

/** Each value's first position. */
function positions<T>(values: Iterable<T>): Map<T, number> {
  const found = new Map<T, number>();
  for (const value of values) if (!found.has(value)) found.set(value, found.size);
  return found;
}
