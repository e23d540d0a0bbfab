import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, startTestChangegate } from '../../test/harness.ts';
import { exportedAll, lastSeq, waitFor } from './siem-export.test-kit.ts';
import { freePort } from '../../test/sshd.ts';
import { SyslogSink } from './siem-export-sinks.ts';
import { startTlsReceiver, TestRsyslog } from './siem-export.syslog.test-kit.ts';

const oneTo = (n: number) => Array.from({ length: n }, (_, index) => index + 1);

/** The seqs received, each once, in the order first received: at least once means a batch may come twice. */
const firstSeen = (seqs: readonly number[]) => [...new Set(seqs)];

describe.each(DATABASE_KINDS)('SIEM export to rsyslog over TCP on %s', (kind) => {
  const dir = mkdtempSync(path.join(tmpdir(), `changegate-rsyslog-${kind}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('delivers every entry as RFC 5424 over octet-counted TCP, and all that was logged while the receiver was down once it is back', async () => {
    const rsyslog = new TestRsyslog(dir, await freePort());
    await rsyslog.start();
    const logged: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (logged.push(JSON.parse(chunk.toString('utf8'))), done()) }));
    const t = await startTestChangegate(kind, { CHANGEGATE_SIEM_SINK: `syslog+tcp://127.0.0.1:${rsyslog.port}`, CHANGEGATE_SSH_PORT: '0' }, { logger });
    try {
      await t.cg.startBackground();
      expect((await t.admin.post('/users', { username: 'carol', password: 'carol-password-1', displayName: 'Carol' })).status).toBe(201);
      const first = await exportedAll(t.cg);
      await waitFor(() => (rsyslog.messages().length >= first ? true : undefined), 'rsyslog to write what it received');
      expect(firstSeen(rsyslog.messages().map((message) => message.seq))).toEqual(oneTo(first));
      // What rsyslog received is what the API shows.
      expect(rsyslog.messages().slice(0, first)).toEqual((await t.admin.get('/events?limit=1000')).body);

      await rsyslog.stop();
      for (let n = 0; n < 4; n += 1) expect((await t.admin.post('/users', { username: `down${n}`, password: 'down-password-1', displayName: 'Down' })).status).toBe(201);
      const last = await lastSeq(t.cg);
      // The receiver is down: nothing past it counts as delivered.
      await waitFor(() => (logged.some((line) => /^SIEM export failed/.test(line.msg)) ? true : undefined), 'the outage to be logged');
      expect(await t.cg.siemExport?.acknowledged()).toBeLessThan(last);

      await rsyslog.start();
      await exportedAll(t.cg);
      await waitFor(() => (new Set(rsyslog.messages().map((message) => message.seq)).size >= last ? true : undefined), 'rsyslog to receive what was logged while it was down');
      expect(firstSeen(rsyslog.messages().map((message) => message.seq))).toEqual(oneTo(last));
      expect(rsyslog.messages().map((message) => message.subject)).toContain('user:down3');
      expect(readFileSync(rsyslog.received, 'utf8')).not.toContain(ADMIN_PASSWORD);
      expect(logged.filter((line) => line.level >= 40 || /SIEM/.test(line.msg)).map((line) => line.msg)).toEqual([
        expect.stringMatching(/^SIEM export failed; retrying/),
        expect.stringMatching(/^SIEM export recovered/),
      ]);
    } finally {
      await t.close();
      await rsyslog.stop();
    }
  });
});

describe('SIEM export over TLS', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-siem-tls-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  /** A test CA, and a certificate for 127.0.0.1 that it signed (and their files). */
  function testCa(name: string): { ca: string; key: string; cert: string; keyFile: string; certFile: string } {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`, '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`);
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', `${name}.key`, '-out', `${name}.csr`);
    writeFileSync(path.join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1\n');
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
    const read = (file: string) => readFileSync(path.join(dir, file), 'utf8');
    return { ca: path.join(dir, `${name}-ca.pem`), key: read(`${name}.key`), cert: read(`${name}.pem`), keyFile: path.join(dir, `${name}.key`), certFile: path.join(dir, `${name}.pem`) };
  }

  it("is received by rsyslog's gtls driver (RFC 5425)", async () => {
    const pki = testCa('rsyslog');
    const rsyslog = new TestRsyslog(path.join(dir, 'rsyslog'), await freePort(), { caFile: pki.ca, certFile: pki.certFile, keyFile: pki.keyFile });
    await rsyslog.start();
    const t = await startTestChangegate('pglite', { CHANGEGATE_SIEM_SINK: `syslog+tls://127.0.0.1:${rsyslog.port}`, CHANGEGATE_SIEM_CA_FILE: pki.ca, CHANGEGATE_SSH_PORT: '0' });
    try {
      await t.cg.startBackground();
      expect((await t.admin.post('/users', { username: 'erin', password: 'erin-password-1', displayName: 'Erin' })).status).toBe(201);
      const last = await exportedAll(t.cg);
      await waitFor(() => (rsyslog.messages().length >= last ? true : undefined), 'rsyslog to write what it received over TLS');
      expect(firstSeen(rsyslog.messages().map((message) => message.seq))).toEqual(oneTo(last));
      expect(rsyslog.messages()).toEqual((await t.admin.get('/events?limit=1000')).body);
    } finally {
      await t.close();
      await rsyslog.stop();
    }
  });

  it('sends to a receiver whose certificate the configured CA signed, and nothing to one it did not sign', async () => {
    const trusted = testCa('trusted');
    const other = testCa('other');
    const good = await startTlsReceiver(trusted.key, trusted.cert);
    const impostor = await startTlsReceiver(other.key, other.cert);
    const logged: Array<{ level: number; msg: string; err?: { message: string } }> = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (logged.push(JSON.parse(chunk.toString('utf8'))), done()) }));
    const toGood = await startTestChangegate('pglite', { CHANGEGATE_SIEM_SINK: `syslog+tls://127.0.0.1:${good.port}`, CHANGEGATE_SIEM_CA_FILE: trusted.ca, CHANGEGATE_SIEM_HOSTNAME: 'cg1', CHANGEGATE_SSH_PORT: '0' });
    const toImpostor = await startTestChangegate('pglite', { CHANGEGATE_SIEM_SINK: `syslog+tls://127.0.0.1:${impostor.port}`, CHANGEGATE_SIEM_CA_FILE: trusted.ca, CHANGEGATE_SSH_PORT: '0' }, { logger });
    try {
      await toGood.cg.startBackground();
      await toImpostor.cg.startBackground();
      const last = await exportedAll(toGood.cg);
      await waitFor(() => (good.messages.length >= last ? true : undefined), 'the TLS receiver to get every entry');
      const [message] = good.messages;
      expect(message).toMatch(/^<110>1 \S+Z cg1 changegate \d+ \S+ - \{"seq":1,/);
      expect(firstSeen(good.messages.map((text) => (JSON.parse(text.slice(text.indexOf('{'))) as { seq: number }).seq))).toEqual(oneTo(last));

      await waitFor(() => logged.find((line) => /^SIEM export failed/.test(line.msg)), 'the untrusted receiver to be refused');
      expect(logged.find((line) => /^SIEM export failed/.test(line.msg))?.err?.message).toMatch(/certificate/i);
      expect(impostor.messages).toEqual([]);
      expect(await toImpostor.cg.siemExport?.acknowledged()).toBe(0);
    } finally {
      await toGood.close();
      await toImpostor.close();
      await good.close();
      await impostor.close();
    }
  });
});

describe('SIEM export to a receiver that stops reading', () => {
  it('gives the connection up after the write timeout, keeping the batch to send again, instead of waiting for ever', async () => {
    // Accepts, then never reads: the kernel's buffers fill and the write never completes.
    const stalled: net.Socket[] = [];
    const receiver = net.createServer((socket) => {
      socket.pause();
      stalled.push(socket);
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as net.AddressInfo;
    const sink = new SyslogSink({ transport: 'tcp', host: '127.0.0.1', port, identity: { hostname: 'cg1', appName: 'changegate', procId: '1' }, writeTimeoutMs: 300 });
    try {
      // Far more than loopback buffers hold (a few MiB each way): 64 entries of 512 KiB.
      const big = 'x'.repeat(512 * 1024);
      const entries = Array.from({ length: 64 }, (_, k) => ({ seq: k + 1, time: new Date(0).toISOString(), actor: 'system', action: 'test.big', subject: 'test', data: { big }, leafHash: '0', chainHash: '0' }));
      const began = performance.now();
      await expect(sink.deliver(entries)).rejects.toThrow('took no batch within 0.3 s: it stopped reading');
      expect(performance.now() - began).toBeLessThan(10_000);
      // Closing does not wait on the stuck connection either.
      await sink.close();
    } finally {
      for (const socket of stalled) socket.destroy();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });
});
