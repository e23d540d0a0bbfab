import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { claimLease, leaseHolder, releaseLeases } from './work-lease.ts';

describe.each(DATABASE_KINDS)('work leases on %s', (kind) => {
  let database: TestDatabase;
  const at = (seconds: number) => new Date(Date.UTC(2026, 10, 21, 12, 0, seconds));

  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });

  afterAll(async () => {
    await database?.close();
  });

  it('gives a free lease to the first holder and refuses it to a second while it runs', async () => {
    expect(await claimLease(database.db, 'request-expiry', 'instance-a', 10_000, at(0))).toBe(true);
    expect(await claimLease(database.db, 'request-expiry', 'instance-b', 10_000, at(5))).toBe(false);
    expect(await leaseHolder(database.db, 'request-expiry', at(5))).toBe('instance-a');
  });

  it('renews the lease for its holder, which keeps it past the first expiry', async () => {
    expect(await claimLease(database.db, 'request-expiry', 'instance-a', 10_000, at(8))).toBe(true);
    // The first claim ran until 0:10; the renewal until 0:18.
    expect(await claimLease(database.db, 'request-expiry', 'instance-b', 10_000, at(12))).toBe(false);
    expect(await leaseHolder(database.db, 'request-expiry', at(12))).toBe('instance-a');
  });

  it('hands an expired lease to the next holder, and then refuses the old one', async () => {
    expect(await claimLease(database.db, 'request-expiry', 'instance-b', 10_000, at(18))).toBe(true);
    expect(await claimLease(database.db, 'request-expiry', 'instance-a', 10_000, at(19))).toBe(false);
    expect(await leaseHolder(database.db, 'request-expiry', at(19))).toBe('instance-b');
  });

  it('gives each piece of work its own lease', async () => {
    expect(await claimLease(database.db, 'session-takeover', 'instance-a', 10_000, at(19))).toBe(true);
    expect(await leaseHolder(database.db, 'request-expiry', at(19))).toBe('instance-b');
  });

  it('gives exactly one of many holders claiming at once the lease', async () => {
    const holders = Array.from({ length: 8 }, (_, index) => `instance-${index}`);
    const won = await Promise.all(holders.map((holder) => claimLease(database.db, 'checkpoint-signing', holder, 10_000, at(30))));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await leaseHolder(database.db, 'checkpoint-signing', at(30))).toBe(holders[won.indexOf(true)]);
  });

  it('frees the leases of a holder that stops, for the next claim at once', async () => {
    await releaseLeases(database.db, 'instance-b');
    expect(await leaseHolder(database.db, 'request-expiry', at(20))).toBeUndefined();
    expect(await claimLease(database.db, 'request-expiry', 'instance-a', 10_000, at(20))).toBe(true);
    expect(await leaseHolder(database.db, 'session-takeover', at(20))).toBe('instance-a');
  });
});
