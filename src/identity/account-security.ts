import { appendEvent } from '../eventlog/index.ts';
import type { Executor, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { describePower, uncoveredPower, type AccessGroupRoles, type AccountPower } from './account-powers.ts';
import type { Actor, SignIn } from '../access/actor.ts';
import { deleteWebSessionsOf, findWebSessionById, revokeApiTokensOf } from './credential.store.ts';
import { listNamedGrants } from './named-grants.ts';
import { bumpSigninEpoch, findUserById, type User } from './user.store.ts';

/** How long after proving the password a web session may create tokens, add keys, or change a password or TOTP. */
export const RECENT_SIGN_IN_MINUTES = 10;

/**
 * Refuses what a stolen token or an unattended browser must not do: create API tokens, add SSH
 * keys, enrol or remove TOTP, set a password. These need a web session that proved the password
 * (and the TOTP code, when the user has enrolled) in the last ten minutes: at sign-in, or again
 * with `POST /auth/reauthenticate`. An API token never qualifies. An actor without a sign-in is
 * code that opened the database itself (the CLI's own commands), which holds the master key anyway.
 */
export async function requireRecentSignIn(db: Executor, actor: Actor, now: Date, what: string): Promise<void> {
  const signIn = actor.signIn;
  if (signIn === undefined) return;
  if (signIn.kind !== 'web_session') {
    throw errors.recentSignInRequired(
      `An API token cannot ${what}: sign in with your password (POST /api/v1/auth/login) and do it from that web session within ${RECENT_SIGN_IN_MINUTES} minutes.`,
      { signIn: signIn.kind },
    );
  }
  const session = await findWebSessionById(db, signIn.sessionId);
  const user = await findUserById(db, actor.userId);
  if (!session || !user) throw errors.unauthenticated();
  const ageMs = now.getTime() - session.authenticated_at.getTime();
  const needsTotp = user.totpEnabledAt !== null && !session.second_factor;
  if (ageMs > RECENT_SIGN_IN_MINUTES * 60_000 || needsTotp) {
    const proof = user.totpEnabledAt !== null ? 'your password and a current TOTP code' : 'your password';
    const why = needsTotp ? 'this session has not given a TOTP code' : `you last gave your password more than ${RECENT_SIGN_IN_MINUTES} minutes ago`;
    throw errors.recentSignInRequired(
      `To ${what}, sign in again: ${why}. Send ${proof} to POST /api/v1/auth/reauthenticate (or sign in anew), then retry.`,
      { signIn: 'web_session', authenticatedAt: session.authenticated_at.toISOString(), maxAgeMinutes: RECENT_SIGN_IN_MINUTES, totpRequired: user.totpEnabledAt !== null },
    );
  }
}

/** Everything a user may do that an account takeover would hand over: grants and access-group roles. */
async function powersOf(db: Executor, userId: string, roles: AccessGroupRoles): Promise<AccountPower[]> {
  const grants = await listNamedGrants(db, { userId });
  return [
    ...grants.map((grant): AccountPower => ({ kind: 'grant', privilege: grant.privilege, level: grant.level, partitionId: grant.partitionId, partitionName: grant.partitionName })),
    ...(await roles.rolesOf(db, userId)),
  ];
}

/**
 * A user administrator may act on another's account (password, TOTP, SSH keys, profile, disable
 * and enable) only when they hold, at the same level and scope or wider, every privilege and
 * access-group role that user holds; otherwise taking the account over would give them more than
 * they have. Answers 403 `more_privileged_user` naming the first power that stops it.
 */
export async function requireMayAdminister(db: Executor, actor: Actor, target: User, roles: AccessGroupRoles, what: string): Promise<void> {
  if (target.id === actor.userId) return;
  const missing = uncoveredPower(await powersOf(db, target.id, roles), await powersOf(db, actor.userId, roles));
  if (missing === undefined) return;
  const held = describePower(missing);
  throw errors.morePrivilegedUser(
    `You cannot ${what} ${target.username}: they hold ${held}, which you do not. Only an administrator who holds every privilege ${target.username} holds may do it.`,
    missing.kind === 'grant'
      ? { user: target.username, privilege: missing.privilege, level: missing.level, partition: missing.partitionName }
      : { user: target.username, role: missing.role, accessGroup: missing.group },
  );
}

export interface Revocation {
  readonly webSessions: number;
  readonly apiTokens: number;
}

/**
 * Ends a user's web sessions, revokes their API tokens and bumps their sign-in epoch (so gateway
 * connections open no more sessions), writing `auth.revoke`. `keep` is the caller's own session
 * or token when they change their own account. Revoked tokens stay revoked: re-enabling a user or
 * restoring their profile brings none back.
 */
export async function revokeSignIns(trx: Tx, user: User, options: { actor: Pick<Actor, 'username'>; cause: string; now: Date; keep?: SignIn }): Promise<Revocation> {
  const { keep } = options;
  const webSessions = await deleteWebSessionsOf(trx, user.id, keep?.kind === 'web_session' ? keep.sessionId : undefined);
  const tokens = await revokeApiTokensOf(trx, user.id, options.now, keep?.kind === 'api_token' ? keep.tokenId : undefined);
  await bumpSigninEpoch(trx, user.id);
  await appendEvent(trx, {
    actor: options.actor.username,
    action: 'auth.revoke',
    subject: `user:${user.username}`,
    data: { cause: options.cause, webSessions, apiTokens: tokens.map((token) => ({ id: token.id, prefix: token.prefix })), keptCaller: keep !== undefined },
    time: options.now,
  });
  return { webSessions, apiTokens: tokens.length };
}
