import { createHash } from 'node:crypto';

/**
 * The layout of a change's evidence bundle, a zip whose files sit at its root (docs/evidence.md,
 * "The evidence bundle"):
 *
 * ```text
 * manifest.json                     every file below with its SHA-256 and size (bound to the log)
 * README.txt, verify.mjs            what this is; the offline verifier
 * change.json                       the change as it is, and as approved (the plans the approvals name)
 * requests.json                     its requests, each with every decision
 * review.json                       the change audit: board and score
 * audit-trail.json                  the audit-trail entries of the change object
 * sessions/<number>/session.json    each session's record
 * sessions/<number>/commands.json   …its captured commands
 * sessions/<number>/recording.cast  …its recording, as recorded
 * log/events.json                   the event-log entries all this rests on
 * log/export-event.json             the `evidence.export` entry, which holds the manifest's SHA-256
 * log/proofs.json                   an inclusion proof of every entry, to the checkpoint's size
 * log/checkpoint.txt                the signed checkpoint the proofs lead to
 * log/key.txt                       the log's verifier key
 * ```
 *
 * The last five cannot be in the manifest: the export entry holds its hash, and the proofs and
 * checkpoint come after that entry. Each is checked against the signed log instead. In the zip they
 * come last, after the manifest's files in path order: a download cut short lacks them.
 */
export const BUNDLE_FORMAT = 'changegate-evidence';
export const BUNDLE_VERSION = 1;

export const BUNDLE_PATHS = {
  manifest: 'manifest.json',
  readme: 'README.txt',
  verifier: 'verify.mjs',
  change: 'change.json',
  requests: 'requests.json',
  review: 'review.json',
  auditTrail: 'audit-trail.json',
  events: 'log/events.json',
  exportEvent: 'log/export-event.json',
  proofs: 'log/proofs.json',
  checkpoint: 'log/checkpoint.txt',
  key: 'log/key.txt',
} as const;

export const sessionPaths = (number: number) => ({
  session: `sessions/${number}/session.json`,
  commands: `sessions/${number}/commands.json`,
  recording: `sessions/${number}/recording.cast`,
});

/** The file name an export is offered as: `CHG-42-evidence.zip`. */
export const bundleFileName = (change: string) => `${change}-evidence.zip`;

export interface ManifestFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface Manifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly version: typeof BUNDLE_VERSION;
  readonly change: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly files: ManifestFile[];
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** JSON as a bundle holds it: indented for a reader, with a final newline. */
export const jsonFile = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');

/** Files in path order, as the manifest lists them and the zip holds them. */
export const byPath = <T extends { readonly path: string }>(files: readonly T[]): T[] => [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

/** The manifest of these files (hashed beforehand: a recording is read from disk in chunks, never held whole). */
export function buildManifest(files: readonly ManifestFile[], about: { change: string; createdAt: Date; createdBy: string }): Manifest {
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    change: about.change,
    createdAt: about.createdAt.toISOString(),
    createdBy: about.createdBy,
    files: byPath(files).map(({ path, sha256, size }) => ({ path, sha256, size })),
  };
}

export const manifestHash = (manifest: Uint8Array): string => sha256(manifest);

/** What an auditor reads first. */
export function readme(change: string): string {
  return [
    `Evidence bundle of change ${change}, exported from Changegate.`,
    '',
    'Verify it offline with a verifier you trust, not blindly with the verify.mjs in here (whoever',
    'handed you this bundle could have changed it): your own Changegate installation,',
    '',
    '    changegate verify-evidence <this zip> --key <the log key you obtained independently>',
    '',
    "or a verify.mjs whose SHA-256 matches what `changegate verify-evidence --print-verifier-hash`",
    'prints on an installation you trust, copied here and run with Node.js 20 or later:',
    '',
    '    node verify.mjs --key <the log key you obtained> --checkpoint <a checkpoint file you kept>',
    '',
    'It checks the checkpoint in log/ against the log key, every log entry in log/ against the',
    'checkpoint, the manifest against the export entry logged when this bundle was made, every file',
    'against the manifest, and each recording and decision against its log entry. It prints the key',
    'and the checkpoint: compare them with ones you obtained elsewhere (the key recorded when the',
    'installation was set up, a checkpoint from a checkpoint directory or a witness). It ends with',
    'OK, FAILED, or UNANCHORED when no --key was given (the bundle\'s own key proves nothing).',
    'See docs/evidence.md in Changegate, "The evidence bundle".',
    '',
  ].join('\n');
}
