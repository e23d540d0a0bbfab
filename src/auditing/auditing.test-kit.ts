/**
 * Factories and readers the auditing tests share. Objects are made through the API, as the
 * administrator unless a client is given, and a refusal fails loudly.
 */
import type { TestChangegate, TestClient } from '../../test/harness.ts';

let counter = 0;
/** A name no other test uses: `prefix7`. */
export const unique = (prefix: string) => `${prefix}${(counter += 1)}`;

export interface EntryView {
  seq: number;
  time: string;
  objectType: string;
  objectId: string;
  businessKey: string;
  action: 'C' | 'M' | 'D';
  level: 1 | 2;
  user: string;
  reason: string | null;
  objectVersion: number;
  diff: Record<string, { before: unknown; after: unknown }>;
  restoredFrom: number | null;
  restore: { before: boolean; after: boolean };
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

/** A rule through the API: on devices, Diff only, and matching no name unless told (so it does not audit other tests' writes). */
export async function buildRule(t: TestChangegate, fields: Record<string, unknown> = {}, client: TestClient = t.admin): Promise<Record<string, unknown> & { name: string; businessKey: string; id: string }> {
  const body = { name: unique('Rule'), objectType: 'Device', level: 'diff_only', namePattern: unique('matches-nothing-'), ...fields };
  const created = await client.post('/audit/rules', body);
  if (created.status !== 201) throw new Error(`creating audit rule ${String(body.name)} failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

export async function buildPartition(t: TestChangegate, name: string): Promise<void> {
  const created = await t.admin.post('/partitions', { name });
  if (created.status !== 201 && created.status !== 409) throw new Error(`creating partition ${name} failed: ${JSON.stringify(created.body)}`);
}

export async function buildApplication(t: TestChangegate, partition: string, name: string): Promise<void> {
  const created = await t.admin.post('/applications', { partition, name });
  if (created.status !== 201 && created.status !== 409) throw new Error(`creating application ${partition}.${name} failed: ${JSON.stringify(created.body)}`);
}

/** Every entry the search finds, all pages, newest first. */
export async function entries(t: TestChangegate, q = '', client: TestClient = t.admin, expand = false): Promise<EntryView[]> {
  const found: EntryView[] = [];
  let cursor: number | null = null;
  do {
    const params = new URLSearchParams({ q, limit: '500', ...(expand && { expand: 'true' }), ...(cursor !== null && { cursor: String(cursor) }) });
    const page = await client.get(`/audit/entries?${params}`);
    if (page.status !== 200) throw new Error(`searching "${q}" failed: ${page.status} ${JSON.stringify(page.body)}`);
    found.push(...(page.body.entries as EntryView[]));
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return found;
}

/** The entries of one object by business key, oldest first. */
export async function history(t: TestChangegate, objectType: string, businessKey: string): Promise<EntryView[]> {
  return (await entries(t, `o:${objectType} k:"${businessKey}"`, t.admin, true)).filter((entry) => entry.businessKey === businessKey).reverse();
}

/** Counts of rows that a refused write must leave as they were. */
export async function rowCounts(t: TestChangegate): Promise<Record<string, number>> {
  const db = t.cg.database.db;
  const count = async (table: 'audit_entry' | 'event' | 'device' | 'credential' | 'webhook' | 'audit_rule') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow()).count);
  return {
    audit_entry: await count('audit_entry'),
    event: await count('event'),
    device: await count('device'),
    credential: await count('credential'),
    webhook: await count('webhook'),
    audit_rule: await count('audit_rule'),
  };
}
