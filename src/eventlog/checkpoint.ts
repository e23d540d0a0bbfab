import { formatKeyId, NoteError, strictBase64, verifyNote, type VerifierKey } from './signed-note.ts';

/**
 * The body of a C2SP checkpoint (https://c2sp.org/tlog-checkpoint): the log's origin, its tree
 * size in decimal, the base64 RFC 6962/9162 root hash at that size, then optional extension lines.
 * Signed as a signed note, it is the log's commitment to its whole history up to that size.
 *
 * ```text
 * changegate.example.com
 * 1042
 * 4Wbe0KKQmz6bJyGvHyDO1ZqgnHq1Ea6VNwGWAU4uz9k=
 * ```
 */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** The 32-byte SHA-256 Merkle tree hash. */
  readonly rootHash: Buffer;
  /** Opaque extension lines; Changegate writes none (the spec advises against them). */
  readonly extensions: readonly string[];
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointFormatError';
  }
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** The note text of a checkpoint, ending in a newline. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  if (checkpoint.origin === '' || checkpoint.origin.includes('\n')) throw new CheckpointFormatError('the origin is one non-empty line');
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0) throw new CheckpointFormatError(`the tree size is a whole number, not ${checkpoint.size}`);
  if (checkpoint.rootHash.length !== 32) throw new CheckpointFormatError(`the root hash is 32 bytes, not ${checkpoint.rootHash.length}`);
  for (const line of checkpoint.extensions) {
    if (line === '' || line.includes('\n')) throw new CheckpointFormatError('an extension line is one non-empty line');
  }
  return [checkpoint.origin, String(checkpoint.size), checkpoint.rootHash.toString('base64'), ...checkpoint.extensions].map((line) => `${line}\n`).join('');
}

/** Reads a checkpoint's note text strictly: every deviation from the spec is refused, naming the line. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointFormatError('a checkpoint ends with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointFormatError(`a checkpoint has at least three lines (origin, tree size, root hash), not ${lines.length}`);
  const empty = lines.findIndex((line) => line === '');
  if (empty >= 0) throw new CheckpointFormatError(`line ${empty + 1} of the checkpoint is empty`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!DECIMAL.test(sizeText)) throw new CheckpointFormatError(`the tree size (line 2) is decimal digits without leading zeros, not "${sizeText.slice(0, 40)}"`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new CheckpointFormatError(`the tree size ${sizeText.slice(0, 40)} is larger than this verifier reads`);
  const rootHash = strictBase64(rootText);
  if (!rootHash || rootHash.length !== 32) throw new CheckpointFormatError('the root hash (line 3) is the standard base64 of 32 bytes');
  return { origin, size, rootHash, extensions };
}

/** Why a stored checkpoint is not the log's: what `log.checkpoint.rejected` entries name. */
export type CheckpointRejection = 'malformed' | 'unknown_key' | 'invalid_signature' | 'wrong_origin' | 'mismatch';

/** A checkpoint as a row holds it: the note, and the columns kept beside it to find it by. */
export interface CheckpointRow {
  readonly size: number;
  readonly rootHash: Buffer;
  readonly origin: string;
  readonly note: string;
}

/**
 * Whether a stored checkpoint is one this log signed: its note verifies with the log's key, its
 * origin is the log's, and its size and root are the row's. Undefined when it is; else the reason
 * and a sentence (which quotes nothing from the row but its size and key ID). Whoever can write
 * the table can insert any row, but cannot sign one: only a row that passes may be trusted.
 */
export function checkpointRowProblem(row: CheckpointRow, log: { readonly origin: string; readonly key: VerifierKey }): { reason: CheckpointRejection; message: string } | undefined {
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(verifyNote(row.note, log.key).text);
  } catch (error) {
    if (error instanceof CheckpointFormatError) return { reason: 'malformed', message: `checkpoint ${row.size} is signed with the log's key but is not a checkpoint` };
    if (!(error instanceof NoteError)) throw error;
    if (error.reason === 'unknown_key') return { reason: 'unknown_key', message: `checkpoint ${row.size} carries no signature of this log's key ${log.key.name}+${formatKeyId(log.key.keyId)}` };
    if (error.reason === 'invalid_signature') return { reason: 'invalid_signature', message: `the log's signature on checkpoint ${row.size} does not verify: its text or signature was changed` };
    return { reason: 'malformed', message: `checkpoint ${row.size} is not a signed note` };
  }
  if (checkpoint.origin !== log.origin) return { reason: 'wrong_origin', message: `checkpoint ${row.size} is of another log than ${log.origin}` };
  if (checkpoint.size !== row.size || !checkpoint.rootHash.equals(row.rootHash) || row.origin !== checkpoint.origin) {
    return { reason: 'mismatch', message: `the row of checkpoint ${row.size} does not hold what its note signed (${checkpoint.size} entries): the note was copied into another row` };
  }
  return undefined;
}
