import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildDevice } from '../changes/changes.test-kit.ts';
import { verifyEventLog } from '../eventlog/index.ts';
import { auditEntryDigest, checkAuditEntryInLog, findAuditEntryEvent } from './audit-entry-log.ts';
import { findEntry } from './audit-trail.store.ts';
import { buildRule, history } from './auditing.test-kit.ts';

describe.each(DATABASE_KINDS)('audit-trail entries in the event log on %s', (kind) => {
  let t: TestChangegate;
  const db = () => t.cg.database.db;
  /** The stored entries of device `logged-web01`, oldest first: create, update, delete, restore. */
  let seqs: number[];

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    await buildRule(t, { namePattern: 'logged-*', level: 'full_audit' });
    await buildDevice(t, { name: 'logged-web01' });
    expect((await t.admin.patch('/devices/logged-web01', { port: 2222 })).status).toBe(200);
    const removed = await t.admin.delete('/devices/logged-web01');
    expect(removed.status, JSON.stringify(removed.body)).toBe(204);
    const deleted = (await history(t, 'Device', 'GLOBAL.logged-web01')).at(-1);
    expect((await t.admin.post(`/audit/entries/${deleted?.seq}/restore-before`, { reason: 'deleted by mistake' })).status).toBe(200);
    // A device no rule audits: its events carry no audit-trail entry.
    await buildDevice(t, { name: 'unaudited-web02' });
    seqs = (await history(t, 'Device', 'GLOBAL.logged-web01')).map((entry) => entry.seq);
  });
  afterAll(() => t?.close());

  it('logs every audit-trail entry once, by its hash, in the event of the write it audits', async () => {
    expect(seqs).toHaveLength(4);
    const all = await db().selectFrom('audit_entry').selectAll().orderBy('seq').execute();
    const events = await db().selectFrom('event').select(['seq', 'action', 'data']).orderBy('seq').execute();
    const carried = events.filter((event) => event.data.auditEntry !== undefined).map((event) => (event.data.auditEntry as { seq: number }).seq);
    // Each entry of the trail (the rule's creation included) is named by exactly one event.
    expect(carried).toEqual(all.map((row) => Number(row.seq)));
    for (const seq of seqs) {
      const entry = await findEntry(db(), seq);
      if (!entry) throw new Error(`entry ${seq} is gone`);
      const check = await checkAuditEntryInLog(db(), entry);
      expect(check).toMatchObject({ ok: true, logged: { seq, sha256: auditEntryDigest(entry) } });
      expect(check.ok && check.action).toMatch(/^device\.(create|update|delete)$/);
    }
    const actions = await Promise.all(seqs.map(async (seq) => (await findAuditEntryEvent(db(), seq))?.action));
    expect(actions).toEqual(['device.create', 'device.update', 'device.delete', 'device.create']);
    expect(events.filter((event) => event.action === 'device.create' && event.data.auditEntry === undefined)).toHaveLength(1);
    expect(await verifyEventLog(db())).toMatchObject({ ok: true });
  });

  it.for(['reason', 'diff', 'time', 'username', 'object_version'] as const)('catches an audit-trail entry whose %s was changed in the database', async (column) => {
    const seq = seqs[1] as number;
    const original = await db().selectFrom('audit_entry').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
    const edits = {
      reason: sql`'routine maintenance'`,
      diff: sql`'{"port": {"before": 22, "after": 2200}}'::jsonb`,
      time: sql`time + interval '1 minute'`,
      username: sql`'mallory'`,
      object_version: sql`object_version + 1`,
    };
    await sql`UPDATE audit_entry SET ${sql.ref(column)} = ${edits[column]} WHERE seq = ${seq}`.execute(db());
    try {
      const edited = await findEntry(db(), seq);
      if (!edited) throw new Error('entry gone');
      expect(await checkAuditEntryInLog(db(), edited)).toMatchObject({ ok: false, reason: 'changed', message: expect.stringContaining(`audit-trail entry #${seq} does not match`) });
    } finally {
      await db().updateTable('audit_entry').set({ [column]: original[column] }).where('seq', '=', seq).execute();
    }
    const restored = await findEntry(db(), seq);
    expect(restored && (await checkAuditEntryInLog(db(), restored)).ok).toBe(true);
  });

  it('says an entry no event names is not in the log', async () => {
    const entry = await findEntry(db(), seqs[0] as number);
    if (!entry) throw new Error('entry gone');
    // An entry forged under a number the trail never gave out.
    const forged = { ...entry, seq: 999_999 };
    expect(await checkAuditEntryInLog(db(), forged)).toMatchObject({ ok: false, reason: 'not_logged' });
  });
});
