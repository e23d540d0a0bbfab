import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { waitUntil } from '../../test/gateway-kit.ts';
import { appendEvent, verifyEventLog } from '../eventlog/index.ts';
import { ManualClock } from '../platform/clock.ts';
import { Recorder } from './recorder.ts';
import { RECORDING_CHUNKS_ACTION, RecordingLog, type LoggedRecordingChunk } from './recording-log.ts';
import { FileRecordingStore } from './recording-store.ts';
import { verifyRecordingAgainstLog } from './recording-verify.ts';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** Never fires within a test: the test says when to append. */
const BY_HAND_MS = 3_600_000;

describe.each(DATABASE_KINDS)('recordings in the event log on %s', (kind) => {
  let database: TestDatabase;
  let dir: string;
  const clock = new ManualClock();
  const db = () => database.db;

  /** Recordings as files: the verifier reads any store's bytes alike (recording-store.test.ts has the database's). */
  let files: FileRecordingStore;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-recording-log-'));
    files = new FileRecordingStore(dir);
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const chunkEvents = async (afterSeq: number) =>
    db().selectFrom('event').select(['seq', 'time', 'data']).where('action', '=', RECORDING_CHUNKS_ACTION).where('seq', '>', afterSeq).orderBy('seq').execute();
  const lastSeq = async () => Number((await db().selectFrom('event').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst())?.seq ?? 0);

  /** A recorder whose writes go to `log`, as the session runner wires it. */
  const record = async (log: RecordingLog) => {
    const sessionId = randomUUID();
    const recorder = await Recorder.create(
      files,
      sessionId,
      { width: 80, height: 24, startedAt: clock.now(), title: 'CHG-1 alice@web01', term: 'xterm' },
      { onWrite: (written) => log.report(sessionId, written) },
    );
    return { sessionId, file: recorder.location, recorder };
  };
  const logEnd = (sessionId: string, data: Record<string, unknown>, action = 'session.end') =>
    db()
      .transaction()
      .execute((trx) => appendEvent(trx, { actor: 'alice', action, subject: `session:${sessionId}`, data, time: clock.now() }));

  it('grows the log by one event per interval for every live recording together, listing each once at its latest write', async () => {
    const log = new RecordingLog({ db: db(), clock, intervalMs: BY_HAND_MS, perEvent: 2 });
    const before = await lastSeq();
    const sessions = Array.from({ length: 5 }, () => randomUUID());
    for (let write = 1; write <= 10; write++) {
      for (const session of sessions) log.report(session, { bytes: write * 100, sha256: `${write}`.padStart(64, '0') });
    }
    await log.flush();
    const events = await chunkEvents(before);
    // Five recordings, two to an event: three events, appended together.
    expect(events).toHaveLength(3);
    expect(new Set(events.map((event) => event.time.getTime())).size).toBe(1);
    const listed = events.flatMap((event) => event.data.chunks as LoggedRecordingChunk[]);
    expect(listed.map((chunk) => chunk.session).sort()).toEqual([...sessions].sort());
    expect(listed.every((chunk) => chunk.bytes === 1000 && chunk.sha256 === '10'.padStart(64, '0'))).toBe(true);
    // Nothing new to say: nothing appended.
    await log.flush();
    expect(await chunkEvents(before)).toHaveLength(3);
    expect(await verifyEventLog(db())).toMatchObject({ ok: true });
  });

  it('logs nothing more for a session whose end has been logged with the whole file', async () => {
    const log = new RecordingLog({ db: db(), clock, intervalMs: BY_HAND_MS });
    const before = await lastSeq();
    const [ended, running] = [randomUUID(), randomUUID()];
    log.report(ended, { bytes: 10, sha256: 'a'.repeat(64) });
    log.report(running, { bytes: 20, sha256: 'b'.repeat(64) });
    log.ended(ended);
    await log.flush();
    const listed = (await chunkEvents(before)).flatMap((event) => event.data.chunks as LoggedRecordingChunk[]);
    expect(listed.map((chunk) => chunk.session)).toEqual([running]);
  });

  it('appends on its own within its interval of a write', async () => {
    const log = new RecordingLog({ db: db(), clock });
    const before = await lastSeq();
    const session = randomUUID();
    log.report(session, { bytes: 42, sha256: 'f'.repeat(64) });
    const [event] = await waitUntil(async () => ((await chunkEvents(before)).length > 0 ? chunkEvents(before) : undefined), 'the recording.chunks event');
    expect(event?.data).toEqual({ chunks: [{ session, bytes: 42, sha256: 'f'.repeat(64) }] });
    await log.close();
  });

  it('verifies a recording write by write, and the whole of it against the hash logged at its end', async () => {
    const log = new RecordingLog({ db: db(), clock, intervalMs: BY_HAND_MS });
    const { sessionId, file, recorder } = await record(log);
    await log.flush();
    recorder.output('$ uptime\r\n');
    await recorder.flush();
    const firstWrite = statSync(file).size;
    await log.flush();
    recorder.output(' 10:00:00 up 42 days,  3 users,  load average: 0.00\r\n');
    await recorder.flush();
    await log.flush();
    const size = statSync(file).size;
    expect(await verifyRecordingAgainstLog(db(), sessionId, files.read(file))).toMatchObject({ verifiedBytes: size, loggedBytes: size, fileBytes: size, complete: false });
    expect((await verifyRecordingAgainstLog(db(), sessionId, files.read(file))).firstMismatchOffset).toBeUndefined();

    const { sha256: whole } = await recorder.close();
    await log.close();
    await logEnd(sessionId, { reason: 'client_closed', recordingSha256: whole });
    const final = statSync(file).size;
    expect(await verifyRecordingAgainstLog(db(), sessionId, files.read(file))).toMatchObject({ verifiedBytes: final, complete: true, fileBytes: final });

    // One byte changed in the second write: what is before that write still verifies.
    const changed = Buffer.from(readFileSync(file));
    const at = changed.indexOf('up 42 days');
    expect(at).toBeGreaterThan(firstWrite);
    changed[at + 3] = '5'.charCodeAt(0);
    const tampered = path.join(dir, 'tampered.cast');
    writeFileSync(tampered, changed);
    const check = await verifyRecordingAgainstLog(db(), sessionId, files.read(tampered));
    expect(check).toMatchObject({ verifiedBytes: firstWrite, firstMismatchOffset: firstWrite, complete: false });
    expect(check.message).toContain(`after byte ${firstWrite}`);

    // A changed header fails from the first byte.
    const header0 = Buffer.from(readFileSync(file));
    header0[2] = 'X'.charCodeAt(0);
    writeFileSync(tampered, header0);
    expect(await verifyRecordingAgainstLog(db(), sessionId, files.read(tampered))).toMatchObject({ verifiedBytes: 0, firstMismatchOffset: 0 });

    // Bytes added at the end: every logged write verifies, but not the whole.
    writeFileSync(tampered, Buffer.concat([readFileSync(file), Buffer.from('[9.9, "o", "rm -rf /"]\n')]));
    expect(await verifyRecordingAgainstLog(db(), sessionId, files.read(tampered))).toMatchObject({ complete: false, firstMismatchOffset: final });
  });

  it('verifies a recording torn by a crash up to its last logged write, and says so when it was cut shorter than that', async () => {
    const log = new RecordingLog({ db: db(), clock, intervalMs: BY_HAND_MS });
    const { sessionId, file, recorder } = await record(log);
    recorder.output('$ echo before-crash\r\nbefore-crash\r\n');
    await recorder.flush();
    await log.flush();
    const logged = statSync(file).size;
    // Written to the file, then the process is killed before the next append: this write is not in the log.
    recorder.output('$ echo after-the-last-append\r\nafter-the-last-append\r\n');
    await recorder.flush();
    // The crash tears the last line.
    truncateSync(file, statSync(file).size - 7);
    const torn = statSync(file).size;
    const check = await verifyRecordingAgainstLog(db(), sessionId, files.read(file));
    expect(check).toMatchObject({ verifiedBytes: logged, loggedBytes: logged, fileBytes: torn, complete: false });
    expect(check.firstMismatchOffset).toBeUndefined();
    expect(check.message).toContain('written after the last logged write');

    // The restart logs the hash of what the crash left: then the whole torn file is vouched for.
    await logEnd(sessionId, { recordingSha256: sha256(readFileSync(file)), recordingBytes: torn }, 'session.interrupted');
    expect(await verifyRecordingAgainstLog(db(), sessionId, files.read(file))).toMatchObject({ verifiedBytes: torn, complete: true });

    // Cut inside what the log vouches for: a mismatch, named.
    truncateSync(file, logged - 1);
    const cut = await verifyRecordingAgainstLog(db(), sessionId, files.read(file));
    expect(cut).toMatchObject({ complete: false, fileBytes: logged - 1, firstMismatchOffset: cut.verifiedBytes });
    expect(cut.verifiedBytes).toBeLessThan(logged);
    expect(cut.message).toContain('cut short');
    await recorder.close();
  });
});
