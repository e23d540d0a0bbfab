import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, TestClient } from '../../test/harness.ts';
import type { Notice } from './notice.ts';
import { startNotificationsTest, startWebhookReceiver, type NotificationsTest } from './notifications.test-kit.ts';

describe.each(DATABASE_KINDS)('in-app notifications and notify on %s', (kind) => {
  let n: NotificationsTest;
  beforeAll(async () => {
    n = await startNotificationsTest(kind, { emailEnabled: true });
  });
  afterAll(() => n.close());

  const notify = (notice: Notice) => n.t.cg.database.db.transaction().execute((trx) => n.notifications.notify(trx, notice));

  async function buildRecipient(email?: string) {
    const user = await buildUser(n.t);
    if (email) expect((await n.t.admin.patch(`/users/${user.username}`, { email })).status).toBe(200);
    const actor = await n.actorOf(user.username);
    return { ...user, id: actor.userId, actor, client: n.clientOn(user.client) };
  }

  it('lists the caller’s notifications newest first, pages them, and marks one and then all read', async () => {
    const alice = await buildRecipient();
    for (const number of [1, 2, 3]) {
      await notify({
        kind: 'request.created',
        recipients: [alice.id],
        title: `Request ${number} awaits your approval`,
        body: `Request ${number} for CHG-${number}.`,
        link: `/requests/${number}`,
        data: { requestId: number },
      });
      n.t.clock.advance(1000);
    }
    const listed = await alice.client.get('/notifications');
    expect(listed.status).toBe(200);
    expect(listed.body.map((item: { title: string }) => item.title)).toEqual([3, 2, 1].map((number) => `Request ${number} awaits your approval`));
    expect(listed.body[0]).toMatchObject({ kind: 'request.created', body: 'Request 3 for CHG-3.', link: '/requests/3', data: { requestId: 3 }, readAt: null });

    const page = await alice.client.get(`/notifications?limit=1&before=${listed.body[0].id}`);
    expect(page.body.map((item: { id: string }) => item.id)).toEqual([listed.body[1].id]);

    const read = await alice.client.post(`/notifications/${listed.body[1].id}/read`);
    expect(read.status).toBe(200);
    expect(read.body.readAt).toBe(n.t.clock.now().toISOString());
    const unread = await alice.client.get('/notifications?unread=true');
    expect(unread.body.map((item: { id: string }) => item.id)).toEqual([listed.body[0].id, listed.body[2].id]);
    expect((await alice.client.get('/notifications/unread-count')).body).toEqual({ unread: 2 });

    const all = await alice.client.post('/notifications/read-all');
    expect(all.body).toEqual({ marked: 2 });
    expect((await alice.client.get('/notifications?unread=true')).body).toEqual([]);
    expect((await alice.client.get('/notifications')).body).toHaveLength(3);
  });

  it('answers not_found for another user’s notification, exactly as for a missing one', async () => {
    const alice = await buildRecipient();
    const bob = await buildRecipient();
    await notify({ kind: 'request.decided', recipients: [alice.id], title: 'Approved', body: 'Your request was approved.', data: {} });
    const [mine] = (await alice.client.get('/notifications')).body;

    const theirs = await bob.client.post(`/notifications/${mine.id}/read`);
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.code).toBe('not_found');
    const missing = await bob.client.post('/notifications/00000000-0000-4000-8000-000000000000/read');
    expect(missing.body.error).toEqual({ ...theirs.body.error, message: expect.any(String) });
    expect((await bob.client.get(`/notifications?before=${mine.id}`)).status).toBe(404);
    expect((await bob.client.get('/notifications')).body).toEqual([]);
    expect((await alice.client.get('/notifications')).body[0].readAt).toBeNull();
    expect((await n.clientOn(new TestClient(n.t.cg, undefined)).get('/notifications')).status).toBe(401);
  });

  it('queues one in-app notification per recipient, one e-mail per enabled address, one call per subscribed webhook', async () => {
    const withEmail = await buildRecipient('erin@example.test');
    const withoutEmail = await buildRecipient();
    const disabled = await buildRecipient('dave@example.test');
    expect((await n.t.admin.post(`/users/${disabled.username}/disable`)).status).toBe(200);
    const admin = await n.actorOf('admin');
    const subscribed = await n.webhooks.create(admin, { name: 'fan-out kind', url: 'http://127.0.0.1:9/a', kinds: ['fanout.test'] });
    await n.webhooks.create(admin, { name: 'other kind', url: 'http://127.0.0.1:9/b', kinds: ['other.kind'] });
    await n.webhooks.create(admin, { name: 'fan-out disabled', url: 'http://127.0.0.1:9/c', kinds: ['fanout.test'], enabled: false });

    const result = await notify({
      kind: 'fanout.test',
      recipients: [withEmail.id, withoutEmail.id, disabled.id, withEmail.id],
      title: 'Fan-out',
      body: 'To everyone.',
      data: {},
    });
    expect(result).toMatchObject({ inApp: 3, emails: 1, webhooks: 1 });
    const deliveries = await n.t.cg.database.db
      .selectFrom('notification_delivery')
      .select(['channel', 'address', 'webhook_id', 'status'])
      .where('notice_id', '=', result.noticeId)
      .orderBy('channel')
      .execute();
    expect(deliveries).toEqual([
      { channel: 'email', address: 'erin@example.test', webhook_id: null, status: 'pending' },
      { channel: 'webhook', address: null, webhook_id: subscribed.webhook.id, status: 'pending' },
    ]);
  });

  it('writes and sends nothing when the caller’s transaction rolls back', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const recipient = await buildRecipient('frank@example.test');
      const admin = await n.actorOf('admin');
      const created = await n.webhooks.create(admin, { name: 'rollback hook', url: receiver.url, kinds: ['rollback.test'] });
      receiver.secret = created.secret;
      const rollback = new Error('the request could not be saved');
      await expect(
        n.t.cg.database.db.transaction().execute(async (trx) => {
          const queued = await n.notifications.notify(trx, { kind: 'rollback.test', recipients: [recipient.id], title: 'Never', body: 'Rolled back.', data: {} });
          expect(queued).toMatchObject({ inApp: 1, emails: 1, webhooks: 1 });
          throw rollback;
        }),
      ).rejects.toBe(rollback);

      expect((await recipient.client.get('/notifications')).body).toEqual([]);
      const { rows } = await sql<{ count: number }>`SELECT count(*)::int AS count FROM notice WHERE kind = 'rollback.test'`.execute(n.t.cg.database.db);
      expect(rows[0]?.count).toBe(0);
      // Whatever else is due goes out (to closed ports); nothing reaches this test's receiver.
      await n.dispatcher({ smtpUrl: 'smtp://127.0.0.1:9' }).runOnce();
      expect(receiver.received.size).toBe(0);
      expect((await n.webhooks.list(admin)).find((hook) => hook.name === 'rollback hook')).toBeDefined();
      expect(await n.deliveries.ofWebhook(admin, created.webhook.id)).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('refuses a malformed notice or an unknown recipient: both are bugs in the caller', async () => {
    const someone = await buildRecipient();
    await expect(notify({ kind: 'Request Created', recipients: [someone.id], title: 'x', body: 'x', data: {} })).rejects.toThrow(/kind/);
    await expect(notify({ kind: 'request.created', recipients: [someone.id], title: 'two\nlines', body: 'x', data: {} })).rejects.toThrow(/title/);
    await expect(notify({ kind: 'request.created', recipients: [someone.id], title: 'x', body: 'x', link: 'https://elsewhere', data: {} })).rejects.toThrow(/link/);
    await expect(
      notify({ kind: 'request.created', recipients: ['00000000-0000-4000-8000-000000000001'], title: 'x', body: 'x', data: {} }),
    ).rejects.toThrow(/no user has the id/);
  });
});
