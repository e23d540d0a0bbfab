import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { openDatabase, type DatabaseHandle } from '../platform/database.ts';
import { buildChange, buildDevice, buildGroup } from './changes.test-kit.ts';
import { RequestChanges } from './request-changes.ts';

/** Far longer than the test waits: a wake can only come from the announcement. */
const NEVER_MS = 600_000;

/** Which comes first: the wake, or `ms` passing. */
const wokenWithin = (wake: Promise<void>, ms: number) =>
  Promise.race([wake.then(() => 'woken' as const), new Promise<'not woken'>((resolve) => setTimeout(() => resolve('not woken'), ms).unref())]);

describe.each(DATABASE_KINDS)('a request decided on any instance wakes its waiting user, on %s', (kind) => {
  let t: TestChangegate;
  let other: DatabaseHandle | undefined;
  const changes: RequestChanges[] = [];

  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(async () => {
    for (const watch of changes) await watch.stop();
    await other?.close();
    await t?.close();
  });

  async function pendingRequest() {
    const [alice, bob] = [await buildUser(t), await buildUser(t)];
    const device = await buildDevice(t);
    const group = await buildGroup(t, { executors: [alice.username], approvers: [bob.username] });
    await buildChange(t, { accessGroup: group.name, devices: [device.name] });
    const asked = await alice.client.post('/requests', { device: device.name });
    expect(asked.status).toBe(201);
    return { alice, bob, number: asked.body.request.number as number };
  }

  async function watching(handle: DatabaseHandle) {
    const watch = new RequestChanges(handle.notifications);
    changes.push(watch);
    await watch.start();
    return watch;
  }

  it('wakes on an approval and on a withdrawal, and not for another request', async () => {
    const watch = await watching(t.cg.database);
    const first = await pendingRequest();
    const second = await pendingRequest();
    const forSecond = watch.changed(second.number, NEVER_MS);
    const approved = watch.changed(first.number, NEVER_MS);
    expect((await first.bob.client.post(`/requests/${first.number}/approve`, { comment: 'go' })).body.status).toBe('approved');
    expect(await wokenWithin(approved, 10_000)).toBe('woken');
    // The other request's waiter sleeps on; its own change wakes it.
    expect(await wokenWithin(forSecond, 200)).toBe('not woken');
    expect((await second.alice.client.post(`/requests/${second.number}/cancel`)).status).toBe(200);
    expect(await wokenWithin(forSecond, 10_000)).toBe('woken');
  });

  it.runIf(kind === 'postgres')('wakes a waiter on another instance sharing the database', async () => {
    other = await openDatabase({ kind: 'postgres', url: t.databaseUrl as string });
    const watch = await watching(other);
    const { bob, number } = await pendingRequest();
    const denied = watch.changed(number, NEVER_MS);
    expect((await bob.client.post(`/requests/${number}/deny`, { comment: 'not today' })).body.status).toBe('denied');
    expect(await wokenWithin(denied, 10_000)).toBe('woken');
  });
});
