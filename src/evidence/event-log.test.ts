import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { must } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { appendEvent } from '../eventlog/index.ts';

type Entry = { seq: number; time: string; action: string; subject: string };
type Report = { ok: boolean; verified: number; headSeq: number; headChainHash: string; complete: boolean; failure?: { kind: string; seq: number; message: string } };

/** GET /events as a reader of the log pages it, and POST /events/verify range by range, on both databases. */
describe.each(DATABASE_KINDS)('the event log over the API on %s', (kind) => {
  let t: TestChangegate;
  let auditor: TestClient;
  const base = new Date('2026-11-21T12:00:00.000Z');

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    auditor = (await buildUser(t, { username: 'auditor', grants: [{ privilege: 'EventLog.View' }, { privilege: 'EventLog.Verify' }] })).client;
    // Ten entries a minute apart, after what the server logged on its own.
    for (let i = 0; i < 10; i += 1) {
      await t.cg.database.db.transaction().execute((trx) =>
        appendEvent(trx, { actor: i % 2 ? 'bob' : 'alice', action: 'test.step', subject: `step:${i}`, data: { i }, time: new Date(base.getTime() + i * 60_000) }),
      );
    }
  });
  afterAll(() => t?.close());

  const list = async (query: string): Promise<Entry[]> => (await must(auditor.get(`/events?${query}`), 200, `listing ${query}`)).body;
  const verify = async (query = ''): Promise<Report> => (await must(auditor.post(`/events/verify${query && `?${query}`}`), 200, `verifying ${query}`)).body;

  it('lists the newest entries first, and pages back with before', async () => {
    const newest = await list('action=test.step&order=desc&limit=4');
    expect(newest.map((entry) => entry.subject)).toEqual(['step:9', 'step:8', 'step:7', 'step:6']);
    const older = await list(`action=test.step&order=desc&limit=4&before=${newest.at(-1)?.seq}`);
    expect(older.map((entry) => entry.subject)).toEqual(['step:5', 'step:4', 'step:3', 'step:2']);
    // Oldest first stays the default, paged with after.
    const first = await list('action=test.step&limit=2');
    expect(first.map((entry) => entry.subject)).toEqual(['step:0', 'step:1']);
  });

  it('filters by time, from included and until excluded, with the other filters', async () => {
    const from = new Date(base.getTime() + 2 * 60_000).toISOString();
    const until = new Date(base.getTime() + 6 * 60_000).toISOString();
    const found = await list(`from=${from}&until=${until}&actor=bob`);
    expect(found.map((entry) => entry.subject)).toEqual(['step:3', 'step:5']);
    const refused = await auditor.get('/events?from=yesterday');
    expect(refused.status).toBe(400);
  });

  it('verifies range by range, each continuing from the last, to the same head as one walk', async () => {
    const whole = await verify();
    expect(whole).toMatchObject({ ok: true, complete: true });
    let range = await verify('limit=7');
    let ranges = 1;
    while (!range.complete) {
      expect(range).toMatchObject({ ok: true, verified: 7 });
      range = await verify(`after=${range.headSeq}&chainHash=${range.headChainHash}&limit=7`);
      ranges += 1;
    }
    expect(ranges).toBeGreaterThanOrEqual(Math.ceil(whole.verified / 7));
    expect([range.headSeq, range.headChainHash]).toEqual([whole.headSeq, whole.headChainHash]);
  });

  it('refuses after without the chain hash it continues from, and the other way round', async () => {
    for (const query of ['after=3', `chainHash=${'a'.repeat(64)}`]) {
      const answer = await auditor.post(`/events/verify?${query}`);
      expect([answer.status, answer.body.error.code], query).toEqual([400, 'validation_failed']);
    }
  });

  it('names an entry edited in the database in the range that holds it', async () => {
    const [target] = await list('subject=step:4');
    const seq = (target as Entry).seq;
    await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(t.cg.database.db);
    try {
      await sql`UPDATE event SET data = '{"i": 40}' WHERE seq = ${seq}`.execute(t.cg.database.db);
    } finally {
      await sql`ALTER TABLE event ENABLE TRIGGER event_append_only`.execute(t.cg.database.db);
    }
    const before = await verify(`limit=${seq - 1}`);
    expect(before).toMatchObject({ ok: true, complete: false, headSeq: seq - 1 });
    const broken = await verify(`after=${before.headSeq}&chainHash=${before.headChainHash}&limit=5`);
    expect(broken).toMatchObject({ ok: false, complete: false, verified: 0, failure: { kind: 'edited', seq } });
    expect(broken.failure?.message).toContain(`Entry ${seq} (test.step step:4) was edited`);
  });
});
