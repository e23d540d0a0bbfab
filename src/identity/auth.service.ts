import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { Database, Executor, Tx } from '../platform/database.ts';
import { AppError, errors, isAppError } from '../platform/errors.ts';
import { isUuid } from '../platform/ids.ts';
import type { SecretBox } from '../platform/secret-box.ts';
import { hasPrivilege } from '../access/access.ts';
import { newSecret, secretHash } from './bearer-secret.ts';
import { RECENT_SIGN_IN_MINUTES, requireRecentSignIn, revokeSignIns } from './account-security.ts';
import type { Authenticated } from '../access/request-actor.ts';
import type { Actor } from '../access/actor.ts';
import {
  deleteWebSession,
  findApiToken,
  findWebSessionById,
  findSshKeyByFingerprint,
  findApiTokenByHash,
  findWebSession,
  insertApiToken,
  insertWebSession,
  listApiTokens,
  markApiTokenUsed,
  markWebSessionAuthenticated,
  markWebSessionSecondFactor,
  revokeApiToken,
  touchWebSession,
  type ApiTokenRow,
  deleteExpiredWebSessions,
} from './credential.store.ts';
import { verifyAgainstNothing, verifyPassword } from './password.ts';
import { SYSTEM } from '../access/privilege.ts';
import { clearSignInFailures, countSignInFailure, findSignInLock, lockSignIn, purgeStaleSignInLocks } from './sign-in-lock.store.ts';
import { SignInLimits, type AttemptOutcome, type SignInLimitSettings, type ThrottleLimit, type ThrottleReport } from './sign-in-limits.ts';
import { sourceOf } from '../platform/source-address.ts';
import { BUSY, SignInQueue } from './sign-in-queue.ts';
import { newTotpSecret, totpSealContext, totpUri, verifyTotp } from './totp.ts';
import { presentUser, type UserView } from './user.ts';
import { findUserById, findUserByName, updateSignInState, updateUser, type User } from './user.store.ts';
import { isOidcUser } from './oidc.store.ts';
import type { ApiTokenView } from './api-token.views.ts';

export interface AuthPolicy extends SignInLimitSettings {
  /**
   * Failures from one source address that lock the account at that address, and for how long; a
   * failure more than `lockoutMinutes` after the one before starts the count again.
   */
  readonly lockoutThreshold: number;
  readonly lockoutMinutes: number;
  /** A web session ends after this long without a request, and in any case 12 hours after sign-in. */
  readonly sessionIdleMinutes: number;
  /** Users linked to an OpenID Connect provider may also sign in with a password (web and gateway); unset: they may. */
  readonly oidcPasswordSignIn?: boolean;
}

export interface AuthServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly secrets: SecretBox;
  readonly policy: AuthPolicy;
  readonly logger?: Logger;
}

export interface LoginInput {
  readonly username: string;
  readonly password: string;
  readonly totp?: string;
  readonly sourceIp: string;
}

export interface WebSession {
  /** The cookie value: shown to the browser once, stored only as a hash. */
  readonly token: string;
  readonly csrfToken: string;
  readonly expiresAt: Date;
  readonly user: UserView;
}

const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
/** Bookkeeping writes on every request would serialize reads; a minute's resolution is enough. */
const TOUCH_INTERVAL_MS = 60 * 1000;
const TOKEN_PREFIX = 'cg_';

const presentToken = (row: ApiTokenRow): ApiTokenView => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  createdAt: row.created_at.toISOString(),
  expiresAt: row.expires_at?.toISOString() ?? null,
  revokedAt: row.revoked_at?.toISOString() ?? null,
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
});

/** Sign-in (password, TOTP, rate limits, lockout), web sessions, API tokens and TOTP enrolment. */
export class AuthService {
  private readonly limits: SignInLimits;
  /** Password checks, a few at a time. */
  readonly checks = new SignInQueue();
  /**
   * Writes the counts of refused attempts while the server is idle, and forgets stale failures;
   * it does not keep the process alive.
   */
  private readonly reportTimer: NodeJS.Timeout;
  private reporting: Promise<void> = Promise.resolve();
  /** Refusing checks because too many wait: logged once per episode. */
  private busy = false;

  constructor(private readonly deps: AuthServiceDeps) {
    this.limits = new SignInLimits(deps.policy);
    this.reportTimer = setInterval(() => {
      void this.writeThrottleReports();
      void this.forgetStaleFailures();
    }, Math.min(deps.policy.signInLimitWindowSeconds, 60) * 1000);
    this.reportTimer.unref();
  }

  /** Stops the report timer and writes the counts of refused attempts so far, open windows included. */
  async close(): Promise<void> {
    clearInterval(this.reportTimer);
    await this.writeThrottleReports({ all: true });
  }

  /**
   * Signs a user in with password and, when enrolled, a TOTP code. Success and failure are both
   * written to the event log; failures count toward the lockout even though the call then fails.
   * Beyond the rate limits the attempt is refused at once with `too_many_requests`.
   */
  async login(input: LoginInput): Promise<WebSession> {
    return this.limited(input, 'password', async () => {
      const proof = await this.provePassword(input.username, input.password);
      return this.deps.db.transaction().execute(async (trx): Promise<WebSession | AppError> => {
        const now = this.deps.clock.now();
        const user = await this.checkCredentials(trx, input, now, proof);
        if (user instanceof AppError) return user;
        const session = await this.openWebSession(trx, user, now, { sourceIp: input.sourceIp, secondFactor: user.totpEnabledAt !== null });
        await this.recordSuccess(trx, user, now, { sourceIp: input.sourceIp, totp: user.totpEnabledAt !== null });
        return session;
      });
    });
  }

  /** A new web session of a user who just proved who they are: its cookie value, CSRF token and expiry. */
  private async openWebSession(trx: Tx, user: User, now: Date, proof: { sourceIp: string; secondFactor: boolean }): Promise<WebSession> {
    const token = newSecret();
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.deps.policy.sessionIdleMinutes * 60_000);
    await insertWebSession(trx, {
      id: randomUUID(),
      user_id: user.id,
      token_hash: secretHash(token),
      csrf_token: csrfToken,
      source_ip: proof.sourceIp,
      created_at: now,
      expires_at: expiresAt,
      last_seen_at: now,
      authenticated_at: now,
      second_factor: proof.secondFactor,
    });
    return { token, csrfToken, expiresAt, user: presentUser(user, now) };
  }

  /**
   * Counts one step of a sign-in through the identity provider from `sourceIp` (a start, or a
   * callback) in the per-address limits of every sign-in, under a name of that address's own (the
   * provider names the user only later, and no username's limit may be used up by others):
   * undefined beyond them, else the attempt, to settle once its outcome is known.
   */
  admitProviderStep(sourceIp: string): { settle(failed: boolean): void } | undefined {
    const admission = this.limits.admit(sourceIp, `\u0000provider ${sourceOf(sourceIp)}`, this.deps.clock.now());
    if (!admission.admitted) return undefined;
    return { settle: (failed) => admission.settle(failed ? 'failure' : 'neutral', this.deps.clock.now()) };
  }

  /**
   * Signs in a user whom an OpenID Connect provider vouched for (the caller checked the ID token and
   * the user, in this transaction): the same web session as a password sign-in, and
   * `auth.login.success` with `data`. `secondFactor`: the provider's MFA stood for the TOTP code.
   */
  async signInVouched(trx: Tx, user: User, input: { sourceIp: string; secondFactor: boolean; data: Record<string, unknown> }): Promise<WebSession> {
    const now = this.deps.clock.now();
    const session = await this.openWebSession(trx, user, now, input);
    await this.recordSuccess(trx, user, now, { sourceIp: input.sourceIp, ...input.data });
    return session;
  }

  /**
   * The second step of a sign-in an OpenID Connect provider vouched for, for a user with TOTP: the
   * code, within the same rate limits, lockout and event log as a password sign-in. `claimed` runs
   * in the transaction of a success (it ends the pending sign-in).
   */
  async proveTotpAfterProvider(
    input: { userId: string; totp: string; sourceIp: string; data: Record<string, unknown> },
    claimed: (trx: Tx, user: User) => Promise<void>,
  ): Promise<WebSession> {
    const known = await findUserById(this.deps.db, input.userId);
    return this.limited({ username: known?.username ?? input.userId, sourceIp: input.sourceIp }, 'key', () =>
      this.deps.db.transaction().execute(async (trx): Promise<WebSession | AppError> => {
        const now = this.deps.clock.now();
        const user = await findUserById(trx, input.userId);
        const fail = async (reason: string, error: AppError) => {
          await appendEvent(trx, {
            actor: user?.username ?? 'anonymous',
            action: 'auth.login.failure',
            subject: `user:${user?.username ?? input.userId}`,
            data: { reason, sourceIp: input.sourceIp, ...input.data },
            time: now,
          });
          return error;
        };
        if (!user || user.disabledAt || !user.totpEnabledAt) return fail(!user ? 'unknown_user' : user.disabledAt ? 'disabled' : 'no_totp', errors.invalidCredentials());
        const source = sourceOf(input.sourceIp);
        const lock = await findSignInLock(trx, user.id, source);
        if (lock?.locked_until && lock.locked_until > now) return fail('locked', errors.accountLocked(lock.locked_until));
        const step = this.checkTotp(user, input.totp, now);
        if (typeof step !== 'number') return this.recordFailure(trx, user, { source, sourceIp: input.sourceIp }, now, step, fail);
        await updateSignInState(trx, user.id, { totp_last_step: step });
        if (lock) await clearSignInFailures(trx, user.id, source, now);
        await claimed(trx, user);
        const session = await this.openWebSession(trx, user, now, { sourceIp: input.sourceIp, secondFactor: true });
        await this.recordSuccess(trx, user, now, { sourceIp: input.sourceIp, totp: true, ...input.data });
        return session;
      }),
    );
  }

  /**
   * Signs a user in at the SSH gateway with password and, when enrolled, a TOTP code: the same
   * checks, lockout and event log as the web sign-in, without a web session.
   */
  async authenticatePassword(input: LoginInput): Promise<Actor> {
    return this.limited(input, 'password', async () => {
      const proof = await this.provePassword(input.username, input.password);
      return this.deps.db.transaction().execute(async (trx): Promise<Actor | AppError> => {
        const now = this.deps.clock.now();
        const user = await this.checkCredentials(trx, input, now, proof);
        if (user instanceof AppError) return user;
        await this.recordSuccess(trx, user, now, { sourceIp: input.sourceIp, totp: user.totpEnabledAt !== null, via: 'ssh' });
        return gatewayActor(user);
      });
    });
  }

  /**
   * Signs a user in at the SSH gateway with one of their registered public keys; the caller has
   * checked the key's signature. Returns undefined (and logs the failure) when the key is not theirs,
   * or when the user is locked at this address: a key is a failure like a wrong password.
   */
  async authenticatePublicKey(input: { username: string; fingerprint: string; sourceIp: string }): Promise<Actor | undefined> {
    const signIn = this.limited(input, 'key', () => this.deps.db.transaction().execute(async (trx): Promise<Actor | AppError> => {
      const now = this.deps.clock.now();
      const user = await findUserByName(trx, input.username);
      const key = user && !user.disabledAt ? await findSshKeyByFingerprint(trx, user.id, input.fingerprint) : undefined;
      const lock = user ? await findSignInLock(trx, user.id, sourceOf(input.sourceIp)) : undefined;
      const locked = lock?.locked_until && lock.locked_until > now;
      if (!user || !key || locked) {
        await appendEvent(trx, {
          actor: user?.username ?? 'anonymous',
          action: 'auth.login.failure',
          subject: `user:${input.username.slice(0, 64)}`,
          data: { reason: !user ? 'unknown_user' : locked ? 'locked' : 'unknown_key', sourceIp: input.sourceIp, via: 'ssh', fingerprint: input.fingerprint },
          time: now,
        });
        return errors.invalidCredentials();
      }
      await clearSignInFailures(trx, user.id, sourceOf(input.sourceIp), now);
      await this.recordSuccess(trx, user, now, { sourceIp: input.sourceIp, via: 'ssh', fingerprint: input.fingerprint });
      return gatewayActor(user);
    }));
    try {
      return await signIn;
    } catch (error) {
      if (isAppError(error, 'invalid_credentials')) return undefined;
      throw error;
    }
  }

  /**
   * Whether a caller may still open sessions: its user is enabled, and what it signed in with still
   * stands: for a gateway connection, no security change (disable, password or TOTP reset, SSH key
   * removal) since it signed in; for a web session or an API token, not ended, revoked or expired.
   * The gateway asks before each new session (one SSH connection can open many), and the session
   * runner again after every wait for the user or an approver.
   */
  async stillSignedIn(actor: Actor): Promise<boolean> {
    const user = await activeUser(this.deps.db, actor.userId);
    if (!user) return false;
    const now = this.deps.clock.now();
    switch (actor.signIn?.kind) {
      case 'gateway':
        return actor.signIn.epoch === user.signinEpoch;
      case 'web_session': {
        // A web terminal keeps the actor of the socket's opening: the session must still stand.
        const session = await findWebSessionById(this.deps.db, actor.signIn.sessionId);
        return session !== undefined && session.expires_at > now;
      }
      case 'api_token': {
        const token = await findApiToken(this.deps.db, actor.signIn.tokenId);
        return token !== undefined && !token.revoked_at && (!token.expires_at || token.expires_at > now);
      }
      default:
        return true;
    }
  }

  /**
   * Runs one sign-in attempt within the rate limits: refused at once (429) beyond them, before any
   * password check or database write; otherwise counted, and given back unless it failed. A
   * password attempt then waits for its turn among the password checks (429 at once when too many
   * wait). The attempt answers its user or the error to throw; the refused attempts of closed
   * windows are written to the event log first, when there are any.
   */
  private async limited<T>(input: { username: string; sourceIp: string }, check: 'password' | 'key', attempt: () => Promise<T | AppError>): Promise<T> {
    const admission = this.limits.admit(input.sourceIp, input.username, this.deps.clock.now(), { reserve: check === 'password' });
    if (!admission.admitted) throw errors.tooManyRequests(admission.retryAfterSeconds, refusalMessage(admission.limit, admission.retryAfterSeconds));
    let outcome: AttemptOutcome = 'neutral';
    const source = sourceOf(input.sourceIp);
    try {
      if (this.limits.hasReports(this.deps.clock.now())) await this.writeThrottleReports();
      const result = check === 'key' ? await attempt() : await this.checks.run(attempt, { username: input.username, source, time: this.deps.clock.now().getTime() });
      if (result === BUSY) {
        if (!this.busy) this.deps.logger?.warn({ waiting: this.checks.size().waiting }, 'too many sign-ins waiting for a password check: new ones are refused');
        this.busy = true;
        throw errors.tooManyRequests(BUSY_RETRY_SECONDS, `Changegate is checking many sign-ins at the moment: try again in ${BUSY_RETRY_SECONDS} s.`);
      }
      this.busy = false;
      if (result instanceof AppError) {
        // A right password without its code is the first of two steps, not a failure.
        outcome = isAppError(result, 'totp_required') ? 'neutral' : 'failure';
        throw result;
      }
      outcome = 'success';
      this.checks.signedInFrom(input.username, source, this.deps.clock.now().getTime());
      return result;
    } finally {
      admission.settle(outcome, this.deps.clock.now());
    }
  }

  /** Writes one `auth.login.throttled` event per source (and per throttled username) and window, with the count. */
  private writeThrottleReports(options: { all?: boolean } = {}): Promise<void> {
    this.reporting = this.reporting.then(async () => {
      const now = this.deps.clock.now();
      const reports = this.limits.takeReports(now, options);
      if (reports.length === 0) return;
      try {
        await this.deps.db.transaction().execute(async (trx) => {
          for (const report of reports) await appendEvent(trx, throttledEvent(report, now));
        });
      } catch (error) {
        this.deps.logger?.error({ err: error, reports: reports.length }, 'the counts of refused sign-ins could not be written to the event log');
      }
    });
    return this.reporting;
  }

  /**
   * Checks a password against the user's hash (or against nothing, for an unknown, disabled or
   * password-less user, in the same time) before the transaction: the scrypt work then holds no
   * database connection, which PGlite has only one of.
   */
  private async provePassword(username: string, password: string): Promise<PasswordProof> {
    const user = await findUserByName(this.deps.db, username);
    if (!user?.passwordHash || user.disabledAt) return { hash: null, right: await verifyAgainstNothing(password) };
    return { hash: user.passwordHash, right: await verifyPassword(password, user.passwordHash) };
  }

  /** Forgets failures that no longer count: those of rows with no lock in force, last failed `lockoutMinutes` ago. */
  async forgetStaleFailures(): Promise<void> {
    const now = this.deps.clock.now();
    try {
      await purgeStaleSignInLocks(this.deps.db, this.staleBefore(now), now);
    } catch (error) {
      this.deps.logger?.error({ err: error }, 'stale sign-in failures could not be forgotten');
    }
  }

  /** Failures before this no longer count toward a lock. */
  private staleBefore(now: Date): Date {
    return new Date(now.getTime() - this.deps.policy.lockoutMinutes * 60_000);
  }

  /**
   * Checks a password and TOTP code, counting failures toward the lockout of the source address
   * and logging them. Returns the user, or the error to answer once the transaction has committed.
   * At an address where the user is locked, only the right password and a valid TOTP code in the
   * same attempt pass, and every other answer is `account_locked`: a locked address never learns
   * whether the password was right.
   */
  private async checkCredentials(trx: Tx, input: LoginInput, now: Date, proof: PasswordProof): Promise<User | AppError> {
    const user = await findUserByName(trx, input.username);
    // The proof holds for the hash it was checked against; if that changed since, check again.
    const passwordRight = async (hash: string) => (proof.hash === hash ? proof.right : verifyPassword(input.password, hash));
    const fail = async (reason: string, error: AppError) => {
      await appendEvent(trx, {
        actor: user?.username ?? 'anonymous',
        action: 'auth.login.failure',
        subject: `user:${input.username.slice(0, 64)}`,
        data: { reason, sourceIp: input.sourceIp },
        time: now,
      });
      return error;
    };
    if (!user || !user.passwordHash || user.disabledAt) {
      // The proof spent the time of a check already, so this answer is not told apart by timing.
      return fail(!user ? 'unknown_user' : user.disabledAt ? 'disabled' : 'no_password', errors.invalidCredentials());
    }
    const source = sourceOf(input.sourceIp);
    const lock = await findSignInLock(trx, user.id, source);
    if (lock?.locked_until && lock.locked_until > now) {
      const locked = errors.accountLocked(lock.locked_until);
      if (!input.totp) return fail('locked', locked);
      // The password is checked whether or not the account has TOTP, so the time taken does not tell.
      if (!(await passwordRight(user.passwordHash)) || !user.totpEnabledAt || !user.totpSecret) return fail('locked', locked);
      const step = this.checkTotp(user, input.totp, now);
      if (typeof step !== 'number') return fail('locked', locked);
      if (await this.providerOnly(trx, user)) return fail('provider_user', errors.passwordSignInDisabled());
      // Password and code: the user, who passes the lock; it stays for whoever else is at the address.
      await updateSignInState(trx, user.id, { totp_last_step: step });
      return user;
    }
    const failed = (reason: string) => this.recordFailure(trx, user, { source, sourceIp: input.sourceIp }, now, reason, fail);
    if (!(await passwordRight(user.passwordHash))) return failed('bad_password');
    // Told only to whoever knows the password: the account signs in through its provider.
    if (await this.providerOnly(trx, user)) return fail('provider_user', errors.passwordSignInDisabled());
    let totpStep = user.totpLastStep;
    if (user.totpEnabledAt && user.totpSecret) {
      // A correct password without a code is the first of two steps, not a failure.
      if (!input.totp) return errors.totpRequired();
      const step = this.checkTotp(user, input.totp, now);
      if (typeof step !== 'number') return failed(step);
      totpStep = step;
    }
    if (lock) await clearSignInFailures(trx, user.id, source, now);
    if (totpStep !== user.totpLastStep) await updateSignInState(trx, user.id, { totp_last_step: totpStep });
    return user;
  }

  /** Whether the user signs in only through the OpenID Connect provider they are linked to. */
  private async providerOnly(trx: Tx, user: User): Promise<boolean> {
    return this.deps.policy.oidcPasswordSignIn === false && (await isOidcUser(trx, user.id));
  }

  /** The time step of a valid TOTP code not used before, or why it does not pass. */
  private checkTotp(user: User, code: string, now: Date): number | 'bad_totp' | 'totp_replayed' {
    if (!user.totpSecret) return 'bad_totp';
    const step = verifyTotp(this.deps.secrets.open(user.totpSecret, totpSealContext(user.id)), code, now);
    if (step === undefined) return 'bad_totp';
    if (user.totpLastStep !== null && step <= user.totpLastStep) return 'totp_replayed';
    return step;
  }

  private async recordSuccess(trx: Tx, user: User, now: Date, data: Record<string, unknown>): Promise<void> {
    await appendEvent(trx, { actor: user.username, action: 'auth.login.success', subject: `user:${user.username}`, data, time: now });
  }

  async logout(sessionToken: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const session = await findWebSession(trx, secretHash(sessionToken));
      if (!session) return;
      const user = await findUserById(trx, session.user_id);
      await deleteWebSession(trx, session.id);
      await appendEvent(trx, {
        actor: user?.username ?? 'anonymous',
        action: 'auth.logout',
        subject: `user:${user?.username ?? session.user_id}`,
        time: this.deps.clock.now(),
      });
    });
  }

  /**
   * A web session proves the password (and the TOTP code, when enrolled) again, so that for the
   * next ten minutes it may create tokens, add SSH keys, and change passwords or TOTP. Failures
   * count toward the lockout like any sign-in. An API token cannot re-authenticate.
   */
  async reauthenticate(actor: Actor, input: { password: string; totp?: string; sourceIp: string }): Promise<{ authenticatedAt: Date; recentUntil: Date }> {
    const signIn = actor.signIn;
    if (signIn?.kind !== 'web_session') {
      throw errors.recentSignInRequired('Only a web session can re-authenticate; an API token never counts as a recent sign-in. Sign in with POST /api/v1/auth/login.', {
        signIn: signIn?.kind ?? null,
      });
    }
    const attempt = { username: actor.username, password: input.password, totp: input.totp, sourceIp: input.sourceIp };
    return this.limited(attempt, 'password', async () => {
      const proof = await this.provePassword(attempt.username, attempt.password);
      return this.deps.db.transaction().execute(async (trx): Promise<{ authenticatedAt: Date; recentUntil: Date } | AppError> => {
        const now = this.deps.clock.now();
        const user = await this.checkCredentials(trx, attempt, now, proof);
        if (user instanceof AppError) return user;
        await markWebSessionAuthenticated(trx, signIn.sessionId, now, user.totpEnabledAt !== null);
        await appendEvent(trx, {
          actor: user.username,
          action: 'auth.reauthenticate',
          subject: `user:${user.username}`,
          data: { sourceIp: input.sourceIp, totp: user.totpEnabledAt !== null },
          time: now,
      });
      return { authenticatedAt: now, recentUntil: new Date(now.getTime() + RECENT_SIGN_IN_MINUTES * 60_000) };
      });
    });
  }

  /**
   * Deletes the web sessions that expired (idle or at their hard end) and were never presented
   * again: a background job, so the table does not grow with every sign-in forever. Answers how
   * many went.
   */
  async purgeExpiredWebSessions(): Promise<number> {
    return deleteExpiredWebSessions(this.deps.db, this.deps.clock.now());
  }

  /** Resolves a session cookie to its user, sliding the idle expiry; undefined when not valid. */
  async authenticateSession(sessionToken: string): Promise<Authenticated | undefined> {
    return this.deps.db.transaction().execute(async (trx) => {
      const session = await findWebSession(trx, secretHash(sessionToken));
      const now = this.deps.clock.now();
      if (!session) return undefined;
      if (session.expires_at <= now) {
        await deleteWebSession(trx, session.id);
        return undefined;
      }
      const user = await activeUser(trx, session.user_id);
      if (!user) return undefined;
      if (now.getTime() - session.last_seen_at.getTime() >= TOUCH_INTERVAL_MS) {
        const idleEnd = now.getTime() + this.deps.policy.sessionIdleMinutes * 60_000;
        const hardEnd = session.created_at.getTime() + SESSION_MAX_MS;
        await touchWebSession(trx, session.id, now, new Date(Math.min(idleEnd, hardEnd)));
      }
      return {
        actor: { userId: user.id, username: user.username, signIn: { kind: 'web_session', sessionId: session.id } },
        csrfToken: session.csrf_token,
        sessionId: session.id,
      };
    });
  }

  /** Resolves an `Authorization: Bearer` API token; undefined when unknown, expired, revoked or its user disabled. */
  async authenticateToken(token: string): Promise<Authenticated | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    return this.deps.db.transaction().execute(async (trx) => {
      const row = await findApiTokenByHash(trx, secretHash(token));
      const now = this.deps.clock.now();
      if (!row || row.revoked_at || (row.expires_at && row.expires_at <= now)) return undefined;
      const user = await activeUser(trx, row.user_id);
      if (!user) return undefined;
      if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() >= TOUCH_INTERVAL_MS) await markApiTokenUsed(trx, row.id, now);
      return { actor: { userId: user.id, username: user.username, signIn: { kind: 'api_token', tokenId: row.id } } };
    });
  }

  /**
   * Creates an API token for the caller, from a web session that proved the password lately: a
   * token cannot make more tokens. The token is in the answer and nowhere else, ever.
   */
  async createToken(actor: Actor, input: { name: string; expiresInDays?: number }): Promise<ApiTokenView & { token: string }> {
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      await requireRecentSignIn(trx, actor, now, 'create an API token');
      const days = input.expiresInDays ?? 90;
      if (!Number.isInteger(days) || days < 1 || days > 3650) {
        throw errors.validation('A token must expire within 1 to 3650 days.', [{ path: '/expiresInDays', message: 'expected a whole number from 1 to 3650' }]);
      }
      if (input.name.trim() === '') throw errors.validation('Name the token after what will use it.', [{ path: '/name', message: 'must not be empty' }]);
      const secret = newSecret();
      const token = `${TOKEN_PREFIX}${secret}`;
      const row: ApiTokenRow = {
        id: randomUUID(),
        user_id: actor.userId,
        name: input.name.trim(),
        prefix: `${TOKEN_PREFIX}${secret.slice(0, 6)}`,
        token_hash: secretHash(token),
        created_at: now,
        expires_at: new Date(now.getTime() + days * 86_400_000),
        revoked_at: null,
        last_used_at: null,
      };
      await insertApiToken(trx, row);
      await appendEvent(trx, {
        actor: actor.username,
        action: 'token.create',
        subject: `token:${row.id}`,
        data: { name: row.name, prefix: row.prefix, expiresAt: row.expires_at?.toISOString() ?? null },
        time: now,
      });
      return { ...presentToken(row), token };
    });
  }

  async listTokens(actor: Actor): Promise<ApiTokenView[]> {
    return this.deps.db.transaction().execute(async (trx) => (await listApiTokens(trx, actor.userId)).map(presentToken));
  }

  /** Revokes one of the caller's tokens; a `User.Admin` may revoke anyone's. */
  async revokeToken(actor: Actor, tokenId: string): Promise<ApiTokenView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const row = isUuid(tokenId) ? await findApiToken(trx, tokenId) : undefined;
      const mayRevoke = row && (row.user_id === actor.userId || (await hasPrivilege(trx, actor, 'User.Admin', SYSTEM)));
      if (!row || !mayRevoke) throw errors.notFound('API token', tokenId);
      const now = this.deps.clock.now();
      if (!row.revoked_at) {
        await revokeApiToken(trx, row.id, now);
        await appendEvent(trx, { actor: actor.username, action: 'token.revoke', subject: `token:${row.id}`, data: { name: row.name, prefix: row.prefix }, time: now });
      }
      return presentToken({ ...row, revoked_at: row.revoked_at ?? now });
    });
  }

  /**
   * Starts TOTP enrolment: a new secret, returned once so the user can add it to an authenticator.
   * Sign-in asks for codes only after `confirmTotp` proves the authenticator works.
   */
  async beginTotp(actor: Actor): Promise<{ secret: string; uri: string }> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requireRecentSignIn(trx, actor, this.deps.clock.now(), 'enrol two-factor sign-in');
      const user = await ownUser(trx, actor);
      if (user.totpEnabledAt) throw errors.conflict('Two-factor sign-in is already on: turn it off first to enrol a new authenticator.');
      const secret = newTotpSecret();
      const now = this.deps.clock.now();
      await updateUser(trx, user.id, { totp_secret: this.deps.secrets.seal(secret, totpSealContext(user.id)), totp_last_step: null, updated_at: now, updated_by: actor.username });
      await appendEvent(trx, { actor: actor.username, action: 'user.totp.begin', subject: `user:${user.username}`, time: now });
      return { secret, uri: totpUri(secret, user.username) };
    });
  }

  /** Finishes enrolment; the session that confirms has just given a code, so it counts as signed in with TOTP. */
  async confirmTotp(actor: Actor, code: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      await requireRecentSignIn(trx, actor, this.deps.clock.now(), 'enrol two-factor sign-in');
      const user = await ownUser(trx, actor);
      if (user.totpEnabledAt) throw errors.conflict('Two-factor sign-in is already on.');
      if (!user.totpSecret) throw errors.conflict('Start enrolment first: POST /api/v1/me/totp.');
      const now = this.deps.clock.now();
      const step = verifyTotp(this.deps.secrets.open(user.totpSecret, totpSealContext(user.id)), code, now);
      if (step === undefined) throw errors.validation('The code does not match: check the authenticator\'s clock and try the current code.', [{ path: '/code', message: 'does not match' }]);
      await updateUser(trx, user.id, { totp_enabled_at: now, totp_last_step: step, updated_at: now, updated_by: actor.username });
      if (actor.signIn?.kind === 'web_session') await markWebSessionSecondFactor(trx, actor.signIn.sessionId);
      await appendEvent(trx, { actor: actor.username, action: 'user.totp.enable', subject: `user:${user.username}`, time: now });
    });
  }

  /**
   * Turns TOTP off for the caller, who proves it with a current code from a recent sign-in. Their
   * other web sessions end and their API tokens are revoked.
   */
  async disableTotp(actor: Actor, code: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      await requireRecentSignIn(trx, actor, this.deps.clock.now(), 'remove two-factor sign-in');
      const user = await ownUser(trx, actor);
      if (!user.totpEnabledAt || !user.totpSecret) throw errors.conflict('Two-factor sign-in is not on.');
      const now = this.deps.clock.now();
      if (verifyTotp(this.deps.secrets.open(user.totpSecret, totpSealContext(user.id)), code, now) === undefined) {
        throw errors.validation('The code does not match.', [{ path: '/code', message: 'does not match' }]);
      }
      await updateUser(trx, user.id, { totp_secret: null, totp_enabled_at: null, totp_last_step: null, updated_at: now, updated_by: actor.username });
      await appendEvent(trx, { actor: actor.username, action: 'user.totp.disable', subject: `user:${user.username}`, time: now });
      await revokeSignIns(trx, user, { actor, cause: 'user.totp.disable', now, ...(actor.signIn && { keep: actor.signIn }) });
    });
  }

  /** Counts a failure from one source; at the threshold the user is locked at that source only. */
  private async recordFailure(
    trx: Tx,
    user: User,
    { source, sourceIp }: { source: string; sourceIp: string },
    now: Date,
    reason: string,
    fail: (reason: string, error: AppError) => Promise<AppError>,
  ): Promise<AppError> {
    const staleBefore = this.staleBefore(now);
    await purgeStaleSignInLocks(trx, staleBefore, now, user.id);
    const failures = await countSignInFailure(trx, user.id, source, now, staleBefore);
    if (failures < this.deps.policy.lockoutThreshold) return fail(reason, errors.invalidCredentials());
    const lockedUntil = new Date(now.getTime() + this.deps.policy.lockoutMinutes * 60_000);
    await lockSignIn(trx, user.id, source, lockedUntil, now);
    await appendEvent(trx, {
      actor: 'system',
      action: 'auth.lockout',
      subject: `user:${user.username}`,
      data: { failures, lockedUntil: lockedUntil.toISOString(), sourceIp, source },
      time: now,
    });
    return fail(reason, errors.accountLocked(lockedUntil));
  }
}

/** A password checked before the transaction, against `hash` (none: checked against nothing). */
interface PasswordProof {
  readonly hash: string | null;
  readonly right: boolean;
}

/** Retry-After of a check refused because too many wait. */
const BUSY_RETRY_SECONDS = 5;

function refusalMessage(limit: ThrottleLimit, retryAfterSeconds: number): string {
  switch (limit) {
    case 'address':
      return `Too many failed sign-ins from your address: wait ${retryAfterSeconds} s before trying again.`;
    case 'network':
      return `Too many failed sign-ins from your network: wait ${retryAfterSeconds} s before trying again.`;
    case 'username':
      return `Too many failed sign-ins for this username from your address: wait ${retryAfterSeconds} s, or sign in from another address.`;
  }
}

/** The event that stands for the attempts one limit refused in one window. */
function throttledEvent(report: ThrottleReport, now: Date) {
  return {
    actor: 'system',
    action: 'auth.login.throttled',
    subject: report.limit === 'username' ? `user:${report.key}` : `address:${report.key}`,
    data: { limit: report.limit, refused: report.refused, from: report.from.toISOString(), until: report.until.toISOString(), maxFailures: report.maxFailures },
    time: now,
  };
}

/** The actor of a gateway sign-in, holding the user's sign-in epoch of the moment. */
const gatewayActor = (user: User): Actor => ({ userId: user.id, username: user.username, signIn: { kind: 'gateway', epoch: user.signinEpoch } });

async function activeUser(db: Executor, userId: string): Promise<User | undefined> {
  const user = await findUserById(db, userId);
  return user && !user.disabledAt ? user : undefined;
}

async function ownUser(db: Executor, actor: Actor): Promise<User> {
  const user = await activeUser(db, actor.userId);
  if (!user) throw errors.unauthenticated();
  return user;
}
