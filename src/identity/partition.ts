import type { ObjectMeta } from '../auditing/index.ts';

/**
 * A partition as a configuration object. Partitions are system-wide, like users and webhooks: they
 * sit in the GLOBAL partition (GLOBAL sits in itself), so a partition's business key is
 * `GLOBAL.<name>` and the audit rules see it in partition GLOBAL.
 */
export interface Partition extends ObjectMeta {
  readonly description: string;
}

/** An application: `Finance/Reporting` in a partition. It belongs to no application itself (`applicationId` is null). */
export interface Application extends ObjectMeta {
  readonly description: string;
}

/** Dates in a snapshot are ISO strings; objects hold `Date`s. */
export function reviveDates<T>(json: Readonly<Record<string, unknown>>, fields: readonly string[]): T {
  const object: Record<string, unknown> = { ...json };
  for (const field of ['createdAt', 'updatedAt', ...fields]) if (typeof object[field] === 'string') object[field] = new Date(object[field]);
  return object as T;
}
