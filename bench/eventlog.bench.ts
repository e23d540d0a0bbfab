import { sql, type Kysely } from 'kysely';
import { createEmptyPostgresDatabase } from '../test/databases.ts';
import { appendEvent, consistencyProof, inclusionProof, rootAt } from '../src/eventlog/index.ts';
import { GENESIS_CHAIN_HASH, hashEntry, type HashedEventEntry } from '../src/eventlog/event.ts';
import { hashChildren } from '../src/eventlog/merkle.ts';
import { formatCheckpoint } from '../src/eventlog/checkpoint.ts';
import { verifyAgainstCheckpoint } from '../src/eventlog/checkpoint-verify.ts';
import { generateSigningKey, signNote, verifierOf } from '../src/eventlog/signed-note.ts';
import { migrate, openDatabase, type Database } from '../src/platform/database.ts';
import { percentile, random, timeAll } from './bench-kit.ts';
import type { Benchmark, BenchFigure } from './run.ts';

/**
 * The event log's Merkle tree on PostgreSQL: appends per second with the tree maintained, beside
 * plain inserts of the same rows; inclusion and consistency proofs and roots at 1,000,000 entries
 * (p95); the full verification of the million entries against a signed checkpoint. The million entries are real ones (canonical JSON, leaf and chain hashes) with their
 * subtree hashes, computed here and written in bulk once per run.
 */
const ENTRIES = 1_000_000;
const BATCH = 20_000;
const RUNS = 500;
/** Unmeasured calls first: the first proofs read pages PostgreSQL has not cached yet. */
const WARMUP = 20;
const APPENDS = 3000;
const START = Date.UTC(2026, 0, 1);

const entryAt = (seq: number) => ({
  seq,
  time: new Date(START + seq * 1000),
  actor: `user${seq % 200}`,
  action: ['user.update', 'change.approve', 'session.start', 'session.end'][seq % 4] as string,
  subject: `object:${seq % 50_000}`,
  data: { n: seq, note: 'bench entry' },
});

/** Writes entries with unnest: one statement per batch, one array parameter per column. */
async function insertEntries(db: Kysely<Database>, entries: readonly HashedEventEntry[]): Promise<void> {
  await sql`
    INSERT INTO event (seq, time, actor, action, subject, data, leaf_hash, chain_hash)
    SELECT s, t, a, v, o, d::jsonb, l, c
    FROM unnest(${entries.map((e) => e.seq)}::bigint[], ${entries.map((e) => e.time.toISOString())}::timestamptz[], ${entries.map((e) => e.actor)}::text[],
                ${entries.map((e) => e.action)}::text[], ${entries.map((e) => e.subject)}::text[], ${entries.map((e) => JSON.stringify(e.data))}::text[],
                ${entries.map((e) => e.leafHash)}::text[], ${entries.map((e) => e.chainHash)}::text[]) AS x(s, t, a, v, o, d, l, c)`.execute(db);
}

/** A million entries and every perfect subtree above them, as appends would have left them. */
async function seed(db: Kysely<Database>): Promise<void> {
  let previous = GENESIS_CHAIN_HASH;
  let level: Buffer[] = [];
  for (let first = 1; first <= ENTRIES; first += BATCH) {
    const entries: HashedEventEntry[] = [];
    for (let seq = first; seq < first + BATCH && seq <= ENTRIES; seq++) {
      const entry = hashEntry(entryAt(seq), previous);
      previous = entry.chainHash;
      entries.push(entry);
      level.push(Buffer.from(entry.leafHash, 'hex'));
    }
    await insertEntries(db, entries);
  }
  for (let height = 1; level.length > 1; height++) {
    const next: Buffer[] = [];
    for (let k = 0; k + 1 < level.length; k += 2) next.push(hashChildren(level[k] as Buffer, level[k + 1] as Buffer));
    for (let at = 0; at < next.length; at += BATCH) {
      const slice = next.slice(at, at + BATCH);
      await sql`
        INSERT INTO event_tree_node (level, idx, hash)
        SELECT ${height}, i, h FROM unnest(${slice.map((_, k) => at + k)}::bigint[], ${slice.map((hash) => hash.toString('hex'))}::text[]) AS x(i, h)`.execute(db);
    }
    level = next;
  }
  await sql`ANALYZE event`.execute(db);
  await sql`ANALYZE event_tree_node`.execute(db);
}

export const benchmarks: Benchmark[] = [
  {
    name: 'event log Merkle tree on PostgreSQL',
    async run(): Promise<BenchFigure[]> {
      const empty = await createEmptyPostgresDatabase();
      const handle = await openDatabase({ kind: 'postgres', url: empty.url });
      const figures: BenchFigure[] = [];
      try {
        const db = handle.db;
        await migrate(db);
        const seeding = performance.now();
        await seed(db);
        const seeded = (performance.now() - seeding) / 1000;
        figures.push({ name: `writing ${ENTRIES.toLocaleString('en')} entries and their tree in bulk (set-up)`, value: seeded, unit: 's' });

        // --- proofs and roots at a million entries ------------------------------------------------
        const next = random(12);
        const pick = (n: number) => 1 + Math.floor(next() * n);
        const inclusion = await timeAll(RUNS, () => {
          const size = ENTRIES - Math.floor(next() * 1000);
          return inclusionProof(db, pick(size), size);
        }, WARMUP);
        figures.push({ name: `inclusion proof at ${ENTRIES.toLocaleString('en')} entries (p95)`, value: percentile(inclusion, 95), unit: 'ms', target: { of: 'value', atMost: 5 } });
        figures.push({ name: `inclusion proof at ${ENTRIES.toLocaleString('en')} entries (p50)`, value: percentile(inclusion, 50), unit: 'ms' });
        const consistency = await timeAll(RUNS, () => {
          const to = ENTRIES - Math.floor(next() * 1000);
          return consistencyProof(db, pick(to), to);
        }, WARMUP);
        figures.push({ name: `consistency proof at ${ENTRIES.toLocaleString('en')} entries (p95)`, value: percentile(consistency, 95), unit: 'ms', target: { of: 'value', atMost: 5 } });
        figures.push({ name: `consistency proof at ${ENTRIES.toLocaleString('en')} entries (p50)`, value: percentile(consistency, 50), unit: 'ms' });
        const roots = await timeAll(RUNS, () => rootAt(db, ENTRIES - Math.floor(next() * 1000)), WARMUP);
        figures.push({ name: `root of any size at ${ENTRIES.toLocaleString('en')} entries (p95)`, value: percentile(roots, 95), unit: 'ms' });

        // --- full verification against a checkpoint ----------------------------------------------
        // Every entry read in pages, rehashed (leaf and chain), every stored subtree compared, the
        // root recomputed from the entries: what `changegate verify --checkpoint` does.
        const key = generateSigningKey('bench.changegate.test');
        const note = signNote(formatCheckpoint({ origin: key.name, size: ENTRIES, rootHash: await rootAt(db, ENTRIES), extensions: [] }), key);
        const verifying = performance.now();
        const report = await verifyAgainstCheckpoint(db, { note, key: verifierOf(key), keySource: 'given', logOrigin: key.name });
        const verifySeconds = (performance.now() - verifying) / 1000;
        if (!report.ok || report.verified !== ENTRIES) throw new Error(`the benchmark's log did not verify: ${JSON.stringify(report.failure)}`);
        figures.push({ name: `full verification of ${ENTRIES.toLocaleString('en')} entries against a checkpoint`, value: verifySeconds, unit: 's', target: { of: 'value', atMost: 15 } });
        figures.push({ name: 'full verification, entries per second', value: ENTRIES / verifySeconds, unit: 'entries/s' });

        // --- appends -------------------------------------------------------------------------------
        // Each append is its own transaction, as a use case's is. Three sides take turns one append
        // at a time, so whatever else loads the machine weighs on all alike:
        // - the tree: appendEvent as it is (lock, last entry, subtrees, one insert);
        // - the hash chain as appendEvent kept it before the tree (lock, last entry, insert), into a
        //   copy of the table: what the tree itself adds;
        // - plain inserts of the same rows, hashed beforehand, into another copy (no lock, no read).
        await sql`CREATE TABLE event_plain (LIKE event INCLUDING ALL)`.execute(db);
        await sql`CREATE TABLE event_chain (LIKE event INCLUDING ALL)`.execute(db);
        const insertInto = (table: 'event_plain' | 'event_chain', trx: Kysely<Database>, row: HashedEventEntry) =>
          sql`INSERT INTO ${sql.table(table)} (seq, time, actor, action, subject, data, leaf_hash, chain_hash)
              VALUES (${row.seq}, ${row.time}, ${row.actor}, ${row.action}, ${row.subject}, ${JSON.stringify(row.data)}, ${row.leafHash}, ${row.chainHash})`.execute(trx);
        let plainPrevious = GENESIS_CHAIN_HASH;
        const spent = { tree: 0, chain: 0, plain: 0 };
        for (let k = 0; k < APPENDS; k++) {
          const row = entryAt(ENTRIES + 1 + k);
          const plainRow = hashEntry(row, plainPrevious);
          plainPrevious = plainRow.chainHash;
          const sides: Array<[keyof typeof spent, () => Promise<unknown>]> = [
            ['tree', () => db.transaction().execute((trx) => appendEvent(trx, row))],
            [
              'chain',
              () =>
                db.transaction().execute(async (trx) => {
                  await sql`SELECT pg_advisory_xact_lock(7311003)`.execute(trx);
                  const last = (await sql<{ chain_hash: string }>`SELECT seq, leaf_hash, chain_hash FROM event_chain ORDER BY seq DESC LIMIT 1`.execute(trx)).rows[0];
                  await insertInto('event_chain', trx, hashEntry(row, last?.chain_hash ?? GENESIS_CHAIN_HASH));
                }),
            ],
            ['plain', () => db.transaction().execute((trx) => insertInto('event_plain', trx, plainRow))],
          ];
          for (let turn = 0; turn < sides.length; turn++) {
            const [side, append] = sides[(k + turn) % sides.length] as [keyof typeof spent, () => Promise<unknown>];
            const start = performance.now();
            await append();
            spent[side] += performance.now() - start;
          }
        }
        const perSecond = (ms: number) => (APPENDS * 1000) / ms;
        figures.push({
          name: 'appends, one per transaction, tree maintained',
          value: perSecond(spent.tree),
          unit: 'appends/s',
          baseline: { name: 'plain inserts', value: perSecond(spent.plain) },
          target: { of: 'ratio', atLeast: 0.8 },
        });
        figures.push({
          name: 'appends, one per transaction, tree maintained',
          value: perSecond(spent.tree),
          unit: 'appends/s',
          baseline: { name: 'hash chain alone, as before the tree', value: perSecond(spent.chain) },
        });
        return figures;
      } finally {
        await handle.close();
        await empty.drop();
      }
    },
  },
];
