import type { Executor } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import type { Actor } from './actor.ts';
import { grantsOf } from './grant.store.ts';
import { levelCovers, scopeCovers, type GrantLevel, type Privilege, type Scope } from './privilege.ts';

/**
 * The one privilege check. Every service method calls one of these first, inside its transaction.
 *
 * Denials answer 403 `forbidden` where no object is named (list, create). Where the request names an
 * object the caller may not see, use `requireObjectPrivilege`: it answers 404 `not_found`, exactly
 * as for a missing object, so a denial never reveals that the object exists.
 */
export async function hasPrivilege(db: Executor, actor: Actor, privilege: Privilege, scope: Scope, level: GrantLevel = 'access'): Promise<boolean> {
  const grants = await grantsOf(db, actor.userId, privilege);
  return grants.some((grant) => scopeCovers(grant, scope) && levelCovers(grant.level, level));
}

export async function requirePrivilege(db: Executor, actor: Actor, privilege: Privilege, scope: Scope, level: GrantLevel = 'access'): Promise<void> {
  if (await hasPrivilege(db, actor, privilege, scope, level)) return;
  const where = scope.partitionId === null ? 'system-wide' : 'for this partition';
  const how = level === 'admin' ? ' at Admin level' : '';
  throw errors.forbidden(`You need the ${privilege} privilege${how} ${where}.`);
}

/** As `requirePrivilege`, but a denial looks exactly like "no such object". */
export async function requireObjectPrivilege(
  db: Executor,
  actor: Actor,
  privilege: Privilege,
  scope: Scope,
  object: { readonly what: string; readonly key: string },
): Promise<void> {
  if (!(await hasPrivilege(db, actor, privilege, scope))) throw errors.notFound(object.what, object.key);
}

/** The partitions where the actor holds a privilege: all of them, or a list. */
export async function partitionsWith(db: Executor, actor: Actor, privilege: Privilege): Promise<'all' | string[]> {
  const grants = await grantsOf(db, actor.userId, privilege);
  if (grants.some((grant) => grant.partitionId === null)) return 'all';
  return grants.map((grant) => grant.partitionId).filter((id): id is string => id !== null);
}
