import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { storeRecordedSession } from '../evidence/evidence.test-kit.ts';
import { findSessionByNumber } from './session.store.ts';
import { migrateRecordings, type RecordingMove } from './recording-migration.ts';
import type { RecordingStore } from './recording-store.ts';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(store: RecordingStore, location: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of store.read(location)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe.each(DATABASE_KINDS)('recordings migrate on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  const numbers: number[] = [];
  const contents = new Map<number, Buffer>();

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-recording-migration-'));
    const { client } = await buildUser(t, { username: 'alice' });
    expect((await t.admin.post('/devices', { name: 'web01', hostname: '192.0.2.10' })).status).toBe(201);
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['admin'] })).status).toBe(201);
    const now = t.clock.now().getTime();
    const change = { name: 'CHG-1', title: 'Move', startAt: new Date(now - 60_000).toISOString(), dueAt: new Date(now + 3_600_000).toISOString(), accessGroup: 'ops', devices: ['web01'], script: 'uptime' };
    expect((await t.admin.post('/changes', change)).status).toBe(201);
    // Three ended sessions recorded as files, as the embedded database's gateway leaves them; one a large recording.
    for (const [k, size] of [10, 3_000_000, 200].entries()) {
      const file = path.join(dir, `session-${k}.cast`);
      const events = Array.from({ length: Math.ceil(size / 40) }, (_, n) => `[${n}.0, "o", "line ${n} of session ${k}\\r\\n"]`).join('\n');
      writeFileSync(file, `{"version": 2, "width": 80, "height": 24}\n${events}\n`);
      const number = await storeRecordedSession(t, { change: 'CHG-1', device: 'web01', user: { username: 'alice', client }, recording: file, command: 'uptime' });
      numbers.push(number);
      contents.set(number, readFileSync(file));
    }
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sessionOf = async (number: number) => {
    const session = await findSessionByNumber(t.cg.database.db, number);
    if (!session) throw new Error(`no session ${number}`);
    return session;
  };
  const migrate = (to: 'files' | 'database', progress: string[] = []) =>
    migrateRecordings(
      { db: t.cg.database.db, clock: t.clock, stores: t.cg.recordings, actor: 'cli:tester@host', onProgress: (done, total, session, move: RecordingMove) => progress.push(`${done} of ${total}: ${session.number} ${move.outcome}`) },
      to,
    );

  it('moves every ended recording to the database and back, verified, refusing a tampered one and leaving it in place; a second run moves nothing', async () => {
    const [first, large, tampered] = numbers as [number, number, number];
    const tamperedFile = (await sessionOf(tampered)).recordingPath;
    appendFileSync(tamperedFile, '[99.0, "o", "forged"]\n');

    const progress: string[] = [];
    const there = await migrate('database', progress);
    expect(there).toMatchObject({ to: 'database', found: 3, moved: 2, live: [] });
    expect(there.refused).toEqual([{ number: tampered, why: expect.stringMatching(/^its copy hashes to [0-9a-f]{64}, not [0-9a-f]{64} \(the SHA-256 logged at its end\)/) }]);
    expect(progress).toEqual([`1 of 3: ${first} moved`, `2 of 3: ${large} moved`, `3 of 3: ${tampered} refused`]);
    for (const number of [first, large]) {
      const session = await sessionOf(number);
      expect(session).toMatchObject({ recordingStore: 'database', recordingPath: session.id });
      const held = await readAll(t.cg.recordings.database, session.id);
      expect(held.equals(contents.get(number) as Buffer)).toBe(true);
      expect(sha256(held)).toBe(session.recordingSha256);
    }
    // The sources are gone; the tampered one is where it was, as it was, with no copy left behind.
    expect(existsSync(path.join(dir, 'session-0.cast'))).toBe(false);
    const left = await sessionOf(tampered);
    expect(left).toMatchObject({ recordingStore: 'files', recordingPath: tamperedFile });
    expect(existsSync(tamperedFile)).toBe(true);
    expect(await t.cg.recordings.database.stat(left.id)).toBeUndefined();
    // Downloads read from the store each session names.
    const download = await t.admin.get(`/sessions/${large}/recording`);
    expect(download.status).toBe(200);
    expect(sha256(Buffer.from(download.body as string))).toBe((await sessionOf(large)).recordingSha256);

    // Again: the moved ones are not looked at; the tampered one is refused again.
    const again = await migrate('database');
    expect(again).toMatchObject({ found: 1, moved: 0, refused: [{ number: tampered }] });

    // Back to files, where the database's copies were: every moved recording, byte for byte.
    const back = await migrate('files');
    expect(back).toMatchObject({ to: 'files', found: 2, moved: 2, refused: [] });
    for (const number of [first, large]) {
      const session = await sessionOf(number);
      expect(session.recordingStore).toBe('files');
      expect(readFileSync(session.recordingPath).equals(contents.get(number) as Buffer)).toBe(true);
      expect(await t.cg.recordings.database.stat(session.id)).toBeUndefined();
    }
    expect(await migrate('files')).toMatchObject({ found: 0, moved: 0, refused: [] });

    // One event-log entry per run, with its counts.
    const logged = (await t.admin.get('/events?action=recordings.migrate')).body as Array<{ actor: string; data: Record<string, unknown> }>;
    expect(logged.map((event) => event.data)).toEqual(
      expect.arrayContaining([
        { to: 'database', found: 3, moved: 2, refused: 1, refusedSessions: [tampered], live: 0 },
        { to: 'files', found: 2, moved: 2, refused: 0, refusedSessions: [], live: 0 },
      ]),
    );
    expect(logged).toHaveLength(4);
    expect(logged.every((event) => event.actor === 'cli:tester@host')).toBe(true);
  });
});
