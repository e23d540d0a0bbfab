import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Command } from 'commander';
import {
  ArchiveError,
  DATABASE_ENTRY,
  isSafeEntryPath,
  MANIFEST_ENTRY,
  parseManifest,
  readAll,
  readTar,
  type BackupFile,
  type BackupManifest,
} from '../platform/backup-archive.ts';
import type { VerifierKey } from '../eventlog/signed-note.ts';
import { systemClock } from '../platform/clock.ts';
import { isAppError } from '../platform/errors.ts';
import { cliIo } from './cli-io.ts';
import { CommandError, CommandFailed, EXIT } from './command-error.ts';
import { globalOptionsOf, loadCliConfig } from './global-options.ts';
import { localOperator } from './open-changegate.ts';
import { printLines } from './output.ts';
import { describeCheckpointReport } from './verify.command.ts';

interface RestoreOptions {
  readonly key?: string;
}

/** Where each archive entry goes in the data directory, and its mode; recordings keep their path under recordings/. */
const PLACES: Readonly<Record<string, { readonly file: string; readonly mode: number }>> = {
  'keys/log-signing.key': { file: 'log-signing.key', mode: 0o600 },
  'keys/gateway_host_ed25519_key': { file: 'gateway_host_ed25519_key', mode: 0o600 },
  'keys/master.key': { file: 'master.key', mode: 0o600 },
  'instance-id': { file: 'instance-id', mode: 0o644 },
};

/**
 * `changegate restore-backup FILE`: restores a backup into an empty data directory. Every digest
 * of the manifest is checked before anything is written; the files are then written into a
 * directory beside the target, the database opened there and its event log verified against the
 * checkpoint the backup recorded, and only then is it renamed into place: a failure at any step
 * leaves nothing behind.
 */
export function registerRestoreBackupCommand(program: Command): void {
  program
    .command('restore-backup')
    .description('restore a backup made by `changegate backup` into an empty data directory (--data-dir or CHANGEGATE_DATA_DIR), verifying every file and the event log first')
    .argument('<file>', 'the archive, as `changegate backup` wrote it')
    .option('--key <verifier key>', "the log's verifier key as you obtained it independently, to check the backup's checkpoint with (default: the key the backup names)")
    .addHelpText(
      'after',
      '\nRefuses a data directory that is not empty, and an archive whose files do not match its manifest; nothing is written then.\n' +
        'Without the master key in the archive, put your master.key in the data directory (or set CHANGEGATE_MASTER_KEY) before\n' +
        'starting the server: the vault\'s secrets are sealed with it. See docs/backups.md.',
    )
    .action((file: string, options: RestoreOptions, command: Command) => restore(file, options, command));
}

async function restore(file: string, options: RestoreOptions, command: Command): Promise<void> {
  const config = loadCliConfig(globalOptionsOf(command));
  if (config.databaseUrl) throw new CommandError('DATABASE_URL is set: a backup of the embedded database restores into a data directory without it. For PostgreSQL, restore with pg_restore (docs/backups.md).', EXIT.usage);
  const target = path.resolve(config.dataDir);
  const present = await readdir(target).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  if (present.length > 0) {
    throw new CommandError(`${target} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', …' : ''}): a backup restores only into an empty data directory. Choose another with --data-dir, or move what is there away first.`, EXIT.usage);
  }
  const { givenVerifierKey } = await import('../evidence/index.ts');
  let given;
  try {
    given = options.key === undefined ? undefined : givenVerifierKey(options.key);
  } catch (error) {
    if (isAppError(error)) throw new CommandError(`--key: ${error.message}`, EXIT.usage);
    throw error;
  }

  // 1. Every digest, before anything is written.
  const manifest = await checkArchive(file);
  const key = given ?? givenVerifierKey(manifest.eventLog.verifierKey);

  // 2. Written beside the target, then renamed into place once verified.
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.restoring-${randomBytes(4).toString('hex')}`);
  await mkdir(path.dirname(target), { recursive: true });
  await mkdir(staging, { mode: 0o700 });
  let outcome: Awaited<ReturnType<typeof restoreInto>>;
  try {
    outcome = await restoreInto(staging, file, manifest, key, given !== undefined);
    if (!outcome.ok) throw new CommandFailed();
    await rmdir(target).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (error instanceof CommandFailed) throw new CommandFailed();
    throw error;
  }
  const movedFrom = manifest.dataDir !== target;
  printLines(
    `Restored the backup of ${manifest.createdAt} (Changegate ${manifest.version}) into ${target}: ${manifest.files.length} files, every digest verified.`,
    ...outcome.lines,
    ...(movedFrom
      ? [`Note: the backup was made of ${manifest.dataDir}; sessions name their recordings by that path. Serve from ${manifest.dataDir} (move this directory there), or replay of recorded sessions will not find them.`]
      : []),
    manifest.masterKeyIncluded
      ? 'The master key was restored with it (master.key): the vault opens as before.'
      : `The archive holds no master key: put your master.key in ${target} (mode 0600), or set CHANGEGATE_MASTER_KEY, before starting the server: the vault's secrets are sealed with it, and a server started without it would make a new key that opens none of them.`,
  );
}

/** Reads the archive through, hashing each entry, and compares it with the manifest: nothing is written. */
async function checkArchive(file: string): Promise<BackupManifest> {
  const seen = new Map<string, BackupFile>();
  let manifest: BackupManifest | undefined;
  try {
    for await (const entry of readTar(await archiveBytes(file))) {
      if (!isSafeEntryPath(entry.path)) throw new ArchiveError(`The archive names a file outside the data directory: ${entry.path}.`);
      if (entry.path === MANIFEST_ENTRY) {
        manifest = parseManifest((await readAll(entry.body)).toString('utf8'));
        continue;
      }
      if (seen.has(entry.path)) throw new ArchiveError(`The archive holds ${entry.path} twice.`);
      const hash = createHash('sha256');
      for await (const chunk of entry.body) hash.update(chunk);
      seen.set(entry.path, { path: entry.path, bytes: entry.bytes, sha256: hash.digest('hex') });
    }
  } catch (error) {
    throw refused(file, error);
  }
  if (!manifest) throw refused(file, new ArchiveError('it has no manifest.json'));
  const listed = new Map(manifest.files.map((entry) => [entry.path, entry]));
  for (const [name, found] of seen) {
    const expected = listed.get(name);
    if (!expected) throw refused(file, new ArchiveError(`it holds ${name}, which its manifest does not list`));
    if (expected.sha256 !== found.sha256 || expected.bytes !== found.bytes) throw refused(file, new ArchiveError(`${name} does not match its digest in the manifest (it was altered or damaged)`));
  }
  for (const name of listed.keys()) if (!seen.has(name)) throw refused(file, new ArchiveError(`it lacks ${name}, which its manifest lists`));
  if (!seen.has(DATABASE_ENTRY)) throw refused(file, new ArchiveError(`it holds no database (${DATABASE_ENTRY})`));
  return manifest;
}

function refused(file: string, error: unknown): CommandError {
  if (error instanceof ArchiveError) return new CommandError(`${file} is refused: ${error.message.replace(/\.$/, '')}. Nothing was written.`);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new CommandError(`Cannot read ${file}: no such file.`, EXIT.usage);
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') return new CommandError(`${file} is refused: its compression is damaged (${(error as Error).message}). Nothing was written.`);
  return error instanceof CommandError ? error : new CommandError(`${file} cannot be read: ${(error as Error).message}. Nothing was written.`);
}

/** The archive's tar bytes: gunzipped when it is gzip (as `changegate backup` writes it), as is when plain tar. */
async function archiveBytes(file: string): Promise<AsyncIterable<Buffer>> {
  const handle = await open(file, 'r');
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(file);
  return magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
}

/**
 * Writes the archive's files into `dir`, checking each digest again as it writes (the file could
 * have changed since it was checked), opens the database from its dump there and verifies the
 * event log against the backup's checkpoint: the restored log must hold exactly the entries the
 * backup's log held, and agree with what was signed before the backup.
 */
async function restoreInto(dir: string, file: string, manifest: BackupManifest, key: VerifierKey, keyGiven: boolean): Promise<{ ok: boolean; lines: string[] }> {
  const listed = new Map(manifest.files.map((entry) => [entry.path, entry]));
  let dump: Buffer | undefined;
  try {
    for await (const entry of readTar(await archiveBytes(file))) {
      if (entry.path === MANIFEST_ENTRY) {
        for await (const _ of entry.body) void _;
        continue;
      }
      const expected = listed.get(entry.path);
      if (!expected || !isSafeEntryPath(entry.path)) throw new ArchiveError(`${entry.path} changed since it was checked`);
      const hash = createHash('sha256');
      if (entry.path === DATABASE_ENTRY) {
        // PGlite loads its directory from the dump in memory, as it was dumped.
        const chunks: Buffer[] = [];
        for await (const chunk of entry.body) {
          hash.update(chunk);
          chunks.push(chunk);
        }
        dump = Buffer.concat(chunks);
      } else {
        const place = PLACES[entry.path] ?? (entry.path.startsWith('recordings/') ? { file: entry.path, mode: 0o640 } : undefined);
        if (!place) throw new ArchiveError(`the archive holds ${entry.path}, which has no place in a data directory`);
        const to = path.join(dir, ...place.file.split('/'));
        await mkdir(path.dirname(to), { recursive: true, mode: 0o700 });
        const out = await open(to, 'wx', place.mode);
        try {
          for await (const chunk of entry.body) {
            hash.update(chunk);
            await out.write(chunk);
          }
        } finally {
          await out.close();
        }
      }
      if (hash.digest('hex') !== expected.sha256) throw new ArchiveError(`${entry.path} changed since it was checked`);
    }
  } catch (error) {
    throw refused(file, error);
  }
  if (!dump) throw refused(file, new ArchiveError(`it holds no database (${DATABASE_ENTRY})`));

  const { openDatabase } = await import('../platform/database.ts');
  const { appendEvent, verifyAgainstCheckpoint, verifyEventLog } = await import('../eventlog/index.ts');
  const database = await openDatabase({ kind: 'pglite', dataDir: dir, startFrom: new Blob([dump]) });
  try {
    const lines: string[] = [];
    const { stderr } = cliIo();
    const onProgress = stderr.isTTY === true ? (verified: number) => stderr.write(`\rVerified ${verified} entries…`) : undefined;
    let ok: boolean;
    let storedSize: number;
    const checkpoint = manifest.eventLog.checkpoint;
    if (checkpoint) {
      const report = await verifyAgainstCheckpoint(database.db, { note: checkpoint.note, key, keySource: keyGiven ? 'given' : 'log', logOrigin: manifest.eventLog.origin }, onProgress);
      ok = report.ok;
      storedSize = report.storedSize ?? 0;
      lines.push(...describeCheckpointReport(report));
    } else {
      const report = await verifyEventLog(database.db, onProgress);
      ok = report.ok;
      storedSize = report.headSeq;
      lines.push(report.ok ? `Event log verified: ${report.verified} entries (the backup recorded no signed checkpoint yet).` : `Event log verification FAILED at entry ${report.failure?.seq}: ${report.failure?.message}`);
    }
    if (onProgress) stderr.write('\r\u001b[K');
    if (ok && storedSize !== manifest.eventLog.size) {
      ok = false;
      lines.push(`The restored log holds ${storedSize} entries, but the backup's held ${manifest.eventLog.size}.`);
    }
    if (!ok) {
      printLines(...lines, 'The restore is refused: the restored event log does not verify. Nothing was written.');
      return { ok, lines };
    }
    // The restored log says it was restored, and by whom, from which backup.
    await database.db.transaction().execute((trx) =>
      appendEvent(trx, { actor: localOperator(), action: 'backup.restore', subject: 'backup', data: { createdAt: manifest.createdAt, logSize: manifest.eventLog.size, checkpointSize: checkpoint?.size ?? null }, time: systemClock.now() }),
    );
    return { ok, lines };
  } finally {
    await database.close();
  }
}
