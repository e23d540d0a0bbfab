import type { Selectable, Updateable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { UserTable } from '../platform/database-schema.ts';

export type UserRow = Selectable<UserTable>;

export async function findUserByName(db: Executor, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('app_user').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function findUserById(db: Executor, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listUsers(db: Executor, filter: { includeDisabled: boolean }): Promise<UserRow[]> {
  let query = db.selectFrom('app_user').selectAll();
  if (!filter.includeDisabled) query = query.where('disabled_at', 'is', null);
  return query.orderBy('username').execute();
}

export async function countUsers(db: Executor): Promise<number> {
  const row = await db.selectFrom('app_user').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function insertUser(db: Executor, row: UserRow): Promise<void> {
  await db.insertInto('app_user').values(row).execute();
}

/** Writes a change to a user and bumps its version; `updated_*` say who and when. */
export async function updateUser(db: Executor, id: string, patch: Updateable<UserTable>): Promise<void> {
  await db
    .updateTable('app_user')
    .set((eb) => ({ ...patch, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .execute();
}

/** Sign-in bookkeeping (failure counter, lockout, last TOTP step) is not a profile change: no new version. */
export async function updateSignInState(
  db: Executor,
  id: string,
  state: Pick<Updateable<UserTable>, 'failed_logins' | 'locked_until' | 'totp_last_step'>,
): Promise<void> {
  await db.updateTable('app_user').set(state).where('id', '=', id).execute();
}
