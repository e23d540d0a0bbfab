import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The backup archive's format: a POSIX tar (ustar), gzip-compressed on disk, so `tar tzvf` lists
 * it and `tar xzOf FILE manifest.json` prints its manifest. Entries:
 *
 *   database/pgdata.tar           the embedded database's directory, as PGlite's dumpDataDir tars it
 *   keys/log-signing.key          the key that signs the event log's checkpoints
 *   keys/gateway_host_ed25519_key the SSH gateway's host key (clients keep trusting it)
 *   keys/master.key               only with --include-master-key
 *   instance-id                   this instance's name among those sharing the database
 *   recordings/<day>/<id>.cast    the recordings kept as files, each up to what the database knows
 *   manifest.json                 last: what the archive holds, each entry with its SHA-256
 *
 * The manifest comes last because it lists the digests of everything before it, computed as the
 * entries stream: nothing is read twice.
 */
export const BACKUP_FORMAT = 1;

export const MANIFEST_ENTRY = 'manifest.json';
export const DATABASE_ENTRY = 'database/pgdata.tar';
export const MASTER_KEY_ENTRY = 'keys/master.key';

/** One file of the archive, as the manifest lists it. */
export interface BackupFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** A recording of a session that was still live at the snapshot: copied up to what the database knew of it. */
export interface LiveRecordingNote {
  readonly session: string;
  readonly path: string;
  /** Bytes copied: the length the event log's last `recording.chunks` entry before the snapshot vouches for. */
  readonly bytes: number;
  /** The file's length when it was copied, larger when the session wrote on. */
  readonly fileBytes: number;
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly kind: 'changegate-backup';
  /** The Changegate version that made it. */
  readonly version: string;
  readonly createdAt: string;
  /** The data directory it was made from: recordings are found by their path there (restore into the same path). */
  readonly dataDir: string;
  readonly eventLog: {
    /** Entries in the database snapshot. */
    readonly size: number;
    /** The latest signed checkpoint at the snapshot (the note as signed); the restored log must be consistent with it. */
    readonly checkpoint: { readonly size: number; readonly rootHash: string; readonly note: string } | null;
    /** `<origin>+<key ID>+<base64 key>` of the signing key in the archive. */
    readonly verifierKey: string;
    readonly origin: string;
  };
  readonly liveRecordings: readonly LiveRecordingNote[];
  readonly masterKeyIncluded: boolean;
  readonly files: readonly BackupFile[];
}

/** One entry to write: its name, its exact size and its bytes. */
export interface ArchiveEntry {
  readonly path: string;
  readonly bytes: number;
  readonly body: AsyncIterable<Buffer> | Buffer;
  readonly mode?: number;
}

const BLOCK = 512;
const ZEROS = Buffer.alloc(BLOCK * 2);

/** A tar header (ustar) for a regular file. Names up to 100 bytes, or 255 split at a slash. */
export function tarHeader(name: string, size: number, mode = 0o600, mtime = new Date()): Buffer {
  const header = Buffer.alloc(BLOCK);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`The archive cannot name ${name}: it is too long.`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  if (size >= 8 ** 11) throw new Error(`${name} is too large for the archive (${size} bytes).`);
  const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;
  header.write(base, 0, 100, 'utf8');
  header.write(octal(mode, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

/**
 * Writes tar entries to `write` (which resolves once the bytes are taken, for backpressure),
 * hashing each as it goes. An entry's body must hold exactly the size declared: the header is
 * written before it.
 */
export class TarWriter {
  constructor(private readonly write: (chunk: Buffer) => Promise<void>) {}

  async add(entry: ArchiveEntry): Promise<BackupFile> {
    await this.write(tarHeader(entry.path, entry.bytes, entry.mode));
    const hash = createHash('sha256');
    let written = 0;
    const chunks = Buffer.isBuffer(entry.body) ? [entry.body] : entry.body;
    for await (const chunk of chunks) {
      if (written + chunk.length > entry.bytes) throw new Error(`${entry.path} grew while it was archived: more than ${entry.bytes} bytes.`);
      hash.update(chunk);
      written += chunk.length;
      await this.write(chunk);
    }
    if (written !== entry.bytes) throw new Error(`${entry.path} holds ${written} bytes, not the ${entry.bytes} declared.`);
    const pad = (BLOCK - (written % BLOCK)) % BLOCK;
    if (pad > 0) await this.write(ZEROS.subarray(0, pad));
    return { path: entry.path, bytes: written, sha256: hash.digest('hex') };
  }

  /** The end of the archive: two zero blocks. */
  async finish(): Promise<void> {
    await this.write(ZEROS);
  }
}

/** One entry read from a tar: its name and size, and its bytes, to read before asking for the next. */
export interface TarEntry {
  readonly path: string;
  readonly bytes: number;
  readonly body: AsyncIterable<Buffer>;
}

/** A problem with the archive's structure. */
export class ArchiveError extends Error {}

/**
 * Reads a tar stream entry by entry, without holding more than a chunk: each entry's body must
 * be read (or skipped by reading it) before the next is asked for. Only regular files are
 * expected; anything else, and a stream that ends before its end blocks, is an ArchiveError.
 */
export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(source);
  for (;;) {
    const header = await reader.take(BLOCK);
    if (header.length < BLOCK) throw new ArchiveError('The archive ends in the middle: it was cut short.');
    if (header.every((byte) => byte === 0)) return;
    if (!checksumHolds(header)) throw new ArchiveError('An entry header of the archive is damaged (its checksum does not match).');
    const type = String.fromCharCode(header[156] ?? 0);
    if (type !== '0' && type !== '\0') throw new ArchiveError(`The archive holds an entry of type "${type}": a Changegate backup holds only files.`);
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0) throw new ArchiveError(`The size of ${name} in the archive is not readable.`);
    let consumed = false;
    const body = async function* (): AsyncGenerator<Buffer> {
      let left = size;
      while (left > 0) {
        const chunk = await reader.some(left);
        if (chunk.length === 0) throw new ArchiveError(`The archive ends in the middle of ${name}: it was cut short.`);
        left -= chunk.length;
        yield chunk;
      }
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if ((await reader.take(pad)).length < pad) throw new ArchiveError('The archive ends in the middle: it was cut short.');
      consumed = true;
    };
    yield { path: name, bytes: size, body: body() };
    if (!consumed) throw new Error(`The body of ${name} was not read before the next entry.`);
  }
}

function checksumHolds(header: Buffer): boolean {
  const stored = parseInt(header.subarray(148, 156).toString('ascii').replace(/\0.*$/s, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  return stored === sum;
}

/** Reads exact counts of bytes from a stream of chunks. */
class ByteReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer = Buffer.alloc(0);
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** Up to `max` bytes, as many as are at hand (at least one unless the stream ended). */
  async some(max: number): Promise<Buffer> {
    if (this.pending.length === 0 && !(await this.fill())) return Buffer.alloc(0);
    const out = this.pending.subarray(0, max);
    this.pending = this.pending.subarray(out.length);
    return out;
  }

  /** Exactly `count` bytes, or fewer when the stream ends first. */
  async take(count: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < count) {
      const part = await this.some(count - got);
      if (part.length === 0) break;
      parts.push(part);
      got += part.length;
    }
    return Buffer.concat(parts);
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.chunks.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    this.pending = Buffer.from(next.value);
    return true;
  }
}

/** Parses and checks the shape of a manifest; throws ArchiveError naming what is wrong. */
export function parseManifest(text: string): BackupManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ArchiveError('The archive\'s manifest.json is not JSON.');
  }
  const manifest = value as Partial<BackupManifest>;
  if (manifest.kind !== 'changegate-backup') throw new ArchiveError('This is not a Changegate backup: its manifest does not say so.');
  if (manifest.format !== BACKUP_FORMAT) throw new ArchiveError(`The backup is in format ${String(manifest.format)}; this Changegate reads format ${BACKUP_FORMAT}: restore it with a newer version.`);
  if (!Array.isArray(manifest.files) || !manifest.eventLog || typeof manifest.eventLog.size !== 'number') throw new ArchiveError('The archive\'s manifest lacks its file list or its event log.');
  return manifest as BackupManifest;
}

/** Whether a path from an archive stays inside the directory it is restored into. */
export function isSafeEntryPath(name: string): boolean {
  return name.length > 0 && !name.startsWith('/') && !name.includes('\\') && name.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** Key files of the data directory an archive holds, by their place in it. */
export const KEY_FILES: ReadonlyArray<{ readonly file: string; readonly entry: string }> = [
  { file: 'gateway_host_ed25519_key', entry: 'keys/gateway_host_ed25519_key' },
  { file: 'instance-id', entry: 'instance-id' },
];

/**
 * The key files of a data directory as archive entries: the log's signing key (`logKeyFile`, unless
 * the settings give the key), the gateway's host key, the instance id. A file not there (a key
 * given in the settings, a data directory never served) is left out; any other failure to read
 * one is thrown.
 */
export async function keyEntries(dataDir: string, logKeyFile: string | undefined): Promise<ArchiveEntry[]> {
  const files = [...(logKeyFile ? [{ file: logKeyFile, entry: 'keys/log-signing.key' }] : []), ...KEY_FILES.map((key) => ({ ...key, file: path.join(dataDir, key.file) }))];
  const entries: ArchiveEntry[] = [];
  for (const key of files) {
    const bytes = await readFile(key.file).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    if (bytes) entries.push({ path: key.entry, bytes: bytes.length, body: bytes });
  }
  return entries;
}

/** An entry's whole body, as one buffer (the manifest, the database's dump). */
export async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}
