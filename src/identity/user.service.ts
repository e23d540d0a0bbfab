import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ObjectStore } from '../objects/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import type { LiveSessionControl } from '../platform/live-session-control.ts';
import { hasPrivilege, requirePrivilege } from '../access/access.ts';
import type { AccessGroupRoles } from './account-powers.ts';
import { requireMayAdminister, requireRecentSignIn, revokeSignIns } from './account-security.ts';
import type { Actor } from '../access/actor.ts';
import { deleteSshKey, findSshKey, findSshKeyByFingerprint, insertSshKey, listSshKeys, type SshKeyRow } from './credential.store.ts';
import { hashPassword, passwordProblem, verifyPassword } from './password.ts';
import { SYSTEM } from '../access/privilege.ts';
import { parseSshPublicKey } from './ssh-key.ts';
import { presentUser, profileProblems, USERNAME_PATTERN, type ProfileInput, type UserView } from './user.ts';
import { findUserById, findUserByName, findUserProfile, listUsers, setPasswordHash, updateUser, userKind, type User } from './user.store.ts';
import { liftSignInLocks } from './sign-in-lock.store.ts';
import { globalPartitionId } from '../objects/partition.store.ts';
import type { UserProfile } from './user.ts';
import type { Tx } from '../platform/database.ts';
import type { SshKeyView } from './ssh-key.views.ts';

export interface UserServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** Profiles are configuration objects: written through the object store, and audited. */
  readonly objects: ObjectStore;
  /** Ends the live gateway and web-terminal sessions of a user an administrator disables or resets. */
  readonly live: LiveSessionControl;
  /** Access-group roles count, with grants, among what a user administrator must hold to act on an account. */
  readonly roles: AccessGroupRoles;
}

export interface NewUser extends ProfileInput {
  readonly username: string;
  readonly displayName?: string;
  readonly password?: string;
}

const presentSshKey = (row: SshKeyRow, owner: string): SshKeyView => ({
  id: row.id,
  name: row.name,
  algorithm: row.algorithm,
  fingerprint: row.fingerprint,
  createdAt: row.created_at.toISOString(),
  addedBy: row.added_by,
  addedByAdministrator: row.added_by !== null && row.added_by !== owner,
});

/** What the user sees when an administrator's change ends their running sessions. */
const ENDED_BECAUSE = {
  disable: 'your account was disabled',
  password: 'your password was reset by an administrator',
  totp: 'your two-factor sign-in was reset by an administrator',
  sshKey: 'an administrator removed one of your SSH keys',
} as const;

/**
 * Users and their profiles, passwords and SSH keys. Administering others needs `User.Admin`
 * system-wide, and acting on an account needs every privilege and access-group role its user holds
 * (`requireMayAdminister`), so a user administrator cannot take over a more privileged account.
 * A security change to an account (disable, password or TOTP reset, SSH key removal) revokes its web
 * sessions and API tokens; made by an administrator, it also ends the user's live sessions.
 */
export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async create(actor: Actor, input: NewUser): Promise<UserView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const problems = profileProblems(input);
      if (!USERNAME_PATTERN.test(input.username)) {
        problems.unshift({ path: '/username', message: 'must start with a lower-case letter and hold only a-z, 0-9, ".", "_" or "-" (at most 64)' });
      }
      const weak = input.password === undefined ? undefined : passwordProblem(input.password);
      if (weak) problems.push({ path: '/password', message: weak });
      if (problems.length > 0) throw errors.validation('The user cannot be created: fix the fields listed.', problems);
      if (await findUserByName(trx, input.username)) throw errors.alreadyExists('user', input.username);
      const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
      const profile = await this.deps.objects.create(
        trx,
        userKind,
        {
          partitionId: await globalPartitionId(trx),
          applicationId: null,
          name: input.username,
          displayName: input.displayName?.trim() || input.username,
          email: input.email || null,
          timeZone: input.timeZone ?? 'UTC',
          disabledAt: null,
        },
        actor,
        { id: randomUUID() },
      );
      if (passwordHash) await setPasswordHash(trx, profile.id, passwordHash);
      return presentUser(await this.reread(trx, profile.id), this.deps.clock.now());
    });
  }

  async list(actor: Actor, filter: { includeDisabled?: boolean } = {}): Promise<UserView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const now = this.deps.clock.now();
      return (await listUsers(trx, { includeDisabled: filter.includeDisabled ?? true })).map((row) => presentUser(row, now));
    });
  }

  async get(actor: Actor, username: string): Promise<UserView> {
    return this.deps.db.transaction().execute(async (trx) => presentUser(await this.visibleUser(trx, actor, username), this.deps.clock.now()));
  }

  /**
   * What a write made elsewhere (a restore from the audit trail) must also obey, inside that write's
   * transaction: a user administrator may restore the profile only of a user they may administer.
   */
  async afterWrite(trx: Tx, actor: Actor, userId: string): Promise<undefined> {
    const user = await findUserById(trx, userId);
    if (user) await requireMayAdminister(trx, actor, user, this.deps.roles, 'restore the profile of');
    return undefined;
  }

  /** A user edits their own profile; an administrator edits anyone's. */
  async update(actor: Actor, username: string, patch: ProfileInput): Promise<UserView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const user = await this.visibleUser(trx, actor, username);
      await requireMayAdminister(trx, actor, user, this.deps.roles, 'edit the profile of');
      const problems = profileProblems(patch);
      if (problems.length > 0) throw errors.validation('The profile cannot be saved: fix the fields listed.', problems);
      const changes = {
        ...(patch.displayName !== undefined && { displayName: patch.displayName.trim() }),
        ...(patch.email !== undefined && { email: patch.email || null }),
        ...(patch.timeZone !== undefined && { timeZone: patch.timeZone }),
      };
      await this.deps.objects.update(trx, userKind, await this.profile(trx, user.id), changes, actor);
      return presentUser(await this.reread(trx, user.id), this.deps.clock.now());
    });
  }

  /**
   * Disables a user: their web sessions end, their API tokens are revoked and their live sessions
   * end at once, and no password, token or key lets them in. Enabling them again restores no token.
   */
  async setDisabled(actor: Actor, username: string, disabled: boolean): Promise<UserView> {
    const view = await this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const user = await this.existingUser(trx, username);
      if (disabled && user.id === actor.userId) throw errors.conflict('You cannot disable your own account: ask another administrator.');
      await requireMayAdminister(trx, actor, user, this.deps.roles, disabled ? 'disable' : 'enable');
      const now = this.deps.clock.now();
      const disabledAt = disabled ? (user.disabledAt ?? now) : null;
      await this.deps.objects.update(trx, userKind, await this.profile(trx, user.id), { disabledAt }, actor, { verb: disabled ? 'disable' : 'enable' });
      await liftSignInLocks(trx, user.id);
      if (disabled) await revokeSignIns(trx, user, { actor, cause: 'user.disable', now });
      return presentUser(await this.reread(trx, user.id), now);
    });
    if (disabled) await this.deps.live.end({ userId: view.id }, { by: actor.username, reason: ENDED_BECAUSE.disable });
    return view;
  }

  /**
   * An administrator sets a user's password; this also lifts the user's locks at every address. The user's web sessions,
   * API tokens and live sessions end: whoever knew the old password is out.
   */
  async setPassword(actor: Actor, username: string, password: string): Promise<void> {
    const user = await this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      await requireRecentSignIn(trx, actor, this.deps.clock.now(), 'set a password');
      const user = await this.existingUser(trx, username);
      await requireMayAdminister(trx, actor, user, this.deps.roles, 'reset the password of');
      await this.writePassword(trx, actor, user, password, 'user.password.reset');
      return user;
    });
    await this.endLiveSessions(actor, user, ENDED_BECAUSE.password);
  }

  /**
   * A user changes their own password, proving the current one, from a recent web sign-in. Their
   * other web sessions end and their API tokens are revoked; the session making the change stays.
   */
  async changeOwnPassword(actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      await requireRecentSignIn(trx, actor, this.deps.clock.now(), 'change your password');
      const user = await this.existingUser(trx, actor.username);
      if (!user.passwordHash || !(await verifyPassword(currentPassword, user.passwordHash))) {
        throw errors.validation('The current password is not correct.', [{ path: '/currentPassword', message: 'is not correct' }]);
      }
      await this.writePassword(trx, actor, user, newPassword, 'user.password.change');
    });
  }

  /**
   * An administrator removes a user's TOTP, e.g. after a lost phone; the user enrols again. Their
   * web sessions, API tokens and live sessions end.
   */
  async resetTotp(actor: Actor, username: string): Promise<void> {
    const user = await this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const now = this.deps.clock.now();
      await requireRecentSignIn(trx, actor, now, 'remove two-factor sign-in');
      const user = await this.existingUser(trx, username);
      await requireMayAdminister(trx, actor, user, this.deps.roles, 'reset the two-factor sign-in of');
      await updateUser(trx, user.id, { totp_secret: null, totp_enabled_at: null, totp_last_step: null, updated_at: now, updated_by: actor.username });
      await this.event(trx, actor, 'user.totp.reset', username);
      await revokeSignIns(trx, user, { actor, cause: 'user.totp.reset', now, ...this.keepFor(actor, user) });
      return user;
    });
    await this.endLiveSessions(actor, user, ENDED_BECAUSE.totp);
  }

  /**
   * Registers an SSH public key, from a recent web sign-in. Users register their own; an
   * administrator may register one for a user they may administer, and the key and the event say so.
   */
  async addSshKey(actor: Actor, username: string, input: { name: string; publicKey: string }): Promise<SshKeyView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const user = await this.visibleUser(trx, actor, username);
      await requireRecentSignIn(trx, actor, this.deps.clock.now(), 'add an SSH key');
      await requireMayAdminister(trx, actor, user, this.deps.roles, 'add an SSH key for');
      const parsed = parseSshPublicKey(input.publicKey);
      if (!parsed.ok) throw errors.validation(`The public key cannot be used: ${parsed.problem}.`, [{ path: '/publicKey', message: parsed.problem }]);
      if (await findSshKeyByFingerprint(trx, user.id, parsed.key.fingerprint)) {
        throw errors.conflict(`This key (${parsed.key.fingerprint}) is already registered for ${username}.`);
      }
      const row: SshKeyRow = {
        id: randomUUID(),
        user_id: user.id,
        name: input.name.trim() || parsed.key.comment || parsed.key.algorithm,
        algorithm: parsed.key.algorithm,
        key_data: parsed.key.data,
        fingerprint: parsed.key.fingerprint,
        created_at: this.deps.clock.now(),
        added_by: actor.username,
      };
      await insertSshKey(trx, row);
      const byAdministrator = user.id !== actor.userId;
      await this.event(trx, actor, 'user.sshkey.add', username, { name: row.name, fingerprint: row.fingerprint, addedBy: actor.username, byAdministrator });
      return presentSshKey(row, user.username);
    });
  }

  async listSshKeys(actor: Actor, username: string): Promise<SshKeyView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const user = await this.visibleUser(trx, actor, username);
      return (await listSshKeys(trx, user.id)).map((row) => presentSshKey(row, user.username));
    });
  }

  /**
   * Removes an SSH key. Whoever held it may have signed in with it, so the user's web sessions end
   * and their API tokens are revoked (all but the caller's own, when users remove their own key);
   * removed by an administrator, the user's live sessions end too. Which key opened a live session
   * is not known, so it is all of them.
   */
  async removeSshKey(actor: Actor, username: string, keyId: string): Promise<void> {
    const user = await this.deps.db.transaction().execute(async (trx) => {
      const user = await this.visibleUser(trx, actor, username);
      await requireMayAdminister(trx, actor, user, this.deps.roles, 'remove an SSH key of');
      const key = await findSshKey(trx, user.id, keyId);
      if (!key) throw errors.notFound('SSH key', keyId);
      await deleteSshKey(trx, key.id);
      await this.event(trx, actor, 'user.sshkey.remove', username, { name: key.name, fingerprint: key.fingerprint });
      await revokeSignIns(trx, user, { actor, cause: 'user.sshkey.remove', now: this.deps.clock.now(), ...this.keepFor(actor, user) });
      return user;
    });
    await this.endLiveSessions(actor, user, ENDED_BECAUSE.sshKey);
  }

  /** A user changing their own account keeps the session or token they do it with. */
  private keepFor(actor: Actor, user: User): { keep?: Actor['signIn'] } {
    return user.id === actor.userId && actor.signIn ? { keep: actor.signIn } : {};
  }

  /** After an administrator's security change commits: the user's running sessions end, telling them why. */
  private async endLiveSessions(actor: Actor, user: User, reason: string): Promise<void> {
    if (user.id !== actor.userId) await this.deps.live.end({ userId: user.id }, { by: actor.username, reason });
  }

  /** The user themself, or anyone for a `User.Admin`; otherwise "not found", so names are not probed. */
  private async visibleUser(trx: Tx, actor: Actor, username: string): Promise<User> {
    if (username !== actor.username && !(await hasPrivilege(trx, actor, 'User.Admin', SYSTEM))) throw errors.notFound('user', username);
    return this.existingUser(trx, username);
  }

  private async profile(trx: Tx, id: string): Promise<UserProfile> {
    const profile = await findUserProfile(trx, id);
    if (!profile) throw errors.notFound('user', id);
    return profile;
  }

  private async reread(trx: Tx, id: string): Promise<User> {
    const row = await findUserById(trx, id);
    if (!row) throw errors.notFound('user', id);
    return row;
  }

  private async existingUser(trx: Tx, username: string): Promise<User> {
    const user = await findUserByName(trx, username);
    if (!user) throw errors.notFound('user', username);
    return user;
  }

  private async writePassword(trx: Tx, actor: Actor, user: User, password: string, action: string): Promise<void> {
    const weak = passwordProblem(password);
    if (weak) throw errors.validation(`The new password ${weak}.`, [{ path: '/password', message: weak }]);
    const now = this.deps.clock.now();
    await updateUser(trx, user.id, { password_hash: await hashPassword(password), updated_at: now, updated_by: actor.username });
    // A new password lifts the locks of every address: whoever failed, failed with the old one.
    await liftSignInLocks(trx, user.id);
    await this.event(trx, actor, action, user.username);
    await revokeSignIns(trx, user, { actor, cause: action, now, ...this.keepFor(actor, user) });
  }

  private async event(trx: Tx, actor: Actor, action: string, username: string, data: Record<string, unknown> = {}): Promise<void> {
    await appendEvent(trx, { actor: actor.username, action, subject: `user:${username}`, data, time: this.deps.clock.now() });
  }
}
