import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { BACKUP_FORMAT, DATABASE_ENTRY, keyEntries, MANIFEST_ENTRY, MASTER_KEY_ENTRY, TarWriter, type ArchiveEntry, type BackupFile, type BackupManifest, type LiveRecordingNote } from './backup-archive.ts';
import type { Clock } from './clock.ts';
import type { DatabaseHandle, Executor, Tx } from './database.ts';
import { errors } from './errors.ts';

/** Who asks for a backup: a user, as the access module's `Actor` names them (the platform imports no module above it). */
export interface BackupRequester {
  readonly userId: string;
  readonly username: string;
}

/** A recording kept as a file, as the database knows it at the snapshot. */
export interface FileRecordingAtSnapshot {
  readonly session: string;
  /** Where the file is (the session's `recording_path`). */
  readonly location: string;
  /** For a session still live: the length the event log vouches for (its last `recording.chunks`); undefined for one that ended. */
  readonly loggedBytes?: number;
}

/**
 * What a backup needs of the modules above the platform, given by the composition root: the
 * privilege check, the event log's state and the recordings kept as files. Each query runs on the
 * connection the snapshot holds, so they see the database exactly as the dump does.
 */
export interface BackupSources {
  authorize(db: Executor, requester: BackupRequester): Promise<void>;
  /** Signs a checkpoint of the log as it stands, so the backup's covers nearly all of it. */
  signCheckpoint(): Promise<unknown>;
  logSize(db: Executor): Promise<number>;
  latestCheckpoint(db: Executor): Promise<{ readonly size: number; readonly rootHash: string; readonly note: string } | undefined>;
  fileRecordings(db: Executor): Promise<FileRecordingAtSnapshot[]>;
  /** Logs that a backup was taken, and by whom (a user, or the operator at the data directory). */
  record(trx: Tx, by: string, data: Record<string, unknown>): Promise<unknown>;
  readonly logKey: { readonly verifierKey: string; readonly origin: string; readonly file: string | undefined };
}

export interface BackupServiceConfig {
  readonly database: DatabaseHandle;
  readonly dataDir: string;
  readonly clock: Clock;
  readonly version: string;
  readonly sources: BackupSources;
}

/** A snapshot taken: its entries to stream (the database dump first), then `manifest` of what they held. */
export interface BackupSnapshot {
  readonly entries: AsyncIterable<ArchiveEntry>;
  /** Bytes the entries hold, for progress. */
  readonly totalBytes: number;
  manifest(files: readonly BackupFile[], masterKeyIncluded: boolean): BackupManifest;
}

const RECORDINGS = 'recordings';
/** Files of the data directory a backup keeps besides the database and recordings. */

/**
 * Consistent snapshots of an installation on the embedded database, taken while it serves.
 *
 * The snapshot holds the database's one connection for a moment: every transaction under way has
 * committed, a CHECKPOINT puts every commit in the files, PGlite tars its directory, and the same
 * connection reads what the dump holds of the event log and the recordings. Then it lets go and
 * the files are copied: recordings are append-only, so a live session's recording is copied up
 * to the length the dumped log vouches for (its last `recording.chunks`, at most a second old),
 * and what it writes later is not in the backup, exactly as if the server had crashed then.
 */
export class BackupService {
  private busy = false;

  constructor(private readonly config: BackupServiceConfig) {}

  /**
   * A snapshot for a user holding System.Backup, through the API: never a private key (the log's
   * signing key, the gateway's host key), which `changegate backup` reads from the data directory
   * where it runs, as it does the master key. One at a time: the dump is held in memory until the
   * snapshot is written out.
   */
  async snapshot(actor: BackupRequester): Promise<BackupSnapshot> {
    await this.config.database.db.transaction().execute((trx) => this.config.sources.authorize(trx, actor));
    return this.take(actor.username, { keys: false });
  }

  /** A snapshot without a privilege check: for `changegate backup` when it holds the data directory itself (`by` names the operator). */
  async take(by: string, options: { readonly keys?: boolean } = {}): Promise<BackupSnapshot> {
    const { database, sources } = this.config;
    const dump = database.dumpDataDir;
    if (database.kind !== 'pglite' || !dump) throw errors.backupNotEmbedded();
    if (this.busy) throw errors.conflict('A backup is being taken already: wait until it ends.');
    this.busy = true;
    try {
      await sources.signCheckpoint();
      const state = await database.db.connection().execute(async (conn) => {
        await sql`CHECKPOINT`.execute(conn);
        const tar = Buffer.from(await (await dump()).arrayBuffer());
        return { tar, size: await sources.logSize(conn), checkpoint: await sources.latestCheckpoint(conn), recordings: await sources.fileRecordings(conn) };
      });
      const snapshot = await this.snapshotOf(state, options.keys ?? true, () => (this.busy = false));
      await database.db.transaction().execute((trx) =>
        sources.record(trx, by, { logSize: state.size, checkpointSize: state.checkpoint?.size ?? null, bytes: snapshot.totalBytes, recordings: state.recordings.length }),
      );
      return snapshot;
    } catch (error) {
      this.busy = false;
      throw error;
    }
  }

  private async snapshotOf(state: {
    tar: Buffer;
    size: number;
    checkpoint: { size: number; rootHash: string; note: string } | undefined;
    recordings: FileRecordingAtSnapshot[];
  }, keys: boolean, written: () => void): Promise<BackupSnapshot> {
    const { dataDir, sources } = this.config;
    const createdAt = this.config.clock.now().toISOString();
    const small = keys ? await keyEntries(dataDir, sources.logKey.file) : [];
    const recordingsDir = path.resolve(dataDir, RECORDINGS);
    const copies: Array<{ entry: string; location: string; bytes: number; live?: LiveRecordingNote }> = [];
    for (const recording of state.recordings) {
      const relative = path.relative(recordingsDir, path.resolve(recording.location));
      // A recording outside the recordings directory (the data directory moved since) is not the backup's to name.
      if (relative.startsWith('..') || path.isAbsolute(relative)) continue;
      const fileBytes = (await stat(recording.location).catch(() => undefined))?.size;
      if (fileBytes === undefined) continue;
      const entry = `${RECORDINGS}/${relative.split(path.sep).join('/')}`;
      const bytes = recording.loggedBytes === undefined ? fileBytes : Math.min(recording.loggedBytes, fileBytes);
      copies.push({ entry, location: recording.location, bytes, ...(recording.loggedBytes !== undefined && { live: { session: recording.session, path: entry, bytes, fileBytes } }) });
    }
    const entries = async function* (): AsyncGenerator<ArchiveEntry> {
      // The next backup may start once this one is written out, or given up (the dump is let go).
      try {
        yield { path: DATABASE_ENTRY, bytes: state.tar.length, body: state.tar };
        yield* small;
        for (const copy of copies) yield { path: copy.entry, bytes: copy.bytes, body: readPrefix(copy.location, copy.bytes) };
      } finally {
        written();
      }
    };
    return {
      entries: entries(),
      totalBytes: state.tar.length + small.reduce((sum, entry) => sum + entry.bytes, 0) + copies.reduce((sum, copy) => sum + copy.bytes, 0),
      manifest: (files, masterKeyIncluded) => ({
        format: BACKUP_FORMAT,
        kind: 'changegate-backup',
        version: this.config.version,
        createdAt,
        dataDir: path.resolve(dataDir),
        eventLog: { size: state.size, checkpoint: state.checkpoint ?? null, verifierKey: sources.logKey.verifierKey, origin: sources.logKey.origin },
        liveRecordings: copies.flatMap((copy) => (copy.live ? [copy.live] : [])),
        masterKeyIncluded,
        files: files.filter((file) => file.path !== MANIFEST_ENTRY),
      }),
    };
  }
}

/** The first `bytes` bytes of a file: what was there at the snapshot of a file that only grows. */
async function* readPrefix(file: string, bytes: number): AsyncGenerator<Buffer> {
  if (bytes === 0) return;
  const handle = await open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream({ start: 0, end: bytes - 1, autoClose: false })) yield chunk as Buffer;
  } finally {
    await handle.close();
  }
}

export interface ArchiveProgress {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Writes a snapshot as a tar: its entries, any `extra` (the master key, added on the operator's
 * side only), then the manifest listing every one with its digest.
 */
export async function writeSnapshotArchive(
  snapshot: BackupSnapshot,
  write: (chunk: Buffer) => Promise<void>,
  options: { readonly extra?: readonly ArchiveEntry[]; readonly onProgress?: (progress: ArchiveProgress) => void } = {},
): Promise<BackupManifest> {
  const writer = new TarWriter(write);
  const files: BackupFile[] = [];
  let bytes = 0;
  for await (const entry of snapshot.entries) {
    const file = await writer.add(entry);
    files.push(file);
    bytes += file.bytes;
    options.onProgress?.({ files: files.length, bytes });
  }
  for (const entry of options.extra ?? []) files.push(await writer.add(entry));
  const manifest = snapshot.manifest(files, (options.extra ?? []).some((entry) => entry.path === MASTER_KEY_ENTRY));
  const text = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  await writer.add({ path: MANIFEST_ENTRY, bytes: text.length, body: text });
  await writer.finish();
  return manifest;
}
