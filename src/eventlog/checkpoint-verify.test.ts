import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { systemClock } from '../platform/clock.ts';
import type { Tx } from '../platform/database.ts';
import { formatCheckpoint, parseCheckpoint } from './checkpoint.ts';
import { CheckpointPublisher } from './checkpoint-publisher.ts';
import { verifyAgainstCheckpoint, type CheckpointVerifyReport } from './checkpoint-verify.ts';
import { appendEvent } from './event-append.ts';
import { GENESIS_CHAIN_HASH, hashEntry, leafHash } from './event.ts';
import { verifyEventLog } from './event-verify.ts';
import { formatKeyId, generateSigningKey, parseNote, signNote, verifierOf, type VerifierKey } from './signed-note.ts';
import { StoredTreeHead } from './tree-head.ts';

const ORIGIN = 'changegate.test/verify';
const ENTRIES = 40;
const SAMPLE_ROWS = [1, 2, 17, 31, 40];

/** Varied entries: nested data, arrays, numbers, Unicode, empty data. */
const sampleData = (i: number): Record<string, unknown> =>
  [
    {},
    { i, note: `entry ${i}` },
    { nested: { list: [i, i * 1.5, 'x', null, true], emoji: 'änderung ✓' } },
    { score: i / 7, outcome: i % 2 === 0 ? 'complete' : 'incomplete' },
  ][i % 4] as Record<string, unknown>;

class Rollback extends Error {}

describe.each(DATABASE_KINDS)('verifying the event log against a checkpoint on %s', (kind) => {
  let database: TestDatabase;
  const signingKey = generateSigningKey(ORIGIN);
  const key = verifierOf(signingKey);
  let saved: string;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    const { db } = database;
    // The log signs a checkpoint as it grows, as a serving instance does every few seconds; here after every entry.
    const publisher = new CheckpointPublisher({
      db,
      clock: systemClock,
      treeHead: new StoredTreeHead(db),
      signingKey: { origin: ORIGIN, key: signingKey, keyId: formatKeyId(signingKey.keyId) },
      intervalSeconds: 5,
      sinks: [],
    });
    for (let i = 1; i <= ENTRIES; i += 1) {
      await db.transaction().execute((trx) =>
        appendEvent(trx, { actor: ['alice', 'bob', 'system'][i % 3] as string, action: ['user.update', 'change.approve', 'session.end'][i % 3] as string, subject: `object:${i}`, data: sampleData(i), time: new Date(Date.UTC(2026, 10, 21, 12, 0, i, i)) }),
      );
      await publisher.signNow();
    }
    // What an auditor saved with `changegate log checkpoint > cp.txt`.
    const latest = await db.selectFrom('checkpoint').select('note').where('tree_size', '=', ENTRIES).executeTakeFirstOrThrow();
    saved = latest.note;
  });
  afterAll(() => database.close());

  /**
   * Tampers as someone with database access would, past the append-only triggers, verifies, and
   * rolls everything back (the triggers' state too), so each case starts from the same log.
   */
  async function afterTampering(tamper: (trx: Tx) => Promise<void>, options: { note?: string; key?: VerifierKey } = {}): Promise<{ report: CheckpointVerifyReport; chainOnly: Awaited<ReturnType<typeof verifyEventLog>> }> {
    let result: { report: CheckpointVerifyReport; chainOnly: Awaited<ReturnType<typeof verifyEventLog>> } | undefined;
    await database.db
      .transaction()
      .execute(async (trx) => {
        await sql`ALTER TABLE event DISABLE TRIGGER USER`.execute(trx);
        await sql`ALTER TABLE event_tree_node DISABLE TRIGGER USER`.execute(trx);
        await tamper(trx);
        result = {
          report: await verifyAgainstCheckpoint(trx, { note: options.note ?? saved, key: options.key ?? key, keySource: 'given', logOrigin: ORIGIN }),
          chainOnly: await verifyEventLog(trx),
        };
        throw new Rollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof Rollback)) throw error;
      });
    if (!result) throw new Error('the verification did not run');
    return result;
  }

  /** Rewrites history from entry `from` on as a careful attacker would: content, then every leaf and chain hash, then (optionally) the tree. */
  async function rewriteFrom(trx: Tx, from: number, options: { tree: boolean; dropCheckpoints?: boolean }): Promise<void> {
    const previous = await trx.selectFrom('event').select('chain_hash').where('seq', '=', from - 1).executeTakeFirst();
    let chain = previous?.chain_hash ?? GENESIS_CHAIN_HASH;
    const rows = await trx.selectFrom('event').selectAll().where('seq', '>=', from).orderBy('seq').execute();
    for (const row of rows) {
      const entry = { seq: Number(row.seq), time: row.time, actor: row.seq === from ? 'mallory' : row.actor, action: row.action, subject: row.subject, data: row.data };
      const hashed = hashEntry(entry, chain);
      chain = hashed.chainHash;
      await sql`UPDATE event SET actor = ${entry.actor}, leaf_hash = ${hashed.leafHash}, chain_hash = ${hashed.chainHash} WHERE seq = ${entry.seq}`.execute(trx);
    }
    if (options.tree) {
      await sql`DELETE FROM event_tree_node`.execute(trx);
      await sql`SELECT event_tree_build()`.execute(trx);
    }
    if (options.dropCheckpoints) {
      await sql`ALTER TABLE checkpoint DISABLE TRIGGER USER`.execute(trx);
      await sql`ALTER TABLE checkpoint_cosignature DISABLE TRIGGER USER`.execute(trx);
      await sql`DELETE FROM checkpoint_cosignature`.execute(trx);
      await sql`DELETE FROM checkpoint`.execute(trx);
    }
  }

  it('verifies the untouched log, naming what it checked', async () => {
    const report = await verifyAgainstCheckpoint(database.db, { note: saved, key, keySource: 'given', logOrigin: ORIGIN });
    const checkpoint = parseCheckpoint(parseNote(saved).text);
    expect(report).toMatchObject({
      ok: true,
      forked: false,
      verified: ENTRIES,
      storedSize: ENTRIES,
      checkpoint: { origin: ORIGIN, size: ENTRIES, rootHash: checkpoint.rootHash.toString('base64') },
      storedRoot: checkpoint.rootHash.toString('base64'),
      computedRoot: checkpoint.rootHash.toString('base64'),
      key: { keyId: formatKeyId(key.keyId), source: 'given' },
    });
    expect(report.failure).toBeUndefined();
  });

  const columns: Array<[string, (seq: number) => ReturnType<typeof sql>, 'edited' | 'chain_broken']> = [
    ['time', (seq) => sql`UPDATE event SET time = time + interval '1 second' WHERE seq = ${seq}`, 'edited'],
    ['actor', (seq) => sql`UPDATE event SET actor = 'mallory' WHERE seq = ${seq}`, 'edited'],
    ['action', (seq) => sql`UPDATE event SET action = 'nothing.happened' WHERE seq = ${seq}`, 'edited'],
    ['subject', (seq) => sql`UPDATE event SET subject = 'object:elsewhere' WHERE seq = ${seq}`, 'edited'],
    ['data', (seq) => sql`UPDATE event SET data = data || '{"approved": false}'::jsonb WHERE seq = ${seq}`, 'edited'],
    ['leaf_hash', (seq) => sql`UPDATE event SET leaf_hash = ${leafHash({ seq, time: new Date(0), actor: 'x', action: 'x', subject: 'x', data: {} })} WHERE seq = ${seq}`, 'edited'],
    ['chain_hash', (seq) => sql`UPDATE event SET chain_hash = ${'ab'.repeat(32)} WHERE seq = ${seq}`, 'chain_broken'],
  ];
  for (const [column, edit, expected] of columns) {
    it(`names the first edited row when ${column} is changed`, async () => {
      for (const seq of SAMPLE_ROWS) {
        const { report } = await afterTampering(async (trx) => {
          await edit(seq).execute(trx);
          // A second row edited further on: the first is the one named.
          if (seq < ENTRIES) await edit(ENTRIES).execute(trx);
        });
        expect(report.ok, `${column} of entry ${seq}`).toBe(false);
        expect(report.failure, `${column} of entry ${seq}`).toMatchObject({ kind: expected, seq });
        expect(report.failure?.message).toContain(`Entry ${seq} `);
        expect(report.verified).toBe(seq - 1);
      }
    });
  }

  it('catches entries deleted at the end, which the chain alone cannot see', async () => {
    const { report, chainOnly } = await afterTampering(async (trx) => {
      await sql`DELETE FROM event WHERE seq > 30`.execute(trx);
    });
    // The chain of what is left is intact: today's `changegate verify` says all is well.
    expect(chainOnly).toMatchObject({ ok: true, verified: 30 });
    expect(report).toMatchObject({ ok: false, storedSize: 30, failure: { kind: 'truncated', seq: 31, toSeq: ENTRIES } });
    expect(report.failure?.message).toBe(`The log holds 30 entries, but the checkpoint saw ${ENTRIES}: entries 31–${ENTRIES} were deleted from its end.`);
  });

  it('names an entry deleted from the middle', async () => {
    const { report } = await afterTampering(async (trx) => {
      await sql`DELETE FROM event WHERE seq = 17`.execute(trx);
    });
    expect(report).toMatchObject({ ok: false, verified: 16, failure: { kind: 'deleted', seq: 17 } });
    expect(report.failure?.message).toBe('Entry 17 was deleted: the next stored entry is 18.');
  });

  it('names where a history rewritten with every hash and the whole tree recomputed begins, from the checkpoints the log signed', async () => {
    const { report, chainOnly } = await afterTampering((trx) => rewriteFrom(trx, 23, { tree: true }));
    expect(chainOnly.ok).toBe(true);
    expect(report).toMatchObject({ ok: false, forked: true, verified: 22, narrowedBy: [22, 23], failure: { kind: 'rewritten', seq: 23 } });
    expect(report.failure?.toSeq).toBeUndefined();
    expect(report.failure?.message).toMatch(/^The history forked: the stored tree's root at 40 entries is \S+, the checkpoint's is \S+\. The history was rewritten: entry 23 is the first that differs\./);
  });

  it('names the rewritten entry from the stored tree, when the rewriter left the tree alone', async () => {
    const { report } = await afterTampering((trx) => rewriteFrom(trx, 23, { tree: false }));
    // The stored tree still gives the signed root: only recomputing from the entries shows the rewrite.
    expect(report).toMatchObject({ ok: false, forked: false, failure: { kind: 'rewritten', seq: 23 } });
  });

  it('bounds a rewrite when the log\'s own checkpoints were deleted too', async () => {
    const untouchedTree = await afterTampering((trx) => rewriteFrom(trx, 23, { tree: false, dropCheckpoints: true }));
    // Entries 23 and 24 share the lowest stored subtree, which no longer matches.
    expect(untouchedTree.report.failure).toMatchObject({ kind: 'rewritten', seq: 23, toSeq: 24 });
    const everything = await afterTampering((trx) => rewriteFrom(trx, 23, { tree: true, dropCheckpoints: true }));
    expect(everything.report).toMatchObject({ forked: true, narrowedBy: [], failure: { kind: 'rewritten', seq: 1, toSeq: ENTRIES } });
    expect(everything.report.failure?.message).toContain(`the first entry that differs is one of 1–${ENTRIES}`);
  });

  it('names a stored subtree hash that was altered while the entries were not', async () => {
    const { report } = await afterTampering(async (trx) => {
      await sql`UPDATE event_tree_node SET hash = ${'cd'.repeat(32)} WHERE level = 2 AND idx = 3`.execute(trx);
    });
    expect(report).toMatchObject({ ok: false, forked: false, failure: { kind: 'tree_altered', seq: 13, toSeq: 16 } });
  });

  it('refuses a checkpoint signed by another key, or edited, before reading the log', async () => {
    const stranger = generateSigningKey(ORIGIN);
    const text = formatCheckpoint({ origin: ORIGIN, size: 30, rootHash: parseCheckpoint(parseNote(saved).text).rootHash, extensions: [] });
    const forged = signNote(text, stranger);
    const edited = saved.replace(`\n${ENTRIES}\n`, '\n30\n');
    // The log is tampered with too: the checkpoint is what is refused, first.
    const truncate = async (trx: Tx) => {
      await sql`DELETE FROM event WHERE seq > 10`.execute(trx);
    };
    const other = await afterTampering(truncate, { note: forged });
    expect(other.report).toMatchObject({ ok: false, verified: 0, failure: { kind: 'unknown_key' } });
    expect(other.report.failure?.message).toContain(`carries no signature of ${ORIGIN}+${formatKeyId(key.keyId)}`);
    expect(other.report.storedSize).toBeUndefined();
    const changed = await afterTampering(truncate, { note: edited });
    expect(changed.report).toMatchObject({ ok: false, failure: { kind: 'invalid_signature' } });
    const garbled = await afterTampering(truncate, { note: 'not a checkpoint' });
    expect(garbled.report).toMatchObject({ ok: false, failure: { kind: 'malformed_checkpoint' } });
    // A key of the right log is asked for: one of another origin does not verify this note.
    const elsewhere = await afterTampering(truncate, { key: verifierOf(generateSigningKey('elsewhere.example')) });
    expect(elsewhere.report.failure?.kind).toBe('unknown_key');
  });

  it('refuses a checkpoint of another log, verified with that log\'s key, as of the wrong origin rather than a rewrite', async () => {
    const elsewhere = generateSigningKey('elsewhere.example');
    // A genuine checkpoint of another log, of the same size as this one.
    const note = signNote(formatCheckpoint({ origin: 'elsewhere.example', size: ENTRIES, rootHash: Buffer.alloc(32, 7), extensions: [] }), elsewhere);
    const report = await verifyAgainstCheckpoint(database.db, { note, key: verifierOf(elsewhere), keySource: 'given', logOrigin: ORIGIN });
    expect(report).toMatchObject({ ok: false, verified: 0, failure: { kind: 'wrong_origin' } });
    expect(report.failure?.message).toContain(`it is of the log "elsewhere.example", but the log stored here is "${ORIGIN}"`);
    // This log's own checkpoint with the auditor's key still verifies.
    expect((await verifyAgainstCheckpoint(database.db, { note: saved, key, keySource: 'given', logOrigin: ORIGIN })).ok).toBe(true);
  });

  it('still verifies once every tampering above was rolled back', async () => {
    expect((await verifyAgainstCheckpoint(database.db, { note: saved, key, keySource: 'log', logOrigin: ORIGIN })).ok).toBe(true);
  });
});
