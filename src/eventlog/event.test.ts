import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { appendEvent } from './event-append.ts';
import { canonicalEntry, GENESIS_CHAIN_HASH, hashEntry, leafHash } from './event.ts';
import { verifyEventLog } from './event-verify.ts';

const at = (iso: string) => new Date(iso);

describe('event hashing', () => {
  const entry = { seq: 1, time: at('2026-11-21T12:00:00.123Z'), actor: 'alice', action: 'user.create', subject: 'user:bob', data: { b: 2, a: [1, 'x'] } };

  it('hashes the RFC 8785 canonical form: sorted keys, no white space', () => {
    expect(canonicalEntry(entry)).toBe(
      '{"action":"user.create","actor":"alice","data":{"a":[1,"x"],"b":2},"seq":1,"subject":"user:bob","time":"2026-11-21T12:00:00.123Z"}',
    );
  });

  it('computes the leaf hash as SHA-256 of 0x00 and the entry (RFC 9162)', async () => {
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(canonicalEntry(entry))])).digest('hex');
    expect(leafHash(entry)).toBe(expected);
  });

  it('gives a different chain hash when anything in the entry changes', () => {
    const original = hashEntry(entry, GENESIS_CHAIN_HASH);
    const edited = hashEntry({ ...entry, data: { ...entry.data, b: 3 } }, GENESIS_CHAIN_HASH);
    expect(edited.leafHash).not.toBe(original.leafHash);
    expect(edited.chainHash).not.toBe(original.chainHash);
  });
});

describe.each(DATABASE_KINDS)('the event log on %s', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const { db } = database;
    for (let i = 1; i <= 5; i += 1) {
      await db.transaction().execute((trx) =>
        appendEvent(trx, { actor: 'alice', action: 'test.append', subject: `item:${i}`, data: { i, note: `entry ${i}` }, time: at(`2026-11-21T12:00:0${i}.5Z`) }),
      );
    }
  });
  afterAll(() => database.close());

  it('numbers entries without gaps and verifies them all', async () => {
    const report = await verifyEventLog(database.db);
    expect(report).toMatchObject({ ok: true, verified: 5, headSeq: 5 });
  });

  it('writes nothing when the transaction that appended rolls back', async () => {
    await expect(
      database.db.transaction().execute(async (trx) => {
        await appendEvent(trx, { actor: 'alice', action: 'test.rollback', subject: 'item:x', time: new Date() });
        throw new Error('the use case failed');
      }),
    ).rejects.toThrow('the use case failed');
    const rows = await database.db.selectFrom('event').select('seq').where('action', '=', 'test.rollback').execute();
    expect(rows).toHaveLength(0);
    expect((await verifyEventLog(database.db)).ok).toBe(true);
  });

  it('serializes concurrent appends into one unbroken chain', async () => {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        database.db.transaction().execute((trx) => appendEvent(trx, { actor: 'bob', action: 'test.concurrent', subject: `c:${i}`, time: new Date() })),
      ),
    );
    const report = await verifyEventLog(database.db);
    expect(report).toMatchObject({ ok: true, verified: 13 });
  });

  it('verifies in ranges, each continuing from the head of the last, exactly as in one walk', async () => {
    const whole = await verifyEventLog(database.db);
    const seen: number[] = [];
    let range = await verifyEventLog(database.db, undefined, { afterSeq: 0, chainHash: GENESIS_CHAIN_HASH, limit: 4 });
    for (;;) {
      expect(range.ok).toBe(true);
      seen.push(range.headSeq);
      if (range.complete) break;
      expect(range.verified).toBe(4);
      range = await verifyEventLog(database.db, undefined, { afterSeq: range.headSeq, chainHash: range.headChainHash, limit: 4 });
    }
    expect(seen).toEqual([4, 8, 12, 13]);
    expect(seen.at(-1)).toBe(whole.headSeq);
    expect(range.headChainHash).toBe(whole.headChainHash);
    expect(whole.complete).toBe(true);
    // A range that starts from a chain hash no range reported breaks at its first entry.
    const forged = await verifyEventLog(database.db, undefined, { afterSeq: 4, chainHash: 'f'.repeat(64), limit: 4 });
    expect(forged).toMatchObject({ ok: false, complete: false, verified: 0, failure: { kind: 'chain_broken', seq: 5 } });
  });

  it('refuses UPDATE, DELETE and TRUNCATE through its trigger', async () => {
    await expect(sql`UPDATE event SET actor = 'mallory' WHERE seq = 2`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM event WHERE seq = 2`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE event`.execute(database.db)).rejects.toThrow(/append-only/);
  });

  it('names the first entry edited directly in the database, past the trigger', async () => {
    // What someone with superuser access to the database could do.
    await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(database.db);
    try {
      await sql`UPDATE event SET data = '{"i": 3, "note": "quietly rewritten"}' WHERE seq = 3`.execute(database.db);
    } finally {
      await sql`ALTER TABLE event ENABLE TRIGGER event_append_only`.execute(database.db);
    }
    const report = await verifyEventLog(database.db);
    expect(report.ok).toBe(false);
    expect(report.verified).toBe(2);
    expect(report.failure).toMatchObject({ seq: 3, kind: 'edited' });
    expect(report.failure?.message).toContain('Entry 3');
  });
});

describe.each(DATABASE_KINDS)('tampering the event log on %s', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    for (let i = 1; i <= 4; i += 1) {
      await database.db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.append', subject: `item:${i}`, time: new Date() }));
    }
    await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(database.db);
  });
  afterAll(() => database.close());

  it('names an entry whose leaf hash was recomputed but that no longer links to the one before', async () => {
    const rows = await database.db.selectFrom('event').selectAll().where('seq', '=', 4).execute();
    const row = rows[0]!;
    const forged = { seq: 4, time: row.time, actor: 'mallory', action: row.action, subject: row.subject, data: row.data };
    await sql`UPDATE event SET actor = 'mallory', leaf_hash = ${leafHash(forged)} WHERE seq = 4`.execute(database.db);
    const report = await verifyEventLog(database.db);
    expect(report.failure).toMatchObject({ seq: 4, kind: 'chain_broken' });
  });

  it('names a deleted entry', async () => {
    await sql`DELETE FROM event WHERE seq = 2`.execute(database.db);
    const report = await verifyEventLog(database.db);
    expect(report.failure).toMatchObject({ seq: 2, kind: 'deleted' });
  });
});

describe('the canonical form of an entry', () => {
  it('is RFC 8785 canonicalization of the whole entry, for any entry', async () => {
    const fc = (await import('fast-check')).default;
    const canonicalizeWhole = (await import('canonicalize')).default as unknown as (input: unknown) => string;
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          time: fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0, 1)), noInvalidDate: true }),
          actor: fc.string({ unit: 'binary' }),
          action: fc.string({ unit: 'binary' }),
          subject: fc.string({ unit: 'binary' }),
          data: fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()),
        }),
        (entry) => {
          const whole = canonicalizeWhole({ ...entry, time: entry.time.toISOString() });
          expect(canonicalEntry(entry)).toBe(whole);
        },
      ),
      { numRuns: 500 },
    );
  });
});
