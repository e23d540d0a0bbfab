import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { gatewayPortOf, keyPair, must, PROMPT, setUpExecutor, signInOver, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { newInstallation, startServer } from '../cli/cli-process.testing.ts';
import { openDatabase } from '../platform/database.ts';
import { parseCast } from './recorder.ts';
import { systemClock } from '../platform/clock.ts';
import { DatabaseRecordingStore, FileRecordingStore } from './recording-store.ts';
import { verifyRecordingAgainstLog } from './recording-verify.ts';

const run = promisify(execFile);

/** The terminal output a recording holds, its events joined. */
const outputOf = (cast: string) =>
  parseCast(cast)
    .events.filter(([, code]) => code === 'o')
    .map(([, , data]) => data)
    .join('');

// One database after the other: two servers starting at once on a small machine can take longer than startServer waits.
// On PostgreSQL the recording is kept in the database (the default there), on PGlite in a file.
describe('a server killed mid-session (kill -9) and restarted', () => {
  let dir: string;
  let sshd: TestSshd;
  let deviceKey: ReturnType<typeof keyPair>;
  let aliceKey: ReturnType<typeof keyPair>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-crash-'));
    deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
  });

  afterAll(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.for(DATABASE_KINDS)(
    'on %s marks the session interrupted; its recording plays up to the last flush, its commands and the event log stand',
    { timeout: 180_000 },
    async (kind, { onTestFinished }) => {
      const installation = await newInstallation(kind, { CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD }, { migrated: true });
      onTestFinished(() => installation.remove());
      // The recording as its store holds it, read from beside the server: the file, or the chunks through a connection of the test's own.
      const beside = kind === 'postgres' ? await openDatabase({ kind, url: installation.env.DATABASE_URL ?? '' }) : undefined;
      onTestFinished(() => beside?.close());
      const store = beside ? new DatabaseRecordingStore({ db: beside.db, clock: systemClock }) : new FileRecordingStore(path.join(installation.dataDir, 'recordings'));
      const recordingOf = async (location: string) => {
        const chunks: Buffer[] = [];
        for await (const chunk of store.read(location)) chunks.push(chunk);
        return Buffer.concat(chunks);
      };
      const first = await startServer(installation);
      onTestFinished(async () => void (await first.stop('SIGKILL')));

      const { admin } = await setUpExecutor(first.url, {
        adminPassword: ADMIN_PASSWORD,
        sshd,
        rootKey: deviceKey.privateKey,
        aliceKey: aliceKey.publicKey,
        change: 'CHG-CRASH',
      });

      const terminal = new Terminal(gatewayPortOf(first.stdout()), 'alice@web01', aliceKey.file);
      onTestFinished(() => terminal.close());
      await terminal.waitFor(PROMPT);
      terminal.type('echo before-crash-1\r');
      await terminal.waitFor(/before-crash-1\r\n.*[#$] $/s);
      terminal.type('echo before-crash-2\r');
      await terminal.waitFor(/before-crash-2\r\n.*[#$] $/s);
      // A command is stored once its prompt is back and quiet: all three are.
      terminal.type('echo before-crash-3\r');
      await terminal.waitFor(/before-crash-3\r\n.*[#$] $/s);

      // Crash only once the commands are stored and the output is on disk (flushed).
      const live = (await must(admin.get('/sessions?live=true'), 200, 'listing live sessions')).body[0];
      expect(live).toMatchObject({ user: 'alice', device: 'web01', change: 'CHG-CRASH', live: true, endReason: null });
      const location = kind === 'postgres' ? live.id : path.join(installation.dataDir, 'recordings', live.startedAt.slice(0, 10), `${live.id}.cast`);
      // The command's output, not its echo: it follows the line break (and bash's bracketed-paste switch).
      await waitUntil(async () => (/\rbefore-crash-3\r\n/.test(outputOf((await recordingOf(location)).toString('utf8'))) ? true : undefined), 'the output to reach the recording');
      await waitUntil(async () => ((await admin.get(`/sessions/${live.number}/commands`)).body.length === 3 ? true : undefined), 'the three commands to be stored');
      // …and the event log vouches for the file as it is now: its length is in a recording.chunks event, within a second.
      // The file is read on each try: the prompt after the output may reach it a flush later, and only the size it ends at is logged.
      await waitUntil(async () => {
        const onDisk = (await recordingOf(location)).length;
        const logged = (await admin.get('/events?action=recording.chunks&limit=1000')).body as Array<{ data: { chunks: Array<{ session: string; bytes: number }> } }>;
        return logged.some((event) => event.data.chunks.some((chunk) => chunk.session === live.id && chunk.bytes === onDisk)) ? true : undefined;
      }, 'the recording.chunks event covering the file');
      const killed = await first.stop('SIGKILL');
      const killedAt = Date.now();
      expect(killed.signal).toBe('SIGKILL');
      expect(await terminal.exited).toBe(255);

      const second = await startServer(installation);
      onTestFinished(async () => void (await second.stop('SIGKILL')));
      expect(second.stdout()).toContain('1 session(s) left open by a crash are now marked interrupted.');
      const auditor = await signInOver(second.url, 'admin', ADMIN_PASSWORD);

      const recorded = await recordingOf(location);
      const file = path.join(dir, `${kind}-recorded.cast`);
      writeFileSync(file, recorded);
      const sha256 = createHash('sha256').update(recorded).digest('hex');
      const session = (await must(auditor.get(`/sessions/${live.number}`), 200, 'reading the session')).body;
      expect(session).toMatchObject({ id: live.id, live: false, endReason: 'interrupted', endedBy: null, recordingSha256: sha256 });
      // Its end is the recording's last write, the last sign of life: after the commands, before the kill.
      expect(Date.parse(session.endedAt)).toBeGreaterThan(Date.parse(session.startedAt));
      expect(Date.parse(session.endedAt)).toBeLessThanOrEqual(killedAt);

      const { header } = parseCast(recorded.toString('utf8'));
      expect(header).toMatchObject({ version: 2, title: 'CHG-CRASH alice@web01' });
      expect(outputOf(recorded.toString('utf8'))).toMatch(/\rbefore-crash-1\r\n[^]*\rbefore-crash-2\r\n[^]*\rbefore-crash-3\r\n/);
      const played = await run('asciinema', ['play', '-i', '0.05', file], { timeout: 30_000 });
      expect(played.stdout).toContain('before-crash-3');
      const download = await auditor.get(`/sessions/${live.number}/recording`);
      expect(download.headers['x-recording-sha256']).toBe(sha256);

      const commands = (await auditor.get(`/sessions/${live.number}/commands`)).body;
      expect(commands).toEqual([
        expect.objectContaining({ seq: 1, text: 'echo before-crash-1', output: 'before-crash-1\n' }),
        expect.objectContaining({ seq: 2, text: 'echo before-crash-2', output: 'before-crash-2\n' }),
        expect.objectContaining({ seq: 3, text: 'echo before-crash-3', output: 'before-crash-3\n' }),
      ]);
      const interrupted = (await auditor.get(`/events?action=session.interrupted&subject=session:${live.id}`)).body;
      expect(interrupted).toEqual([expect.objectContaining({ actor: 'system', data: expect.objectContaining({ recordingSha256: sha256, recordingBytes: recorded.length }) })]);
      // No session end scored the change: the restart did, and logged the result.
      const results = (await auditor.get('/events?action=review.result&subject=change:CHG-CRASH')).body;
      expect(results).toEqual([expect.objectContaining({ actor: 'system', data: expect.objectContaining({ score: expect.any(Number), boardDigest: expect.stringMatching(/^[0-9a-f]{64}$/) }) })]);
      expect((await must(auditor.post('/events/verify'), 200, 'verifying the event log')).body).toMatchObject({ ok: true });

      expect((await second.stop('SIGTERM')).code).toBe(0);

      // The recording as the crash left it verifies against the log: every logged write, and the whole file.
      const database = await openDatabase(kind === 'postgres' ? { kind, url: installation.env.DATABASE_URL ?? '' } : { kind, dataDir: installation.dataDir });
      onTestFinished(() => database.close());
      const stored = kind === 'postgres' ? new DatabaseRecordingStore({ db: database.db, clock: systemClock }) : new FileRecordingStore(dir);
      expect(await verifyRecordingAgainstLog(database.db, live.id, stored.read(location))).toMatchObject({ verifiedBytes: recorded.length, complete: true });
      const changed = Buffer.from(recorded);
      changed[changed.indexOf('before-crash-2') + 7] = 'X'.charCodeAt(0);
      const tampered = path.join(dir, `${kind}-tampered.cast`);
      writeFileSync(tampered, changed);
      expect((await verifyRecordingAgainstLog(database.db, live.id, new FileRecordingStore(dir).read(tampered))).firstMismatchOffset).toBeLessThan(changed.indexOf('before-crash-2'));
    },
  );
});
