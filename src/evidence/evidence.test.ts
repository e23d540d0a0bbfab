import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { addDevice, addOpenChange, approvedRequest, keyPair, must, ssh, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { generateSigningKey, parseNote, signNote } from '../eventlog/signed-note.ts';
import { EvidenceService } from './evidence.service.ts';
import { readBundleDirectory, verifyBundle } from './verify.mjs';

/**
 * A change run for real (one exec session through the gateway to a real sshd), exported as an
 * evidence bundle, unzipped, and verified by the bundle's own verify.mjs in a child process with no
 * database and no server; then each kind of tampering is caught and named.
 */

const run = promisify(execFile);

/** `node verify.mjs [args]` in the unzipped bundle: its exit code and what it printed. */
async function verifyOffline(dir: string, args: readonly string[] = []): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(dir, 'verify.mjs'), ...args], { cwd: tmpdir(), env: { PATH: process.env.PATH ?? '' } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** GET of a binary answer, as the signed-in client. */
async function download(t: TestChangegate, client: TestClient, url: string) {
  const credentials = client.credentials as { cookie: string };
  const response = await t.cg.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { cookie: `changegate_session=${credentials.cookie}` } });
  return { status: response.statusCode, headers: response.headers, bytes: response.rawPayload, json: () => JSON.parse(response.body) as { error: { code: string; message: string } } };
}

function unzipTo(zip: Uint8Array, dir: string): void {
  for (const [name, bytes] of Object.entries(unzipSync(zip))) {
    if (name.endsWith('/')) continue;
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), bytes);
  }
}

const eventCount = async (t: TestChangegate) => Number((await t.cg.database.db.selectFrom('event').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

describe.each(DATABASE_KINDS)('the evidence bundle of a change, on %s', (kind) => {
  let dir: string;
  let sshd: TestSshd;
  let t: TestChangegate;
  let auditor: TestClient;
  let pristine: string;
  let sessionNumber: number;
  /** The log's key as an auditor obtains it: from the server's public /log/key, not from the bundle. */
  let logKey: string;

  /** A copy of the verified bundle to tamper with. */
  const copy = (name: string) => {
    const target = path.join(dir, name);
    cpSync(pristine, target, { recursive: true });
    return target;
  };
  const editJson = (file: string, edit: (value: any) => void) => {
    const value = JSON.parse(readFileSync(file, 'utf8'));
    edit(value);
    writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-evidence-'));
    const deviceKey = keyPair(dir, 'device_root');
    const aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' });
    const { sshPort } = await t.cg.startBackground();
    const alice = await buildUser(t, { username: 'alice' });
    const carol = await buildUser(t, { username: 'carol' });
    auditor = (await buildUser(t, { username: 'auditor', grants: [{ privilege: 'Change.View' }, { privilege: 'Session.View' }, { privilege: 'EventLog.View' }, { privilege: 'AuditTrail.View' }, { privilege: 'Device.View' }] })).client;
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'adding alice’s key');
    await must(t.admin.post('/audit/rules', { name: 'Changes', objectType: 'Change', level: 'full_audit' }), 201, 'auditing changes');
    await addDevice(t.admin, 'web01', sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: 'CHG-42', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, 'web01');
    // Long enough for the recording's progress to be logged while it runs (once a second); a
    // shorter session's end alone vouches for its recording.
    const ran = await ssh(sshPort, 'alice@web01', 'echo one; sleep 3', { key: aliceKey.file });
    expect(ran.stdout).toContain('one');
    sessionNumber = await waitUntil(async () => {
      const [session] = (await t.admin.get('/sessions?change=CHG-42')).body as Array<{ number: number; recordingSha256: string | null }>;
      const scored = (await t.admin.get('/audit/sessions?change=CHG-42')).body as Array<{ changeScore: number | null }>;
      return session?.recordingSha256 && scored[0]?.changeScore !== null && scored[0]?.changeScore !== undefined ? session.number : undefined;
    }, 'the session to end and be scored');
    // The recording's progress is logged within a second of its writes.
    await waitUntil(
      async () => (await t.cg.database.db.selectFrom('event').select('seq').where('action', '=', 'recording.chunks').executeTakeFirst()) !== undefined || undefined,
      "the recording's progress to be logged",
    );

    const answer = await download(t, auditor, '/changes/CHG-42/evidence');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/zip');
    expect(answer.headers['content-disposition']).toBe('attachment; filename="CHG-42-evidence.zip"');
    pristine = path.join(dir, 'chg42');
    unzipTo(answer.bytes, pristine);
    const key = await t.cg.app.inject({ method: 'GET', url: '/api/v1/log/key?format=text' });
    expect(key.statusCode).toBe(200);
    logKey = key.body.trim();
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the change as approved, its request and decision, the session with its recording and commands, the board and the log entries', () => {
    const read = (name: string) => JSON.parse(readFileSync(path.join(pristine, name), 'utf8'));
    const change = read('change.json');
    expect(change.change).toMatchObject({ name: 'CHG-42', script: 'echo one\nuptime', accessGroup: 'chg-42-team', devices: ['web01'] });
    expect(change.asApproved).toEqual([expect.objectContaining({ digest: change.change.planDigest, version: change.change.version, requests: [1] })]);
    expect(read('requests.json')).toEqual([expect.objectContaining({ number: 1, status: 'approved', requester: 'alice', decisions: [expect.objectContaining({ approver: 'carol', decision: 'approve', digest: change.change.planDigest })] })]);
    const session = read(`sessions/${sessionNumber}/session.json`);
    expect(session).toMatchObject({ user: 'alice', device: 'web01', change: 'CHG-42', request: 1, execCommand: 'echo one; sleep 3' });
    expect(readFileSync(path.join(pristine, `sessions/${sessionNumber}/recording.cast`), 'utf8')).toContain('one');
    expect(read('review.json').board).toMatchObject({ change: { name: 'CHG-42' }, score: expect.any(Number) });
    expect(read('audit-trail.json')).toEqual([expect.objectContaining({ objectType: 'Change', businessKey: 'GLOBAL.CHG-42', action: 'C', partitionId: expect.any(String), ruleId: expect.any(String) })]);
    expect(change.devices).toEqual([expect.objectContaining({ name: 'web01', hostname: '127.0.0.1', port: sshd.port, hostKeyFingerprint: expect.any(String) })]);
    const actions = (read('log/events.json') as Array<{ action: string }>).map((event) => event.action);
    expect(actions).toEqual(expect.arrayContaining(['change.create', 'request.create', 'request.approve', 'session.start', 'session.end']));
    expect(read('log/export-event.json')).toMatchObject({ action: 'evidence.export', actor: 'auditor', subject: 'change:GLOBAL.CHG-42', data: { change: 'CHG-42' } });
    expect(readFileSync(path.join(pristine, 'log/key.txt'), 'utf8').trim()).toBe(t.cg.logSigningKey.verifierKey);
  });

  it('verifies offline: node verify.mjs --key <the log key> in the unzipped bundle, with no server and no database, prints each check and OK', async () => {
    const { code, output } = await verifyOffline(pristine, ['--key', logKey]);
    expect(output).toContain(`Log key: ${t.cg.logSigningKey.verifierKey}`);
    expect(output).toMatch(/ok {3}checkpoint: signed by/);
    expect(output).toMatch(/ok {3}events: all \d+ log entries/);
    expect(output).toMatch(/ok {3}manifest: manifest.json \(SHA-256 [0-9a-f]{64}\) is the one logged as entry \d+ by auditor/);
    expect(output).toMatch(/ok {3}files: all \d+ files match the manifest, and no file was added/);
    expect(output).toContain(`ok   recording: sessions/${sessionNumber}/recording.cast is the recording logged when session ${sessionNumber} ended`);
    expect(output).toContain('ok   decision: request #1: approve by carol is logged');
    expect(output).toMatch(/OK: the bundle is complete/);
    expect(code).toBe(0);
  });

  it("never says OK with only the bundle's own key: every check runs, the verdict is UNANCHORED, exit 3", async () => {
    const { code, output } = await verifyOffline(pristine);
    expect(output).toMatch(/ok {3}checkpoint: signed by/);
    expect(output).toMatch(/ok {3}files: all \d+ files match the manifest/);
    expect(output).not.toMatch(/^OK/m);
    expect(output).toMatch(/UNANCHORED: every check passed, but the bundle's own key was used; pass --key with the log's key obtained independently/);
    expect(code).toBe(3);
  });

  it('a bundle re-signed end to end with a forger’s key passes its own checks but is UNANCHORED, and fails against the log’s key', async () => {
    const bundle = copy('forged-key');
    const forger = generateSigningKey(t.cg.logSigningKey.origin);
    const forgerKey = `${forger.name}+${forger.keyId.toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([1]), forger.publicKey]).toString('base64')}`;
    const file = path.join(bundle, 'log/checkpoint.txt');
    writeFileSync(file, signNote(parseNote(readFileSync(file, 'utf8')).text, forger));
    writeFileSync(path.join(bundle, 'log/key.txt'), `${forgerKey}\n`);
    const alone = await verifyOffline(bundle);
    expect(alone.output).toContain(`Log key: ${forgerKey}`);
    expect(alone.output).toMatch(/UNANCHORED/);
    expect(alone.code).toBe(3);
    const anchored = await verifyOffline(bundle, ['--key', logKey]);
    expect(anchored.output).toMatch(/FAIL key: the key given .* is not the bundle's/);
    expect(anchored.output).toMatch(/FAILED\n$/);
    expect(anchored.code).toBe(1);
  });

  it('verifies against a key and checkpoint obtained independently, and refuses another key', async () => {
    const checkpointFile = path.join(dir, 'independent-checkpoint.txt');
    writeFileSync(checkpointFile, readFileSync(path.join(pristine, 'log/checkpoint.txt')));
    const good = await verifyOffline(pristine, ['--key', logKey, '--checkpoint', checkpointFile]);
    expect(good.output).toContain("the checkpoint given is the bundle's");
    expect(good.code).toBe(0);
    const other = generateSigningKey(t.cg.logSigningKey.origin);
    const bad = await verifyOffline(pristine, ['--key', `${other.name}+${other.keyId.toString(16).padStart(8, '0')}+${Buffer.concat([Buffer.from([1]), other.publicKey]).toString('base64')}`]);
    expect(bad.output).toMatch(/FAIL key: the key given .* is not the bundle's/);
    expect(bad.output).toMatch(/FAIL checkpoint: log\/checkpoint.txt: the checkpoint carries no signature of the key/);
    expect(bad.code).toBe(1);
  });

  const tamperings: Array<[string, (bundle: string) => void, RegExp]> = [
    [
      'a changed byte of a recording',
      (bundle) => {
        const file = path.join(bundle, `sessions/${sessionNumber}/recording.cast`);
        const bytes = readFileSync(file);
        bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 0x01, bytes.length - 3);
        writeFileSync(file, bytes);
      },
      /FAIL file: sessions\/\d+\/recording\.cast was changed[\s\S]*FAIL recording: sessions\/\d+\/recording\.cast hashes to [0-9a-f]{64}, not to the SHA-256 logged/,
    ],
    ['a changed JSON file', (bundle) => editJson(path.join(bundle, 'change.json'), (value) => (value.change.script = 'rm -rf /')), /FAIL file: change\.json was changed/],
    ['a removed file', (bundle) => rmSync(path.join(bundle, `sessions/${sessionNumber}/commands.json`)), /FAIL file: sessions\/\d+\/commands\.json was removed from the bundle/],
    ['a removed log file', (bundle) => rmSync(path.join(bundle, 'log/proofs.json')), /FAIL file: log\/proofs\.json was removed from the bundle/],
    ['an added file', (bundle) => writeFileSync(path.join(bundle, 'sessions', 'notes.txt'), 'nothing to see'), /FAIL file: sessions\/notes\.txt was added to the bundle: it is not in the manifest/],
    [
      'an edited event',
      (bundle) => editJson(path.join(bundle, 'log/export-event.json'), (value) => (value.actor = 'someone-else')),
      /FAIL event: event \d+ \(evidence\.export change:GLOBAL\.CHG-42\) was changed: it hashes to [0-9a-f]{64}, the log's leaf \d+ is [0-9a-f]{64}/,
    ],
    [
      'an edited event the manifest covers',
      (bundle) => editJson(path.join(bundle, 'log/events.json'), (events) => (events.find((event: { action: string }) => event.action === 'session.end').data.exitStatus = 99)),
      /FAIL event: event \d+ \(session\.end session:[0-9a-f-]+\) was changed[\s\S]*FAIL file: log\/events\.json was changed/,
    ],
    [
      'an edited proof hash',
      (bundle) =>
        editJson(path.join(bundle, 'log/proofs.json'), (proofs) => {
          const first = proofs.proofs.find((entry: { proof: string[] }) => entry.proof.length > 0);
          first.proof[0] = `${first.proof[0][0] === 'A' ? 'B' : 'A'}${first.proof[0].slice(1)}`;
        }),
      /FAIL proof: the inclusion proof of event \d+ \(.+\) does not lead to the checkpoint's root/,
    ],
    [
      'a checkpoint signed by another key of the same name',
      (bundle) => {
        const file = path.join(bundle, 'log/checkpoint.txt');
        const { text } = parseNote(readFileSync(file, 'utf8'));
        writeFileSync(file, signNote(text, generateSigningKey(t.cg.logSigningKey.origin)));
      },
      /FAIL checkpoint: log\/checkpoint\.txt: the checkpoint carries no signature of the key .*: it was signed by another key/,
    ],
    [
      'the manifest replaced with one consistent with the changed files',
      (bundle) => {
        editJson(path.join(bundle, 'change.json'), (value) => (value.change.script = 'rm -rf /'));
        editJson(path.join(bundle, 'manifest.json'), (manifest) => {
          const entry = manifest.files.find((file: { path: string }) => file.path === 'change.json');
          const bytes = readFileSync(path.join(bundle, 'change.json'));
          entry.sha256 = createHash('sha256').update(bytes).digest('hex');
          entry.size = bytes.length;
        });
      },
      /FAIL manifest: manifest\.json hashes to [0-9a-f]{64}, but the export logged as entry \d+ holds [0-9a-f]{64}: the manifest was replaced/,
    ],
  ];

  it.each(tamperings)('detects and names %s', async (what, tamper, expected) => {
    const bundle = copy(what.replaceAll(' ', '-'));
    tamper(bundle);
    const { code, output } = await verifyOffline(bundle, ['--key', logKey]);
    expect(output).toMatch(expected);
    expect(output).toMatch(/FAILED\n$/);
    expect(code).toBe(1);
  });

  it('holds the change-audit result and the recording progress, and checks each audit-trail entry against the hash its write logged', async () => {
    const events = JSON.parse(readFileSync(path.join(pristine, 'log/events.json'), 'utf8')) as Array<{ action: string; subject: string; data: any }>;
    const sessionId = JSON.parse(readFileSync(path.join(pristine, `sessions/${sessionNumber}/session.json`), 'utf8')).id as string;
    expect(events).toContainEqual(expect.objectContaining({ action: 'review.result', subject: 'change:CHG-42' }));
    expect(events).toContainEqual(expect.objectContaining({ action: 'recording.chunks', subject: 'recordings', data: expect.objectContaining({ chunks: expect.arrayContaining([expect.objectContaining({ session: sessionId })]) }) }));
    const { output } = await verifyOffline(pristine, ['--key', logKey]);
    expect(output).toMatch(/ok {3}audit entry: audit-trail entry \d+ is the one logged with entry \d+ \(change\.create\)/);
  });

  /** The pristine bundle's files with an edit, checked in process against the log's key. */
  const verifyEdited = (edit: (files: Map<string, Uint8Array>) => void) => {
    const files = readBundleDirectory(pristine);
    edit(files);
    const report = verifyBundle(files, { key: logKey });
    return { ok: report.ok, failures: report.checks.filter((check) => !check.ok).map((check) => `${check.check}: ${check.detail}`) };
  };
  const rewriteJson = (files: Map<string, Uint8Array>, name: string, edit: (value: any) => void) => {
    const value = JSON.parse(Buffer.from(files.get(name) as Uint8Array).toString('utf8'));
    edit(value);
    files.set(name, Buffer.from(`${JSON.stringify(value, null, 2)}\n`));
  };

  it('detects a recording left out, even with its manifest line removed', () => {
    const result = verifyEdited((files) => {
      files.delete(`sessions/${sessionNumber}/recording.cast`);
      rewriteJson(files, 'manifest.json', (manifest) => (manifest.files = manifest.files.filter((file: { path: string }) => !file.path.endsWith('recording.cast'))));
    });
    expect(result.ok).toBe(false);
    expect(result.failures).toContainEqual(expect.stringMatching(new RegExp(`^recording: sessions/${sessionNumber}/recording\\.cast is missing: session ${sessionNumber} ended with a recording logged as entry \\d+`)));
  });

  it('detects a logged decision left out of requests.json, and an audit-trail entry changed', () => {
    const decision = verifyEdited((files) => rewriteJson(files, 'requests.json', (requests) => (requests[0].decisions = [])));
    expect(decision.failures).toContainEqual(expect.stringMatching(/^decision: the approve of request #1 by carol \(entry \d+, plan [0-9a-f]{64}\) is logged but not in requests\.json: it was left out/));
    const entry = verifyEdited((files) => rewriteJson(files, 'audit-trail.json', (entries) => (entries[0].after.script = 'rm -rf /')));
    expect(entry.failures).toContainEqual(expect.stringMatching(/^audit entry: audit-trail entry \d+ hashes to [0-9a-f]{64}, not to the SHA-256 logged with entry \d+ .*: it was changed/));
    const dropped = verifyEdited((files) => rewriteJson(files, 'audit-trail.json', (entries) => entries.splice(0, 1)));
    expect(dropped.failures).toContainEqual(expect.stringMatching(/^audit entry: audit-trail entry \d+, logged with entry \d+ \(change\.create\), is not in audit-trail\.json: it was left out/));
  });

  it('leaves out the audit trail without AuditTrail.View and a device’s address and host key without Device.View, saying why; the rest verifies', async () => {
    const narrow = (await buildUser(t, { grants: [{ privilege: 'Change.View' }, { privilege: 'Session.View' }, { privilege: 'EventLog.View' }] })).client;
    const answer = await download(t, narrow, '/changes/CHG-42/evidence');
    expect(answer.status).toBe(200);
    const bundle = path.join(dir, 'narrow');
    unzipTo(answer.bytes, bundle);
    const auditTrail = readFileSync(path.join(bundle, 'audit-trail.json'), 'utf8');
    expect(JSON.parse(auditTrail)).toEqual({ entries: null, note: expect.stringMatching(/needs the AuditTrail\.View privilege in its partition; it was left out/) });
    const change = readFileSync(path.join(bundle, 'change.json'), 'utf8');
    expect(JSON.parse(change).devices).toEqual([{ name: 'web01', note: expect.stringMatching(/need the Device\.View privilege in its partition; they were left out/) }]);
    expect(change).not.toContain('127.0.0.1');
    expect(change).not.toContain('"port"');
    expect(change).not.toContain('hostKeyFingerprint');
    const { code, output } = await verifyOffline(bundle, ['--key', logKey]);
    expect(output).toMatch(/OK: the bundle is complete/);
    expect(code).toBe(0);
  });

  it('refuses (413 evidence_too_large, saying how large and the bound) a bundle past the bound, by its recordings alone or with its other files, logging nothing', async () => {
    const recording = readFileSync(path.join(pristine, `sessions/${sessionNumber}/recording.cast`));
    const auditorId = (await t.cg.database.db.selectFrom('app_user').select('id').where('username', '=', 'auditor').executeTakeFirstOrThrow()).id;
    const service = (maxBundleBytes?: number) =>
      new EvidenceService({
        db: t.cg.database.db,
        clock: t.clock,
        boards: { audit: (actor, change) => t.cg.services.reviews.audit(actor, change) },
        recordings: t.cg.recordings,
        log: { key: () => t.cg.services.checkpoints.key(), latest: (actor) => t.cg.services.checkpoints.latest(actor), checkpointCovering: (size) => t.cg.checkpointPublisher.checkpointCovering(size) },
        ...(maxBundleBytes !== undefined && { maxBundleBytes }),
      });
    const exportAs = (maxBundleBytes?: number) => service(maxBundleBytes).export({ userId: auditorId, username: 'auditor' }, 'CHG-42');
    const before = await eventCount(t);
    // Refused on the recordings' sizes, before they are read.
    expect(await exportAs(recording.length - 1).catch((error: unknown) => error)).toMatchObject({
      code: 'evidence_too_large',
      status: 413,
      message: expect.stringContaining(`would hold at least ${recording.length} bytes, more than the ${recording.length - 1} bytes one bundle may hold`),
    });
    // The JSON files, the verifier and the manifest count too.
    expect(await exportAs(recording.length).catch((error: unknown) => error)).toMatchObject({ code: 'evidence_too_large', details: { bytes: expect.any(Number), limit: recording.length } });
    expect(await eventCount(t)).toBe(before);
    const fits = await exportAs();
    const zip = Buffer.concat(await fits.zip.toArray());
    expect(Buffer.from(unzipSync(zip)[`sessions/${sessionNumber}/recording.cast`] as Uint8Array)).toEqual(recording);
  });

  it('refuses an export without Session.View or EventLog.View (403), or of a change the caller cannot see (404): nothing exported, nothing logged', async () => {
    const noSessions = (await buildUser(t, { grants: [{ privilege: 'Change.View' }, { privilege: 'EventLog.View' }] })).client;
    const noLog = (await buildUser(t, { grants: [{ privilege: 'Change.View' }, { privilege: 'Session.View' }] })).client;
    const nobody = (await buildUser(t)).client;
    const before = await eventCount(t);
    for (const [client, status, message] of [
      [noSessions, 403, /Session\.View/],
      [noLog, 403, /EventLog\.View/],
      [nobody, 404, /No change "CHG-42"/],
    ] as const) {
      const answer = await download(t, client, '/changes/CHG-42/evidence');
      expect(answer.status).toBe(status);
      expect(answer.headers['content-type']).toMatch(/json/);
      expect(answer.json().error.message).toMatch(message);
    }
    expect(await eventCount(t)).toBe(before);
  });
});
