import { open, readFile } from 'node:fs/promises';
import net from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ConfigError, type Config } from '../platform/config.ts';
import { jsonLine, octetCounted, syslogMessage, type ExportedEntry, type SyslogIdentity } from './siem-export.ts';

/**
 * Where the event log is exported to. `deliver` resolves once the sink holds the entries as far as
 * it can tell, and rejects otherwise: only then does the export's cursor move past them.
 */
export interface SiemSink {
  /** The sink as configured, which keys its cursor: `file:/var/log/changegate.jsonl`, `syslog+tcp://siem:514`. */
  readonly name: string;
  deliver(entries: readonly ExportedEntry[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A file, one JSON line per entry, appended to. Each batch opens the file, appends, fsyncs and
 * closes it: a rotation that moves the file away (logrotate without copytruncate) is followed on
 * the next batch, and an entry counts as delivered only once it is on disk. A line torn by a crash
 * mid-write is ended before the next batch, so it stays a line of its own that a reader skips (its
 * entries are sent again: the cursor had not moved past them).
 */
export class FileSink implements SiemSink {
  readonly name: string;

  constructor(private readonly file: string) {
    this.name = `file:${file}`;
  }

  async deliver(entries: readonly ExportedEntry[]): Promise<void> {
    // Read and append: the last byte says whether a crash tore the last line; every write goes to the end (O_APPEND).
    const handle = await open(this.file, 'a+', 0o640);
    let size: number;
    try {
      ({ size } = await handle.stat());
      let torn = false;
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        torn = last[0] !== 0x0a;
      }
      await handle.writeFile(`${torn ? '\n' : ''}${entries.map(jsonLine).join('')}`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The first batch of a new (or rotated) file: its name must survive a crash too.
    if (size === 0) await syncDirectory(path.dirname(this.file));
  }

  async close(): Promise<void> {}
}

/** A file's directory entry is durable once the directory is fsync'd. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface SyslogSinkConfig {
  readonly transport: 'tcp' | 'tls';
  readonly host: string;
  readonly port: number;
  /** PEM CA certificates the receiver's certificate must chain to (TLS); undefined: Node's default CAs. */
  readonly ca?: string;
  readonly identity: SyslogIdentity;
  /** How long a connection may take to open (and, for TLS, to finish its handshake). */
  readonly connectTimeoutMs?: number;
  /** How long the connection must stay up after a batch was written for the batch to count as received. */
  readonly settleMs?: number;
  /** How long a batch may take to be written before the connection is given up (the receiver stopped reading). */
  readonly writeTimeoutMs?: number;
}

const CONNECT_TIMEOUT_MS = 5_000;
const SETTLE_MS = 100;
/** How long a batch may take to be written: a receiver that stops reading (a full window) must not hold the export, or the shutdown, for ever. */
const WRITE_TIMEOUT_MS = 30_000;

/**
 * A syslog receiver: RFC 5424 messages, octet-counted (RFC 6587) over TCP, or over TLS (RFC 5425)
 * verifying the receiver's certificate and name. One connection, kept open and opened again when
 * it is lost.
 *
 * Syslog over TCP has no acknowledgement: a write's callback says only that the kernel took the
 * bytes. A receiver that stops reads what it was sent and closes the connection; one that dies
 * leaves the connection to be reset. So a batch counts as delivered when its write completed and
 * the connection then stayed up for `settleMs`; a close or reset within that time sends the batch
 * again on a new connection (the receiver may then see entries twice: each line carries its `seq`).
 * What a receiver that crashes later had taken but not yet written is beyond what TCP can tell.
 */
export class SyslogSink implements SiemSink {
  readonly name: string;
  private socket: net.Socket | undefined;

  constructor(private readonly config: SyslogSinkConfig) {
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    this.name = `syslog+${config.transport}://${host}:${config.port}`;
  }

  async deliver(entries: readonly ExportedEntry[]): Promise<void> {
    const socket = await this.connection();
    const frames = Buffer.concat(entries.map((entry) => octetCounted(syslogMessage(entry, this.config.identity))));
    const timeoutMs = this.config.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    const timedOut = new Error(`${this.name} took no batch within ${timeoutMs / 1000} s: it stopped reading`);
    let gaveUp = false;
    await new Promise<void>((resolve, reject) => {
      const lost = () => {
        clearTimeout(timer);
        reject(gaveUp ? timedOut : new Error(`the connection to ${this.name} closed while a batch was written`));
      };
      // The connection is given up: the batch goes again on a new one.
      const timer = setTimeout(() => {
        gaveUp = true;
        socket.destroy();
      }, timeoutMs);
      socket.once('close', lost);
      socket.write(frames, (error) => {
        clearTimeout(timer);
        socket.off('close', lost);
        if (gaveUp) reject(timedOut);
        else if (error) reject(error);
        else resolve();
      });
    });
    await this.settled(socket);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      // A receiver that does not close its side is not waited for.
      setTimeout(() => socket.destroy(), 1_000).unref();
    });
  }

  /** Resolves when the connection stayed up for `settleMs`, rejects when it closed or failed meanwhile. */
  private settled(socket: net.Socket): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!usable(socket)) {
        reject(new Error(`the connection to ${this.name} closed after a batch was written`));
        return;
      }
      const lost = () => {
        clearTimeout(timer);
        reject(new Error(`the connection to ${this.name} closed right after a batch was written`));
      };
      const timer = setTimeout(() => {
        socket.off('close', lost).off('end', lost);
        resolve();
      }, this.config.settleMs ?? SETTLE_MS);
      socket.once('close', lost).once('end', lost);
    });
  }

  private async connection(): Promise<net.Socket> {
    if (this.socket && usable(this.socket)) return this.socket;
    this.socket?.destroy();
    this.socket = undefined;
    const { transport, host, port, ca } = this.config;
    const socket =
      transport === 'tls'
        ? tls.connect({ host, port, ca, rejectUnauthorized: true, ...(net.isIP(host) === 0 && { servername: host }) })
        : net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`connecting to ${this.name} timed out`)), this.config.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', fail);
      socket.once(transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve();
      });
    });
    // A receiver sends nothing; reading keeps the socket flowing, so its close is seen as soon as it comes.
    socket.on('data', () => undefined);
    // Failures show in the next write or `settled`; without a listener an error would crash the process.
    socket.on('error', () => socket.destroy());
    socket.setKeepAlive(true, 30_000);
    this.socket = socket;
    return socket;
  }
}

/** Open both ways: not destroyed, and the receiver has not closed its side. */
const usable = (socket: net.Socket): boolean => !socket.destroyed && !socket.readableEnded && socket.writable;

/** The sink the settings name, its CA file read and checked; undefined when no export is configured. */
export async function siemSinkOf(config: Pick<Config, 'siemSink' | 'siemCaFile' | 'siemAppName' | 'siemHostname'>): Promise<SiemSink | undefined> {
  const setting = config.siemSink;
  if (config.siemCaFile !== undefined && (setting?.kind !== 'syslog' || setting.transport !== 'tls')) {
    throw new ConfigError([`CHANGEGATE_SIEM_CA_FILE is set, but CHANGEGATE_SIEM_SINK is not a syslog+tls:// receiver: the CA file verifies a TLS receiver only.`]);
  }
  if (!setting) return undefined;
  if (setting.kind === 'file') return new FileSink(setting.path);
  let ca: string | undefined;
  if (config.siemCaFile !== undefined) {
    try {
      ca = await readFile(config.siemCaFile, 'utf8');
      tls.createSecureContext({ ca });
    } catch (error) {
      throw new ConfigError([`CHANGEGATE_SIEM_CA_FILE = ${JSON.stringify(config.siemCaFile)} is not valid: ${(error as Error).message} (expected PEM CA certificates).`]);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`CHANGEGATE_SIEM_CA_FILE = ${JSON.stringify(config.siemCaFile)} holds no PEM certificate.`]);
  }
  return new SyslogSink({
    transport: setting.transport,
    host: setting.host,
    port: setting.port,
    ca,
    identity: { hostname: config.siemHostname ?? (hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-'), appName: config.siemAppName, procId: String(process.pid) },
  });
}
