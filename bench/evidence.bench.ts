import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { unzipSync } from 'fflate';
import type { Kysely } from 'kysely';
import { addOpenChange, approvedRequest, must } from '../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../test/harness.ts';
import { peakGrowth } from '../src/evidence/evidence.test-kit.ts';
import { appendEvent } from '../src/eventlog/index.ts';
import { findChangeByName, findRequestByNumber } from '../src/changes/index.ts';
import type { Actor } from '../src/access/index.ts';
import type { Database } from '../src/platform/database.ts';
import type { Benchmark, BenchFigure } from './run.ts';

/**
 * The evidence bundle of a change with 20 sessions, on PostgreSQL: the time of one export (gather,
 * log the export, sign a checkpoint, read every proof, and stream the zip to a file) and the
 * bundle's size. The sessions are synthetic — rows, 40 captured commands and a ~250 KB asciicast
 * recording each, with the `session.start` and `session.end` log entries the gateway writes —
 * because 20 real SSH sessions would measure sshd, not the export. The log holds 10,000 other
 * entries, so the search for the change's entries reads a log of some size.
 *
 * Then the memory an export holds: the peak growth of the heap and array buffers (file contents and
 * zip chunks live there) while the bundle of that change, and of a change with one 256 MiB
 * recording, is streamed to a file. Streamed, it should not grow with the recordings.
 */
const SESSIONS = 20;
const COMMANDS = 40;
const RECORDING_LINES = 2500;
const OTHER_ENTRIES = 10_000;
const RUNS = 5;
const BIG_RECORDING_BYTES = 256 * 1024 ** 2;

/** An asciicast v2 recording of about 250 KB: a header line, then output events. */
function recording(session: number): Buffer {
  const lines = [JSON.stringify({ version: 2, width: 120, height: 40, timestamp: 1_790_000_000 + session })];
  for (let k = 0; k < RECORDING_LINES; k += 1) lines.push(JSON.stringify([k * 0.25, 'o', `root@web01:~# ls -la /var/log/app-${session}-${k}\r\ntotal ${k * 7} drwxr-x--- 2 app app 4096 Nov 21 10:${String(k % 60).padStart(2, '0')} .\r\n`]));
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

/** A recording of at least `bytes` bytes, written in pieces (never held whole): its SHA-256. */
async function writeBigRecording(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  async function* pieces() {
    for (let written = 0, k = 0; written < bytes; k += 1) {
      const piece = recording(k);
      hash.update(piece);
      written += piece.length;
      yield piece;
    }
  }
  await pipeline(pieces(), createWriteStream(file));
  return hash.digest('hex');
}

const peakBytes = async (work: () => Promise<unknown>): Promise<number> => (await peakGrowth(work)).bytes;

interface SeededChange {
  readonly id: string;
  readonly name: string;
  readonly requestId: string;
  readonly requestNumber: number;
  readonly device: { readonly id: string; readonly name: string; readonly partitionId: string };
  readonly userId: string;
}

/** A change on a device of its own with an approved request of alice's, as the API makes them. */
async function seedChange(t: TestChangegate, name: string, deviceName: string, clients: { alice: TestClient; carol: TestClient }): Promise<SeededChange> {
  const db = t.cg.database.db;
  await must(t.admin.post('/devices', { name: deviceName, hostname: '192.0.2.10' }), 201, `adding ${deviceName}`);
  await addOpenChange(t.admin, { name, devices: [deviceName], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
  const request = (await findRequestByNumber(db, await approvedRequest(clients.alice, clients.carol, deviceName))) as NonNullable<Awaited<ReturnType<typeof findRequestByNumber>>>;
  const change = (await findChangeByName(db, name)) as NonNullable<Awaited<ReturnType<typeof findChangeByName>>>;
  const device = await db.selectFrom('device').selectAll().where('name', '=', deviceName).executeTakeFirstOrThrow();
  const user = await db.selectFrom('app_user').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow();
  return { id: change.id, name, requestId: request.id, requestNumber: request.number, device: { id: device.id, name: device.name, partitionId: device.partition_id }, userId: user.id };
}

/** A finished session of the change as the gateway leaves it: its row, commands, recording file and log entries. */
async function addSession(db: Kysely<Database>, now: Date, change: SeededChange, session: { index: number; file: string; bytes: number; sha256: string }): Promise<void> {
  const id = randomUUID();
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('session')
      .values({
        id,
        kind: 'shell',
        user_id: change.userId,
        username: 'alice',
        source_ip: '192.0.2.7',
        source_port: 50022,
        device_id: change.device.id,
        device_name: change.device.name,
        partition_id: change.device.partitionId,
        account: 'root',
        change_id: change.id,
        change_name: change.name,
        request_id: change.requestId,
        exec_command: null,
        term: 'xterm',
        started_at: now,
        ended_at: now,
        end_reason: 'client_closed',
        ended_by: null,
        exit_status: 0,
        bytes_in: 1000,
        bytes_out: session.bytes,
        recording_path: session.file,
        recording_sha256: session.sha256,
        capture_lossy: false,
        instance_id: 'bench',
        heartbeat_at: now,
      })
      .execute();
    for (let c = 1; c <= COMMANDS; c += 1) {
      await trx.insertInto('session_command').values({ session_id: id, seq: c, time: now, offset_seconds: c, text: `ls -la /var/log/app-${session.index}-${c}`, output: 'total 8\n', output_truncated: false, exit_status: 0 }).execute();
    }
    await appendEvent(trx, { actor: 'alice', action: 'session.start', subject: `session:${id}`, data: { kind: 'shell', device: change.device.name, account: 'root', change: change.name, request: change.requestNumber }, time: now });
    await appendEvent(trx, { actor: 'alice', action: 'session.end', subject: `session:${id}`, data: { reason: 'client_closed', exitStatus: 0, recordingSha256: session.sha256 }, time: now });
  });
}

/** CHG-BENCH with 20 sessions of ~250 KB recordings, CHG-BIG with one of 256 MiB, and 10,000 other log entries. */
async function seed(t: TestChangegate, dir: string): Promise<void> {
  const db = t.cg.database.db;
  const clients = { alice: (await buildUser(t, { username: 'alice' })).client, carol: (await buildUser(t, { username: 'carol' })).client };
  const now = t.clock.now();
  await db.transaction().execute(async (trx) => {
    for (let k = 0; k < OTHER_ENTRIES; k += 1) await appendEvent(trx, { actor: `user${k % 50}`, action: 'user.update', subject: `user:user${k % 50}`, data: { n: k }, time: now });
  });
  const bench = await seedChange(t, 'CHG-BENCH', 'web01', clients);
  for (let index = 0; index < SESSIONS; index += 1) {
    const file = path.join(dir, `bench-${index}.cast`);
    const bytes = recording(index);
    writeFileSync(file, bytes);
    await addSession(db, now, bench, { index, file, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  const big = await seedChange(t, 'CHG-BIG', 'web02', clients);
  const file = path.join(dir, 'big.cast');
  const sha256 = await writeBigRecording(file, BIG_RECORDING_BYTES);
  await addSession(db, now, big, { index: 0, file, bytes: statSync(file).size, sha256 });
}

/** One export of the change, streamed to `file`. */
async function exportTo(t: TestChangegate, actor: Actor, change: string, file: string): Promise<void> {
  const bundle = await t.cg.services.evidence.export(actor, change);
  await pipeline(bundle.zip, createWriteStream(file));
}

export const benchmarks: Benchmark[] = [
  {
    name: 'evidence bundle',
    async run(): Promise<BenchFigure[]> {
      const t = await startTestChangegate('postgres');
      try {
        const dir = path.join(t.cg.config.dataDir, 'bench-recordings');
        mkdirSync(dir, { recursive: true });
        await seed(t, dir);
        const admin = { userId: (await t.cg.database.db.selectFrom('app_user').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()).id, username: 'admin' };
        const zip = path.join(dir, 'bundle.zip');
        const times: number[] = [];
        for (let k = 0; k < RUNS; k += 1) {
          const start = performance.now();
          await exportTo(t, admin, 'CHG-BENCH', zip);
          times.push(performance.now() - start);
        }
        times.sort((a, b) => a - b);
        const entries = Object.values(unzipSync(readFileSync(zip)));
        const raw = entries.reduce((sum, bytes) => sum + bytes.length, 0);
        const size = statSync(zip).size;
        const peak = await peakBytes(() => exportTo(t, admin, 'CHG-BENCH', zip));
        const bigStart = performance.now();
        const bigPeak = await peakBytes(() => exportTo(t, admin, 'CHG-BIG', zip));
        const bigTime = performance.now() - bigStart;
        const bigSize = statSync(zip).size;
        rmSync(zip);
        const mib = 1024 ** 2;
        return [
          { name: `export of a change with ${SESSIONS} sessions (median of ${RUNS}, PostgreSQL)`, value: times[Math.floor(times.length / 2)] ?? Number.NaN, unit: 'ms' },
          { name: `bundle size (${entries.length} files, ${(raw / 1e6).toFixed(1)} MB unzipped)`, value: size / 1e6, unit: 'MB' },
          { name: `peak memory growth during that export`, value: peak / mib, unit: 'MiB' },
          { name: `export of a change with one ${BIG_RECORDING_BYTES / mib} MiB recording (bundle ${(bigSize / 1e6).toFixed(1)} MB)`, value: bigTime, unit: 'ms' },
          // Streamed, the export holds a few chunks whatever the recordings' size.
          { name: `peak memory growth during that export`, value: bigPeak / mib, unit: 'MiB', target: { of: 'value', atMost: 16 } },
        ];
      } finally {
        await t.close();
      }
    },
  },
];
