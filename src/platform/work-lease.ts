import type { Executor } from './database.ts';

/**
 * Claims the lease on a piece of work for `holder` until `ttlMs` from `now`: it is taken when no
 * one holds it, renewed when `holder` already does, and taken over once the other holder's lease
 * has expired. One statement (INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING): PostgreSQL
 * locks the row for the update and re-checks the condition on the row another claim just wrote,
 * so of two instances claiming at once exactly one gets it. Returns whether `holder` holds it now.
 *
 * ```ts
 * if (await claimLease(db, 'request-expiry', instanceId, 60_000, clock.now())) await requests.expireDue();
 * ```
 */
export async function claimLease(db: Executor, name: string, holder: string, ttlMs: number, now: Date): Promise<boolean> {
  const row = await db
    .insertInto('work_lease')
    .values({ name, holder, expires_at: new Date(now.getTime() + ttlMs) })
    .onConflict((conflict) =>
      conflict
        .column('name')
        .doUpdateSet((eb) => ({ holder: eb.ref('excluded.holder'), expires_at: eb.ref('excluded.expires_at') }))
        .where((eb) => eb.or([eb('work_lease.holder', '=', holder), eb('work_lease.expires_at', '<=', now)])),
    )
    .returning('holder')
    .executeTakeFirst();
  return row !== undefined;
}

/** Gives up `holder`'s leases (a clean stop): another instance takes the work on its next pass, not after the lease runs out. */
export async function releaseLeases(db: Executor, holder: string): Promise<void> {
  await db.deleteFrom('work_lease').where('holder', '=', holder).execute();
}

/** Who holds a lease now, if anyone does (expired leases count as none). */
export async function leaseHolder(db: Executor, name: string, now: Date): Promise<string | undefined> {
  const row = await db.selectFrom('work_lease').select('holder').where('name', '=', name).where('expires_at', '>', now).executeTakeFirst();
  return row?.holder;
}
