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

export async function deleteWebSessionsOf(db: Executor, userId: string): Promise<void> {
  await db.deleteFrom('web_session').where('user_id', '=', userId).execute();
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
