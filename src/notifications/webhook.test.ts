import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, type Answer } from '../../test/harness.ts';
import { systemResolver, type Resolver } from '../platform/outbound-address.ts';
import type { Notice } from './notice.ts';
import { PUBLIC_URL, startNotificationsTest, startWebhookReceiver, type NotificationsTest, type WebhookReceiver } from './notifications.test-kit.ts';

describe.each(DATABASE_KINDS)('webhooks on %s', (kind) => {
  let n: NotificationsTest;
  const receivers: WebhookReceiver[] = [];
  beforeAll(async () => {
    n = await startNotificationsTest(kind);
  });
  afterAll(async () => {
    await n.close();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  const notify = (notice: Notice) => n.t.cg.database.db.transaction().execute((trx) => n.notifications.notify(trx, notice));
  const adminId = async () => (await n.actorOf('admin')).userId;

  /** A receiver and a webhook pointing at it, subscribed to one kind so other tests' notices stay away. */
  async function webhookFor(noticeKind: string, name = `hook for ${noticeKind}`) {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const created = await n.admin.post('/webhooks', { name, url: receiver.url, kinds: [noticeKind] });
    expect(created.status).toBe(201);
    receiver.secret = created.body.secret;
    return { receiver, webhook: created.body.webhook, secret: created.body.secret as string };
  }

  it('POSTs a signed JSON notice that the receiver verifies with the secret answered at creation', async () => {
    const { receiver, webhook, secret } = await webhookFor('request.created', 'chat relay');
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(webhook).toMatchObject({ name: 'chat relay', kinds: ['request.created'], enabled: true, version: 1, createdBy: 'admin' });

    await notify({
      kind: 'request.created',
      recipients: [await adminId()],
      title: 'CHG-7: alice asks to run "Rotate logs"',
      body: 'Justification: disk almost full.',
      link: '/requests/7',
      data: { requestId: 7, change: 'CHG-7', requester: 'alice' },
    });
    const attempts = await n.dispatcher().runOnce();
    expect(attempts).toEqual([expect.objectContaining({ channel: 'webhook', result: 'delivered', statusCode: 200, attempt: 1 })]);

    const got = await receiver.received.next();
    expect(got.signatureValid).toBe(true);
    expect(got.headers['x-changegate-signature']).toBe(`sha256=${createHmac('sha256', secret).update(got.rawBody).digest('hex')}`);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-changegate-event']).toBe('request.created');
    expect(got.headers['x-changegate-delivery']).toBe(attempts[0]?.id);
    expect(JSON.parse(got.rawBody.toString('utf8'))).toEqual({
      id: attempts[0]?.id,
      kind: 'request.created',
      title: 'CHG-7: alice asks to run "Rotate logs"',
      body: 'Justification: disk almost full.',
      link: '/requests/7',
      url: `${PUBLIC_URL}/requests/7`,
      data: { requestId: 7, change: 'CHG-7', requester: 'alice' },
      createdAt: n.t.clock.now().toISOString(),
      sentAt: n.t.clock.now().toISOString(),
    });

    const log = await n.admin.get(`/webhooks/${webhook.id}/deliveries`);
    expect(log.body).toEqual([
      expect.objectContaining({ id: attempts[0]?.id, status: 'delivered', attempts: 1, lastStatusCode: 200, lastError: null, webhook: { id: webhook.id, name: 'chat relay' } }),
    ]);
  });

  it('records a failure with its error and next attempt, and delivers once the clock passes the backoff', async () => {
    const { receiver, webhook } = await webhookFor('flaky.kind');
    receiver.statuses.push(500);
    await notify({ kind: 'flaky.kind', recipients: [], title: 'Flaky', body: 'Try, try again.', data: {} });
    const dispatcher = n.dispatcher({ retryDelaysMs: [60_000, 120_000] });

    const [first] = await dispatcher.runOnce();
    const failedCall = await receiver.received.next();
    expect(failedCall.status).toBe(500);
    // The status alone: what the receiver answered ("receiver is down for maintenance") is not kept.
    expect(first).toMatchObject({ result: 'retrying', attempt: 1, statusCode: 500, error: 'HTTP 500' });
    const retryAt = new Date(n.t.clock.now().getTime() + 60_000).toISOString();
    expect((await n.admin.get(`/webhooks/${webhook.id}/deliveries`)).body).toEqual([
      expect.objectContaining({
        id: first?.id,
        status: 'pending',
        attempts: 1,
        lastStatusCode: 500,
        lastError: 'HTTP 500',
        nextAttemptAt: retryAt,
        deliveredAt: null,
      }),
    ]);

    const stored = await sql`SELECT * FROM notification_delivery`.execute(n.t.cg.database.db);
    expect(JSON.stringify(stored.rows)).not.toContain('maintenance');

    expect(await dispatcher.runOnce()).toEqual([]);
    n.t.clock.advance(60_000);
    const [second] = await dispatcher.runOnce();
    expect(second).toMatchObject({ id: first?.id, result: 'delivered', attempt: 2 });
    const delivered = await receiver.received.next();
    expect(delivered.headers['x-changegate-delivery']).toBe(failedCall.headers['x-changegate-delivery']);
    expect(JSON.parse(delivered.rawBody.toString('utf8')).sentAt).toBe(n.t.clock.now().toISOString());
    expect((await n.admin.get(`/deliveries/${first?.id}`)).body).toMatchObject({ status: 'delivered', attempts: 2, lastError: null, nextAttemptAt: null });
  });

  it('ends failed after the last attempt, is listed as failed, and is sent again on request', async () => {
    const { receiver, webhook } = await webhookFor('doomed.kind');
    receiver.fallbackStatus = 503;
    await notify({ kind: 'doomed.kind', recipients: [], title: 'Doomed', body: 'It will not get through.', data: {} });
    const dispatcher = n.dispatcher({ retryDelaysMs: [1000, 2000] });

    const results: string[] = [];
    for (let round = 0; round < 3; round += 1) {
      const [attempt] = await dispatcher.runOnce();
      results.push(attempt?.result ?? 'nothing due');
      n.t.clock.advance(2000);
    }
    expect(results).toEqual(['retrying', 'retrying', 'failed']);
    expect(await dispatcher.runOnce()).toEqual([]);

    const failed = await n.admin.get('/deliveries?status=failed');
    expect(failed.status).toBe(200);
    const [entry] = failed.body.filter((delivery: { webhook: { id: string } | null }) => delivery.webhook?.id === webhook.id);
    expect(entry).toMatchObject({
      channel: 'webhook',
      kind: 'doomed.kind',
      title: 'Doomed',
      status: 'failed',
      attempts: 3,
      lastStatusCode: 503,
      lastError: 'HTTP 503',
      nextAttemptAt: null,
    });
    expect((await n.admin.get(`/webhooks/${webhook.id}/deliveries?status=failed`)).body.map((delivery: { id: string }) => delivery.id)).toEqual([entry.id]);
    expect((await n.admin.get('/deliveries?status=failed&channel=email')).body).toEqual([]);

    receiver.fallbackStatus = 200;
    const retried = await n.admin.post(`/deliveries/${entry.id}/retry`);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ status: 'pending', attempts: 0, nextAttemptAt: n.t.clock.now().toISOString(), lastError: entry.lastError });
    expect(await dispatcher.runOnce()).toEqual([expect.objectContaining({ id: entry.id, result: 'delivered', attempt: 1 })]);
    const again = await n.admin.post(`/deliveries/${entry.id}/retry`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    const events = await n.t.admin.get(`/events?action=notification.delivery.retry&subject=delivery:${entry.id}`);
    expect(events.body).toHaveLength(1);
  });

  it('fails a queued delivery at once, unsent, when its webhook has been disabled', async () => {
    const { receiver, webhook } = await webhookFor('paused.kind');
    await notify({ kind: 'paused.kind', recipients: [], title: 'Paused', body: 'Nobody listens.', data: {} });
    expect((await n.admin.patch(`/webhooks/${webhook.id}`, { enabled: false, expectedVersion: 1 })).body).toMatchObject({ enabled: false, version: 2 });
    const attempts = await n.dispatcher().runOnce();
    expect(attempts).toEqual([expect.objectContaining({ result: 'failed', error: expect.stringMatching(/disabled/) })]);
    expect(receiver.received.size).toBe(0);
    expect((await notify({ kind: 'paused.kind', recipients: [], title: 'Paused', body: 'Not queued.', data: {} })).webhooks).toBe(0);
  });

  it('shares the work between instances without sending a delivery twice', async () => {
    const { receiver } = await webhookFor('busy.kind');
    for (let number = 0; number < 10; number += 1) {
      await notify({ kind: 'busy.kind', recipients: [], title: `Busy ${number}`, body: 'One of many.', data: { number } });
    }
    const instances = [n.dispatcher({ batchSize: 3 }), n.dispatcher({ batchSize: 3 })];
    const delivered: string[] = [];
    for (;;) {
      const rounds = await Promise.all(instances.map((instance) => instance.runOnce()));
      const attempts = rounds.flat();
      if (attempts.length === 0) break;
      delivered.push(...attempts.filter((attempt) => attempt.result === 'delivered').map((attempt) => attempt.id));
    }
    expect(delivered).toHaveLength(10);
    expect(new Set(delivered).size).toBe(10);
    const calls: string[] = [];
    while (receiver.received.size > 0) calls.push(String((await receiver.received.next()).headers['x-changegate-delivery']));
    expect(calls.sort()).toEqual([...delivered].sort());
  });

  it('never shows the webhook secret in an answer, an event or a delivery row', async () => {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const ownSecret = 'my-own-webhook-secret-0123456789';
    const created = await n.admin.post('/webhooks', { name: 'secret keeper', url: receiver.url, kinds: ['secret.kind'], secret: ownSecret });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBe(ownSecret);
    const id: string = created.body.webhook.id;

    const answers: Answer[] = [];
    answers.push(await n.admin.get('/webhooks'));
    answers.push(await n.admin.get(`/webhooks/${id}`));
    answers.push(await n.admin.patch(`/webhooks/${id}`, { kinds: ['secret.kind', 'other.kind'] }));
    const rotated = await n.admin.post(`/webhooks/${id}/secret`, {});
    expect(rotated.status).toBe(200);
    const newSecret: string = rotated.body.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(JSON.stringify(rotated.body)).not.toContain(ownSecret);
    receiver.secret = newSecret;
    const test = await n.admin.post(`/webhooks/${id}/test`);
    expect(test.status).toBe(202);
    answers.push(test);
    expect(await n.dispatcher().runOnce()).toEqual([expect.objectContaining({ id: test.body.id, result: 'delivered' })]);
    const got = await receiver.received.next();
    expect(got.signatureValid).toBe(true);
    expect(got.headers['x-changegate-event']).toBe('webhook.test');
    answers.push(await n.admin.get(`/webhooks/${id}/deliveries`));
    answers.push(await n.admin.get('/deliveries'));
    answers.push(await n.admin.get(`/deliveries/${test.body.id}`));

    for (const answer of answers) {
      expect(answer.status).toBeLessThan(300);
      expect(JSON.stringify(answer.body)).not.toContain(ownSecret);
      expect(JSON.stringify(answer.body)).not.toContain(newSecret);
    }
    const db = n.t.cg.database.db;
    const events = JSON.stringify((await sql`SELECT * FROM event`.execute(db)).rows);
    const deliveries = JSON.stringify((await sql`SELECT * FROM notification_delivery`.execute(db)).rows);
    const webhooks = JSON.stringify((await sql`SELECT * FROM webhook`.execute(db)).rows);
    for (const secret of [ownSecret, newSecret]) {
      expect(events).not.toContain(secret);
      expect(deliveries).not.toContain(secret);
      expect(webhooks).not.toContain(secret);
    }
    // The URL may carry a receiver's token: the event log says it changed, not what it is.
    expect(events).not.toContain('in-the-query');
    const createEvent = (await n.t.admin.get('/events?action=webhook.create&subject=webhook:GLOBAL.secret keeper')).body;
    expect(createEvent).toHaveLength(1);
    expect(createEvent[0].data.changes).toMatchObject({ secret: 'changed', url: 'changed', kinds: { before: null, after: ['secret.kind'] } });
  });

  it('lets only a system-wide User.Admin manage webhooks and read the delivery log', async () => {
    const { client } = await buildUser(n.t);
    const bob = n.clientOn(client);
    const { webhook } = await webhookFor('private.kind');
    const refusals = [
      await bob.get('/webhooks'),
      await bob.post('/webhooks', { name: 'sneaky', url: 'http://127.0.0.1:9/' }),
      await bob.get(`/webhooks/${webhook.id}`),
      await bob.patch(`/webhooks/${webhook.id}`, { enabled: false }),
      await bob.delete(`/webhooks/${webhook.id}`),
      await bob.post(`/webhooks/${webhook.id}/secret`, {}),
      await bob.get(`/webhooks/${webhook.id}/deliveries`),
      await bob.get('/deliveries?status=failed'),
      await bob.post('/deliveries/00000000-0000-4000-8000-000000000000/retry'),
    ];
    expect(refusals.map((answer) => answer.body.error.code)).toEqual(Array(refusals.length).fill('forbidden'));
    expect((await n.admin.get(`/webhooks/${webhook.id}`)).body.enabled).toBe(true);
  });

  it('validates webhooks: the URL, the secret, a unique name and the expected version', async () => {
    const bad = await n.admin.post('/webhooks', { name: 'bad one', url: 'ftp://files.example.test/', secret: 'short', kinds: ['Not A Kind'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details.problems.map((problem: { path: string }) => problem.path)).toEqual(['/url', '/kinds/0', '/secret']);
    const withCredentials = await n.admin.post('/webhooks', { name: 'creds', url: 'https://user:pass@hooks.example.test/' });
    expect(withCredentials.body.error.details.problems).toEqual([{ path: '/url', message: 'must not hold a user name or password' }]);
    expect((await n.admin.post('/webhooks', { name: 'x', url: 'http://127.0.0.1:9/', extra: true })).status).toBe(400);

    const { webhook } = await webhookFor('named.kind', 'taken name');
    const duplicate = await n.admin.post('/webhooks', { name: 'taken name', url: 'http://127.0.0.1:9/' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('already_exists');
    const stale = await n.admin.patch(`/webhooks/${webhook.id}`, { url: 'http://127.0.0.1:9/moved', expectedVersion: 7 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('conflict');
    expect((await n.admin.get('/webhooks/00000000-0000-4000-8000-000000000000')).body.error.code).toBe('not_found');
  });

  it('delivers in the background once started, to a webhook of all kinds, and is deleted with its deliveries', async () => {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const created = await n.admin.post('/webhooks', { name: 'everything', url: receiver.url });
    receiver.secret = created.body.secret;
    expect(created.body.webhook.kinds).toEqual([]);
    const dispatcher = n.dispatcher({ pollIntervalMs: 60_000 });
    dispatcher.start();
    await notify({ kind: 'any.kind.at-all', recipients: [], title: 'Anything', body: 'All kinds reach it.', data: {} });
    // The poll is a minute away: only wake() makes this arrive now.
    dispatcher.wake();
    const got = await receiver.received.next();
    expect(got.signatureValid).toBe(true);
    expect(got.headers['x-changegate-event']).toBe('any.kind.at-all');
    // stop() waits for the round under way, so its outcome is recorded once it returns.
    await dispatcher.stop();
    const deliveryId = String(got.headers['x-changegate-delivery']);
    expect((await n.admin.get(`/deliveries/${deliveryId}`)).body).toMatchObject({ status: 'delivered', attempts: 1 });

    expect((await n.admin.delete(`/webhooks/${created.body.webhook.id}`)).status).toBe(204);
    expect((await n.admin.get(`/webhooks/${created.body.webhook.id}`)).status).toBe(404);
    expect((await n.admin.get(`/deliveries/${deliveryId}`)).status).toBe(404);
  });
});

describe.each(DATABASE_KINDS)('webhook addresses on %s', (kind) => {
  /** No network allowed beyond the public ones: as a server with CHANGEGATE_WEBHOOK_ALLOW unset. */
  let n: NotificationsTest;
  let receiver: WebhookReceiver;
  /** The test's DNS: names it knows, and `.invalid` names that do not resolve; the rest (localhost) is the system's. */
  const zone = new Map<string, string[]>();
  /** Names whose answer the test holds back, as a slow DNS server would. */
  const slow = new Map<string, { asked(): void; answer: Promise<string[]> }>();
  const dns: Resolver = async (name) => {
    const held = slow.get(name);
    if (held) {
      held.asked();
      return held.answer;
    }
    const known = zone.get(name);
    if (known) return known;
    if (name.endsWith('.invalid')) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return systemResolver(name);
  };
  beforeAll(async () => {
    [n, receiver] = await Promise.all([startNotificationsTest(kind, { webhookAllow: [], dns }), startWebhookReceiver()]);
  });
  afterAll(async () => {
    await n?.close();
    await receiver?.close();
  });

  const stored = async () => (await sql<{ name: string; url: string }>`SELECT name, url FROM webhook ORDER BY name`.execute(n.t.cg.database.db)).rows;
  const port = () => new URL(receiver.url).port;

  it('refuses at save a URL that leads to loopback, private, link-local or unspecified addresses, and stores nothing', async () => {
    zone.set('hooks.public.test', ['93.184.215.14']);
    const kept = await n.admin.post('/webhooks', { name: 'public', url: 'https://hooks.public.test/in', kinds: ['public.kind'] });
    expect(kept.status).toBe(201);
    const before = await stored();

    const attacks: Array<[string, string]> = [
      [`http://127.0.0.1:${port()}/`, '127.0.0.1 is loopback'],
      ['http://[::1]/', '::1 is loopback'],
      ['http://169.254.169.254/latest/meta-data/', '169.254.169.254 is link-local (cloud metadata services live there)'],
      ['http://10.0.0.1/', '10.0.0.1 is private (RFC 1918)'],
      ['http://[::ffff:127.0.0.1]/', '127.0.0.1 is loopback'],
      ['http://0177.0.0.1/', '127.0.0.1 is loopback'],
      ['http://localhost/', 'localhost resolves to'],
      ['http://0.0.0.0/', '0.0.0.0 is unspecified'],
      ['http://100.100.100.200/', '100.100.100.200 is carrier-grade NAT'],
      ['http://metadata.google.internal/', 'metadata.google.internal is a cloud metadata service'],
    ];
    for (const [url, reason] of attacks) {
      const refused = await n.admin.post('/webhooks', { name: 'inside', url });
      expect([url, refused.status, refused.body.error.code]).toEqual([url, 400, 'validation_failed']);
      expect(refused.body.error.details.problems).toEqual([{ path: '/url', message: expect.stringContaining(reason) }]);
      expect(refused.body.error.details.problems[0].message).toContain('an administrator can allow a network in CHANGEGATE_WEBHOOK_ALLOW');
    }
    const unresolved = await n.admin.post('/webhooks', { name: 'inside', url: 'https://hooks.nowhere.invalid/' });
    expect(unresolved.body.error.details.problems).toEqual([
      { path: '/url', message: 'hooks.nowhere.invalid does not resolve (name not found): a webhook needs a host name that resolves to a public address' },
    ]);

    const moved = await n.admin.patch(`/webhooks/${kept.body.webhook.id}`, { url: 'http://10.0.0.1/' });
    expect([moved.status, moved.body.error.details.problems[0].path]).toEqual([400, '/url']);
    expect(await stored()).toEqual(before);
    expect((await n.admin.get(`/webhooks/${kept.body.webhook.id}`)).body).toMatchObject({ url: 'https://hooks.public.test/in', version: 1 });
    expect(receiver.received.size).toBe(0);
  });

  it('looks a name up outside any transaction: a slow DNS server holds no database connection', async () => {
    let answer: (addresses: string[]) => void = () => {};
    let asked: () => void = () => {};
    const lookingUp = new Promise<void>((resolve) => (asked = resolve));
    slow.set('hooks.slow.test', { asked, answer: new Promise((resolve) => (answer = resolve)) });
    const saving = n.admin.post('/webhooks', { name: 'slow', url: 'https://hooks.slow.test/in', kinds: ['slow.kind'] });
    await lookingUp;
    // While the name is being looked up, the server (one connection on PGlite) still answers.
    expect((await n.admin.get('/webhooks')).status).toBe(200);
    answer(['93.184.215.15']);
    expect((await saving).status).toBe(201);
  });

  it('resolves again at delivery: a name that now leads to 127.0.0.1 is refused for good, and the receiver hears nothing', async () => {
    zone.set('hooks.rebind.test', ['93.184.215.14']);
    const created = await n.admin.post('/webhooks', { name: 'rebinding', url: `http://hooks.rebind.test:${port()}/hook`, kinds: ['rebind.kind'] });
    expect(created.status).toBe(201);
    // The attacker's DNS answers differently once the URL has been accepted.
    zone.set('hooks.rebind.test', ['127.0.0.1']);
    await n.t.cg.database.db.transaction().execute((trx) => n.notifications.notify(trx, { kind: 'rebind.kind', recipients: [], title: 'Rebound', body: 'For the inside.', data: {} }));

    const why = 'address not allowed: hooks.rebind.test resolves to 127.0.0.1, which is loopback';
    expect(await n.dispatcher({ retryDelaysMs: [1000] }).runOnce()).toEqual([expect.objectContaining({ result: 'failed', attempt: 1, error: why, statusCode: null })]);
    expect((await n.admin.get(`/webhooks/${created.body.webhook.id}/deliveries`)).body).toEqual([
      expect.objectContaining({ status: 'failed', attempts: 1, lastError: why, lastStatusCode: null, nextAttemptAt: null }),
    ]);
    expect(receiver.received.size).toBe(0);
  });
});
