import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOperator, startCliServer, type CliOperator, type CliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { signInOver } from '../../test/gateway-kit.ts';
import { parseCheckpoint } from '../eventlog/checkpoint.ts';
import { generateSigningKey, encodeVerifierKey, parseNote, verifierOf } from '../eventlog/signed-note.ts';
import { openDatabase } from '../platform/database.ts';

// An auditor holding a checkpoint and the log's key, both obtained apart from the server: through
// the API while the server runs, then with `changegate verify --checkpoint` reading the database.
describe.each(DATABASE_KINDS)('verifying the log against a saved checkpoint on %s', (kind) => {
  let server: CliServer;
  let local: CliOperator;
  let note: string;
  let verifierKey: string;
  let cpFile: string;
  beforeAll(async () => {
    server = await startCliServer(kind, {}, { onDisk: kind === 'pglite' });
    for (let i = 0; i < 6; i += 1) expect((await server.admin.post('/users', { username: `user${i}`, password: 'a-long-password-123', displayName: `User ${i}` })).status).toBe(201);
    await server.cg.checkpointPublisher.signNow();
    note = (await server.admin.get('/log/checkpoint')).body as string;
    verifierKey = server.cg.logSigningKey.verifierKey;
    cpFile = path.join(server.dataDir, '..', `cp-${path.basename(server.dataDir)}.txt`);
    writeFileSync(cpFile, note);
    local = cliOperator(server.settings);
  });
  afterAll(async () => {
    local?.remove();
    await server?.remove();
  });

  it('verifies through the API, with the note as text or as JSON with a key given', async () => {
    const size = parseCheckpoint(parseNote(note).text).size;
    const asText = await server.admin.request('POST', '/log/verify', note, { 'content-type': 'text/plain' });
    expect(asText.status).toBe(200);
    expect(asText.body).toMatchObject({ ok: true, forked: false, checkpoint: { size }, key: { verifierKey, source: 'log' } });
    const withKey = await server.admin.post('/log/verify', { checkpoint: note, verifierKey });
    expect(withKey.body).toMatchObject({ ok: true, key: { source: 'given' } });
    const stranger = encodeVerifierKey(verifierOf(generateSigningKey('localhost:8080')));
    expect((await server.admin.post('/log/verify', { checkpoint: note, verifierKey: stranger })).body).toMatchObject({ ok: false, verified: 0, failure: { kind: 'unknown_key' } });
    const badKey = await server.admin.post('/log/verify', { checkpoint: note, verifierKey: 'not a key' });
    expect(badKey.status).toBe(400);
    expect(badKey.body).toMatchObject({ error: { code: 'validation_failed' } });
    expect((badKey.body as { error: { message: string } }).error.message).toContain('The verifier key is not valid');
  });

  it('needs EventLog.Verify: a user who may only view the log is refused, and nothing is logged', async () => {
    expect((await server.admin.post('/grants', { username: 'user0', privilege: 'EventLog.View' })).status).toBe(201);
    const viewer = await signInOver(server.url, 'user0', 'a-long-password-123');
    const before = ((await server.admin.get('/events?limit=1000')).body as Array<{ seq: number }>).length;
    const refused = await viewer.post('/log/verify', { checkpoint: note });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
    expect(((await server.admin.get('/events?limit=1000')).body as Array<{ seq: number }>).length).toBe(before);
  });

  it('catches entries deleted at the end, which the chain alone misses, naming the kind and the entries', async () => {
    // Someone with access to the database deletes the last entries, past the triggers.
    const size = parseCheckpoint(parseNote(note).text).size;
    if (kind === 'pglite') await server.stop();
    const handle = await openDatabase(kind === 'pglite' ? { kind: 'pglite', dataDir: server.dataDir } : { kind: 'postgres', url: server.settings.DATABASE_URL as string });
    try {
      await sql`ALTER TABLE event DISABLE TRIGGER USER`.execute(handle.db);
      await sql`DELETE FROM event WHERE seq > ${size - 3}`.execute(handle.db);
      await sql`ALTER TABLE event ENABLE TRIGGER USER`.execute(handle.db);
    } finally {
      await handle.close();
    }
    // Today's chain check sees nothing wrong with the entries left, and logs its run, unless that
    // entry completes a subtree whose hash the deleted entries left behind: then it prints its
    // report all the same, and says why the run could not be logged (an even seq completes one).
    const left = size - 3;
    const refusedAt = (seq: number) => seq % 2 === 0;
    const chain = await local.changegate(['verify'], refusedAt(left + 1) ? 1 : 0);
    expect(chain.stdout).toMatch(new RegExp(`^Event log verified: ${left} entries; head ${left} [0-9a-f]{64}\\n$`));
    if (refusedAt(left + 1)) expect(chain.stderr).toContain(`error: this run could not be logged in the event log: Entry ${left + 1} is not appended: the event log's Merkle tree already holds a different hash`);
    const stored = refusedAt(left + 1) ? left : left + 1;

    const failed = await local.changegate(['verify', '--checkpoint', cpFile, '--key', verifierKey], 1);
    const lines = failed.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Key: ${verifierKey.split('+').slice(0, 2).join('+')}, as given with --key.`);
    expect(lines[1]).toMatch(new RegExp(`^Checkpoint: localhost:8080, ${size} entries, root \\S+: signature verified\\.$`));
    expect(lines.at(-1)).toBe(
      `Event log verification against the checkpoint FAILED (truncated) at entries ${stored + 1}–${size}: The log holds ${stored} entries, but the checkpoint saw ${size}: entries ${stored + 1}–${size} were deleted from its end.`,
    );
    // The log cannot grow back over what the checkpoint signed: the next entry that completes a
    // subtree of the deleted ones is refused, so it stays short, and truncated is what is reported.
    const again = await local.changegate(['verify', '--checkpoint', cpFile, '--json'], 1);
    const report = JSON.parse(again.stdout) as { key: { source: string }; failure: { kind: string; seq: number } };
    expect(report).toMatchObject({ key: { source: 'log' }, storedSize: stored, failure: { kind: 'truncated', seq: stored + 1 } });
    expect(again.stderr).toContain(`Entry ${stored + 1} is not appended`);
    expect((await local.changegate(['verify', '--checkpoint', cpFile], 1)).stdout).toContain("this installation's own signing key (the default)");
  });

  it('says what to fix when the checkpoint or the key cannot be read', async () => {
    expect((await local.changegate(['verify', '--checkpoint', '/nonexistent/cp.txt'], 2)).stderr).toBe('error: Cannot read the checkpoint /nonexistent/cp.txt: no such file.\n');
    expect((await local.changegate(['verify', '--checkpoint', cpFile, '--key', 'localhost:8080+0000zzzz+AAAA'], 2)).stderr).toContain('error: --key');
    expect((await local.changegate(['verify', '--key', verifierKey], 2)).stderr).toBe('error: --key verifies a checkpoint: give --checkpoint <file> too.\n');
  });
});
