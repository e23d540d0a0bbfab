import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { waitFor } from './siem-export.test-kit.ts';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

const accepts = (port: number): Promise<true | undefined> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });

/** PEM files of rsyslog's TLS side (its gtls driver, package rsyslog-gnutls). */
export interface RsyslogTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Debian's rsyslogd, run in the foreground by the test (no root needed): imtcp on a loopback port,
 * over TLS when `tls` is given, each message's MSG written as a line to `received` (docs/siem.md,
 * "Receiving with rsyslog", is the same configuration). Stopped and started again on the same port and files.
 */
export class TestRsyslog {
  readonly received: string;
  private readonly conf: string;
  private child: ChildProcess | undefined;

  constructor(
    private readonly dir: string,
    readonly port: number,
    tls?: RsyslogTls,
  ) {
    this.received = path.join(dir, 'received.jsonl');
    this.conf = path.join(dir, 'rsyslog.conf');
    mkdirSync(path.join(dir, 'work'), { recursive: true });
    writeFileSync(
      this.conf,
      [
        `global(workDirectory="${path.join(dir, 'work')}" maxMessageSize="64k"`,
        ...(tls
          ? [
              '       DefaultNetstreamDriver="gtls"',
              `       DefaultNetstreamDriverCAFile="${tls.caFile}" DefaultNetstreamDriverCertFile="${tls.certFile}" DefaultNetstreamDriverKeyFile="${tls.keyFile}"`,
            ]
          : []),
        ')',
        tls ? 'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")' : 'module(load="imtcp")',
        `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="changegate")`,
        'template(name="changegate-json" type="string" string="%msg%\\n")',
        'ruleset(name="changegate") {',
        `  action(type="omfile" file="${this.received}" template="changegate-json")`,
        '}',
        '',
      ].join('\n'),
    );
  }

  async start(): Promise<void> {
    const child = spawn(RSYSLOGD, ['-n', '-f', this.conf, '-i', path.join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.child = child;
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`rsyslogd exited (${child.exitCode}): ${stderr}`);
      return accepts(this.port);
    }, 'rsyslogd to listen');
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** The JSON of each message received so far, in the order written. */
  messages(): Array<{ seq: number; [key: string]: unknown }> {
    if (!existsSync(this.received)) return [];
    return readFileSync(this.received, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { seq: number });
  }
}

/** A syslog receiver over TLS (RFC 5425) in this process: the octet-counted messages it was sent. */
export async function startTlsReceiver(key: string, cert: string): Promise<{ port: number; messages: string[]; close(): Promise<void> }> {
  const messages: string[] = [];
  const server = tls.createServer({ key, cert }, (socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) return;
        const length = Number(buffer.subarray(0, space).toString('ascii'));
        if (buffer.length < space + 1 + length) return;
        messages.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
        buffer = buffer.subarray(space + 1 + length);
      }
    });
    socket.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
