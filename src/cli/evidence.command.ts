import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { unzipSync } from 'fflate';
import { bundleFileName } from '../evidence/evidence-bundle.ts';
import { exitCodeOf, formatReport, sha256Hex, verifyBundle } from '../evidence/verify.mjs';
import { segment } from './api-client.ts';
import { withApi } from './api-connection.ts';
import { CommandError, CommandFailed, EXIT } from './command-error.ts';
import { printLines } from './output.ts';

/**
 * `changegate evidence <change>` saves a change's evidence bundle; `changegate verify-evidence
 * <zip>` checks one offline, reading the zip directly with the same code as the bundle's own
 * verify.mjs (imported, not copied), so both say the same thing.
 */
export function registerEvidenceCommands(program: Command): void {
  program
    .command('evidence')
    .description("save a change's evidence bundle (zip): everything about the change, the log entries it rests on with their proofs, a signed checkpoint and an offline verifier")
    .argument('<change>', 'the change ID, such as CHG-42')
    .option('-o, --output <file>', 'where to write it (default: <change>-evidence.zip in the current directory)')
    .addHelpText('after', '\nNeeds Session.View and EventLog.View. The export is logged. Check the bundle with `changegate verify-evidence <file> --key <the log key, obtained independently>`.')
    .action((change: string, options: { output?: string }) =>
      withApi(async (api) => {
        const response = await api.send('GET', `/changes/${segment(change)}/evidence`);
        if (!response.body) throw new CommandError(`The server sent no evidence bundle for ${change}.`);
        const target = path.resolve(options.output ?? bundleFileName(change));
        const saved = await saveBundle(response.body, target).catch((error: unknown) => {
          throw new CommandError(`The evidence bundle of ${change} did not arrive whole (${reasonOf(error)}): nothing was saved to ${target}. Export it again.`);
        });
        printLines(`Saved the evidence bundle of ${change} to ${target} (${saved.bytes} bytes).`, `SHA-256: ${saved.sha256}`);
      }),
    );

  program
    .command('verify-evidence')
    .description(
      "verify an evidence bundle offline (no server, no sign-in) with this installation's verifier: its checkpoint, every log entry and proof, the manifest and every file; exits 1 when anything fails, 3 (UNANCHORED) when all passed without --key",
    )
    .argument('[zip]', 'the bundle, as `changegate evidence` saved it')
    .option('--key <verifier key>', "the log's key as you obtained it independently; without it the bundle's own is used and the verdict is UNANCHORED, not OK")
    .option('--checkpoint <file>', "a checkpoint of the same size you obtained independently (from a checkpoint directory or a witness), compared with the bundle's")
    .option('--print-verifier-hash', "print the SHA-256 of this installation's verify.mjs, to compare with a copy you run elsewhere, and exit")
    .action(async (file: string | undefined, options: { key?: string; checkpoint?: string; printVerifierHash?: boolean }) => {
      const ownVerifier = await readFile(OWN_VERIFIER);
      if (options.printVerifierHash) {
        printLines(`${sha256Hex(ownVerifier)}  verify.mjs`);
        return;
      }
      if (file === undefined) throw new CommandError('Name the bundle to verify: changegate verify-evidence <zip> --key <the log key>.', EXIT.usage);
      const files = await readBundleZip(file);
      const checkpoint = options.checkpoint === undefined ? undefined : await readFile(options.checkpoint, 'utf8');
      const report = verifyBundle(files, { ...(options.key !== undefined && { key: options.key }), ...(checkpoint !== undefined && { checkpoint }) });
      const theirs = files.get('verify.mjs');
      const warning =
        theirs === undefined || Buffer.compare(Buffer.from(theirs), ownVerifier) === 0
          ? []
          : [
              `WARNING: the bundle's verify.mjs (SHA-256 ${sha256Hex(theirs)}) is not this installation's (SHA-256 ${sha256Hex(ownVerifier)}).`,
              "This verdict is this installation's verifier's: trust it, not the bundle's copy, which may have been made to say OK whatever the bundle holds.",
              '',
            ];
      printLines(...warning, ...formatReport(report));
      const code = exitCodeOf(report);
      if (code !== EXIT.ok) throw new CommandFailed(code);
    });
}

/**
 * Writes the bundle as it arrives, hashing it, to a file beside the target, and renames it to the
 * target once it is whole: a download that breaks off leaves no half bundle under the name. Whole
 * means the HTTP answer ended as it should (the server breaks the connection off when the export
 * fails mid-way) and the zip ends with its end record, which a proxy that turned a broken answer into
 * a short one would have cut off.
 */
async function saveBundle(body: ReadableStream<Uint8Array>, target: string): Promise<{ sha256: string; bytes: number }> {
  const partial = `${target}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // Opened before the download starts: a stream that opened its file by itself could create it
  // after a failed download had already removed it.
  const file = await open(partial, 'w', 0o640);
  try {
    await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), hashing, file.createWriteStream());
    if (!(await endsWithZipEnd(partial))) throw new Error('the zip stops before its end record');
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** A bundle ends with the zip's end-of-central-directory record (22 bytes; the server writes no comment). */
async function endsWithZipEnd(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size < 22) return false;
    const { buffer } = await handle.read(Buffer.alloc(22), 0, 22, size - 22);
    return buffer.readUInt32LE(0) === 0x06054b50;
  } finally {
    await handle.close();
  }
}

/** Why a download failed, in a few words: `terminated`, `other side closed`. */
function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { message?: string } }).cause;
  return [(error as Error).message, cause?.message].filter(Boolean).join(': ');
}

/** This installation's verifier: the one an auditor trusts, rather than whatever a bundle carries. */
const OWN_VERIFIER = new URL('../evidence/verify.mjs', import.meta.url);

/**
 * Why a zip entry's name is refused, or undefined. Tools read such names differently (one extracts
 * `../x` outside the folder, `__proto__` is no ordinary key of a JavaScript object, `a\\b` is a
 * folder on Windows and a file name elsewhere), so a bundle holding one could show an auditor's
 * tool other files than the ones verified.
 */
export function zipEntryNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'it holds a control character';
  if (name.includes('\\')) return 'it holds a backslash';
  if (name.startsWith('/')) return 'it starts with /';
  const segments = name.replace(/\/$/, '').split('/');
  if (segments.some((segment) => segment === '..' || segment === '.')) return 'it holds a . or .. segment';
  if (segments.some((segment) => segment === '')) return 'it holds an empty segment (//)';
  if (segments.some((segment) => segment === '__proto__')) return 'it is __proto__';
  return undefined;
}

/**
 * The files of a zip by path, directories left out, read from its central directory as unzip tools
 * read it. A zip with a name twice (tools disagree on which copy they show) or a name tools read
 * differently is refused before anything is checked.
 */
async function readBundleZip(file: string): Promise<Map<string, Uint8Array>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new CommandError(`Cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  const seen = new Set<string>();
  const refuse = (name: string, why: string) =>
    new CommandError(`${file} holds an entry named ${JSON.stringify(name)}, which ${why}: a bundle \`changegate evidence\` saved holds none; this one was altered, and is not verified.`);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, {
      filter: (entry) => {
        const problem = zipEntryNameProblem(entry.name);
        if (problem !== undefined) throw refuse(entry.name, problem.replace(/^it /, ''));
        if (seen.has(entry.name)) throw refuse(entry.name, 'is there twice (unzip tools disagree on which copy they show)');
        seen.add(entry.name);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`${file} is not a zip file, or not a whole one (${(error as Error).message}): give the bundle \`changegate evidence\` saved.`);
  }
  const files = new Map<string, Uint8Array>();
  for (const name of seen) if (!name.endsWith('/')) files.set(name, entries[name] as Uint8Array);
  return files;
}
