import type { Executor } from '../platform/database.ts';

/** Maps user ids to usernames, for presenting people (members, requesters, approvers) by name. */
export async function usernamesOf(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('app_user').select(['id', 'username']).where('id', 'in', [...new Set(ids)]).execute();
  return new Map(rows.map((row) => [row.id, row.username]));
}

/** Resolves usernames to ids, in the order given; returns the names that do not exist too. */
export async function userIdsOf(db: Executor, usernames: readonly string[]): Promise<{ ids: string[]; unknown: string[] }> {
  if (usernames.length === 0) return { ids: [], unknown: [] };
  const rows = await db.selectFrom('app_user').select(['id', 'username']).where('username', 'in', [...new Set(usernames)]).execute();
  const byName = new Map(rows.map((row) => [row.username, row.id]));
  return { ids: [...new Set(usernames)].map((name) => byName.get(name)).filter((id): id is string => id !== undefined), unknown: usernames.filter((name) => !byName.has(name)) };
}
