import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Unzip, UnzipInflate, unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import type { Actor } from '../access/index.ts';
import { peakGrowth, storeRecordedSession } from './evidence.test-kit.ts';

/**
 * The evidence bundle is streamed: a recording is read in chunks as the zip is written, never held
 * whole, and a failure once the zip has started cuts it off rather than finishing it. Changes with
 * synthetic sessions (rows and log entries as the gateway leaves them, recordings made here), so
 * that recordings of any size cost no SSH session.
 */

const run = promisify(execFile);
const MiB = 1024 ** 2;
/** The sparse recording: big enough that holding it (let alone it and its zip) would show, quick to hash. */
const BIG_RECORDING_BYTES = 64 * MiB;
/** What streaming it may hold above what the process held before: a few chunks, zlib's state. */
const MEMORY_BOUND = 16 * MiB;


/** Unzips as a streaming extractor does, entry by entry from the front, keeping what it could read before the zip ends. */
async function extractWhatItCan(zip: string, dir: string): Promise<string[]> {
  const extracted: string[] = [];
  const unzip = new Unzip((entry) => {
    const chunks: Uint8Array[] = [];
    entry.ondata = (error, chunk, final) => {
      if (error) return;
      chunks.push(chunk);
      if (!final) return;
      mkdirSync(path.dirname(path.join(dir, entry.name)), { recursive: true });
      writeFileSync(path.join(dir, entry.name), Buffer.concat(chunks));
      extracted.push(entry.name);
    };
    entry.start();
  });
  unzip.register(UnzipInflate);
  for await (const chunk of createReadStream(zip)) unzip.push(chunk as Buffer);
  return extracted;
}

/** `node verify.mjs --key <key>` in the unzipped bundle, in another process: its exit code and what it printed. */
async function verifyOffline(dir: string, key: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(dir, 'verify.mjs'), '--key', key], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '' } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe.each(DATABASE_KINDS)('the evidence bundle, streamed, on %s', (kind) => {
  let dir: string;
  let t: TestChangegate;
  let auditor: { actor: Actor; client: TestClient };
  let alice: { username: string; client: TestClient };

  /** An open change on a device of its own with one finished session whose recording is `file`. Returns the session's number. */
  const changeWithRecording = async (change: string, file: string): Promise<number> => {
    const device = `${change.toLowerCase()}-host`;
    expect((await t.admin.post('/devices', { name: device, hostname: '192.0.2.10' })).status).toBe(201);
    const now = t.clock.now();
    const created = await t.admin.post('/changes', {
      name: change,
      title: 'Rotate the logs',
      startAt: new Date(now.getTime() - 60_000).toISOString(),
      dueAt: new Date(now.getTime() + 3_600_000).toISOString(),
      accessGroup: 'ops',
      devices: [device],
      script: 'logrotate -f /etc/logrotate.conf',
    });
    expect(created.status).toBe(201);
    return storeRecordedSession(t, { change, device, user: alice, recording: file, command: 'logrotate -f /etc/logrotate.conf' });
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-evidence-stream-'));
    t = await startTestChangegate(kind);
    alice = { username: 'alice', client: (await buildUser(t, { username: 'alice' })).client };
    const user = await buildUser(t, { username: 'auditor', grants: [{ privilege: 'Change.View' }, { privilege: 'Session.View' }, { privilege: 'EventLog.View' }] });
    const id = (await t.cg.database.db.selectFrom('app_user').select('id').where('username', '=', 'auditor').executeTakeFirstOrThrow()).id;
    auditor = { actor: { userId: id, username: 'auditor' }, client: user.client };
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['admin'] })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`writes the bundle of a ${BIG_RECORDING_BYTES / MiB} MiB recording holding less than ${MEMORY_BOUND / MiB} MiB more memory, and it verifies offline`, async () => {
    // Sparse: an asciicast header, then zeros the file system does not store.
    const recording = path.join(dir, 'big.cast');
    writeFileSync(recording, `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n`);
    truncateSync(recording, BIG_RECORDING_BYTES);
    const number = await changeWithRecording('CHG-BIG', recording);

    const zip = path.join(dir, 'big.zip');
    const growth = await peakGrowth(async () => {
      const bundle = await t.cg.services.evidence.export(auditor.actor, 'CHG-BIG');
      await pipeline(bundle.zip, createWriteStream(zip));
    });
    expect(growth.samples).toBeGreaterThan(3);
    expect(growth.bytes).toBeLessThan(MEMORY_BOUND);

    const unzipped = path.join(dir, 'big');
    for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zip)))) {
      mkdirSync(path.dirname(path.join(unzipped, name)), { recursive: true });
      writeFileSync(path.join(unzipped, name), bytes);
    }
    const { code, output } = await verifyOffline(unzipped, t.cg.logSigningKey.verifierKey);
    expect(output).toContain(`ok   recording: sessions/${number}/recording.cast is the recording logged when session ${number} ended`);
    expect(output).toMatch(/OK: the bundle is complete/);
    expect(code).toBe(0);
    rmSync(unzipped, { recursive: true });
  });

  it('cuts the zip off when a recording changes after the export was logged: no zip tool and no verifier takes what was sent for a bundle', async () => {
    const recording = path.join(dir, 'changing.cast');
    writeFileSync(recording, randomBytes(4 * MiB));
    await changeWithRecording('CHG-CUT', recording);
    const bundle = await t.cg.services.evidence.export(auditor.actor, 'CHG-CUT');
    // The export is logged and its manifest holds the recording's hash; then a byte of it changes
    // (to its complement: a fixed value would be the byte already there once in 256 runs).
    const file = await open(recording, 'r+');
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, 2 * MiB);
    await file.write(Buffer.from([~(byte[0] as number) & 0xff]), 0, 1, 2 * MiB);
    await file.close();

    const cut = path.join(dir, 'cut.zip');
    await expect(pipeline(bundle.zip, createWriteStream(cut))).rejects.toThrow(/recording\.cast changed between its hashing and the writing of the bundle \(it hashes to [0-9a-f]{64}, not [0-9a-f]{64}\)/);
    expect(readFileSync(cut).length).toBeGreaterThan(MiB);
    expect(() => unzipSync(readFileSync(cut))).toThrow();
    const verified = await runCliInProcess(['verify-evidence', cut, '--key', t.cg.logSigningKey.verifierKey], { env: {} });
    expect(verified.stderr).toMatch(/is not a zip file, or not a whole one/);
    expect(verified.code).toBe(1);

    // A streaming extractor keeps the entries before the cut; the manifest and the checkpoint, written last, are not among them.
    const extracted = path.join(dir, 'cut');
    mkdirSync(extracted);
    expect(await extractWhatItCan(cut, extracted)).toEqual(expect.arrayContaining(['change.json', 'log/events.json']));
    copyFileSync(new URL('./verify.mjs', import.meta.url), path.join(extracted, 'verify.mjs'));
    const { code, output } = await verifyOffline(extracted, t.cg.logSigningKey.verifierKey);
    expect(output).toContain('FAIL file: manifest.json was removed from the bundle');
    expect(output).toContain('FAIL file: log/checkpoint.txt was removed from the bundle');
    expect(output).toMatch(/FAILED\n$/);
    expect(code).toBe(1);
  });

  it('breaks the HTTP download off when the zip fails once it has started: the client sees an incomplete answer', async () => {
    // Incompressible, and some times what the sockets buffer while the client reads nothing (a few
    // MiB): the server is still reading it when its last byte changes.
    const recording = path.join(dir, 'served.cast');
    writeFileSync(recording, randomBytes(12 * MiB));
    await changeWithRecording('CHG-HTTP', recording);
    await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.cg.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const credentials = auditor.client.credentials as { cookie: string };

    const answer = await new Promise<{ status: number | undefined; type: unknown; complete: boolean; bytes: Buffer }>((resolve, reject) => {
      let answered = false;
      const request = get({ host: '127.0.0.1', port, path: '/api/v1/changes/CHG-HTTP/evidence', headers: { cookie: `changegate_session=${credentials.cookie}` } }, (response) => {
        answered = true;
        // The zip has started (headers sent, nothing read yet): the recording changes under it.
        const file = readFileSync(recording);
        file.writeUInt8(file.readUInt8(file.length - 1) ^ 0xff, file.length - 1);
        writeFileSync(recording, file);
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => undefined);
        response.on('close', () => resolve({ status: response.statusCode, type: response.headers['content-type'], complete: response.complete, bytes: Buffer.concat(chunks) }));
      });
      // Once the answer has started, its end (complete or not) is what counts.
      request.on('error', (error) => (answered ? undefined : reject(error)));
    });
    expect(answer).toMatchObject({ status: 200, type: 'application/zip', complete: false });
    expect(() => unzipSync(answer.bytes)).toThrow();
  });
});
