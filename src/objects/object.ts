/** The configuration object types: everything whose changes the audit trail can capture. */
export const OBJECT_TYPES = ['Partition', 'Application', 'User', 'Device', 'Credential', 'AccessGroup', 'Change', 'AuditRule', 'Filter', 'Webhook'] as const;
export type ObjectType = (typeof OBJECT_TYPES)[number];

/** What every configuration object carries. Its business key is `PARTITION.NAME`. */
export interface ObjectMeta {
  readonly id: string;
  readonly partitionId: string;
  readonly name: string;
  readonly applicationId: string | null;
  readonly version: number;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

export type ObjectFields<T extends ObjectMeta> = Omit<T, 'id' | 'version' | 'createdAt' | 'createdBy' | 'updatedAt' | 'updatedBy'>;

export const businessKey = (partitionName: string, name: string) => `${partitionName}.${name}`;

/** Turns an object into plain JSON (dates as ISO strings): what snapshots and diffs compare. */
export function toJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toJson(inner)]));
  }
  return value;
}

export interface FieldChange {
  readonly before: unknown;
  readonly after: unknown;
}

/** Field-level differences between two snapshots; bookkeeping fields (version, updated*) are left out. */
export function fieldDiff(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): Record<string, FieldChange> {
  const ignored = new Set(['version', 'updatedAt', 'updatedBy', 'createdAt', 'createdBy']);
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const diff: Record<string, FieldChange> = {};
  for (const key of keys) {
    if (ignored.has(key)) continue;
    const was = before?.[key];
    const now = after?.[key];
    if (JSON.stringify(was) !== JSON.stringify(now)) diff[key] = { before: was ?? null, after: now ?? null };
  }
  return diff;
}

/** The bookkeeping fields every object carries; a restore takes the others from the snapshot. */
export const META_FIELDS = ['id', 'version', 'createdAt', 'createdBy', 'updatedAt', 'updatedBy'] as const;

/**
 * Rebuilds an object from its snapshot: `toJson` turned its dates into ISO strings, and
 * `dateFields` (besides `createdAt` and `updatedAt`) names the ones to turn back.
 */
export function fromJson<T extends ObjectMeta>(json: Readonly<Record<string, unknown>>, dateFields: readonly string[] = []): T {
  const object: Record<string, unknown> = { ...json };
  for (const field of ['createdAt', 'updatedAt', ...dateFields]) {
    const value = object[field];
    if (typeof value === 'string') object[field] = new Date(value);
  }
  return object as unknown as T;
}

/** Another object an object points at: a restore refuses to bring it back when this one is gone. */
export interface ObjectReference {
  readonly type: ObjectType;
  readonly id: string;
  /** How messages name it: `device web01`, `access group Ops`. */
  readonly what: string;
}
