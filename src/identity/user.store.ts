import type { Selectable, Updateable } from 'kysely';
import { bookkeeping, tableWriter, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { UserTable } from '../platform/database-schema.ts';
import { reviveDates } from '../objects/partition.ts';
import { globalPartitionId } from '../objects/partition.store.ts';
import type { UserProfile, UserRow } from './user.ts';

export type { UserRow };

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

/** Sign-in bookkeeping (the last TOTP step) is not a profile change: no new version. Locks are in sign-in-lock.store.ts. */
export async function updateSignInState(db: Executor, id: string, state: Pick<Updateable<UserTable>, 'totp_last_step'>): Promise<void> {
  await db.updateTable('app_user').set(state).where('id', '=', id).execute();
}

/** Bumps the sign-in epoch (no new version): gateway connections signed in before it open no more sessions. */
export async function bumpSigninEpoch(db: Executor, id: string): Promise<void> {
  await db
    .updateTable('app_user')
    .set((eb) => ({ signin_epoch: eb('signin_epoch', '+', 1) }))
    .where('id', '=', id)
    .execute();
}

/** Sets a password hash: a credential, not part of the profile, so no new version. */
export async function setPasswordHash(db: Executor, id: string, passwordHash: string): Promise<void> {
  await db.updateTable('app_user').set({ password_hash: passwordHash }).where('id', '=', id).execute();
}

const profileOf = (row: UserRow, globalId: string): UserProfile => ({
  id: row.id,
  partitionId: globalId,
  name: row.username,
  applicationId: null,
  displayName: row.display_name,
  email: row.email,
  timeZone: row.time_zone,
  disabledAt: row.disabled_at,
  ...bookkeeping(row),
});

export async function findUserProfile(db: Executor, id: string): Promise<UserProfile | undefined> {
  const row = await findUserById(db, id);
  return row && profileOf(row, await globalPartitionId(db));
}

/**
 * How the object store writes user profiles. It writes the profile columns only: passwords, TOTP
 * and sign-in state are written by the sign-in code, and never appear in a snapshot.
 */
export const userKind: ObjectKind<UserProfile> = {
  type: 'User',
  event: 'user',
  restore: { create: 'User.Admin', edit: 'User.Admin', delete: 'User.Admin', scope: 'system' },
  // Enabling and disabling are the user service's (disabling revokes sessions and tokens): a restore never does either.
  keptOnRestore: ['disabledAt'],
  ...tableWriter<UserProfile, 'app_user'>('app_user', {
    toRow: (user) => ({ display_name: user.displayName, email: user.email, time_zone: user.timeZone, disabled_at: user.disabledAt }),
    // A new account has no password, TOTP or sign-in state: those are the sign-in code's to set.
    created: (user) => ({
      username: user.name,
      password_hash: null,
      failed_logins: 0,
      locked_until: null,
      totp_secret: null,
      totp_enabled_at: null,
      totp_last_step: null,
    }),
  }),
  find: findUserProfile,
  fromSnapshot: (json) => reviveDates<UserProfile>(json, ['disabledAt']),
  references: () => [],
  async keyHolders(db, user) {
    const holder = await findUserByName(db, user.name);
    return holder && holder.id !== user.id ? [`another user is now named ${user.name}`] : [];
  },
  subject: (user) => `user:${user.name}`,
};
