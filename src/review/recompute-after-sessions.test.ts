import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { ReviewService } from './review.service.ts';
import { storeSessionRecord } from './review.test-kit.ts';

/** Sessions of one change that end one after another, as fast as the database stores them. */
const SESSIONS = 60;
/** The change's script: a step for each session, so the board is complete only with the last. */
const STEPS = Array.from({ length: SESSIONS }, (_, k) => `systemctl restart app@${k}`);

/**
 * Many sessions of one change ending together: a recompute reads every session of the change, so
 * one per ending would be quadratic. The endings are debounced per change; the last one still
 * gets a recompute of its own, so the stored score is exactly what a full recompute gives. The
 * recomputes are counted by a spy on `recompute`, the one place a recompute reads the change.
 */
/** Resolves once `condition` holds, looking after each turn of the event loop. */
async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the condition did not hold within 15 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe.each(DATABASE_KINDS)('the change score as many sessions end together on %s', (kind) => {
  let t: TestChangegate;
  let executor: Awaited<ReturnType<typeof buildUser>>;
  const at = (minutes: number) => new Date(t.clock.now().getTime() + minutes * 60_000).toISOString();

  beforeAll(async () => {
    t = await startTestChangegate(kind, { CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    executor = await buildUser(t, { username: 'erin' });
    expect((await t.admin.post('/devices', { name: 'fleet01', hostname: '192.0.2.30' })).status).toBe(201);
    expect((await t.admin.post('/access-groups', { name: 'fleet', executors: ['erin'], approvers: ['admin'] })).status).toBe(201);
    const created = await t.admin.post('/changes', { name: 'CHG-MANY', title: 'Many sessions', startAt: at(-5), dueAt: at(6000), accessGroup: 'fleet', devices: ['fleet01'], script: STEPS.join('\n') });
    expect(created.status).toBe(201);
  });
  afterAll(() => t.close());

  it('recomputes once at the first ending and once after the interval, however many sessions ended meanwhile, with the score of a full recompute', async () => {
    // The interval ends when the test says: however slow the machine, every ending falls within it.
    let endInterval: (() => void) | undefined;
    const waits: number[] = [];
    const wait = (ms: number) => {
      waits.push(ms);
      return new Promise<void>((resolve) => (endInterval = resolve));
    };
    const reviews = new ReviewService({ db: t.cg.database.db, clock: t.clock, recomputeIntervalMs: 60_000, wait });
    const recompute = vi.spyOn(reviews, 'recompute');
    const user = { username: 'erin', client: executor.client };
    const endings: Promise<void>[] = [];
    let requestId: string | undefined;
    for (let k = 0; k < SESSIONS; k++) {
      // Each runs its step of the script: the change is as planned only once the last has ended.
      const stored = await storeSessionRecord(t, { change: 'CHG-MANY', device: 'fleet01', user, startMinute: k, commands: [STEPS[k] ?? ''], ...(requestId && { requestId }) });
      requestId = stored.requestId;
      endings.push(reviews.recomputeAfterSession(stored.changeId));
    }
    // The first ending's recompute ran at once; the other endings wait out the interval, together.
    await waitFor(() => recompute.mock.results.length === 1 && waits.length === 1);
    expect(recompute).toHaveBeenCalledTimes(1);
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[0]).toBeLessThanOrEqual(60_000);
    endInterval?.();
    await Promise.all(endings);
    expect(recompute).toHaveBeenCalledTimes(2);

    const audit = (await t.admin.get('/changes/CHG-MANY/audit')).body;
    expect(audit).toMatchObject({ score: 100, outcome: 'as_planned', counts: { matched: SESSIONS, extra: 0 } });
    const changeId = (await t.cg.database.db.selectFrom('change').select('id').where('name', '=', 'CHG-MANY').executeTakeFirstOrThrow()).id;
    expect((await reviews.scores([changeId])).get(changeId)).toMatchObject({ score: audit.score, outcome: audit.outcome });
    // A full recompute now finds the stored result current: it logs nothing more.
    const results = () => t.cg.database.db.selectFrom('event').select('seq').where('action', '=', 'review.result').where('subject', '=', 'change:CHG-MANY').execute();
    const logged = (await results()).length;
    await reviews.recompute(changeId);
    expect(await results()).toHaveLength(logged);
  });

  it('recomputes at once after an ending that no other ending came close to', async () => {
    const reviews = new ReviewService({ db: t.cg.database.db, clock: t.clock, recomputeIntervalMs: 60_000 });
    const recompute = vi.spyOn(reviews, 'recompute');
    const changeId = (await t.cg.database.db.selectFrom('change').select('id').where('name', '=', 'CHG-MANY').executeTakeFirstOrThrow()).id;
    // With a minute's interval, this resolves only if the first ending's recompute does not wait.
    await reviews.recomputeAfterSession(changeId);
    expect(recompute).toHaveBeenCalledTimes(1);
  });
});
