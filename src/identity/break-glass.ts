import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { revokeSignIns } from './account-security.ts';
import { hashPassword, passwordProblem } from './password.ts';
import { liftSignInLocks } from './sign-in-lock.store.ts';
import { findUserByName, updateUser } from './user.store.ts';

export interface BreakGlassReset {
  readonly username: string;
  /** The account was locked (at one address or more) by failed sign-ins until the reset lifted it. */
  readonly wasLocked: boolean;
  /** A disabled account stays disabled: the reset is about a password, not about who may sign in. */
  readonly disabled: boolean;
  readonly revokedTokens: number;
}

/**
 * The break-glass password reset of `changegate admin reset-password`, for an administrator locked
 * out of every account that could reset it through the API. It needs no Changegate privilege: it
 * runs only where the database and master key can be read, and whoever can read them could write
 * the row anyway. So it is logged by the one who holds them, `operator` (`cli:<os user>@<host>`).
 * In one transaction: the new password, the locks of every address lifted, the user's web sessions ended and API
 * tokens revoked (whoever held them no longer should), and the event.
 */
export async function breakGlassResetPassword(
  db: Kysely<Database>,
  clock: Clock,
  input: { readonly username: string; readonly password: string; readonly operator: string },
): Promise<BreakGlassReset> {
  const weak = passwordProblem(input.password);
  if (weak) throw errors.validation(`The new password ${weak}.`, [{ path: '/password', message: weak }]);
  const passwordHash = await hashPassword(input.password);
  return db.transaction().execute(async (trx) => {
    const user = await findUserByName(trx, input.username);
    if (!user) throw errors.notFound('user', input.username);
    const now = clock.now();
    const wasLocked = user.lockedUntil !== null && user.lockedUntil > now;
    await updateUser(trx, user.id, { password_hash: passwordHash, updated_at: now, updated_by: input.operator });
    await liftSignInLocks(trx, user.id);
    // Whoever knew the old password is out: web sessions, API tokens and open gateway connections.
    const revoked = await revokeSignIns(trx, user, { actor: { username: input.operator }, cause: 'user.password.reset', now });
    await appendEvent(trx, {
      actor: input.operator,
      action: 'user.password.reset',
      subject: `user:${user.username}`,
      data: { breakGlass: true, lockoutCleared: wasLocked, revokedTokens: revoked.apiTokens },
      time: now,
    });
    return { username: user.username, wasLocked, disabled: user.disabledAt !== null, revokedTokens: revoked.apiTokens };
  });
}
