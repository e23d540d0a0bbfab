import type { Insertable, Selectable } from 'kysely';
import type { Executor } from '../platform/database.ts';
import type { OidcIdentityTable, OidcSignInTable } from '../platform/tables/identity-oidc.ts';

/** A sign-in under way: at the provider (`provider`), or back from it and owing a TOTP code (`totp`). */
export type OidcFlowRow = Selectable<OidcSignInTable>;
export type OidcIdentityRow = Selectable<OidcIdentityTable>;

export async function insertOidcFlow(db: Executor, row: Insertable<OidcSignInTable>): Promise<void> {
  await db.insertInto('oidc_sign_in').values(row).execute();
}

/**
 * Takes the flow of this hash, at this step, out of the table and answers it: the delete is the
 * claim, so of two callbacks with the same flow only one gets the row.
 */
export async function takeOidcFlow(db: Executor, flowHash: string, step: OidcFlowRow['step']): Promise<OidcFlowRow | undefined> {
  return db.deleteFrom('oidc_sign_in').where('flow_hash', '=', flowHash).where('step', '=', step).returningAll().executeTakeFirst();
}

/** The flow of this hash at this step, left in place (a TOTP step may be tried again until it expires). */
export async function findOidcFlow(db: Executor, flowHash: string, step: OidcFlowRow['step']): Promise<OidcFlowRow | undefined> {
  return db.selectFrom('oidc_sign_in').selectAll().where('flow_hash', '=', flowHash).where('step', '=', step).executeTakeFirst();
}

export async function deleteOidcFlow(db: Executor, flowHash: string): Promise<void> {
  await db.deleteFrom('oidc_sign_in').where('flow_hash', '=', flowHash).execute();
}

/** Sign-ins under way from one source (an address, or an IPv6 /64). */
export async function countPendingOidcFlows(db: Executor, source: string): Promise<number> {
  const row = await db.selectFrom('oidc_sign_in').select((eb) => eb.fn.countAll<string>().as('count')).where('source', '=', source).executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Forgets sign-ins abandoned at the provider or at the TOTP step. */
export async function deleteExpiredOidcFlows(db: Executor, now: Date): Promise<number> {
  const result = await db.deleteFrom('oidc_sign_in').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function findOidcIdentityOfUser(db: Executor, userId: string): Promise<OidcIdentityRow | undefined> {
  return db.selectFrom('oidc_identity').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

export async function findOidcIdentity(db: Executor, issuer: string, subject: string): Promise<OidcIdentityRow | undefined> {
  return db.selectFrom('oidc_identity').selectAll().where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
}

export async function insertOidcIdentity(db: Executor, row: OidcIdentityRow): Promise<void> {
  await db.insertInto('oidc_identity').values(row).execute();
}

export async function touchOidcIdentity(db: Executor, userId: string, now: Date): Promise<void> {
  await db.updateTable('oidc_identity').set({ last_sign_in_at: now }).where('user_id', '=', userId).execute();
}

/** Whether the user has signed in through an OpenID Connect provider. */
export async function isOidcUser(db: Executor, userId: string): Promise<boolean> {
  return (await findOidcIdentityOfUser(db, userId)) !== undefined;
}
