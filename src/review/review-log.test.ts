import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { findChangeByName } from '../changes/index.ts';
import { appendEvent, verifyEventLog } from '../eventlog/index.ts';
import { boardDigest, checkReviewResultInLog, REVIEW_RESULT_ACTION } from './review-log.ts';
import { storeSession } from './review.test-kit.ts';

describe.each(DATABASE_KINDS)('change-audit results in the event log on %s', (kind) => {
  let t: TestChangegate;
  let alice: { username: string; client: TestClient };
  const db = () => t.cg.database.db;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000);

  const changeId = async (name: string) => {
    const change = await findChangeByName(db(), name);
    if (!change) throw new Error(`no change ${name}`);
    return change.id;
  };
  const resultEvents = (name: string) =>
    db().selectFrom('event').select(['seq', 'actor', 'data']).where('action', '=', REVIEW_RESULT_ACTION).where('subject', '=', `change:${name}`).orderBy('seq').execute();
  const audit = async (name: string) => {
    const answer = await t.admin.get(`/changes/${name}/audit`);
    expect(answer.status).toBe(200);
    return answer.body;
  };
  /** A change on the device (web01 unless told) whose script is `uptime` then `df -h`, with one session that ran `uptime`. */
  const changeWithSession = async (name: string, device = 'web01') => {
    const created = await t.admin.post('/changes', { name, title: 'Check the disks', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: [device], script: 'uptime\ndf -h' });
    expect(created.status).toBe(201);
    await storeSession(t, { change: name, device, user: alice, startMinute: 0, commands: [{ text: 'uptime', output: ' 12:00:00 up 1 day' }] });
  };
  const addDevice = async (name: string) => expect((await t.admin.post('/devices', { name, hostname: '192.0.2.20' })).status).toBe(201);
  /**
   * Renames a device. The API has no rename; restoring a device's earlier version from the audit
   * trail, or importing it, can give it another name: the board shows whatever it is called now.
   */
  const rename = (from: string, to: string) => db().updateTable('device').set({ name: to }).where('name', '=', from).execute();

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    const user = await buildUser(t, { username: 'alice' });
    alice = { username: 'alice', client: user.client };
    expect((await t.admin.post('/devices', { name: 'web01', hostname: '192.0.2.10' })).status).toBe(201);
    expect((await t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['admin'] })).status).toBe(201);
  });
  afterAll(() => t?.close());

  it('logs the score, outcome and board digest of each distinct result as it is computed, and the audit shown matches it', async () => {
    await changeWithSession('CHG-L1');
    const id = await changeId('CHG-L1');
    const first = await audit('CHG-L1');
    expect(first).toMatchObject({ score: expect.any(Number), outcome: 'incomplete' });
    const [logged] = await resultEvents('CHG-L1');
    expect(logged).toMatchObject({ actor: 'system', data: { change: id, score: first.score, outcome: 'incomplete', counts: first.counts, boardDigest: boardDigest(first.devices) } });
    expect(await checkReviewResultInLog(db(), id, first)).toEqual({ ok: true, eventSeq: logged?.seq, logged: logged?.data });

    // Reading the audit, or recomputing an unchanged result, logs nothing more.
    await audit('CHG-L1');
    await t.cg.services.reviews.recompute(id);
    expect(await resultEvents('CHG-L1')).toHaveLength(1);

    // A second session completes the script: a new result, logged; the check follows it.
    await storeSession(t, { change: 'CHG-L1', device: 'web01', user: alice, startMinute: 20, commands: [{ text: 'df -h', output: '/dev/sda1 40G' }] });
    const second = await audit('CHG-L1');
    expect(second).toMatchObject({ score: 100, outcome: 'as_planned' });
    const events = await resultEvents('CHG-L1');
    expect(events.map((event) => [event.data.score, event.data.outcome])).toEqual([
      [first.score, 'incomplete'],
      [100, 'as_planned'],
    ]);
    expect(await checkReviewResultInLog(db(), id, second)).toMatchObject({ ok: true, eventSeq: events[1]?.seq });
    // The earlier result is no longer the change's.
    expect(await checkReviewResultInLog(db(), id, first)).toMatchObject({ ok: false, reason: 'differs', differences: ['score', 'outcome', 'board'] });
    expect(await verifyEventLog(db())).toMatchObject({ ok: true });
  });

  it("catches a board rebuilt from a command whose output was edited in the database, with the same score", async () => {
    await changeWithSession('CHG-L2');
    const id = await changeId('CHG-L2');
    await db().updateTable('session_command').set({ output: ' 12:00:00 up 300 days' }).where('text', '=', 'uptime').where('session_id', 'in', (eb) => eb.selectFrom('session').select('id').where('change_id', '=', id)).execute();
    const check = await checkReviewResultInLog(db(), id, await audit('CHG-L2'));
    expect(check).toMatchObject({ ok: false, reason: 'differs', differences: ['board'] });
    expect(!check.ok && check.message).toContain('differs from the result event');
  });

  it('catches a score that differs from the logged one: a command removed from the records', async () => {
    await changeWithSession('CHG-L3');
    const id = await changeId('CHG-L3');
    await db().deleteFrom('session_command').where('session_id', 'in', (eb) => eb.selectFrom('session').select('id').where('change_id', '=', id)).execute();
    const shown = await audit('CHG-L3');
    expect(await checkReviewResultInLog(db(), id, shown)).toMatchObject({ ok: false, reason: 'differs', differences: expect.arrayContaining(['score', 'board']) });
    // A forged result with the logged score and outcome but another board is caught too.
    const [logged] = await resultEvents('CHG-L3');
    const forged = { ...shown, score: logged?.data.score, outcome: logged?.data.outcome };
    expect(await checkReviewResultInLog(db(), id, forged)).toMatchObject({ ok: false, differences: ['board'] });
  });

  it('finds the same board when a device was renamed since the result was logged, and still catches a changed fact of the board', async () => {
    await addDevice('db01');
    await changeWithSession('CHG-L5', 'db01');
    const id = await changeId('CHG-L5');
    const [logged] = await resultEvents('CHG-L5');
    expect(logged?.data).toMatchObject({ boardDigestVersion: 3 });

    await rename('db01', 'db01-eu');
    const renamed = await audit('CHG-L5');
    expect(renamed.devices.map((device: { device: string }) => device.device)).toEqual(['db01-eu']);
    expect(await checkReviewResultInLog(db(), id, renamed)).toEqual({ ok: true, eventSeq: logged?.seq, logged: logged?.data });

    // A fact of the board: the exit status of a command, edited in the records.
    await db().updateTable('session_command').set({ exit_status: 1 }).where('session_id', 'in', (eb) => eb.selectFrom('session').select('id').where('change_id', '=', id)).execute();
    expect(await checkReviewResultInLog(db(), id, await audit('CHG-L5'))).toMatchObject({ ok: false, reason: 'differs', differences: ['board'] });
  });

  it('checks a result logged before boards were hashed by device ID by its device names, as it was logged, until the next recompute logs it anew', async () => {
    await addDevice('app01');
    await changeWithSession('CHG-L6', 'app01');
    const id = await changeId('CHG-L6');
    const shown = await audit('CHG-L6');
    // An entry as earlier versions logged it: the digest over the devices' names, no digest version.
    const computedAt = (await db().selectFrom('change_review').select('computed_at').where('change_id', '=', id).executeTakeFirstOrThrow()).computed_at;
    const old = await db()
      .transaction()
      .execute((trx) =>
        appendEvent(trx, {
          actor: 'system',
          action: REVIEW_RESULT_ACTION,
          subject: 'change:CHG-L6',
          data: { change: id, score: shown.score, outcome: shown.outcome, counts: shown.counts, boardDigest: boardDigest(shown.devices, 1) },
          time: computedAt,
        }),
      );
    expect(await checkReviewResultInLog(db(), id, shown)).toMatchObject({ ok: true, eventSeq: old.seq });

    // Its digest holds the old name: a rename shows, and the message says why.
    await rename('app01', 'app01-eu');
    const check = await checkReviewResultInLog(db(), id, await audit('CHG-L6'));
    expect(check).toMatchObject({ ok: false, reason: 'differs', eventSeq: old.seq, differences: ['board'] });
    expect(!check.ok && check.message).toContain('logged before boards were hashed by device ID: a device renamed since also makes its board differ');

    // The next recompute logs the same result by device ID; the rename no longer shows.
    await t.cg.services.reviews.recompute(id);
    const latest = (await resultEvents('CHG-L6')).at(-1);
    expect(latest?.data).toMatchObject({ score: shown.score, outcome: shown.outcome, boardDigestVersion: 3 });
    expect(await checkReviewResultInLog(db(), id, await audit('CHG-L6'))).toMatchObject({ ok: true, eventSeq: latest?.seq });
    expect(await verifyEventLog(db())).toMatchObject({ ok: true });
  });

  it('covers the capture status from version 3: a capture note removed from the records makes the board differ; a version 2 result is checked without it', async () => {
    const created = await t.admin.post('/changes', { name: 'CHG-L7', title: 'Check uptime', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: ['web01'], script: 'uptime' });
    expect(created.status).toBe(201);
    await storeSession(t, { change: 'CHG-L7', device: 'web01', user: alice, startMinute: 0, commands: ['uptime'], captureNotes: [{ reason: 'multiplexer', minute: 2 }] });
    const id = await changeId('CHG-L7');
    const shown = await audit('CHG-L7');
    expect(shown).toMatchObject({ outcome: 'as_planned', capture: { status: 'limited' } });
    const [logged] = await resultEvents('CHG-L7');
    expect(logged?.data).toMatchObject({ boardDigestVersion: 3, boardDigest: boardDigest(shown.devices) });
    expect(await checkReviewResultInLog(db(), id, shown)).toMatchObject({ ok: true, eventSeq: logged?.seq });
    // The wording is not hashed, only the facts: a reworded warning changes no digest.
    const reworded = shown.devices.map((device: { capture: object }) => ({ ...device, capture: { ...device.capture, warning: 'reworded' } }));
    expect(boardDigest(reworded)).toBe(boardDigest(shown.devices));

    // The multiplexer note removed from the records: the board now looks complete, and differs from the one logged.
    await db().updateTable('session').set({ capture_notes: '[]' }).where('change_id', '=', id).execute();
    const edited = await audit('CHG-L7');
    expect(edited).toMatchObject({ outcome: 'as_planned', capture: { status: 'complete', warning: null } });
    expect(await checkReviewResultInLog(db(), id, edited)).toMatchObject({ ok: false, reason: 'differs', differences: ['board'] });

    // An entry of version 2, as logged before capture statuses were kept, is checked as it was hashed: without them.
    const computedAt = (await db().selectFrom('change_review').select('computed_at').where('change_id', '=', id).executeTakeFirstOrThrow()).computed_at;
    const older = await db()
      .transaction()
      .execute((trx) =>
        appendEvent(trx, {
          actor: 'system',
          action: REVIEW_RESULT_ACTION,
          subject: 'change:CHG-L7',
          data: { change: id, score: shown.score, outcome: shown.outcome, counts: shown.counts, boardDigest: boardDigest(shown.devices, 2), boardDigestVersion: 2 },
          time: computedAt,
        }),
      );
    expect(await checkReviewResultInLog(db(), id, edited)).toMatchObject({ ok: true, eventSeq: older.seq });
  });

  it('says when a change has no logged result', async () => {
    const created = await t.admin.post('/changes', { name: 'CHG-L4', title: 'Nothing ran', startAt: at(-5).toISOString(), dueAt: at(600).toISOString(), accessGroup: 'ops', devices: ['web01'], script: 'uptime' });
    expect(created.status).toBe(201);
    expect(await checkReviewResultInLog(db(), await changeId('CHG-L4'), await audit('CHG-L4'))).toMatchObject({ ok: false, reason: 'not_logged' });
  });
});
