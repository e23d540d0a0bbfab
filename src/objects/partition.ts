import type { ObjectMeta } from './object.ts';

/** The partition every installation has; it cannot be deleted. */
export const GLOBAL_PARTITION = 'GLOBAL';

/** Partition names are the first half of business keys (`PARTITION.NAME`), so they hold no dot. */
export const PARTITION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Application names are paths of segments: `Finance/Reporting`. */
export const APPLICATION_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}){0,7}$/;

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
