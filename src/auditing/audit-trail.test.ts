import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';
import { buildDevice } from '../changes/changes.test-kit.ts';
import { buildPartition, buildRule, entries } from './auditing.test-kit.ts';

/**
 * A trail written at known times, searched by an administrator in Berlin (UTC+1 in November). The
 * keys name the entries of the table below:
 *
 *   rule       2026-11-21 12:00Z  AuditRule C GLOBAL.SrchRule   admin
 *   liteRule   2026-11-21 12:00Z  AuditRule C GLOBAL.LiteRule   admin
 *   old        2026-11-21 12:00Z  Device    C GLOBAL.srch-old   admin
 *   web        2026-11-23 09:00Z  Device    C GLOBAL.srch-web01 admin   (10:00 in Berlin)
 *   webPort    2026-11-23 09:05:30Z Device  M GLOBAL.srch-web01 admin   (10:05:30)
 *   db         2026-11-23 09:20Z  Device    C GLOBAL.srch-db01  jdoe    (10:20)
 *   dbGone     2026-11-23 09:40Z  Device    D GLOBAL.srch-db01  jdoe    (10:40)
 *   ruleEdit   2026-11-23 10:30Z  AuditRule M GLOBAL.SrchRule   admin   reason "disk full on web01"
 *   lite       2026-11-23 10:45Z  Device    C GLOBAL.lite-1     admin   level 1
 *   plant      2026-11-23 10:50Z  Device    C Plant-A.srch-pa   admin
 *
 * and "now" is 2026-11-23 11:00Z, noon in Berlin.
 */
type Key = 'rule' | 'liteRule' | 'old' | 'web' | 'webPort' | 'db' | 'dbGone' | 'ruleEdit' | 'lite' | 'plant';

describe.each(DATABASE_KINDS)('the audit trail on %s', (kind) => {
  let t: TestChangegate;
  const seqs = new Map<number, Key>();
  let jdoe: { username: string; client: TestClient };
  let admin: TestClient;
  /** Users made before the clock moves, holding API tokens (web sessions end after 12 hours). */
  let users: Record<'kolkata' | 'plantViewer' | 'nobody' | 'restorer', TestClient>;
  const tokenUser = async (fields: Parameters<typeof buildUser>[1]) => {
    const user = await buildUser(t, fields);
    return { username: user.username, client: new TestClient(t.cg, { bearer: (await user.client.post('/tokens', { name: 'tests' })).body.token }) };
  };

  const at = (iso: string) => t.clock.advance(new Date(iso).getTime() - t.clock.now().getTime());
  /** The newest entry, named for the table. */
  const name = async (key: Key) => {
    const [newest] = await entries(t, '', admin);
    if (!newest) throw new Error('no entry');
    seqs.set(newest.seq, key);
  };

  beforeAll(async () => {
    t = await startTestChangegate(kind);
    await buildPartition(t, 'Plant-A');
    expect((await t.admin.patch('/me', { timeZone: 'Europe/Berlin' })).status).toBe(200);
    // The clock moves two days: web sessions would end, API tokens do not.
    admin = new TestClient(t.cg, { bearer: (await t.admin.post('/tokens', { name: 'tests' })).body.token });
    jdoe = await tokenUser({ username: 'jdoe', grants: ['Device.View', 'Device.Create', 'Device.Delete'].map((privilege) => ({ privilege })) });
    users = {
      kolkata: (await tokenUser({ grants: [{ privilege: 'AuditTrail.View' }] })).client,
      plantViewer: (await tokenUser({ grants: [{ privilege: 'AuditTrail.View', partition: 'Plant-A' }] })).client,
      nobody: (await tokenUser({})).client,
      restorer: (await tokenUser({ grants: [{ privilege: 'AuditTrail.Restore' }, { privilege: 'AuditTrail.View' }] })).client,
    };
    expect((await users.kolkata.patch('/me', { timeZone: 'Asia/Kolkata' })).status).toBe(200);
    await buildRule(t, { name: 'SrchRule', namePattern: 'srch-*', level: 'full_audit' });
    await name('rule');
    await buildRule(t, { name: 'LiteRule', namePattern: 'lite-*', level: 'diff_only' });
    await name('liteRule');
    await buildDevice(t, { name: 'srch-old' });
    await name('old');
    at('2026-11-23T09:00:00Z');
    await buildDevice(t, { name: 'srch-web01' }, admin);
    await name('web');
    at('2026-11-23T09:05:30Z');
    expect((await admin.patch('/devices/srch-web01', { port: 2222 })).status).toBe(200);
    await name('webPort');
    at('2026-11-23T09:20:00Z');
    await buildDevice(t, { name: 'srch-db01' }, jdoe.client);
    await name('db');
    at('2026-11-23T09:40:00Z');
    expect((await jdoe.client.delete('/devices/srch-db01')).status).toBe(204);
    await name('dbGone');
    at('2026-11-23T10:30:00Z');
    expect((await admin.patch('/audit/rules/SrchRule', { description: 'web servers', reason: 'disk full on web01' })).status).toBe(200);
    await name('ruleEdit');
    at('2026-11-23T10:45:00Z');
    await buildDevice(t, { name: 'lite-1' }, admin);
    await name('lite');
    at('2026-11-23T10:50:00Z');
    await buildDevice(t, { name: 'srch-pa', partition: 'Plant-A' }, admin);
    await name('plant');
    at('2026-11-23T11:00:00Z');
  });
  afterAll(() => t.close());

  const search = async (q: string) => (await entries(t, q, admin)).map((entry) => seqs.get(entry.seq) ?? `#${entry.seq} ${entry.objectType} ${entry.businessKey}`);

  const table: Array<[string, Key[]]> = [
    ['', ['plant', 'lite', 'ruleEdit', 'dbGone', 'db', 'webPort', 'web', 'old', 'liteRule', 'rule']],
    // hh:mm is ±15 minutes, today, in the searcher's zone: 10:05 in Berlin is 09:05Z.
    ['t:10:05', ['db', 'webPort', 'web']],
    ['time:10:05:30', ['webPort']],
    ['t:10:00-10:06', ['webPort', 'web']],
    ['t:10:05:00-10:05:29', []],
    ['t:10:05:30-10:05:30', ['webPort']],
    ['t:2026-11-21', ['old', 'liteRule', 'rule']],
    ['t:2026-11-23T10:25', ['dbGone', 'db']],
    ['t:2026-11-21..2026-11-22', ['old', 'liteRule', 'rule']],
    ['u:jdoe', ['dbGone', 'db']],
    ['U:JDoe', ['dbGone', 'db']],
    ['user:j*', ['dbGone', 'db']],
    ['o:Device a:D', ['dbGone']],
    ['objecttype:AuditRule', ['ruleEdit', 'liteRule', 'rule']],
    ['k:GLOBAL.srch-web', ['webPort', 'web']],
    ['key:*.srch-?b01', ['dbGone', 'db']],
    ['businesskey:Plant-A.', ['plant']],
    ['r:"disk full"', ['ruleEdit']],
    ['reason:WEB01', ['ruleEdit']],
    ['web01', ['ruleEdit', 'webPort', 'web']],
    ['"disk full on"', ['ruleEdit']],
    ['l:1', ['lite']],
    ['level:2 action:C u:admin o:Device', ['plant', 'web', 'old']],
    ['a:M', ['ruleEdit', 'webPort']],
    ['cb:P1D', ['old', 'liteRule', 'rule']],
    ['changedbefore:PT1H50M', ['webPort', 'web', 'old', 'liteRule', 'rule']],
    ['t:10:00-10:30 u:jdoe', ['db']],
    ['k:"GLOBAL.srch-db01" a:C', ['db']],
    ['o:Webhook', []],
  ];
  it.each(table)('%j finds %j', async (q, expected) => {
    expect(await search(q)).toEqual(expected);
  });

  const bad: Array<[string, number, RegExp]> = [
    ['u: jdoe', 3, /No value after "u:"/],
    ['u :jdoe', 3, /no prefix before it/],
    ['o:device', 3, /did you mean Device/],
    ['t:25:00', 3, /Hour 25/],
    ['t:10:05-10:61', 9, /Minute 61/],
    ['x:1', 1, /Unknown prefix "x"/],
    ['u:jdoe 10:05', 8, /Unknown prefix "10"/],
    ['r:"unclosed', 3, /never closed/],
    ['a:Z', 3, /not an action/],
    ['l:3', 3, /not an audit level/],
    ['cb:365D', 4, /ISO-8601 duration/],
  ];
  it.each(bad)('%j answers 400 naming column %i, never an empty list', async (q, column, message) => {
    const answer = await admin.get(`/audit/entries?${new URLSearchParams({ q })}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('search_invalid');
    expect(answer.body.error.message).toMatch(message);
    expect(answer.body.error.message).toContain(`column ${column}`);
    expect(answer.body.error.details).toMatchObject({ column, query: q });
  });

  it('reads times in the searcher\'s own time zone', async () => {
    // 09:05Z is 14:35 in Kolkata.
    expect((await entries(t, 't:14:35', users.kolkata)).map((entry) => seqs.get(entry.seq))).toEqual(['db', 'webPort', 'web']);
    expect((await entries(t, 't:10:05', users.kolkata)).map((entry) => seqs.get(entry.seq))).toEqual([]);
  });

  it('pages newest first with a cursor', async () => {
    const first = await admin.get('/audit/entries?limit=3');
    expect(first.body.entries.map((entry: { seq: number }) => seqs.get(entry.seq))).toEqual(['plant', 'lite', 'ruleEdit']);
    const second = await admin.get(`/audit/entries?limit=3&cursor=${first.body.nextCursor}`);
    expect(second.body.entries.map((entry: { seq: number }) => seqs.get(entry.seq))).toEqual(['dbGone', 'db', 'webPort']);
    const rest = await admin.get(`/audit/entries?limit=50&cursor=${second.body.nextCursor}&q=${encodeURIComponent('o:Device')}`);
    expect(rest.body.entries.map((entry: { seq: number }) => seqs.get(entry.seq))).toEqual(['web', 'old']);
    expect(rest.body.nextCursor).toBeNull();
  });

  it('shows each user the entries of the partitions they may view, and no one without the privilege', async () => {
    expect((await entries(t, '', users.plantViewer)).map((entry) => seqs.get(entry.seq))).toEqual(['plant']);
    const webPort = [...seqs].find(([, key]) => key === 'webPort')?.[0];
    expect((await users.plantViewer.get(`/audit/entries/${webPort}`)).status).toBe(404);
    const denied = await users.nobody.get('/audit/entries');
    expect([denied.status, denied.body.error.code]).toEqual([403, 'forbidden']);
  });

  it('expands entries with the whole object before and after', async () => {
    const [expanded] = await entries(t, 'k:GLOBAL.srch-web01 a:M', admin, true);
    expect(expanded).toMatchObject({ level: 2, diff: { port: { before: 22, after: 2222 } }, before: { port: 22 }, after: { port: 2222 } });
    const [plain] = await entries(t, 'k:GLOBAL.srch-web01 a:M', admin);
    expect(plain).not.toHaveProperty('before');
  });

  it('purges entries older than a duration, says how many, and logs the purge', async () => {
    const before = await entries(t, '', admin);
    const answer = await admin.post('/audit/purge', { changedBefore: 'P1D' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ changedBefore: 'P1D', cutoff: '2026-11-22T11:00:00.000Z', purged: 3 });
    expect((await entries(t, '', admin)).length).toBe(before.length - 3);
    const events = await admin.get('/events?action=audit.purge');
    expect(events.body.map((event: { actor: string; data: unknown }) => [event.actor, event.data])).toEqual([
      ['admin', { changedBefore: 'P1D', cutoff: '2026-11-22T11:00:00.000Z', purged: 3 }],
    ]);
    const bad = await admin.post('/audit/purge', { changedBefore: '365 days' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'validation_failed']);
    // Purging needs AuditTrail.Restore at Admin level.
    expect((await users.restorer.post('/audit/purge', { changedBefore: 'P1D' })).status).toBe(403);
  });
});
