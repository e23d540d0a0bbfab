import { findPartitionByName } from './partition.store.ts';
import { hasPrivilege, inPartition, partitionsWith, type Actor, type Privilege } from '../access/index.ts';
import type { Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import type { ObjectMeta } from './object.ts';

export interface RefLookup<T extends ObjectMeta> {
  /** What the object is called in messages: `device`, `access group`. */
  readonly what: string;
  /** The privilege that lets a caller see it. */
  readonly privilege: Privilege;
  named(trx: Tx, name: string): Promise<T[]>;
}

/**
 * Finds an object by `name` or `PARTITION.name` (its business key). Names are unique within a
 * partition; an unqualified name held in several partitions the caller can see is ambiguous, and the
 * 409 lists the business keys to choose from. An object the caller may not see is "not found".
 */
export async function findByRef<T extends ObjectMeta>(trx: Tx, actor: Actor, ref: string, lookup: RefLookup<T>): Promise<T> {
  const dot = ref.indexOf('.');
  if (dot > 0) {
    const partition = await findPartitionByName(trx, ref.slice(0, dot));
    const object = partition && (await lookup.named(trx, ref.slice(dot + 1))).find((candidate) => candidate.partitionId === partition.id);
    if (object) {
      if (!(await hasPrivilege(trx, actor, lookup.privilege, inPartition(object.partitionId)))) throw errors.notFound(lookup.what, ref);
      return object;
    }
  }
  const visible = await partitionsWith(trx, actor, lookup.privilege);
  const candidates = (await lookup.named(trx, ref)).filter((object) => visible === 'all' || visible.includes(object.partitionId));
  const [first, ...others] = candidates;
  if (!first) throw errors.notFound(lookup.what, ref);
  if (others.length > 0) {
    const partitions = await trx.selectFrom('partition').select(['id', 'name']).where('id', 'in', candidates.map((object) => object.partitionId)).execute();
    const keys = partitions.map((partition) => `${partition.name}.${ref}`).sort();
    throw errors.conflict(`The ${lookup.what} name "${ref}" is used in several partitions: say which one (${keys.join(', ')}).`, { choices: keys });
  }
  return first;
}
