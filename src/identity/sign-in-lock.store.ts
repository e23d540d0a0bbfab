import { sql, type Selectable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { SignInLockTable } from '../platform/database-schema.ts';

export type SignInLockRow = Selectable<SignInLockTable>;

export async function findSignInLock(db: Executor, userId: string, source: string): Promise<SignInLockRow | undefined> {
  return db.selectFrom('sign_in_lock').selectAll().where('user_id', '=', userId).where('source', '=', source).executeTakeFirst();
}

/**
 * Counts one more failure of a user from a source, atomically (parallel failures all count), and
 * returns the count; when the source last failed (or was locked) before `staleBefore`, the count
 * starts again at 1.
 */
export async function countSignInFailure(db: Executor, userId: string, source: string, now: Date, staleBefore: Date): Promise<number> {
  const row = await db
    .insertInto('sign_in_lock')
    .values({ user_id: userId, source, failed_logins: 1, locked_until: null, updated_at: now })
    .onConflict((conflict) =>
      conflict.columns(['user_id', 'source']).doUpdateSet((eb) => ({
        failed_logins: eb.case().when('sign_in_lock.updated_at', '<', staleBefore).then(1).else(eb('sign_in_lock.failed_logins', '+', 1)).end(),
        updated_at: now,
      })),
    )
    .returning('failed_logins')
    .executeTakeFirstOrThrow();
  return row.failed_logins;
}

/**
 * Locks a user at one source until `until`, starting its count afresh, and shows the lock on the
 * user (`app_user.locked_until` holds the latest lock of any source). Locks that ended are dropped.
 */
export async function lockSignIn(db: Executor, userId: string, source: string, until: Date, now: Date): Promise<void> {
  await db.updateTable('sign_in_lock').set({ failed_logins: 0, locked_until: until, updated_at: now }).where('user_id', '=', userId).where('source', '=', source).execute();
  await db.deleteFrom('sign_in_lock').where('user_id', '=', userId).where('locked_until', '<=', now).execute();
  await db
    .updateTable('app_user')
    .set({ locked_until: sql<Date>`greatest(coalesce(locked_until, ${until}::timestamptz), ${until}::timestamptz)` })
    .where('id', '=', userId)
    .execute();
}

/** A success from a source forgets its failures; a lock that has not ended stays. */
export async function clearSignInFailures(db: Executor, userId: string, source: string, now: Date): Promise<void> {
  await db
    .deleteFrom('sign_in_lock')
    .where('user_id', '=', userId)
    .where('source', '=', source)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
    .execute();
}

/** Lifts every lock of a user and forgets all their failures (a password reset, enabling or disabling). */
export async function liftSignInLocks(db: Executor, userId: string): Promise<void> {
  await db.deleteFrom('sign_in_lock').where('user_id', '=', userId).execute();
  await db.updateTable('app_user').set({ failed_logins: 0, locked_until: null }).where('id', '=', userId).execute();
}

/**
 * Deletes the rows that hold nothing any more: no lock in force and the last failure before
 * `staleBefore`; of one user, or of everyone.
 */
export async function purgeStaleSignInLocks(db: Executor, staleBefore: Date, now: Date, userId?: string): Promise<number> {
  let query = db
    .deleteFrom('sign_in_lock')
    .where('updated_at', '<', staleBefore)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]));
  if (userId !== undefined) query = query.where('user_id', '=', userId);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}

