import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, signIn, startTestChangegate } from '../../test/harness.ts';
import { ConfigError, loadConfig } from '../platform/config.ts';
import { appendEvent } from './event-append.ts';
import { exportedAll, lastSeq, restart, waitFor } from './siem-export.test-kit.ts';
import { SiemExport } from './siem-export-worker.ts';
import { octetCounted, syslogMessage, type ExportedEntry } from './siem-export.ts';
import { FileSink, siemSinkOf, type SiemSink } from './siem-export-sinks.ts';
import { leaseHolder } from '../platform/work-lease.ts';

const lines = (file: string): ExportedEntry[] =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ExportedEntry);

const seqs = (entries: readonly ExportedEntry[]) => entries.map((entry) => entry.seq);
const oneTo = (n: number) => Array.from({ length: n }, (_, index) => index + 1);

describe.each(DATABASE_KINDS)('SIEM export to a file on %s', (kind) => {
  const dir = mkdtempSync(path.join(tmpdir(), `changegate-siem-${kind}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every entry once, in order, as the API shows it and without a secret, and resumes after a restart without a gap', async () => {
    const file = path.join(dir, 'changegate.jsonl');
    const t = await startTestChangegate(kind, { CHANGEGATE_SIEM_SINK: `file:${file}`, CHANGEGATE_SSH_PORT: '0' });
    let restarted: Awaited<ReturnType<typeof restart>> | undefined;
    try {
      await t.cg.startBackground();
      const secret = 'S3cret-password-of-root-on-db01';
      expect((await t.admin.post('/users', { username: 'carol', password: 'carol-password-1', displayName: 'Carol' })).status).toBe(201);
      expect((await t.admin.post('/devices', { name: 'db01', hostname: '127.0.0.1' })).status).toBe(201);
      expect((await t.admin.post('/credentials', { device: 'db01', account: 'root', secret: { password: secret } })).status).toBe(201);
      const first = await exportedAll(t.cg);

      const written = lines(file);
      expect(seqs(written)).toEqual(oneTo(first));
      // Each line is what GET /api/v1/events answers for the entry.
      expect(written).toEqual((await t.admin.get(`/events?limit=1000`)).body);
      expect(written.map((entry) => entry.action)).toContain('credential.create');
      const text = readFileSync(file, 'utf8');
      for (const never of [secret, ADMIN_PASSWORD, 'carol-password-1']) expect(text).not.toContain(never);

      // Stopped: entries logged meanwhile (by another instance, or a command) wait in the database.
      await t.cg.close();
      for (let n = 0; n < 3; n += 1) {
        await t.cg.database.db.transaction().execute((trx) => appendEvent(trx, { actor: 'system', action: 'test.offline', subject: `entry:${n}`, time: t.clock.now() }));
      }
      restarted = await restart(t);
      // And what is logged after the restart follows.
      const admin = await signIn(restarted, 'admin', ADMIN_PASSWORD);
      expect((await admin.post('/users', { username: 'dave', password: 'dave-password-1', displayName: 'Dave' })).status).toBe(201);
      const last = await exportedAll(restarted);
      expect(last).toBeGreaterThan(first + 3);
      const all = lines(file);
      expect(seqs(all)).toEqual(oneTo(last));
      expect(all.filter((entry) => entry.action === 'test.offline')).toHaveLength(3);
      expect(all.map((entry) => entry.subject)).toContain('user:dave');
      for (const never of [secret, ADMIN_PASSWORD, 'carol-password-1', 'dave-password-1']) expect(readFileSync(file, 'utf8')).not.toContain(never);
    } finally {
      if (restarted) {
        await restarted.close();
        await t.cg.database.close();
        rmSync(t.cg.config.dataDir, { recursive: true, force: true });
      } else await t.close();
    }
  });
});

describe.each(DATABASE_KINDS)('the SIEM export itself on %s', (kind) => {
  const dir = mkdtempSync(path.join(tmpdir(), `changegate-siem-worker-${kind}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('wakes on a new entry at once, exports from one instance at a time, and logs an outage once and its recovery', async () => {
    const t = await startTestChangegate(kind);
    const exports: SiemExport[] = [];
    try {
      const { db, notifications } = t.cg.database;
      const logged: Array<{ level: number; msg: string }> = [];
      const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (logged.push(JSON.parse(chunk.toString('utf8'))), done()) }));
      // The sink's directory is missing at first: the sink is down.
      const file = path.join(dir, 'later', 'changegate.jsonl');
      const sink = new FileSink(file);
      // Two instances sharing the database, each counting the batches it delivered.
      const delivered = { a: 0, b: 0 };
      const counting = (holder: 'a' | 'b'): SiemSink => ({
        name: sink.name,
        deliver: async (entries) => {
          await sink.deliver(entries);
          delivered[holder] += 1;
        },
        close: () => sink.close(),
      });
      // Polling every 10 minutes: only the notification of a new entry can wake them in time.
      const options = { db, clock: t.clock, notifications, logger, pollMs: 600_000, retryDelaysMs: [20, 40] };
      exports.push(new SiemExport({ ...options, sink: counting('a'), holder: 'a' }), new SiemExport({ ...options, sink: counting('b'), holder: 'b' }));
      for (const siem of exports) await siem.start();
      await waitFor(() => (logged.filter((line) => line.level === 40).length > 0 ? true : undefined), 'the outage to be logged');
      await waitFor(() => (logged.filter((line) => line.level === 20).length >= 3 ? true : undefined), 'a few more failed attempts');
      mkdirSync(path.dirname(file));
      await waitFor(async () => ((await exports[0]?.acknowledged()) === (await lastSeq(t.cg)) ? true : undefined), 'the export after the sink came back');

      for (let n = 0; n < 5; n += 1) expect((await t.admin.post('/users', { username: `woken${n}`, password: 'woken-password-1', displayName: 'Woken' })).status).toBe(201);
      const last = await lastSeq(t.cg);
      await waitFor(async () => ((await exports[1]?.acknowledged()) === last ? true : undefined), 'the new entries to be exported', 5_000);
      expect(seqs(lines(file))).toEqual(oneTo(last));
      expect([delivered.a, delivered.b].sort((x, y) => x - y)).toEqual([0, expect.any(Number)]);
      expect(await leaseHolder(db, `siem-export:${sink.name}`, t.clock.now())).toBe(delivered.a > 0 ? 'a' : 'b');
      // One warning for the outage, one line for the recovery, however many attempts failed.
      expect(logged.filter((line) => line.level >= 30).map((line) => line.msg)).toEqual([
        expect.stringMatching(/^SIEM export failed; retrying/),
        expect.stringMatching(/^SIEM export recovered/),
      ]);
    } finally {
      for (const siem of exports) await siem.close();
      await t.close();
    }
  });
});

describe('the file sink', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-siem-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const entry = (seq: number): ExportedEntry => ({ seq, time: '2026-11-21T12:00:00.000Z', actor: 'admin', action: 'user.create', subject: 'user:é', data: { n: seq }, leafHash: 'a'.repeat(64), chainHash: 'b'.repeat(64) });

  it('keeps a line torn by a crash on a line of its own, and appends whole lines after it', async () => {
    const file = path.join(dir, 'torn.jsonl');
    writeFileSync(file, `${JSON.stringify(entry(1))}\n{"seq":2,"ti`);
    await new FileSink(file).deliver([entry(2), entry(3)]);
    const text = readFileSync(file, 'utf8').split('\n');
    expect(text).toEqual([JSON.stringify(entry(1)), '{"seq":2,"ti', JSON.stringify(entry(2)), JSON.stringify(entry(3)), '']);
  });

  it('frames a syslog message as RFC 5424 with octet counting, in plain ASCII', () => {
    const message = syslogMessage(entry(7), { hostname: 'cg1', appName: 'changegate', procId: '42' });
    expect(message).toBe(`<110>1 2026-11-21T12:00:00.000Z cg1 changegate 42 user.create - ${JSON.stringify(entry(7)).replace('é', '\\u00e9')}`);
    expect(JSON.parse(message.slice(message.indexOf('{')))).toEqual(entry(7));
    expect(octetCounted(message).toString('ascii')).toBe(`${message.length} ${message}`);
  });
});

describe('the SIEM settings', () => {
  const load = (env: Record<string, string>) => loadConfig({ env: { CHANGEGATE_DATA_DIR: '/tmp/x', ...env } });

  it('read a file, a TCP or a TLS receiver, with the usual syslog ports by default', () => {
    expect(load({ CHANGEGATE_SIEM_SINK: 'file:/var/log/changegate.jsonl' }).siemSink).toEqual({ kind: 'file', path: '/var/log/changegate.jsonl' });
    expect(load({ CHANGEGATE_SIEM_SINK: 'syslog+tcp://siem.example' }).siemSink).toEqual({ kind: 'syslog', transport: 'tcp', host: 'siem.example', port: 514 });
    expect(load({ CHANGEGATE_SIEM_SINK: 'syslog+tls://[::1]' }).siemSink).toEqual({ kind: 'syslog', transport: 'tls', host: '::1', port: 6514 });
    expect(load({}).siemAppName).toBe('changegate');
    expect(() => load({ CHANGEGATE_SIEM_SINK: 'syslog+udp://siem:514' })).toThrow(/CHANGEGATE_SIEM_SINK = "syslog\+udp:\/\/siem:514" is not valid/);
    expect(() => load({ CHANGEGATE_SIEM_APP_NAME: 'change gate' })).toThrow(ConfigError);
  });

  it('refuse a CA file for anything but a TLS receiver, or one that holds no certificate', async () => {
    const ca = path.join(mkdtempSync(path.join(tmpdir(), 'changegate-siem-ca-')), 'ca.pem');
    writeFileSync(ca, 'not a certificate');
    await expect(siemSinkOf(load({ CHANGEGATE_SIEM_SINK: 'syslog+tcp://siem:514', CHANGEGATE_SIEM_CA_FILE: ca }))).rejects.toThrow(/not a syslog\+tls/);
    await expect(siemSinkOf(load({ CHANGEGATE_SIEM_SINK: 'syslog+tls://siem', CHANGEGATE_SIEM_CA_FILE: ca }))).rejects.toThrow(ConfigError);
    expect((await siemSinkOf(load({ CHANGEGATE_SIEM_SINK: 'syslog+tls://siem' })))?.name).toBe('syslog+tls://siem:6514');
    rmSync(path.dirname(ca), { recursive: true, force: true });
  });
});
