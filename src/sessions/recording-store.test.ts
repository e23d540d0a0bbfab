import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { migrationsKey, pgliteSnapshot } from '../../test/database-snapshot.ts';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { waitUntil } from '../../test/gateway-kit.ts';
import { appendEvent } from '../eventlog/index.ts';
import { ManualClock } from '../platform/clock.ts';
import { openDatabase, PGLITE_PARSERS, type Database, type DatabaseKind } from '../platform/database.ts';
import { PGlitePool } from '../platform/pglite-pool.ts';
import { parseCast, Recorder } from './recorder.ts';
import { RecordingLog } from './recording-log.ts';
import { DatabaseRecordingStore, FileRecordingStore, notificationPayloads, RECORDING_CHANNEL, type RecordingStore } from './recording-store.ts';
import { verifyRecordingAgainstLog } from './recording-verify.ts';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(store: RecordingStore, location: string, fromByte?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(location, fromByte)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * A migrated database with a way to LISTEN on it: on PostgreSQL a test database and a `pg.Client`
 * of the test's own; on PGlite one made here from the migrated snapshot, whose `listen()` hears
 * what its own connection notifies.
 */
async function listenedDatabase(kind: DatabaseKind): Promise<{ db: Kysely<Database>; url?: string; listen(handler: (payload: string) => void): Promise<void>; close(): Promise<void> }> {
  if (kind === 'postgres') {
    const database: TestDatabase = await openTestDatabase(kind);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    return {
      db: database.db,
      ...(database.url && { url: database.url }),
      listen: async (handler) => {
        client.on('notification', (message) => {
          if (message.channel === RECORDING_CHANNEL) handler(message.payload ?? '');
        });
        await client.query(`LISTEN ${RECORDING_CHANNEL}`);
      },
      close: async () => {
        await client.end();
        await database.close();
      },
    };
  }
  const snapshot = inject('pgliteSnapshot') ?? (await pgliteSnapshot(await migrationsKey()));
  const pglite = await PGlite.create('memory://', { parsers: PGLITE_PARSERS, loadDataDir: new Blob([readFileSync(snapshot)]) });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new PGlitePool(pglite) }) });
  return {
    db,
    listen: async (handler) => void (await pglite.listen(RECORDING_CHANNEL, handler)),
    close: () => db.destroy(),
  };
}

describe.each(DATABASE_KINDS)('recording stores on %s', (kind) => {
  let database: Awaited<ReturnType<typeof listenedDatabase>>;
  let dir: string;
  const clock = new ManualClock();
  let files: FileRecordingStore;
  let chunks: DatabaseRecordingStore;
  const startedAt = new Date('2026-11-22T10:00:00Z');

  beforeAll(async () => {
    database = await listenedDatabase(kind);
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-recording-store-'));
    files = new FileRecordingStore(dir);
    chunks = new DatabaseRecordingStore({ db: database.db, clock });
  });
  afterAll(async () => {
    await chunks?.drain();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const both = () => [files, chunks] as const;

  it('writes a recording, reads it from any byte, states its length, hash and last write, and removes it', async () => {
    for (const store of both()) {
      const sessionId = randomUUID();
      const sink = await store.create(sessionId, startedAt);
      expect(sink.location).toBe(store.kind === 'files' ? path.join(dir, '2026-11-22', `${sessionId}.cast`) : sessionId);
      const parts = [Buffer.from('{"version": 2}\n'), Buffer.from('[0.1, "o", "h\u00e9llo"]\n'), Buffer.from('[0.2, "o", "world"]\n')];
      for (const part of parts) await sink.append(part);
      await sink.close();
      const whole = Buffer.concat(parts);
      expect(await readAll(store, sink.location)).toEqual(whole);
      // Every offset, across and within chunks, and past the end.
      for (let from = 0; from <= whole.length + 1; from++) expect(await readAll(store, sink.location, from)).toEqual(whole.subarray(from));
      const stat = await store.stat(sink.location);
      expect(stat).toEqual({ bytes: whole.length, sha256: sha256(whole), lastWrite: expect.any(Date) });
      expect(await store.size(sink.location)).toBe(whole.length);
      // A second recording of the same session is refused unless it replaces the first (an interrupted migration's copy).
      await expect(async () => (await store.create(sessionId, startedAt)).append(Buffer.from('again'))).rejects.toThrow();
      await store.remove(sink.location);
      expect(await store.stat(sink.location)).toBeUndefined();
      expect(await store.size(sink.location)).toBeUndefined();
      expect(await readAll(store, sink.location)).toEqual(Buffer.alloc(0));
      await store.remove(sink.location);
    }
  });

  it('reads a live recording as far as it is stored, and more as it grows', async () => {
    for (const store of both()) {
      const sink = await store.create(randomUUID(), startedAt);
      await sink.append(Buffer.from('header\n'));
      expect((await readAll(store, sink.location)).toString()).toBe('header\n');
      const before = await store.stat(sink.location);
      clock.advance(5_000);
      await sink.append(Buffer.from('event-1\n'));
      // A reader that had the first part reads on from where it stopped.
      expect((await readAll(store, sink.location, 'header\n'.length)).toString()).toBe('event-1\n');
      const after = await store.stat(sink.location);
      expect(after?.bytes).toBe('header\nevent-1\n'.length);
      expect(after?.lastWrite?.getTime()).toBeGreaterThanOrEqual(before?.lastWrite?.getTime() ?? Infinity);
      if (store.kind === 'database') expect(after?.lastWrite).toEqual(clock.now());
      await sink.close();
      await store.remove(sink.location);
    }
  });

  it('commits the appends of many sessions together: far fewer inserts than appends, each append resolved once committed', async () => {
    const store = new DatabaseRecordingStore({ db: database.db, clock });
    const sessions = Array.from({ length: 200 }, () => randomUUID());
    const sinks = await Promise.all(sessions.map((id) => store.create(id, startedAt)));
    // Each session appends three times in a row, as a recorder does (the next once the last is stored), all at once.
    await Promise.all(
      sinks.map(async (sink, k) => {
        for (let n = 0; n < 3; n++) {
          await sink.append(Buffer.from(`session ${k} write ${n}\n`));
          const [row] = await database.db.selectFrom('recording_chunk').select('seq').where('session_id', '=', sink.location).where('seq', '=', n).execute();
          expect(row).toEqual({ seq: n });
        }
      }),
    );
    expect(store.counts.chunks).toBe(600);
    expect(store.counts.inserts).toBeLessThanOrEqual(10);
    // Counted by the database too: the transactions that wrote these rows.
    const { rows } = await sql<{ transactions: number }>`SELECT count(DISTINCT xmin::text)::int AS transactions FROM recording_chunk WHERE session_id IN (${sql.join(sessions)})`.execute(database.db);
    expect(rows[0]?.transactions).toBe(store.counts.inserts);
    for (const [k, sink] of sinks.entries()) expect((await readAll(store, sink.location)).toString()).toBe(`session ${k} write 0\nsession ${k} write 1\nsession ${k} write 2\n`);
  });

  it('appends arriving while an insert is in flight wait and go together in the next', async () => {
    const store = new DatabaseRecordingStore({ db: database.db, clock });
    const sinks = await Promise.all(Array.from({ length: 50 }, () => store.create(randomUUID(), startedAt)));
    // The table held by another transaction, so that the first insert stays in flight until it lets go
    // (on PGlite, its one connection is held: the insert waits for it).
    let release = () => {};
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const holding = database.db.transaction().execute(async (trx) => {
      await sql`LOCK TABLE recording_chunk IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
      locked();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isLocked;
    const first = (sinks[0] as (typeof sinks)[number]).append(Buffer.from('first\n'));
    // The insert starts once this turn is over; the others arrive, one turn each, while it waits.
    await new Promise((resolve) => setImmediate(resolve));
    const rest = [];
    for (const sink of sinks.slice(1)) {
      rest.push(sink.append(Buffer.from('later\n')));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(store.counts.inserts).toBe(0);
    release();
    await holding;
    await Promise.all([first, ...rest]);
    expect(store.counts).toEqual({ inserts: 2, chunks: 50 });
  });

  it('notifies RECORDING_CHANNEL in the insert\'s transaction with the ids of the sessions it wrote', async () => {
    const heard: string[][] = [];
    await database.listen((payload) => heard.push(JSON.parse(payload) as string[]));
    const sessions = Array.from({ length: 3 }, () => randomUUID());
    const sinks = await Promise.all(sessions.map((id) => chunks.create(id, startedAt)));
    await Promise.all(sinks.map((sink) => sink.append(Buffer.from('output\n'))));
    await waitUntil(async () => (sessions.every((id) => heard.some((ids) => ids.includes(id))) ? true : undefined), 'the notification of the three sessions');
    expect(heard.flat().filter((id) => (sessions as string[]).includes(id)).sort()).toEqual([...sessions].sort());
  });

  it('splits a large insert\'s notification into payloads under 7,000 bytes', () => {
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    const payloads = notificationPayloads([...ids, ...ids.slice(0, 10)]);
    expect(payloads.length).toBeGreaterThan(1);
    for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThan(7_000);
    expect(payloads.flatMap((payload) => JSON.parse(payload) as string[])).toEqual(ids);
  });

  it('keeps what a recorder flushed when it dies without closing, and the event log verifies it', async () => {
    const log = new RecordingLog({ db: database.db, clock, intervalMs: 3_600_000 });
    const store = new DatabaseRecordingStore({ db: database.db, clock });
    const sessionId = randomUUID();
    // A process that dies runs no more timers: the recorder's once-a-second flush is made on a fake
    // clock that never advances, so nothing is written after the flush below.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const recorder = await Recorder.create(
      store,
      sessionId,
      { width: 80, height: 24, startedAt, title: 'CHG-1 alice@web01', term: 'xterm' },
      { onWrite: (written) => log.report(sessionId, written) },
    ).finally(() => vi.useRealTimers());
    recorder.output('$ echo before-crash\r\nbefore-crash\r\n');
    await recorder.flush();
    await log.flush();
    // Buffered, never flushed: the process dies here, without close().
    recorder.output('$ echo lost\r\n');

    // Read again by a store that knows nothing of the dead one: on PostgreSQL through another connection.
    const other = database.url ? await openDatabase({ kind: 'postgres', url: database.url }) : undefined;
    try {
      const reader = new DatabaseRecordingStore({ db: other?.db ?? database.db, clock });
      const left = await readAll(reader, sessionId);
      expect(parseCast(left.toString('utf8')).events.map((event) => event[2])).toEqual(['$ echo before-crash\r\nbefore-crash\r\n']);
      expect(await verifyRecordingAgainstLog(database.db, sessionId, reader.read(sessionId))).toMatchObject({ verifiedBytes: left.length, loggedBytes: left.length, complete: false });
      // The restart logs the hash of what is there, as recoverInterrupted does: then all of it is vouched for.
      const stat = await reader.stat(sessionId);
      expect(stat).toMatchObject({ bytes: left.length, sha256: sha256(left) });
      await database.db
        .transaction()
        .execute((trx) =>
          appendEvent(trx, { actor: 'system', action: 'session.interrupted', subject: `session:${sessionId}`, data: { recordingSha256: stat?.sha256, recordingBytes: stat?.bytes }, time: clock.now() }),
        );
      expect(await verifyRecordingAgainstLog(database.db, sessionId, reader.read(sessionId))).toMatchObject({ verifiedBytes: left.length, complete: true });
    } finally {
      await other?.close();
    }
    // Its close reads back what the database holds.
    const { sha256: closed } = await recorder.close();
    expect(closed).toBe(sha256(await readAll(store, sessionId)));
  });
});
