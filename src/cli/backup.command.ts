import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGzip } from 'node:zlib';
import type { Command } from 'commander';
import { keyEntries, MANIFEST_ENTRY, MASTER_KEY_ENTRY, parseManifest, readAll, readTar, TarWriter, type ArchiveEntry, type BackupFile, type BackupManifest } from '../platform/backup-archive.ts';
import type { ArchiveProgress } from '../platform/backup.service.ts';
import { logSigningKeyFile } from '../eventlog/log-signing-key.ts';
import type { Config } from '../platform/config.ts';
import { isAppError } from '../platform/errors.ts';
import { parseMasterKeys } from '../platform/secret-box.ts';
import { withApi } from './api-connection.ts';
import { cliIo } from './cli-io.ts';
import { CommandError, EXIT } from './command-error.ts';
import { globalOptionsOf, loadCliConfig } from './global-options.ts';
import { withLocalChangegate } from './open-changegate.ts';
import { printLines } from './output.ts';

interface BackupOptions {
  readonly includeMasterKey?: boolean;
}

export const MASTER_KEY_WARNING =
  'WARNING: this backup holds the master key. The vault\'s secrets are sealed with it: whoever has the archive can open every vaulted password and key. Keep it as you would keep every root password, apart from ordinary backups.';

const PGDUMP_HINT =
  'This installation keeps its data in PostgreSQL (DATABASE_URL): `changegate backup` snapshots only the embedded database. Back PostgreSQL up with pg_dump, and keep the recordings, master key and log signing key as docs/backups.md says.';

/**
 * `changegate backup FILE`: a consistent snapshot of the embedded database, the recordings kept as
 * files and the signing keys, as a gzipped tar (mode 0600) with a manifest of SHA-256 digests.
 * While a server holds the data directory, the server takes the snapshot (POST /api/v1/backups,
 * System.Backup) and this command writes it; otherwise it opens the data directory itself.
 */
export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description('write a consistent backup of the embedded database, the recordings and the signing keys to FILE (a .tar.gz, mode 0600), while the server runs or not')
    .argument('<file>', 'the archive to write, such as changegate-backup.tar.gz; it must not exist')
    .option('--include-master-key', 'also put the master key in the archive (it opens every vaulted secret: keep such a backup apart)')
    .addHelpText(
      'after',
      '\nWith a server running on the data directory, the backup is asked of it as the signed-in user (changegate login), who needs\n' +
        'System.Backup; the master key never travels over the API: with --include-master-key it is read here, from the data\n' +
        'directory or CHANGEGATE_MASTER_KEY. With no server running, the data directory is opened directly.\n' +
        'Restore with `changegate restore-backup FILE` into an empty data directory. See docs/backups.md.',
    )
    .action((file: string, options: BackupOptions, command: Command) => backup(file, options, command));
}

async function backup(file: string, options: BackupOptions, command: Command): Promise<void> {
  const globals = globalOptionsOf(command);
  const config = loadCliConfig(globals);
  if (config.databaseUrl) throw new CommandError(PGDUMP_HINT);
  const target = path.resolve(file);
  if (existsSync(target)) throw new CommandError(`${target} exists: choose another name (a backup never overwrites a file).`, EXIT.usage);
  if (!existsSync(path.join(config.dataDir, 'db'))) throw new CommandError(`${path.resolve(config.dataDir)} holds no embedded database: is --data-dir (CHANGEGATE_DATA_DIR) the installation's?`, EXIT.usage);
  const masterKey = options.includeMasterKey ? await masterKeyEntry(config) : undefined;
  const { stderr } = cliIo();
  if (masterKey) stderr.write(`${MASTER_KEY_WARNING}\n`);

  const archive = await openArchive(target);
  const progress = progressPrinter();
  let manifest: BackupManifest;
  try {
    const server = serverHolds(config.dataDir);
    if (server) stderr.write(`A server (pid ${server}) holds ${path.resolve(config.dataDir)}: asking it for the backup, as the signed-in user.\n`);
    manifest = server
      ? await backupThroughServer(archive.write, [...(await localKeyEntries(config)), ...(masterKey ? [masterKey] : [])], masterKey !== undefined, progress)
      : await withLocalChangegate(globals, async (core, operator) => {
          const { writeSnapshotArchive } = await import('../platform/backup.service.ts');
          const snapshot = await core.backups.take(operator).catch(translateAppError);
          return writeSnapshotArchive(snapshot, archive.write, { extra: masterKey ? [masterKey] : [], onProgress: progress });
        });
    await archive.close();
  } catch (error) {
    await archive.abandon();
    throw error;
  } finally {
    progress.end();
  }
  const bytes = manifest.files.reduce((sum, entry) => sum + entry.bytes, 0);
  const checkpoint = manifest.eventLog.checkpoint;
  printLines(
    `Backup written to ${target}: ${manifest.files.length} files, ${bytes} bytes before compression.`,
    `Event log: ${manifest.eventLog.size} entries; ${checkpoint ? `latest signed checkpoint at ${checkpoint.size} entries, root ${checkpoint.rootHash}` : 'no signed checkpoint yet'}.`,
    ...(manifest.liveRecordings.length > 0 ? [`${manifest.liveRecordings.length} live session recording(s) copied up to what the event log vouched for at the snapshot.`] : []),
    manifest.masterKeyIncluded ? 'The master key is in the archive.' : 'The master key is NOT in the archive: keep master.key (or CHANGEGATE_MASTER_KEY) safe apart; a restore needs it.',
  );
}

/** The pid of the live process holding the data directory's lock (data-dir-lock.ts): the server, which must take the snapshot. */
function serverHolds(dataDir: string): number | undefined {
  let holder: number;
  try {
    holder = Number(readFileSync(path.join(dataDir, 'changegate.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(holder) || holder <= 0 || holder === process.pid) return undefined;
  try {
    process.kill(holder, 0);
    return holder;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? holder : undefined;
  }
}

/**
 * Asks the server for the snapshot and writes it entry by entry, checking each against the
 * server's manifest as it goes: what reaches the file is what the server read. The master key,
 * if asked for, is added here, never sent over the API.
 */
async function backupThroughServer(
  write: (chunk: Buffer) => Promise<void>,
  extra: readonly ArchiveEntry[],
  masterKeyIncluded: boolean,
  onProgress: (progress: ArchiveProgress) => void,
): Promise<BackupManifest> {
  return withApi(async (api) => {
    const response = await api.send('POST', '/backups', { body: {} }).catch(translateAppError);
    if (!response.body) throw new CommandError('The server sent no backup.');
    const writer = new TarWriter(write);
    const files: BackupFile[] = [];
    let bytes = 0;
    let manifest: BackupManifest | undefined;
    const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>) as AsyncIterable<Buffer>;
    try {
      for await (const entry of readTar(source)) {
        if (entry.path === MANIFEST_ENTRY) {
          manifest = parseManifest((await readAll(entry.body)).toString('utf8'));
          continue;
        }
        const file = await writer.add(entry);
        files.push(file);
        bytes += file.bytes;
        onProgress({ files: files.length, bytes });
      }
    } catch (error) {
      if (error instanceof CommandError) throw error;
      throw new CommandError(`The backup did not arrive whole (${(error as Error).message}): nothing was saved. Run it again.`);
    }
    if (!manifest) throw new CommandError('The backup did not arrive whole (it has no manifest): nothing was saved. Run it again.');
    const listed = new Map(manifest.files.map((file) => [file.path, file]));
    for (const file of files) {
      const expected = listed.get(file.path);
      if (!expected || expected.sha256 !== file.sha256 || expected.bytes !== file.bytes) throw new CommandError(`The backup's ${file.path} does not match the server's manifest: nothing was saved. Run it again.`);
    }
    if (files.length !== manifest.files.length) throw new CommandError('The backup lacks files its manifest lists: nothing was saved. Run it again.');
    for (const entry of extra) files.push(await writer.add(entry));
    const final: BackupManifest = { ...manifest, masterKeyIncluded, files };
    const text = Buffer.from(`${JSON.stringify(final, null, 2)}\n`);
    await writer.add({ path: MANIFEST_ENTRY, bytes: text.length, body: text });
    await writer.finish();
    return final;
  });
}

/**
 * The private keys of the installation, read here from its data directory: the server never sends
 * them over the API (a System.Backup holder would get the gateway's host key and the log's signing
 * key). A key the settings give instead (CHANGEGATE_LOG_SIGNING_KEY) is kept where they are.
 */
async function localKeyEntries(config: Config): Promise<ArchiveEntry[]> {
  return keyEntries(config.dataDir, config.logSigningKey ? undefined : logSigningKeyFile(config)).catch((error: NodeJS.ErrnoException) => {
    throw new CommandError(`Cannot read a key file (${error.message}): run changegate backup as the user the server runs as.`);
  });
}

/** The master key as a key file (one base64 key per line, the current first), from CHANGEGATE_MASTER_KEY or the data directory. */
async function masterKeyEntry(config: Config): Promise<ArchiveEntry> {
  let text: string;
  if (config.masterKey) {
    const keys = parseMasterKeys(config.masterKey);
    if (!keys) throw new CommandError('CHANGEGATE_MASTER_KEY does not hold master keys: nothing to include.', EXIT.usage);
    text = keys.map((key) => `${key.toString('base64')}\n`).join('');
  } else {
    const file = path.join(config.dataDir, 'master.key');
    text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new CommandError(`--include-master-key: cannot read ${file} (${error.code ?? error.message}), and CHANGEGATE_MASTER_KEY is not set.`, EXIT.usage);
    });
  }
  const bytes = Buffer.from(text);
  return { path: MASTER_KEY_ENTRY, bytes: bytes.length, body: bytes };
}

/**
 * The archive being written: gzip into a file beside the target, mode 0600 from its creation,
 * renamed to the target once whole; abandoned, it is removed and the target never appears.
 */
async function openArchive(target: string): Promise<{ write(chunk: Buffer): Promise<void>; close(): Promise<void>; abandon(): Promise<void> }> {
  const partial = `${target}.partial-${process.pid}`;
  const out = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  await once(out, 'open').catch((error: NodeJS.ErrnoException) => {
    throw new CommandError(`Cannot write ${partial}: ${error.code ?? error.message}.`);
  });
  const gzip = createGzip();
  gzip.pipe(out);
  const done = finished(out);
  done.catch(() => undefined);
  return {
    write: async (chunk) => {
      if (!gzip.write(chunk)) await once(gzip, 'drain');
    },
    close: async () => {
      gzip.end();
      await done;
      await rename(partial, target);
    },
    abandon: async () => {
      gzip.destroy();
      out.destroy();
      await rm(partial, { force: true });
    },
  };
}

/** Progress on stderr while a terminal watches: files and bytes so far. */
function progressPrinter(): ((progress: ArchiveProgress) => void) & { end(): void } {
  const { stderr } = cliIo();
  const tty = stderr.isTTY === true;
  const print = Object.assign(
    (progress: ArchiveProgress) => {
      if (tty) stderr.write(`\rBacked up ${progress.files} files, ${(progress.bytes / 1_048_576).toFixed(1)} MiB…`);
    },
    { end: () => void (tty && stderr.write('\r\u001b[K')) },
  );
  return print;
}

/** A refusal by the server or the service, said as the CLI says things. */
function translateAppError(error: unknown): never {
  if (isAppError(error, 'backup_not_embedded')) throw new CommandError(PGDUMP_HINT);
  throw error;
}
