import { Writable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { ManualClock } from '../platform/clock.ts';
import type { Database } from '../platform/database.ts';
import { createLogger } from '../platform/logger.ts';
import { CheckpointPublisher } from './checkpoint-publisher.ts';
import { latestCheckpoint } from './checkpoint.store.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { appendEvent } from './event-append.ts';
import { rootOf } from './merkle.ts';
import { formatKeyId, generateSigningKey, verifierOf, verifyNote } from './signed-note.ts';
import { StoredTreeHead } from './tree-head.ts';

/**
 * Someone who can write to the database but does not hold the signing key plants or alters a
 * subtree hash in event_tree_node, hoping the server signs a root of their choosing.
 */
describe.each(DATABASE_KINDS)('a planted subtree hash on %s', (kind) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });

  const open = async () => {
    database = await openTestDatabase(kind);
    return database.db;
  };
  let count = 0;
  const append = async (db: Kysely<Database>, n: number) => {
    for (let i = 0; i < n; i += 1) {
      count += 1;
      await db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.tamper', subject: `item:${count}`, time: new Date() }));
    }
  };
  const leaves = async (db: Kysely<Database>) => (await db.selectFrom('event').select('leaf_hash').orderBy('seq').execute()).map((row) => Buffer.from(row.leaf_hash, 'hex'));
  const publisher = (db: Kysely<Database>) => {
    const key = generateSigningKey('changegate.test/tamper');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const signer = new CheckpointPublisher({
      db,
      clock: new ManualClock(),
      treeHead: new StoredTreeHead(db),
      signingKey: { origin: key.name, key, keyId: formatKeyId(key.keyId) },
      intervalSeconds: 5,
      sinks: [],
      logger: createLogger('trace', sink),
    });
    return { signer, key, logged: () => lines.join('\n') };
  };

  it('refuses the append that would complete a subtree whose hash was planted before it, saying why', async () => {
    const db = await open();
    const size = (await leaves(db)).length;
    await append(db, size % 2 === 0 ? 0 : 1);
    const at = (await leaves(db)).length;
    // The pair of entries at+1, at+2 is not there yet: plant its node (a plain INSERT, which the table allows).
    await db.insertInto('event_tree_node').values({ level: 1, idx: at / 2, hash: 'ab'.repeat(32) }).execute();
    await append(db, 1);
    await expect(append(db, 1)).rejects.toThrow(
      new RegExp(`Entry ${at + 2} is not appended: the event log's Merkle tree already holds a different hash for a subtree it completes \\(over entries ${at + 1}–${at + 2}\\)`),
    );
    expect((await leaves(db)).length).toBe(at + 1);
  });

  it('keeps appending and signing as before when nothing was planted, the root the one the leaves give', async () => {
    const db = await open();
    const { signer, key } = publisher(db);
    for (const n of [3, 1, 6, 13]) {
      await append(db, n);
      const signed = (await signer.signNow())!;
      const checkpoint = parseCheckpoint(verifyNote(signed.note, verifierOf(key)).text);
      const all = await leaves(db);
      expect(checkpoint.size).toBe(all.length);
      expect(checkpoint.rootHash.equals(rootOf(all))).toBe(true);
    }
    // The signed checkpoints cannot be emptied wholesale either.
    for (const table of ['checkpoint_cosignature', 'checkpoint']) {
      await expect(sql`TRUNCATE ${sql.table(table)} CASCADE`.execute(db)).rejects.toThrow(/signed checkpoints are append-only: TRUNCATE on checkpoint/);
    }
    expect((await latestCheckpoint(db))?.size).toBe(23);
  });

  it('refuses to sign, saying why, when a subtree hash written since the last checkpoint was altered', async () => {
    const db = await open();
    const { signer, logged } = publisher(db);
    await append(db, 5);
    const first = (await signer.signNow())!;
    expect(first.size).toBe(5);
    await append(db, 8);
    const all = await leaves(db);
    // The subtree over entries 1–8, completed after the checkpoint of 5, rewritten with the
    // append-only trigger off (what an owner of the table can do).
    await sql`ALTER TABLE event_tree_node DISABLE TRIGGER event_tree_node_append_only`.execute(db);
    await sql`UPDATE event_tree_node SET hash = ${'ef'.repeat(32)} WHERE level = 3 AND idx = 0`.execute(db);
    await sql`ALTER TABLE event_tree_node ENABLE TRIGGER event_tree_node_append_only`.execute(db);
    // The stored tree now gives another root: before, that root was signed.
    expect((await new StoredTreeHead(db).head()).root.equals(rootOf(all))).toBe(false);

    expect(await signer.signNow()).toBeUndefined();
    expect((await latestCheckpoint(db))?.size).toBe(first.size);
    expect(logged()).toContain(`the stored hash of the subtree over entries 1–8 is not the one their leaf hashes give: event_tree_node was altered; no checkpoint is signed`);
  });

  it('refuses to sign when a subtree hash under the last checkpoint was altered after it was signed', async () => {
    const db = await open();
    const { signer, logged } = publisher(db);
    await append(db, 8);
    await signer.signNow();
    await append(db, 3);
    await sql`ALTER TABLE event_tree_node DISABLE TRIGGER event_tree_node_append_only`.execute(db);
    await sql`UPDATE event_tree_node SET hash = ${'cd'.repeat(32)} WHERE level = 3 AND idx = 0`.execute(db);
    await sql`ALTER TABLE event_tree_node ENABLE TRIGGER event_tree_node_append_only`.execute(db);
    expect(await signer.signNow()).toBeUndefined();
    expect(logged()).toContain('the stored subtree hashes of the first 8 entries do not give the root their signed checkpoint states: event_tree_node was altered');
  });
});
