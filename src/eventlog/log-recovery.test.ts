import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { ManualClock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { CheckpointPublisher } from './checkpoint-publisher.ts';
import { capturedLogger } from './checkpoint.test-kit.ts';
import { verifyAgainstCheckpoint } from './checkpoint-verify.ts';
import { appendEvent } from './event-append.ts';
import { formatKeyId, generateSigningKey, type SigningKey } from './signed-note.ts';
import { StoredTreeHead } from './tree-head.ts';

/**
 * docs/evidence.md, "When the log's last entries were deleted": what an operator sees after the
 * last entries were deleted from the database, and the restore of the tail from a backup that
 * the page describes, step by step.
 */
describe.each(DATABASE_KINDS)("the log's last entries deleted, then restored from a backup, on %s", (kind) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });

  it('fails appends and signing closed, names the deleted entries, and resumes once the same entries are put back', async () => {
    database = await openTestDatabase(kind);
    const { db } = database;
    const key = generateSigningKey('changegate.test/recovery');
    const { logger, text } = capturedLogger();
    const publisher = new CheckpointPublisher({
      db,
      clock: new ManualClock(),
      treeHead: new StoredTreeHead(db),
      signingKey: { origin: key.name, key, keyId: formatKeyId(key.keyId) },
      intervalSeconds: 5,
      sinks: [],
      logger,
    });
    const append = (subject: string) => db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.recovery', subject, time: new Date() }));
    for (let i = 1; i <= 12; i += 1) await append(`item:${i}`);
    // The checkpoint kept elsewhere (the checkpoint directory, a witness, an auditor's copy).
    const kept = (await publisher.signNow())!;
    expect(kept.size).toBe(12);
    // The nightly backup holds the whole log.
    const backup = await db.selectFrom('event').selectAll().where('seq', '>', 9).orderBy('seq').execute();

    // Entries 10–12 deleted by someone who can switch the table's triggers off.
    await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(db);
    await sql`DELETE FROM event WHERE seq > 9`.execute(db);
    await sql`ALTER TABLE event ENABLE TRIGGER event_append_only`.execute(db);

    // What the operator sees: every action that logs fails (entry 10 completes the subtree over 9–10, still stored)…
    await expect(append('after-the-deletion')).rejects.toThrow(/Entry 10 is not appended: the event log's Merkle tree already holds a different hash for a subtree it completes \(over entries 9–10\)/);
    // …the server signs nothing more, and says why…
    expect(await publisher.signNow()).toBeUndefined();
    expect(text()).toContain('the event log has 9 entries but checkpoint 12 was signed: entries were removed (or an older backup restored); no checkpoint is signed until this is resolved (docs/evidence.md');
    expect(text()).toContain("When the log's last entries were deleted");
    // …and `changegate verify --checkpoint` with the checkpoint kept elsewhere names what is missing.
    const verify = () => verifyAgainstCheckpoint(db, { note: kept.note, key, keySource: 'given', logOrigin: key.name });
    expect(await verify()).toMatchObject({ ok: false, storedSize: 9, failure: { kind: 'truncated', seq: 10, toSeq: 12 } });

    // The restore: the missing rows copied back from the backup as they were (a plain INSERT, which the table allows).
    await db
      .insertInto('event')
      .values(backup.map((row) => ({ ...row, data: JSON.stringify(row.data) as unknown as Record<string, unknown> })))
      .execute();
    expect(await verify()).toMatchObject({ ok: true });
    // Appends and signing go on where they stopped.
    expect((await append('after-the-restore')).seq).toBe(13);
    expect((await publisher.signNow())?.size).toBe(13);
  });
  it('goes on under a new key, once the subtree hashes of entries no backup holds are removed; the old checkpoints up to the loss still verify', async () => {
    database = await openTestDatabase(kind);
    const { db } = database;
    const origin = 'changegate.test/recovery';
    const publisherWith = (key: SigningKey, logger?: Logger) =>
      new CheckpointPublisher({ db, clock: new ManualClock(), treeHead: new StoredTreeHead(db), signingKey: { origin, key, keyId: formatKeyId(key.keyId) }, intervalSeconds: 5, sinks: [], logger });
    const append = (subject: string) => db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.recovery', subject, time: new Date() }));
    const oldKey = generateSigningKey(origin);
    const old = publisherWith(oldKey);
    for (let i = 1; i <= 7; i += 1) await append(`item:${i}`);
    const beforeLoss = (await old.signNow())!;
    for (let i = 8; i <= 12; i += 1) await append(`item:${i}`);
    const lost = (await old.signNow())!;
    await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(db);
    await sql`DELETE FROM event WHERE seq > 9`.execute(db);
    await sql`ALTER TABLE event ENABLE TRIGGER event_append_only`.execute(db);
    await expect(append('refused')).rejects.toThrow(/Entry 10 is not appended/);

    // docs/evidence.md, "If the entries are truly gone": the subtree hashes of the lost entries removed, in one transaction…
    await db.transaction().execute(async (trx) => {
      await sql`ALTER TABLE event_tree_node DISABLE TRIGGER event_tree_node_append_only`.execute(trx);
      await sql`DELETE FROM event_tree_node WHERE ((idx + 1) << level) > (SELECT coalesce(max(seq), 0) FROM event)`.execute(trx);
      await sql`ALTER TABLE event_tree_node ENABLE TRIGGER event_tree_node_append_only`.execute(trx);
    });
    // …then a new key for the same origin.
    const newKey = generateSigningKey(origin);
    const { logger, text } = capturedLogger();
    const resumed = publisherWith(newKey, logger);
    expect((await append('after-the-break')).seq).toBe(10);
    const first = (await resumed.signNow())!;
    expect(first.size).toBeGreaterThan(10);
    expect(await verifyAgainstCheckpoint(db, { note: first.note, key: newKey, keySource: 'given', logOrigin: origin })).toMatchObject({ ok: true });
    // The old key's checkpoints are ignored, and said to be another key's.
    expect(text()).toContain(`a row of the checkpoint table is not this log's and is ignored: checkpoint ${lost.size} carries no signature of this log's key`);
    // An auditor's checkpoint from before the loss still verifies, with the old key; the one of the lost entries does not.
    expect(await verifyAgainstCheckpoint(db, { note: beforeLoss.note, key: oldKey, keySource: 'given', logOrigin: origin })).toMatchObject({ ok: true });
    expect(await verifyAgainstCheckpoint(db, { note: lost.note, key: oldKey, keySource: 'given', logOrigin: origin })).toMatchObject({ ok: false });
    // The old key signs nothing more over this log: it would contradict its checkpoint of 12.
    await append('later');
    expect(await old.signNow()).toBeUndefined();
  });
});
