import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { APPLICATION_RULES, LEVEL_NAMES, MATCH_TYPES } from './audit-rule.ts';
import { FILTER_TARGETS } from './filter.ts';
import { OBJECT_TYPES } from '../objects/object.ts';

/**
 * Bundles: the seed's export files ("CAR files"). A bundle is JSON, versioned, and portable between
 * installations: objects are named by business key, never by id, and hold no secret (audit rules
 * and filters have none). "With related objects" adds what a rule or filter points at: its
 * partition and applications, parents first.
 *
 *   {"format": "changegate-bundle", "version": 1, "exportedAt": "…", "source": {…},
 *    "objects": [{"type": "AuditRule", "businessKey": "GLOBAL.FinanceChanges", "snapshot": {…}}]}
 */
export const BUNDLE_FORMAT = 'changegate-bundle';
export const BUNDLE_VERSION = 1;

const Name = Type.String({ minLength: 1, maxLength: 600 });
const Key = Type.String({ minLength: 3, maxLength: 700 });
const Text = Type.String({ maxLength: 2000 });
const Users = Type.Union([Type.Null(), Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 })]);

export const PartitionSnapshot = Type.Object({ name: Name, description: Text }, { additionalProperties: false });
export const ApplicationSnapshot = Type.Object({ partition: Name, name: Name, description: Text }, { additionalProperties: false });
export const RuleSnapshot = Type.Object(
  {
    partition: Name,
    name: Name,
    application: Type.Union([Type.Null(), Name]),
    description: Text,
    objectType: Type.Enum(OBJECT_TYPES),
    level: Type.Enum([LEVEL_NAMES[1], LEVEL_NAMES[2]]),
    namePattern: Type.String({ minLength: 1, maxLength: 500 }),
    nameMatch: Type.Enum(MATCH_TYPES),
    applicationRule: Type.Enum(APPLICATION_RULES),
    /** `PARTITION.Path`. */
    matchApplication: Type.Union([Type.Null(), Key]),
    partitionPattern: Type.String({ minLength: 1, maxLength: 500 }),
    partitionMatch: Type.Enum(MATCH_TYPES),
    enabled: Type.Boolean(),
    security: Type.Object({ view: Users, edit: Users, delete: Users }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export const FilterSnapshot = Type.Object(
  { partition: Name, name: Name, application: Type.Union([Type.Null(), Name]), description: Text, target: Type.Enum(FILTER_TARGETS), query: Type.String({ maxLength: 1000 }) },
  { additionalProperties: false },
);

export const BundleObject = Type.Union([
  Type.Object({ type: Type.Literal('Partition'), businessKey: Key, snapshot: PartitionSnapshot }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('Application'), businessKey: Key, snapshot: ApplicationSnapshot }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('AuditRule'), businessKey: Key, snapshot: RuleSnapshot }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('Filter'), businessKey: Key, snapshot: FilterSnapshot }, { additionalProperties: false }),
]);

export const BundleSchema = Type.Object(
  {
    format: Type.Literal(BUNDLE_FORMAT),
    version: Type.Literal(BUNDLE_VERSION),
    exportedAt: Type.String({ maxLength: 40 }),
    source: Type.Object({ instance: Type.Optional(Type.String({ maxLength: 2000 })), version: Type.String({ maxLength: 40 }), exportedBy: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
    objects: Type.Array(BundleObject, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);

export type Bundle = Static<typeof BundleSchema>;
export type BundleEntry = Static<typeof BundleObject>;
export type PortableRule = Static<typeof RuleSnapshot>;
export type PortableFilter = Static<typeof FilterSnapshot>;
export type PortableApplication = Static<typeof ApplicationSnapshot>;
export type PortablePartition = Static<typeof PartitionSnapshot>;

/** Reads a bundle from untrusted JSON (a file, a request), or says what is wrong with it. */
export function readBundle(json: unknown): { ok: true; bundle: Bundle } | { ok: false; problems: Array<{ path: string; message: string }> } {
  if (Value.Check(BundleSchema, json)) return { ok: true, bundle: json };
  const envelope = json as { format?: unknown; version?: unknown } | null;
  if (typeof envelope !== 'object' || envelope === null || envelope.format !== BUNDLE_FORMAT) {
    return { ok: false, problems: [{ path: '/format', message: `is not "${BUNDLE_FORMAT}": this is not a Changegate bundle` }] };
  }
  if (envelope.version !== BUNDLE_VERSION) {
    return { ok: false, problems: [{ path: '/version', message: `bundle version ${String(envelope.version)} is not one this Changegate reads (it reads ${BUNDLE_VERSION})` }] };
  }
  const problems = [...Value.Errors(BundleSchema, json)].slice(0, 20).map((error) => ({ path: error.instancePath || '/', message: error.message }));
  return { ok: false, problems };
}

/** The order objects are imported in: what others point at first, parent applications before children. */
export function importOrder(objects: readonly BundleEntry[]): BundleEntry[] {
  const rank = { Partition: 0, Application: 1, AuditRule: 2, Filter: 3 } as const;
  const depth = (entry: BundleEntry) => (entry.type === 'Application' ? entry.snapshot.name.split('/').length : 0);
  return [...objects].sort((a, b) => rank[a.type] - rank[b.type] || depth(a) - depth(b));
}

/** The fields whose values differ between two portable snapshots: what a conflict reports. */
export function differingFields(ours: Readonly<Record<string, unknown>>, theirs: Readonly<Record<string, unknown>>): string[] {
  const keys = new Set([...Object.keys(ours), ...Object.keys(theirs)]);
  return [...keys].filter((key) => JSON.stringify(ours[key] ?? null) !== JSON.stringify(theirs[key] ?? null)).sort();
}

/** What an import did, object by object. Importing the same bundle twice creates nothing the second time. */
export interface ImportReport {
  readonly dryRun: boolean;
  readonly created: ImportItem[];
  readonly updated: ImportItem[];
  readonly unchanged: ImportItem[];
  readonly conflicts: ImportConflict[];
}

export interface ImportItem {
  readonly type: BundleEntry['type'];
  readonly businessKey: string;
}

export interface ImportConflict extends ImportItem {
  readonly message: string;
  /** The fields that differ from the object already here, when that is the conflict. */
  readonly fields?: string[];
}

export const ImportReportSchema = (() => {
  const BundleType = Type.Enum(['Partition', 'Application', 'AuditRule', 'Filter']);
  const Item = Type.Object({ type: BundleType, businessKey: Type.String() });
  return Type.Object({
    dryRun: Type.Boolean(),
    created: Type.Array(Item),
    updated: Type.Array(Item),
    unchanged: Type.Array(Item),
    conflicts: Type.Array(Type.Object({ type: BundleType, businessKey: Type.String(), message: Type.String(), fields: Type.Optional(Type.Array(Type.String())) })),
  });
})();
