import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyPostgresDatabase, DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { migrate, openDatabase, type Database, type DatabaseHandle, type DatabaseKind } from '../platform/database.ts';
import { verifyEventLog } from './event-verify.ts';
import { appendEvent } from './event-append.ts';
import { consistencyProof, inclusionProof, rootAt, treeSize } from './event-tree.ts';
import { GENESIS_CHAIN_HASH, hashEntry } from './event.ts';
import * as merkle from './merkle.ts';

const ENTRIES = 37;
const hex = (buffers: readonly Buffer[]) => buffers.map((buffer) => buffer.toString('hex'));

async function appendMany(db: Kysely<Database>, count: number, label: string): Promise<void> {
  for (let i = 1; i <= count; i += 1) {
    await db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.tree', subject: `${label}:${i}`, data: { i }, time: new Date(Date.UTC(2026, 10, 21, 12, 0, i)) }));
  }
}

/** The leaf hashes as the entries hold them, read straight from the table. */
async function storedLeaves(db: Kysely<Database>): Promise<Buffer[]> {
  const rows = await db.selectFrom('event').select('leaf_hash').orderBy('seq').execute();
  return rows.map((row) => Buffer.from(row.leaf_hash, 'hex'));
}

const nodeCount = async (db: Kysely<Database>) => Number((await sql<{ n: number }>`SELECT count(*)::int AS n FROM event_tree_node`.execute(db)).rows[0]?.n);

/** What RFC 9162 says a tree of `size` leaves has as perfect subtrees above the leaves: ⌊size/2⌋ + ⌊size/4⌋ + … */
function expectedNodes(size: number): number {
  let count = 0;
  for (let width = 2; width <= size; width *= 2) count += Math.floor(size / width);
  return count;
}

async function withTriggerOff(db: Kysely<Database>, work: () => Promise<unknown>): Promise<void> {
  await sql`ALTER TABLE event_tree_node DISABLE TRIGGER event_tree_node_append_only`.execute(db);
  try {
    await work();
  } finally {
    await sql`ALTER TABLE event_tree_node ENABLE TRIGGER event_tree_node_append_only`.execute(db);
  }
}

/** Every root, and proofs for sizes around the powers of two, against the in-memory tree of the same leaves. */
async function expectTreeOf(db: Kysely<Database>, leaves: readonly Buffer[]): Promise<void> {
  const size = leaves.length;
  expect(await treeSize(db)).toBe(size);
  for (let k = 0; k <= size; k += 1) expect((await rootAt(db, k)).toString('hex'), `root of ${k}`).toBe(merkle.rootOf(leaves.slice(0, k)).toString('hex'));
  const memory = merkle.subtreesOfLeaves(leaves);
  const sizes = [1, 2, 3, 5, 8, 16, 17, 31, 32, size - 1, size].filter((to) => to >= 1 && to <= size);
  for (const to of sizes) {
    for (let seq = 1; seq <= to; seq += 1) {
      const stored = await inclusionProof(db, seq, to);
      expect(hex(stored.proof), `inclusion of ${seq} in ${to}`).toEqual(hex(merkle.inclusionProof(seq - 1, to, memory)));
      expect(merkle.verifyInclusion(seq - 1, to, stored.leafHash, stored.proof, merkle.rootOf(leaves.slice(0, to)))).toBe(true);
    }
    for (let from = 1; from <= to; from += 1) {
      const stored = await consistencyProof(db, from, to);
      expect(hex(stored.proof), `consistency from ${from} to ${to}`).toEqual(hex(merkle.consistencyProof(from, to, memory)));
      expect(merkle.verifyConsistency(from, to, stored.proof, stored.fromRoot, stored.toRoot)).toBe(true);
      expect(stored.fromRoot.equals(merkle.rootOf(leaves.slice(0, from)))).toBe(true);
    }
  }
}

describe.each(DATABASE_KINDS)('the event log as a Merkle tree on %s', (kind) => {
  let database: TestDatabase;
  let leaves: Buffer[];
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    await appendMany(database.db, ENTRIES, 'item');
    leaves = await storedLeaves(database.db);
  });
  afterAll(() => database.close());

  it('stores exactly the perfect subtrees the appends completed, and gives every root and proof the in-memory tree gives', async () => {
    expect(leaves).toHaveLength(ENTRIES);
    expect(await nodeCount(database.db)).toBe(expectedNodes(ENTRIES));
    await expectTreeOf(database.db, leaves);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of the stored subtrees', async () => {
    await expect(sql`UPDATE event_tree_node SET hash = repeat('0', 64) WHERE level = 1 AND idx = 0`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM event_tree_node WHERE level = 1`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE event_tree_node`.execute(database.db)).rejects.toThrow(/append-only/);
  });

  it('computes subtrees that are missing from their leaves, and event_tree_build() stores them again', async () => {
    // As if an older version had appended entries without the tree during an upgrade.
    await withTriggerOff(database.db, () => sql`DELETE FROM event_tree_node WHERE level IN (2, 4) OR (level = 1 AND idx > 10)`.execute(database.db));
    expect(await nodeCount(database.db)).toBeLessThan(expectedNodes(ENTRIES));
    await expectTreeOf(database.db, leaves);
    // Appends meanwhile still store what they complete, reading missing siblings from the leaves.
    await appendMany(database.db, 11, 'more');
    leaves = await storedLeaves(database.db);
    await expectTreeOf(database.db, leaves);
    const added = await sql<{ added: number }>`SELECT event_tree_build()::int AS added`.execute(database.db);
    expect(added.rows[0]?.added).toBeGreaterThan(0);
    expect(await nodeCount(database.db)).toBe(expectedNodes(ENTRIES + 11));
    await expectTreeOf(database.db, leaves);
  });
});

describe.each(DATABASE_KINDS)('appends from a log end known in memory on %s', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database.close());

  const append = (db: Kysely<Database>, subject: string) => db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.hint', subject, time: new Date() }));

  it('gives the right entry after an append that rolled back, and appends made at once all land in order', async () => {
    const { db } = database;
    await appendMany(db, 6, 'first');
    // The rolled-back append left this process believing the log one entry longer than it is.
    await expect(
      db.transaction().execute(async (trx) => {
        await appendEvent(trx, { actor: 'alice', action: 'test.hint', subject: 'rolled-back', time: new Date() });
        throw new Error('the use case failed after logging');
      }),
    ).rejects.toThrow('the use case failed');
    const next = await append(db, 'after-rollback');
    expect(next.seq).toBe(7);
    const together = await Promise.all(Array.from({ length: 12 }, (_, k) => append(db, `together-${k}`)));
    expect(together.map((entry) => entry.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, k) => 8 + k));
    expect(await verifyEventLog(db)).toMatchObject({ ok: true, verified: 19 });
    const leaves = await storedLeaves(db);
    expect(await nodeCount(db)).toBe(expectedNodes(19));
    await expectTreeOf(db, leaves);
  });

  it.runIf(kind === 'postgres')('gives the right entries when two instances append to one database in turn', async () => {
    const other = await openDatabase({ kind: 'postgres', url: database.url as string });
    try {
      const before = (await verifyEventLog(database.db)).verified;
      for (let k = 0; k < 9; k += 1) await append(k % 3 === 0 ? other.db : database.db, `turn-${k}`);
      expect(await verifyEventLog(database.db)).toMatchObject({ ok: true, verified: before + 9 });
      const leaves = await storedLeaves(database.db);
      expect(await nodeCount(database.db)).toBe(expectedNodes(before + 9));
      await expectTreeOf(database.db, leaves);
    } finally {
      await other.close();
    }
  });
});

describe.each(DATABASE_KINDS)('migrating a log written before the tree on %s', (kind: DatabaseKind) => {
  let handle: DatabaseHandle;
  let drop = async () => {};
  beforeAll(async () => {
    if (kind === 'postgres') {
      const empty = await createEmptyPostgresDatabase();
      drop = empty.drop;
      handle = await openDatabase({ kind, url: empty.url });
    } else {
      handle = await openDatabase({ kind });
    }
  });
  afterAll(async () => {
    await handle.close();
    await drop();
  });

  it('fills the tree for the entries already there, changing no entry', async () => {
    const db = handle.db;
    await applyMigrationsBefore(db, '0012_event_tree.sql');
    // The log as the version before wrote it: entries with leaf and chain hashes, nothing else.
    let previous = GENESIS_CHAIN_HASH;
    for (let seq = 1; seq <= ENTRIES; seq += 1) {
      const entry = hashEntry({ seq, time: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)), actor: 'bob', action: 'test.old', subject: `old:${seq}`, data: { seq } }, previous);
      await db
        .insertInto('event')
        .values({ seq, time: entry.time, actor: entry.actor, action: entry.action, subject: entry.subject, data: JSON.stringify(entry.data) as unknown as Record<string, unknown>, leaf_hash: entry.leafHash, chain_hash: entry.chainHash })
        .execute();
      previous = entry.chainHash;
    }
    const before = await db.selectFrom('event').selectAll().orderBy('seq').execute();

    expect(await migrate(db)).toContain('0012_event_tree.sql');

    expect(await db.selectFrom('event').selectAll().orderBy('seq').execute()).toEqual(before);
    expect(await nodeCount(db)).toBe(expectedNodes(ENTRIES));
    await expectTreeOf(db, before.map((row) => Buffer.from(row.leaf_hash, 'hex')));
    // And the converted tree grows by appends like any other.
    await appendMany(db, 3, 'after');
    expect(await nodeCount(db)).toBe(expectedNodes(ENTRIES + 3));
    await expectTreeOf(db, await storedLeaves(db));
  });
});

/** Applies the migrations that sort before `name`, as the previous version had, and records them as applied. */
async function applyMigrationsBefore(db: Kysely<Database>, name: string): Promise<void> {
  const dir = fileURLToPath(new URL('../platform/migrations/', import.meta.url));
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql') && file < name).sort();
  await sql`CREATE TABLE IF NOT EXISTS schema_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL)`.execute(db);
  for (const file of files) {
    await sql.raw(await readFile(`${dir}${file}`, 'utf8')).execute(db);
    await db.insertInto('schema_migration').values({ name: file, applied_at: new Date() }).execute();
  }
}
