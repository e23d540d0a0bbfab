import type { Selectable, Updateable } from 'kysely';
import { bookkeeping, tableWriter, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { UserTable } from '../platform/database-schema.ts';
import { reviveDates } from '../objects/partition.ts';
import { globalPartitionId } from '../objects/partition.store.ts';
import type { User, UserProfile, UserRow } from './user.ts';

export type { User, UserRow };

const userOf = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  displayName: row.display_name,
  email: row.email,
  timeZone: row.time_zone,
  passwordHash: row.password_hash,
  disabledAt: row.disabled_at,
  lockedUntil: row.locked_until,
  totpSecret: row.totp_secret,
  totpEnabledAt: row.totp_enabled_at,
  totpLastStep: row.totp_last_step,
  signinEpoch: row.signin_epoch,
  ...bookkeeping(row),
});

export async function findUserByName(db: Executor, username: string): Promise<User | undefined> {
  const row = await db.selectFrom('app_user').selectAll().where('username', '=', username).executeTakeFirst();
  return row && userOf(row);
}

export async function findUserById(db: Executor, id: string): Promise<User | undefined> {
  const row = await db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst();
  return row && userOf(row);
}

export async function listUsers(db: Executor, filter: { includeDisabled: boolean }): Promise<User[]> {
  let query = db.selectFrom('app_user').selectAll();
  if (!filter.includeDisabled) query = query.where('disabled_at', 'is', null);
  return (await query.orderBy('username').execute()).map(userOf);
}

/** Those of `usernames` that name a user. */
export async function existingUsernames(db: Executor, usernames: readonly string[]): Promise<Set<string>> {
  if (usernames.length === 0) return new Set();
  const rows = await db.selectFrom('app_user').select('username').where('username', 'in', [...new Set(usernames)]).execute();
  return new Set(rows.map((row) => row.username));
}

/** Resolves usernames to ids, in the order given; returns the names that do not exist too. */
export async function userIdsOf(db: Executor, usernames: readonly string[]): Promise<{ ids: string[]; unknown: string[] }> {
  if (usernames.length === 0) return { ids: [], unknown: [] };
  const rows = await db.selectFrom('app_user').select(['id', 'username']).where('username', 'in', [...new Set(usernames)]).execute();
  const byName = new Map(rows.map((row) => [row.username, row.id]));
  return { ids: [...new Set(usernames)].map((name) => byName.get(name)).filter((id): id is string => id !== undefined), unknown: usernames.filter((name) => !byName.has(name)) };
}

/** The usernames of the users with these ids, in the database's order of usernames (a caller sorting by username sorts by the position here). */
export async function usernamesByIds(db: Executor, ids: Iterable<string>): Promise<Map<string, string>> {
  const wanted = [...new Set(ids)];
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom('app_user').select(['id', 'username']).where('id', 'in', wanted).orderBy('username').execute();
  return new Map(rows.map((row) => [row.id, row.username]));
}

/** The user's time zone, UTC for a user who does not exist. */
export async function timeZoneOf(db: Executor, userId: string): Promise<string> {
  const row = await db.selectFrom('app_user').select('time_zone').where('id', '=', userId).executeTakeFirst();
  return row?.time_zone ?? 'UTC';
}

/** How to reach a user: what a notice addressed to them needs. */
export interface UserContact {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  readonly disabled: boolean;
}

/** The contacts of the users with these ids that exist. */
export async function contactsOf(db: Executor, ids: readonly string[]): Promise<UserContact[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('app_user').select(['id', 'username', 'email', 'disabled_at']).where('id', 'in', [...ids]).execute();
  return rows.map((row) => ({ id: row.id, username: row.username, email: row.email, disabled: row.disabled_at !== null }));
}

export async function countUsers(db: Executor): Promise<number> {
  const row = await db.selectFrom('app_user').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function insertUser(db: Executor, row: UserRow): Promise<void> {
  await db.insertInto('app_user').values(row).execute();
}

/** A new account's row: enabled, no TOTP, no failed sign-in, version 1, made by `by` at `now`. */
export function newUserRow(user: { id: string; username: string; displayName: string; email: string | null; passwordHash: string | null; by: string; now: Date }): UserRow {
  return {
    id: user.id,
    username: user.username,
    display_name: user.displayName,
    email: user.email,
    time_zone: 'UTC',
    password_hash: user.passwordHash,
    disabled_at: null,
    failed_logins: 0,
    locked_until: null,
    totp_secret: null,
    totp_enabled_at: null,
    totp_last_step: null,
    signin_epoch: 0,
    version: 1,
    created_at: user.now,
    created_by: user.by,
    updated_at: user.now,
    updated_by: user.by,
  };
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
  const row = await db.selectFrom('app_user').selectAll().where('id', '=', id).executeTakeFirst();
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
