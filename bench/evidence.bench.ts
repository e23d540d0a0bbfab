import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { addOpenChange, approvedRequest, must } from '../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../test/harness.ts';
import { appendEvent } from '../src/eventlog/index.ts';
import { findChangeByName, findRequestByNumber } from '../src/changes/index.ts';
import type { Benchmark, BenchFigure } from './run.ts';

/**
 * The evidence bundle of a change with 20 sessions, on PostgreSQL: the time of one export (gather,
 * log the export, sign a checkpoint, read every proof, zip) and the bundle's size. The sessions are
 * synthetic — rows, 40 captured commands and a ~250 KB asciicast recording each, with the
 * `session.start` and `session.end` log entries the gateway writes — because 20 real SSH sessions
 * would measure sshd, not the export. The log holds 10,000 other entries, so the search for the
 * change's entries reads a log of some size.
 */
const SESSIONS = 20;
const COMMANDS = 40;
const RECORDING_LINES = 2500;
const OTHER_ENTRIES = 10_000;
const RUNS = 5;

/** An asciicast v2 recording of about 250 KB: a header line, then output events. */
function recording(session: number): Buffer {
  const lines = [JSON.stringify({ version: 2, width: 120, height: 40, timestamp: 1_790_000_000 + session })];
  for (let k = 0; k < RECORDING_LINES; k += 1) lines.push(JSON.stringify([k * 0.25, 'o', `root@web01:~# ls -la /var/log/app-${session}-${k}\r\ntotal ${k * 7} drwxr-x--- 2 app app 4096 Nov 21 10:${String(k % 60).padStart(2, '0')} .\r\n`]));
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

async function seed(t: TestChangegate, dir: string): Promise<void> {
  const db = t.cg.database.db;
  const alice = await buildUser(t, { username: 'alice' });
  const carol = await buildUser(t, { username: 'carol' });
  await must(t.admin.post('/devices', { name: 'web01', hostname: '192.0.2.10' }), 201, 'adding web01');
  await addOpenChange(t.admin, { name: 'CHG-BENCH', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
  const request = (await findRequestByNumber(db, await approvedRequest(alice.client, carol.client, 'web01'))) as NonNullable<Awaited<ReturnType<typeof findRequestByNumber>>>;
  const change = (await findChangeByName(db, 'CHG-BENCH')) as NonNullable<Awaited<ReturnType<typeof findChangeByName>>>;
  const device = await db.selectFrom('device').selectAll().where('name', '=', 'web01').executeTakeFirstOrThrow();
  const user = await db.selectFrom('app_user').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow();
  const now = t.clock.now();
  await db.transaction().execute(async (trx) => {
    for (let k = 0; k < OTHER_ENTRIES; k += 1) await appendEvent(trx, { actor: `user${k % 50}`, action: 'user.update', subject: `user:user${k % 50}`, data: { n: k }, time: now });
  });
  for (let s = 0; s < SESSIONS; s += 1) {
    const id = randomUUID();
    const file = path.join(dir, `${id}.cast`);
    const bytes = recording(s);
    writeFileSync(file, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('session')
        .values({
          id,
          kind: 'shell',
          user_id: user.id,
          username: 'alice',
          source_ip: '192.0.2.7',
          source_port: 50022,
          device_id: device.id,
          device_name: 'web01',
          partition_id: device.partition_id,
          account: 'root',
          change_id: change.id,
          change_name: change.name,
          request_id: request.id,
          exec_command: null,
          term: 'xterm',
          started_at: now,
          ended_at: now,
          end_reason: 'client_closed',
          ended_by: null,
          exit_status: 0,
          bytes_in: 1000,
          bytes_out: bytes.length,
          recording_path: file,
          recording_sha256: sha256,
          capture_lossy: false,
          instance_id: 'bench',
          heartbeat_at: now,
        })
        .execute();
      for (let c = 1; c <= COMMANDS; c += 1) {
        await trx.insertInto('session_command').values({ session_id: id, seq: c, time: now, offset_seconds: c, text: `ls -la /var/log/app-${s}-${c}`, output: 'total 8\n', output_truncated: false, exit_status: 0 }).execute();
      }
      await appendEvent(trx, { actor: 'alice', action: 'session.start', subject: `session:${id}`, data: { kind: 'shell', device: 'web01', account: 'root', change: change.name, request: request.number }, time: now });
      await appendEvent(trx, { actor: 'alice', action: 'session.end', subject: `session:${id}`, data: { reason: 'client_closed', exitStatus: 0, recordingSha256: sha256 }, time: now });
    });
  }
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
        const times: number[] = [];
        let size = 0;
        let files = 0;
        let raw = 0;
        for (let k = 0; k < RUNS; k += 1) {
          const start = performance.now();
          const bundle = await t.cg.services.evidence.export(admin, 'CHG-BENCH');
          times.push(performance.now() - start);
          size = bundle.zip.length;
          const entries = Object.values(unzipSync(bundle.zip));
          files = entries.length;
          raw = entries.reduce((sum, bytes) => sum + bytes.length, 0);
        }
        times.sort((a, b) => a - b);
        return [
          { name: `export of a change with ${SESSIONS} sessions (median of ${RUNS}, PostgreSQL)`, value: times[Math.floor(times.length / 2)] ?? Number.NaN, unit: 'ms' },
          { name: `bundle size (${files} files, ${(raw / 1e6).toFixed(1)} MB unzipped)`, value: size / 1e6, unit: 'MB' },
        ];
      } finally {
        await t.close();
      }
    },
  },
];
