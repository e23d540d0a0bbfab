import type { Selectable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { ApiTokenTable, SshPublicKeyTable, WebSessionTable } from '../platform/database-schema.ts';

/** The stores for what a user signs in with: web sessions, API tokens and SSH public keys. */
export type WebSessionRow = Selectable<WebSessionTable>;
export type ApiTokenRow = Selectable<ApiTokenTable>;
export type SshKeyRow = Selectable<SshPublicKeyTable>;

export async function insertWebSession(db: Executor, row: WebSessionRow): Promise<void> {
  await db.insertInto('web_session').values(row).execute();
}

export async function findWebSession(db: Executor, tokenHash: string): Promise<WebSessionRow | undefined> {
  return db.selectFrom('web_session').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function touchWebSession(db: Executor, id: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
  await db.updateTable('web_session').set({ last_seen_at: lastSeenAt, expires_at: expiresAt }).where('id', '=', id).execute();
}

export async function deleteWebSession(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('web_session').where('id', '=', id).execute();
}

export async function findWebSessionById(db: Executor, id: string): Promise<WebSessionRow | undefined> {
  return db.selectFrom('web_session').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Ends a user's web sessions, but for `exceptId` (the one making a change to its own account); returns how many. */
export async function deleteWebSessionsOf(db: Executor, userId: string, exceptId?: string): Promise<number> {
  let query = db.deleteFrom('web_session').where('user_id', '=', userId);
  if (exceptId !== undefined) query = query.where('id', '<>', exceptId);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Records that a session proved the password again (and the TOTP code when `secondFactor`). */
export async function markWebSessionAuthenticated(db: Executor, id: string, at: Date, secondFactor: boolean): Promise<void> {
  await db.updateTable('web_session').set({ authenticated_at: at, second_factor: secondFactor }).where('id', '=', id).execute();
}

/** A session that just enrolled TOTP proved the second factor with the confirming code. */
export async function markWebSessionSecondFactor(db: Executor, id: string): Promise<void> {
  await db.updateTable('web_session').set({ second_factor: true }).where('id', '=', id).execute();
}

export async function deleteExpiredWebSessions(db: Executor, now: Date): Promise<number> {
  const result = await db.deleteFrom('web_session').where('expires_at', '<', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function insertApiToken(db: Executor, row: ApiTokenRow): Promise<void> {
  await db.insertInto('api_token').values(row).execute();
}

export async function findApiTokenByHash(db: Executor, tokenHash: string): Promise<ApiTokenRow | undefined> {
  return db.selectFrom('api_token').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
}

export async function findApiToken(db: Executor, id: string): Promise<ApiTokenRow | undefined> {
  return db.selectFrom('api_token').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listApiTokens(db: Executor, userId: string): Promise<ApiTokenRow[]> {
  return db.selectFrom('api_token').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').execute();
}

export async function revokeApiToken(db: Executor, id: string, at: Date): Promise<void> {
  await db.updateTable('api_token').set({ revoked_at: at }).where('id', '=', id).execute();
}

/** Revokes every live token of a user, but for `exceptId`; returns the revoked ones. */
export async function revokeApiTokensOf(db: Executor, userId: string, at: Date, exceptId?: string): Promise<ApiTokenRow[]> {
  let query = db.updateTable('api_token').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null);
  if (exceptId !== undefined) query = query.where('id', '<>', exceptId);
  return query.returningAll().execute();
}

export async function markApiTokenUsed(db: Executor, id: string, at: Date): Promise<void> {
  await db.updateTable('api_token').set({ last_used_at: at }).where('id', '=', id).execute();
}

export async function insertSshKey(db: Executor, row: SshKeyRow): Promise<void> {
  await db.insertInto('ssh_public_key').values(row).execute();
}

export async function listSshKeys(db: Executor, userId: string): Promise<SshKeyRow[]> {
  return db.selectFrom('ssh_public_key').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
}

export async function findSshKey(db: Executor, userId: string, id: string): Promise<SshKeyRow | undefined> {
  return db.selectFrom('ssh_public_key').selectAll().where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
}

export async function findSshKeyByFingerprint(db: Executor, userId: string, fingerprint: string): Promise<SshKeyRow | undefined> {
  return db.selectFrom('ssh_public_key').selectAll().where('user_id', '=', userId).where('fingerprint', '=', fingerprint).executeTakeFirst();
}

export async function deleteSshKey(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('ssh_public_key').where('id', '=', id).execute();
}
