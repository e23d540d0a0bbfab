import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database, Executor } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { consistencyProof, inclusionProof, rootAt, treeSize } from '../eventlog/event-tree.ts';
import type { ConsistencyProofView, InclusionProofView, RootView } from './proof.views.ts';

/** Hashes leave the process in base64 (standard, padded), as the C2SP checkpoint carries its root. */
const base64 = (hash: Buffer): string => hash.toString('base64');

/** The event log's Merkle tree: roots, inclusion and consistency proofs, for anyone holding EventLog.View. */
export class LogProofService {
  constructor(private readonly deps: { readonly db: Kysely<Database> }) {}

  /** The proof that entry `seq` is in the tree of the first `size` entries (default: all of them). */
  async inclusion(actor: Actor, query: { readonly seq: number; readonly size?: number }): Promise<InclusionProofView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
      const size = await checkedSize(trx, query.size);
      if (query.seq < 1 || query.seq > size) {
        throw errors.invalidLogRange(`Entry ${query.seq} is not in the tree of the first ${size} entries: give a seq from 1 to ${size}${query.size === undefined ? '' : ', or a larger size'}.`, { seq: query.seq, size });
      }
      const found = await inclusionProof(trx, query.seq, size);
      return { seq: query.seq, leafIndex: query.seq - 1, treeSize: size, leafHash: base64(found.leafHash), rootHash: base64(found.root), proof: found.proof.map(base64) };
    });
  }

  /** The proof that the tree of the first `from` entries is the beginning of the tree of the first `to` (default: all of them). */
  async consistency(actor: Actor, query: { readonly from: number; readonly to?: number }): Promise<ConsistencyProofView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
      const to = await checkedSize(trx, query.to);
      if (query.from < 1) {
        throw errors.invalidLogRange('from must be at least 1: every tree begins with the empty one, so a proof from size 0 shows nothing.', { from: query.from, to });
      }
      if (query.from > to) {
        throw errors.invalidLogRange(`from (${query.from}) is larger than to (${to}): a consistency proof goes from an older, smaller tree to a newer one.`, { from: query.from, to });
      }
      const found = await consistencyProof(trx, query.from, to);
      return { from: query.from, to, fromRoot: base64(found.fromRoot), toRoot: base64(found.toRoot), proof: found.proof.map(base64) };
    });
  }

  /** The root of the tree of the first `size` entries (default: all of them); size 0 gives the empty tree's root. */
  async root(actor: Actor, query: { readonly size?: number }): Promise<RootView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'EventLog.View', SYSTEM);
      const size = await checkedSize(trx, query.size, { allowEmpty: true });
      return { treeSize: size, rootHash: base64(await rootAt(trx, size)) };
    });
  }
}

/** The size asked for, or the log's own; refused when larger than the log, or 0 where a proof needs entries. */
async function checkedSize(db: Executor, size: number | undefined, options: { readonly allowEmpty?: boolean } = {}): Promise<number> {
  const current = await treeSize(db);
  const chosen = size ?? current;
  if (chosen > current) {
    throw errors.invalidLogRange(`The event log has ${current} entries: a tree of ${chosen} does not exist yet; give a size up to ${current}.`, { size: chosen, treeSize: current });
  }
  if (chosen === 0 && !options.allowEmpty) {
    throw errors.invalidLogRange(
      size === undefined ? 'The event log has no entries yet: there is nothing to prove.' : 'A tree of size 0 holds no entry: give a size of at least 1.',
      { size: chosen, treeSize: current },
    );
  }
  return chosen;
}
