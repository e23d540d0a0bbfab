import type { Executor } from '../platform/database.ts';

/** A signed checkpoint as stored. */
export interface StoredCheckpoint {
  readonly size: number;
  /** 32-byte root hash. */
  readonly rootHash: Buffer;
  readonly origin: string;
  readonly keyId: string;
  /** The signed note exactly as signed: text, blank line, the log's signature line. */
  readonly note: string;
  readonly createdAt: Date;
}

/** A signature line a witness answered for a checkpoint. */
export interface StoredCosignature {
  readonly size: number;
  readonly witness: string;
  readonly keyName: string;
  readonly keyId: string;
  readonly line: string;
  readonly receivedAt: Date;
}

/** Stores a checkpoint unless one of its size exists (another instance signed it): true when this one was stored. */
export async function insertCheckpoint(db: Executor, checkpoint: StoredCheckpoint): Promise<boolean> {
  const result = await db
    .insertInto('checkpoint')
    .values({
      tree_size: checkpoint.size,
      root_hash: checkpoint.rootHash.toString('hex'),
      origin: checkpoint.origin,
      key_id: checkpoint.keyId,
      note: checkpoint.note,
      created_at: checkpoint.createdAt,
    })
    .onConflict((conflict) => conflict.column('tree_size').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

type CheckpointRecord = { tree_size: number; root_hash: string; origin: string; key_id: string; note: string; created_at: Date };

const storedCheckpointOf = (row: CheckpointRecord): StoredCheckpoint => ({
  size: Number(row.tree_size),
  rootHash: Buffer.from(row.root_hash, 'hex'),
  origin: row.origin,
  keyId: row.key_id,
  note: row.note,
  createdAt: row.created_at,
});

/**
 * The row of the largest tree size, whatever it holds: its signature is not checked here, and a
 * row can be inserted by anyone who can write to the table. What the log trusts is
 * `latestTrustedCheckpoint` (checkpoint-trust.ts).
 */
export async function latestCheckpoint(db: Executor): Promise<StoredCheckpoint | undefined> {
  const row = await db.selectFrom('checkpoint').selectAll().orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
  return row && storedCheckpointOf(row);
}

/** Up to `limit` rows, largest size first, below size `below` (all when undefined). */
export async function checkpointsBelow(db: Executor, below: number | undefined, limit: number): Promise<StoredCheckpoint[]> {
  let query = db.selectFrom('checkpoint').selectAll();
  if (below !== undefined) query = query.where('tree_size', '<', below);
  return (await query.orderBy('tree_size', 'desc').limit(limit).execute()).map(storedCheckpointOf);
}

/** The row of one tree size, if any. */
export async function checkpointAt(db: Executor, size: number): Promise<StoredCheckpoint | undefined> {
  const row = await db.selectFrom('checkpoint').selectAll().where('tree_size', '=', size).executeTakeFirst();
  return row && storedCheckpointOf(row);
}

/**
 * Keeps a witness's verified signature line for a checkpoint, unless the table holds one of that
 * witness, or one under that key name, for it already: whichever came first stays. (Key names are
 * one witness's by configuration: `witnessesOf` refuses two witnesses with keys of the same name.)
 */
export async function insertCosignature(db: Executor, cosignature: StoredCosignature): Promise<void> {
  await db
    .insertInto('checkpoint_cosignature')
    .values({
      tree_size: cosignature.size,
      witness: cosignature.witness,
      key_name: cosignature.keyName,
      key_id: cosignature.keyId,
      signature_line: cosignature.line,
      received_at: cosignature.receivedAt,
    })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

/** The witnesses' signature lines of one checkpoint, in the order they came. */
export async function cosignaturesOf(db: Executor, size: number): Promise<StoredCosignature[]> {
  const rows = await db.selectFrom('checkpoint_cosignature').selectAll().where('tree_size', '=', size).orderBy('received_at').orderBy('witness').orderBy('key_name').execute();
  return rows.map((row) => ({ size: row.tree_size, witness: row.witness, keyName: row.key_name, keyId: row.key_id, line: row.signature_line, receivedAt: row.received_at }));
}

/** Whether the event log already records the rejection of this checkpoint row (`log.checkpoint.rejected`, by size and note hash). */
export async function rejectionLogged(db: Executor, size: number, noteSha256: string): Promise<boolean> {
  const rows = await db.selectFrom('event').select('data').where('action', '=', 'log.checkpoint.rejected').where('subject', '=', `checkpoint:${size}`).execute();
  return rows.some((row) => (row.data as { noteSha256?: unknown }).noteSha256 === noteSha256);
}
