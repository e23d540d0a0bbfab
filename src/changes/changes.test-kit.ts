/**
 * Factories the change and request tests share. Each registers its object through the API, as the
 * administrator unless a client is given, with a unique name, and fails loudly if the API refuses.
 */
import type { TestChangegate, TestClient } from '../../test/harness.ts';

const HOUR = 60 * 60 * 1000;
export const MINUTE = 60 * 1000;
export { HOUR };

let counter = 0;
const next = () => (counter += 1);

/** An ISO time `offsetMs` from the test clock's now. */
export function fromNow(t: TestChangegate, offsetMs: number): string {
  return new Date(t.clock.now().getTime() + offsetMs).toISOString();
}

export async function buildDevice(t: TestChangegate, fields: Record<string, unknown> = {}, client: TestClient = t.admin): Promise<{ name: string; partition: string }> {
  const body = { name: `dev${next()}`, hostname: '192.0.2.10', ...fields };
  const created = await client.post('/devices', body);
  if (created.status !== 201) throw new Error(`creating device ${String(body.name)} failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

export interface GroupFields {
  executors?: string[];
  approvers?: string[];
  approvalsRequired?: number;
  requiresJustification?: boolean;
  plannerMayExecute?: boolean;
  name?: string;
  partition?: string;
}

export async function buildGroup(t: TestChangegate, fields: GroupFields, client: TestClient = t.admin): Promise<{ name: string }> {
  const body = { name: `group ${next()}`, executors: [], approvers: ['admin'], ...fields };
  const created = await client.post('/access-groups', body);
  if (created.status !== 201) throw new Error(`creating access group ${body.name} failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

export interface ChangeFields {
  name?: string;
  title?: string;
  description?: string;
  startAt?: string;
  dueAt?: string;
  accessGroup: string;
  devices: string[];
  script?: string;
  partition?: string;
}

export const SCRIPT = 'systemctl stop nginx\n# optional\napt-get install -y nginx={{version}}\n# expect: active \\(running\\)\nsystemctl start nginx\n';

/** A change ID no other test uses, such as CHG-2026-7. */
export const changeId = () => `CHG-2026-${String(next()).padStart(3, '0')}`;

/** A change whose window is open now (from a minute ago to an hour from now) unless told otherwise. */
export async function buildChange(t: TestChangegate, fields: ChangeFields, client: TestClient = t.admin): Promise<{ name: string; startAt: string; dueAt: string }> {
  const body = {
    name: changeId(),
    title: 'Upgrade nginx',
    startAt: fromNow(t, -MINUTE),
    dueAt: fromNow(t, HOUR),
    script: SCRIPT,
    ...fields,
  };
  const created = await client.post('/changes', body);
  if (created.status !== 201) throw new Error(`creating change ${body.name} failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

export interface EventEntry {
  seq: number;
  actor: string;
  action: string;
  subject: string;
  data: Record<string, unknown>;
}

/** Every event-log entry matching the query, paging past the 1000-entry limit. */
export async function eventsWhere(t: TestChangegate, query: Record<string, string> = {}): Promise<EventEntry[]> {
  const all: EventEntry[] = [];
  let after = 0;
  for (;;) {
    const page = await t.admin.get(`/events?${new URLSearchParams({ ...query, after: String(after), limit: '1000' })}`);
    if (page.status !== 200) throw new Error(`reading events failed: ${page.status} ${JSON.stringify(page.body)}`);
    all.push(...(page.body as EventEntry[]));
    if (page.body.length < 1000) return all;
    after = page.body[page.body.length - 1].seq;
  }
}
