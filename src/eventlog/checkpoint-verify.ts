import type { Executor } from '../platform/database.ts';
import { CheckpointFormatError, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { EntryWalk, type HashedEventEntry } from './event.ts';
import { listEntries } from './event.store.ts';
import { rootAt, treeSize } from './event-tree.ts';
import { nodeKey, readCheckpointsBetween, readNodesCompletedBy, type StoredCheckpointNote } from './log-audit.store.ts';
import { CompactRange, EMPTY_ROOT, subtreeWidth, type Subtree } from './merkle.ts';
import { encodeVerifierKey, formatKeyId, NoteError, parseNote, verifyNote, type VerifierKey } from './signed-note.ts';

/**
 * Why verification against a checkpoint failed. The checkpoint itself is refused first
 * (`malformed_checkpoint`, `unknown_key`, `invalid_signature`, `wrong_origin`); then the log:
 * - `truncated`: the log holds fewer entries than the checkpoint saw (entries deleted at the end);
 * - `deleted`: an entry is missing (a seq skipped);
 * - `edited`: an entry's content no longer matches its stored leaf hash;
 * - `chain_broken`: an entry's stored chain hash does not link it to the one before;
 * - `rewritten`: the entries agree with their stored hashes, but not with the checkpoint: their
 *   leaf (and chain) hashes were recomputed to match edited content; only the signed root shows it;
 * - `tree_altered`: the entries agree with the checkpoint, but a stored subtree hash does not.
 */
export type CheckpointFailureKind =
  | 'malformed_checkpoint'
  | 'unknown_key'
  | 'invalid_signature'
  | 'wrong_origin'
  | 'truncated'
  | 'deleted'
  | 'edited'
  | 'chain_broken'
  | 'rewritten'
  | 'tree_altered';

export interface CheckpointVerifyFailure {
  readonly kind: CheckpointFailureKind;
  /** The first entry that does not match, or the first of the range it lies in. */
  readonly seq?: number;
  /** When only a range is known: the first entry that differs is one of `seq`..`toSeq`. */
  readonly toSeq?: number;
  readonly message: string;
}

export interface CheckpointVerifyReport {
  readonly ok: boolean;
  /** What the checkpoint says, once its signature verified. */
  readonly checkpoint?: { readonly origin: string; readonly size: number; readonly rootHash: string };
  /** The key the checkpoint was verified with: one given by the auditor, or by default this log's own. */
  readonly key: { readonly verifierKey: string; readonly keyId: string; readonly source: 'given' | 'log' };
  /** Entries stored (the stored tree's size). */
  readonly storedSize?: number;
  /** Base64 root of the stored tree at the checkpoint's size, from its stored subtree hashes. */
  readonly storedRoot?: string;
  /** Base64 root at the checkpoint's size recomputed from the entries' content. */
  readonly computedRoot?: string;
  /** True when the stored tree's root at the checkpoint's size is not the checkpoint's: the history forked. */
  readonly forked: boolean;
  /** Entries rehashed and found to match before the pass stopped. */
  readonly verified: number;
  /** Sizes of the log's own stored checkpoints, signed by the same key, that narrowed down where a rewrite begins. */
  readonly narrowedBy: number[];
  readonly failure?: CheckpointVerifyFailure;
}

export interface CheckpointVerifyInput {
  /** The signed note, as kept. */
  readonly note: string;
  readonly key: VerifierKey;
  readonly keySource: 'given' | 'log';
  /** The origin of the log stored here: a checkpoint of another log is refused as `wrong_origin`, not reported as a rewrite. */
  readonly logOrigin: string;
}

/** Rows read per page: large enough that round trips do not dominate, small enough to stay light. */
const PAGE = 8192;

const base64 = (hash: Buffer): string => hash.toString('base64');

/**
 * Verifies the stored event log against a checkpoint kept elsewhere, in this order, stopping at the
 * first step that fails and naming it:
 *
 * 1. the note's signature, by the key given (an auditor's, obtained independently) or this log's own,
 *    and its origin: the key's name and the stored log's origin (`wrong_origin`, not a false `rewritten`);
 * 2. the log holds at least the checkpoint's size of entries, else `truncated`;
 * 3. the stored tree's root at that size (from its stored subtree hashes) is the checkpoint's, else
 *    the history `forked`;
 * 4. one streaming pass over every entry: each rehashes to its stored leaf hash (`edited`), no seq
 *    is skipped (`deleted`), each chain hash links (`chain_broken`), each stored subtree hash is the
 *    one recomputed from the leaves, and the root recomputed from the entries themselves — never
 *    from stored nodes — is the checkpoint's (`rewritten`).
 *
 * A rewrite with every hash recomputed leaves nothing inside the database that disagrees with
 * itself: the checkpoint's root says *that* the history differs, not where. The log's own stored
 * checkpoints — signed with the same key, which a rewriter without the key cannot forge — say where:
 * the first entry that differs lies after the last one that still matches and at or before the
 * first that no longer does. A mismatching stored subtree narrows it too.
 *
 * Memory stays small whatever the size: a page of rows, ~log2(n) hashes, one page's subtree hashes.
 */
export async function verifyAgainstCheckpoint(db: Executor, input: CheckpointVerifyInput, onProgress?: (verified: number) => void): Promise<CheckpointVerifyReport> {
  const key = { verifierKey: encodeVerifierKey(input.key), keyId: formatKeyId(input.key.keyId), source: input.keySource };
  const refused = (kind: CheckpointFailureKind, message: string): CheckpointVerifyReport => ({ ok: false, key, forked: false, verified: 0, narrowedBy: [], failure: { kind, message } });

  // 1. The signature, before anything else is read.
  const opened = openCheckpoint(input.note, input.key);
  if ('kind' in opened) return refused(opened.kind, opened.message);
  const checkpoint = opened;
  if (checkpoint.origin !== input.logOrigin) {
    return refused(
      'wrong_origin',
      `The checkpoint is refused: it is of the log "${checkpoint.origin}", but the log stored here is "${input.logOrigin}". Verify it against the database of the log it came from; nothing was compared.`,
    );
  }
  const described = { origin: checkpoint.origin, size: checkpoint.size, rootHash: base64(checkpoint.rootHash) };
  const base = { key, checkpoint: described };

  // 2. The size.
  const storedSize = await treeSize(db);
  if (storedSize < checkpoint.size) {
    return {
      ...base,
      ok: false,
      storedSize,
      forked: false,
      verified: 0,
      narrowedBy: [],
      failure: {
        kind: 'truncated',
        seq: storedSize + 1,
        toSeq: checkpoint.size,
        message: `The log holds ${storedSize} entries, but the checkpoint saw ${checkpoint.size}: entries ${storedSize + 1}–${checkpoint.size} were deleted from its end.`,
      },
    };
  }

  // 3. The stored tree's root. A subtree it needs that cannot be read (entries gone) is for the pass to name.
  let storedRoot: Buffer | undefined;
  try {
    storedRoot = await rootAt(db, checkpoint.size);
  } catch {
    storedRoot = undefined;
  }
  const forked = storedRoot !== undefined && !storedRoot.equals(checkpoint.rootHash);

  // 4. The pass.
  const pass = await rehashAll(db, checkpoint, input.key, onProgress);
  const report = { ...base, storedSize, ...(storedRoot && { storedRoot: base64(storedRoot) }), ...(pass.computedRoot && { computedRoot: base64(pass.computedRoot) }), forked, verified: pass.verified, narrowedBy: pass.narrowedBy };
  const failure = pass.failure ?? (forked ? { kind: 'tree_altered' as const, message: 'the stored subtree hashes do not give the root the entries give' } : undefined);
  if (!failure) return { ...report, ok: true };
  const prefix = forked
    ? `The history forked: the stored tree's root at ${checkpoint.size} entries is ${base64(storedRoot as Buffer)}, the checkpoint's is ${described.rootHash}. `
    : '';
  return { ...report, ok: false, failure: { ...failure, message: prefix + failure.message } };
}

function openCheckpoint(note: string, key: VerifierKey): Checkpoint | { kind: CheckpointFailureKind; message: string } {
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(verifyNote(note, key).text);
  } catch (error) {
    if (error instanceof NoteError) {
      const kind = error.reason === 'unknown_key' ? 'unknown_key' : error.reason === 'invalid_signature' ? 'invalid_signature' : 'malformed_checkpoint';
      return { kind, message: `The checkpoint is refused: ${error.message}.` };
    }
    if (error instanceof CheckpointFormatError) return { kind: 'malformed_checkpoint', message: `The checkpoint is refused: ${error.message}.` };
    throw error;
  }
  if (checkpoint.origin !== key.name) {
    return { kind: 'wrong_origin', message: `The checkpoint is refused: it is of the log "${checkpoint.origin}", but the key is for "${key.name}".` };
  }
  return checkpoint;
}

/** The root a stored checkpoint note states, read without its signature (checked only when it counts). */
function statedRoot(stored: StoredCheckpointNote): Buffer | undefined {
  try {
    const checkpoint = parseCheckpoint(parseNote(stored.note).text);
    return checkpoint.size === stored.size ? checkpoint.rootHash : undefined;
  } catch {
    return undefined;
  }
}

function signedBy(stored: StoredCheckpointNote, key: VerifierKey): boolean {
  const opened = openCheckpoint(stored.note, key);
  return !('kind' in opened) && opened.size === stored.size;
}

interface PassResult {
  readonly verified: number;
  readonly computedRoot?: Buffer;
  readonly narrowedBy: number[];
  readonly failure?: CheckpointVerifyFailure;
}

async function rehashAll(db: Executor, checkpoint: Checkpoint, key: VerifierKey, onProgress?: (verified: number) => void): Promise<PassResult> {
  const tree = CompactRange.empty();
  const walk = new EntryWalk();
  let computedRoot: Buffer | undefined = checkpoint.size === 0 ? EMPTY_ROOT : undefined;
  // Where a rewrite begins: after `matched` (a signed checkpoint still agrees), at or before `differs`.
  let matched: StoredCheckpointNote | undefined;
  let differs: number | undefined;
  let node: { from: number; to: number } | undefined;
  let exact: CheckpointVerifyFailure | undefined;

  const rewrite = (): CheckpointVerifyFailure => {
    const lower = matched && signedBy(matched, key) ? matched.size : 0;
    let from = lower + 1;
    let to = differs as number;
    if (node && node.to <= to) {
      from = Math.max(from, node.from);
      to = node.to;
    }
    const where = from === to ? `entry ${from} is the first that differs` : `the first entry that differs is one of ${from}–${to}`;
    const evidence = `the entries agree with their stored hashes, but the tree of the first ${differs} is not the one signed`;
    return {
      kind: 'rewritten',
      seq: from,
      ...(to !== from && { toSeq: to }),
      message: `The history was rewritten: ${where}. ${capitalize(evidence)}, so its leaf and chain hashes were recomputed to match edited content${lower > 0 ? `; the signed checkpoint of ${lower} entries still matches` : ''}.`,
    };
  };

  // Reads the next page (entries, the subtrees they complete, the log's checkpoints among them)
  // while this one is hashed: the database and the hashing overlap. A page past a gap is never used.
  const fetchPage = (after: number) => {
    const first = after + 1;
    const last = Math.min(after + PAGE, checkpoint.size);
    const inTree = first <= checkpoint.size;
    return Promise.all([
      listEntries(db, { afterSeq: after, limit: PAGE }),
      inTree ? readNodesCompletedBy(db, first, last) : new Map<number, string>(),
      inTree ? readCheckpointsBetween(db, first, Math.min(last, checkpoint.size - 1)) : [],
    ]);
  };
  let next: ReturnType<typeof fetchPage> | undefined = fetchPage(0);
  pages: while (next) {
    const [rows, nodes, checkpoints]: [HashedEventEntry[], Map<number, string>, StoredCheckpointNote[]] = await next;
    const lastRow = rows[rows.length - 1];
    next = rows.length === PAGE && lastRow ? fetchPage(lastRow.seq) : undefined;
    // A page read ahead and not used must not fail unheard.
    next?.catch(() => undefined);
    let nextCheckpoint = 0;
    const onNode = ({ level, index }: Subtree, hash: Buffer) => {
      const stored = nodes.get(nodeKey(level, index));
      if (node || stored === undefined || stored === hash.toString('hex')) return;
      node = { from: index * subtreeWidth(level) + 1, to: (index + 1) * subtreeWidth(level) };
    };
    for (const row of rows) {
      const leaf = walk.check(row);
      if (!Buffer.isBuffer(leaf)) {
        exact = leaf;
        break pages;
      }
      const expected = row.seq;
      if (expected <= checkpoint.size) {
        tree.push(leaf, onNode);
        const stored = checkpoints[nextCheckpoint];
        if (stored?.size === expected) {
          nextCheckpoint += 1;
          const stated = statedRoot(stored);
          if (stated?.equals(tree.root())) matched = stored;
          else if (stated && signedBy(stored, key)) {
            differs = expected;
            break pages;
          }
        }
        if (expected === checkpoint.size) {
          computedRoot = tree.root();
          if (!computedRoot.equals(checkpoint.rootHash)) {
            differs = expected;
            break pages;
          }
        }
      }
    }
    onProgress?.(walk.expected - 1);
  }
  const lower = matched && signedBy(matched, key) ? matched : undefined;
  const narrowedBy = [lower?.size, differs !== undefined && differs < checkpoint.size ? differs : undefined].filter((size): size is number => size !== undefined);
  // An entry where the signed root stopped agreeing checked against its own hashes, yet is not verified.
  const verified = differs !== undefined ? differs - 1 : walk.expected - 1;
  if (differs !== undefined) return { verified, computedRoot, narrowedBy, failure: rewrite() };
  if (exact) return { verified, computedRoot, narrowedBy, failure: exact };
  if (node) {
    return {
      verified,
      computedRoot,
      narrowedBy,
      failure: {
        kind: 'tree_altered',
        seq: node.from,
        toSeq: node.to,
        message: `The stored subtree hash over entries ${node.from}–${node.to} is not the one their leaf hashes give: the tree table was altered.`,
      },
    };
  }
  return { verified, computedRoot, narrowedBy };
}

const capitalize = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
