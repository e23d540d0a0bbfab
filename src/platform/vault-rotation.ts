import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { sql, type Kysely } from 'kysely';
import type { Database, Tx } from './database.ts';
import { errors } from './errors.ts';
import { resealAll, type SealedColumn } from './reseal.ts';
import { parseMasterKeys, SecretBox, writeKeyFile } from './secret-box.ts';

/**
 * Where the master keys come from: the key file (`<dataDir>/master.key`, one key a line, the
 * current one first), or the `masterKey` setting (CHANGEGATE_MASTER_KEY), whose keys the operator
 * gives, the new one first.
 */
export type MasterKeySource = { readonly kind: 'file'; readonly file: string } | { readonly kind: 'setting'; readonly keys: readonly Buffer[] };

export interface VaultRotation {
  readonly source: MasterKeySource['kind'];
  /** The key every value is now sealed with. */
  readonly newKeyId: string;
  /** The other keys of the ring, which sealed the values before. */
  readonly previousKeyIds: string[];
  /** Values re-sealed, in all and by `table.column`. */
  readonly moved: number;
  readonly movedByColumn: Record<string, number>;
  /**
   * Values found under an older key after the re-seal committed: another process wrote them with
   * the old ring meanwhile. The key file then keeps the older keys; run the rotation again once
   * every server is stopped.
   */
  readonly leftUnderOldKeys: number;
  /** Key file only: whether it now holds the new key alone. */
  readonly previousKeysDropped: boolean;
}

export interface RotateVaultOptions {
  readonly db: Kysely<Database>;
  readonly source: MasterKeySource;
  /** Called inside the re-seal's transaction once every value moved: where the caller logs the rotation. */
  readonly record?: (trx: Tx, rotation: Omit<VaultRotation, 'leftUnderOldKeys' | 'previousKeysDropped'>) => Promise<void>;
  readonly onProgress?: (moved: number) => void;
  /** Every column holding sealed values: each module lists its own (`SEALED_COLUMNS` in src/changegate.ts gathers them). */
  readonly columns: readonly SealedColumn[];
}

/**
 * Re-seals every sealed value under a new master key.
 *
 * With the key file: a new random key is written first in the file, ahead of the old ones (so a
 * crash at any point leaves a file that opens every value); every value is re-sealed in one
 * transaction, all or none; then the file is rewritten with the new key alone. With the setting,
 * the operator has already put the new key first and the old ones after it; one key alone is
 * refused, with how to do it. A running server keeps its old ring until it restarts.
 */
export async function rotateVault(options: RotateVaultOptions): Promise<VaultRotation> {
  const { db, source } = options;
  const columns = options.columns;
  let ring: Buffer[];
  if (source.kind === 'setting') {
    ring = [...source.keys];
    // The same key twice is one key: there would be nothing to rotate to.
    if (new SecretBox(ring).keyIds.length < 2) throw errors.vaultRotationNeedsKeys();
  } else {
    ring = [randomBytes(32), ...(await readKeyFile(source.file))];
    await writeKeyFile(source.file, ring);
  }
  const box = new SecretBox(ring);
  const previousKeyIds = box.keyIds.filter((id) => id !== box.currentKeyId);

  const rotation = await db
    .transaction()
    .execute(async (trx) => {
      const movedByColumn: Record<string, number> = {};
      let moved = 0;
      for (const column of columns) {
        const count = await resealAll(trx, box, [column], (done) => options.onProgress?.(moved + done));
        movedByColumn[`${column.table}.${column.column}`] = count;
        moved += count;
      }
      const done = { source: source.kind, newKeyId: box.currentKeyId, previousKeyIds, moved, movedByColumn };
      await options.record?.(trx, done);
      return done;
    })
    .catch((error: unknown) => {
      throw new Error(
        `Nothing was re-sealed: ${(error as Error).message}.${source.kind === 'file' ? ` ${source.file} lists the new key first and the old ones after it, so every value still opens; run the rotation again once the cause is fixed.` : ''}`,
        { cause: error },
      );
    });

  const leftUnderOldKeys = await countNotSealedWith(db, box.currentKeyId, columns);
  if (source.kind === 'file' && leftUnderOldKeys === 0) await writeKeyFile(source.file, [ring[0] as Buffer]);
  return { ...rotation, leftUnderOldKeys, previousKeysDropped: source.kind === 'file' && leftUnderOldKeys === 0 };
}

async function readKeyFile(file: string): Promise<Buffer[]> {
  const keys = parseMasterKeys(await readFile(file, 'utf8'));
  if (!keys) throw new Error(`${file} does not hold master keys (one per line: 64 hex digits or 32 bytes of base64)`);
  return keys;
}

/** Values of the columns not sealed with the key, counted without opening any. */
async function countNotSealedWith(db: Kysely<Database>, keyId: string, columns: readonly SealedColumn[]): Promise<number> {
  let count = 0;
  for (const { table, column } of columns) {
    const rows = await sql<{ value: string }>`SELECT ${sql.ref(column)} AS value FROM ${sql.table(table)} WHERE ${sql.ref(column)} IS NOT NULL`.execute(db);
    count += rows.rows.filter((row) => SecretBox.keyIdOf(row.value) !== keyId).length;
  }
  return count;
}
