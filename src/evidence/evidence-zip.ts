import { createHash } from 'node:crypto';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { crc32, createDeflateRaw } from 'node:zlib';
import { Zip, type ZipInputFile } from 'fflate';
import type { ManifestFile } from './evidence-bundle.ts';

/**
 * A file of the bundle with the size and SHA-256 it must have when the zip is written: bytes held
 * in memory (the JSON files, the verifier), or bytes read only then from where they are kept (a
 * recording, from its store: `read` from the start).
 */
export interface BundleEntry extends ManifestFile {
  readonly content: Uint8Array | { readonly read: () => AsyncIterable<Buffer> };
}

/** Bytes the zip is written in at a time. */
const CHUNK_BYTES = 64 * 1024;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A file of the bundle held in memory. */
export const inMemory = (path: string, bytes: Uint8Array): BundleEntry => ({ path, size: bytes.length, sha256: sha256(bytes), content: bytes });

/**
 * The first `size` bytes of `bytes`: a live session's recording goes on growing after it was
 * hashed, and the zip holds the bytes that were hashed.
 */
async function* firstBytes(bytes: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let left = size;
  if (left === 0) return;
  for await (const chunk of bytes) {
    yield chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= Math.min(left, chunk.length);
    if (left === 0) return;
  }
}

/**
 * Passes an entry's bytes through, counting them, with their CRC-32 (the zip needs it) and their
 * SHA-256; at the end it fails unless they are the size and hash the manifest gave: a recording
 * changed in its store since it was hashed must not leave in a bundle that looks whole.
 */
class EntryCheck extends Transform {
  size = 0;
  crc = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly entry: BundleEntry) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.entry.size) {
      done(this.changed(`it holds more than the ${this.entry.size} bytes hashed`));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (this.size !== this.entry.size) done(this.changed(`it ends after ${this.size} bytes, not ${this.entry.size}`));
    else if (actual !== this.entry.sha256) done(this.changed(`it hashes to ${actual}, not ${this.entry.sha256}`));
    else done();
  }

  private changed(how: string): Error {
    return new Error(`${this.entry.path} changed between its hashing and the writing of the bundle (${how}): the bundle was cut off, since its manifest is already logged. Export it again.`);
  }
}

function sourceOf(entry: BundleEntry): Readable {
  const { content } = entry;
  if (content instanceof Uint8Array) return Readable.from([content], { objectMode: false });
  // Exactly the bytes hashed; fewer (a recording cut since) fail the entry's check.
  return Readable.from(firstBytes(content.read(), entry.size), { objectMode: false });
}

/**
 * The zip of these entries, in this order, written as it is read: each entry's bytes are read
 * (from memory or in chunks from the recording's store), checked against its size and SHA-256, and deflated as they
 * go, so the memory held is a few chunks and zlib's window whatever the entries' size.
 *
 * fflate's streaming `Zip` writes the container; the deflating is node:zlib's, which runs in
 * libuv's thread pool at several times the speed of fflate's JavaScript `ZipDeflate` and leaves the
 * event loop (and the SSH gateway it serves) free. Recordings are asciicast text, which deflates
 * to about a tenth, so they are deflated too rather than stored.
 *
 * A failure mid-way (a file gone or changed, a read error) errors the stream after the bytes sent
 * so far: the zip is never finished, so it has no central directory and no unzip tool or verifier
 * takes it for a whole bundle. fflate writes no Zip64, so the whole must stay under 4 GiB (the
 * caller bounds it).
 */
export function bundleZip(entries: readonly BundleEntry[], mtime: Date): Readable {
  return Readable.from(zipChunks(entries, mtime), { objectMode: false, highWaterMark: CHUNK_BYTES });
}

async function* zipChunks(entries: readonly BundleEntry[], mtime: Date): AsyncGenerator<Uint8Array> {
  const ready: Uint8Array[] = [];
  const zip = new Zip((error, chunk) => {
    if (error) throw error;
    ready.push(chunk);
  });
  for (const entry of entries) {
    const file: ZipInputFile = { filename: entry.path, mtime, compression: 8, size: 0, crc: 0 };
    // Entries are added one at a time, so fflate passes each chunk on at once rather than queueing it.
    zip.add(file);
    const write = file.ondata;
    if (!write) throw new Error('the zip did not accept the entry');
    const check = new EntryCheck(entry);
    // Errors reach the loop below: pipeline destroys the deflater with the first one.
    const deflated = pipeline(sourceOf(entry), check, createDeflateRaw({ level: 6 }), () => undefined);
    // zlib hands out Buffers over plain ArrayBuffers.
    for await (const chunk of deflated as AsyncIterable<Uint8Array<ArrayBuffer>>) {
      write(null, chunk, false);
      yield* ready.splice(0);
    }
    file.size = check.size;
    file.crc = check.crc;
    write(null, new Uint8Array(0), true);
    yield* ready.splice(0);
  }
  zip.end();
  yield* ready.splice(0);
}
