/**
 * `/metrics` of a running Changegate: on the HTTP port behind the metrics token (refused without
 * it, with the API's error and no metric), on a port of its own (and then not on the HTTP port),
 * or nowhere. The counters follow requests by route pattern (never the URL), an approval's wait,
 * webhook deliveries, the event log and its checkpoint, and the instance's heartbeats.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { buildChange, buildDevice, buildGroup } from '../changes/changes.test-kit.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../notifications/notifications.test-kit.ts';
import type { Started } from '../changegate.ts';
import { ManualClock } from './clock.ts';
import { Metrics, metricsMode, MetricsServer, metricsTokenMatches, type ScrapeSources } from './metrics.ts';
import { parseExposition, samplesOf, valueOf, type Sample } from './metrics.test-kit.ts';

const TOKEN = 'metrics-token-for-tests-0123456789';
/** No timer beats or signs during a test: it does so itself, on the test clock. */
const QUIET = { CHANGEGATE_INSTANCE_HEARTBEAT_SECONDS: '300', CHANGEGATE_CHECKPOINT_INTERVAL_SECONDS: '3600', CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' };

describe('the metrics settings', () => {
  it('are off unless a port or a token is set, on their own port when one is', () => {
    expect(metricsMode({ metricsPort: undefined, metricsToken: undefined })).toBe('off');
    expect(metricsMode({ metricsPort: undefined, metricsToken: TOKEN })).toBe('http-port');
    expect(metricsMode({ metricsPort: 0, metricsToken: undefined })).toBe('own-port');
    expect(metricsMode({ metricsPort: 9464, metricsToken: TOKEN })).toBe('own-port');
  });

  it('accept only the bearer token itself', () => {
    expect(metricsTokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(metricsTokenMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    for (const header of [undefined, '', 'Bearer', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN} extra`]) {
      expect(metricsTokenMatches(header, TOKEN), String(header)).toBe(false);
    }
  });
});

describe('the metrics read when scraped', () => {
  const clock = new ManualClock('2026-11-21T12:00:00Z');
  const sources = (overrides: Partial<ScrapeSources> = {}): ScrapeSources => ({
    liveSessions: () => 2,
    commandBacklog: () => 7,
    captureBacklogBytes: () => 4096,
    eventLog: async () => ({ entries: 12, checkpoint: undefined }),
    instances: async () => [
      { id: 'a', status: 'live', heartbeatAt: new Date('2026-11-21T11:59:50Z') },
      { id: 'b', status: 'silent', heartbeatAt: new Date('2026-11-21T11:00:00Z') },
      { id: 'c', status: 'stopped', heartbeatAt: new Date('2026-11-20T12:00:00Z') },
    ],
    ...overrides,
  });
  const read = async (metrics: Metrics) => parseExposition((await metrics.exposition()).text);

  it('has no checkpoint age before the first checkpoint, and the state of each source', async () => {
    const metrics = new Metrics({ clock });
    metrics.readAtScrape(sources());
    const samples = await read(metrics);
    expect(samplesOf(samples, 'changegate_event_log_checkpoint_age_seconds')).toEqual([]);
    expect(valueOf(samples, 'changegate_event_log_checkpoint_entries')).toBe(0);
    expect(valueOf(samples, 'changegate_event_log_entries')).toBe(12);
    expect(valueOf(samples, 'changegate_sessions_live')).toBe(2);
    expect(valueOf(samples, 'changegate_command_store_backlog')).toBe(7);
    expect(valueOf(samples, 'changegate_capture_backlog_bytes')).toBe(4096);
    expect(samplesOf(samples, 'changegate_instances').map((sample) => [sample.labels.status, sample.value])).toEqual([
      ['live', 1],
      ['draining', 0],
      ['silent', 1],
      ['stopped', 1],
    ]);
    // A stopped instance has no heartbeat to age.
    expect(samplesOf(samples, 'changegate_instance_heartbeat_age_seconds').map((sample) => [sample.labels.instance_id, sample.value])).toEqual([
      ['a', 10],
      ['b', 3600],
    ]);
  });

  it('still answers when a source fails, keeping what it could read', async () => {
    const metrics = new Metrics({ clock });
    metrics.readAtScrape(sources({ eventLog: async () => Promise.reject(new Error('the database is gone')) }));
    const samples = await read(metrics);
    expect(valueOf(samples, 'changegate_sessions_live')).toBe(2);
    expect(valueOf(samples, 'changegate_event_log_entries')).toBe(0);
  });

  it('keeps the instances of one process apart', async () => {
    const one = new Metrics({ clock });
    const other = new Metrics({ clock });
    one.sessionStarted();
    one.sessionEnded('terminated');
    one.bytesRelayed('out', 100);
    expect(valueOf(await read(one), 'changegate_sessions_ended_total', { reason: 'terminated' })).toBe(1);
    expect(valueOf(await read(one), 'changegate_session_bytes_total', { direction: 'out' })).toBe(100);
    expect(valueOf(await read(other), 'changegate_sessions_started_total')).toBe(0);
    expect(valueOf(await read(other), 'changegate_sessions_ended_total', { reason: 'terminated' })).toBeUndefined();
  });

  it('labels an unknown method as other and an unmatched route as one value', async () => {
    const metrics = new Metrics({ clock });
    metrics.httpAnswered('PROPFIND', undefined, 404, 0.002);
    const samples = await read(metrics);
    expect(valueOf(samples, 'changegate_http_requests_total', { method: 'other', route: 'unmatched', status: '404' })).toBe(1);
  });
});

describe('the metrics port with a token as well', () => {
  it('requires the token there too', async () => {
    const server = new MetricsServer({ metrics: new Metrics({ clock: new ManualClock() }), token: TOKEN });
    const port = await server.listen(0, '127.0.0.1');
    try {
      const refused = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: 'Bearer not-the-metrics-token-at-all' } });
      expect(refused.status).toBe(401);
      const body = await refused.text();
      expect(JSON.parse(body)).toEqual({ error: { code: 'unauthenticated', message: expect.stringContaining('metrics token') } });
      expect(body).not.toContain('changegate_');
      const served = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(served.status).toBe(200);
      expect(valueOf(parseExposition(await served.text()), 'changegate_sessions_started_total')).toBe(0);
    } finally {
      await server.close();
    }
  });
});

describe('/metrics on the HTTP port, behind the metrics token', () => {
  let t: TestChangegate;
  let receiver: WebhookReceiver;

  const scrape = async (authorization?: string) =>
    t.cg.app.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } });
  const samples = async (): Promise<Sample[]> => {
    const answer = await scrape(`Bearer ${TOKEN}`);
    expect(answer.statusCode).toBe(200);
    return parseExposition(answer.body);
  };

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    t = await startTestChangegate('pglite', { ...QUIET, CHANGEGATE_METRICS_TOKEN: TOKEN, CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32' });
    await t.cg.startBackground();
  });

  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('refuses a scrape without the token, or with another, as the API refuses: 401 and no metric', async () => {
    for (const authorization of [undefined, 'Bearer not-the-metrics-token-at-all', `Bearer ${TOKEN}0`, `Basic ${TOKEN}`]) {
      const answer = await scrape(authorization);
      expect(answer.statusCode, String(authorization)).toBe(401);
      expect(answer.json()).toEqual({ error: { code: 'unauthenticated', message: expect.stringContaining('metrics token') } });
      expect(answer.body).not.toContain('changegate_');
      expect(answer.body).not.toContain(TOKEN);
    }
    // An administrator's session is not the metrics token.
    const credentials = t.admin.credentials as { cookie: string };
    const asAdmin = await t.cg.app.inject({ method: 'GET', url: '/metrics', headers: { cookie: `changegate_session=${credentials.cookie}` } });
    expect(asAdmin.statusCode).toBe(401);
  });

  it('counts requests by route pattern and status, with their latency, and never a URL', async () => {
    const before = await samples();
    const route = { method: 'GET', route: '/api/v1/devices/:device', status: '404' };
    const counted = (from: readonly Sample[]) => valueOf(from, 'changegate_http_requests_total', route) ?? 0;
    for (const name of ['no-such-device-1', 'no-such-device-2', 'no-such-device-3']) expect((await t.admin.get(`/devices/${name}`)).status).toBe(404);
    expect((await t.admin.get('/no/such/route/with-a-secret-in-it')).status).toBe(404);

    const after = await samples();
    expect(counted(after) - counted(before)).toBe(3);
    expect(valueOf(after, 'changegate_http_request_duration_seconds_count', route)).toBe(counted(after));
    expect(valueOf(after, 'changegate_http_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(counted(after));
    expect(valueOf(after, 'changegate_http_request_duration_seconds_sum', route)).toBeGreaterThan(0);
    // A route nobody declared is one label value, whatever the URL.
    expect(valueOf(after, 'changegate_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    const routes = new Set(samplesOf(after, 'changegate_http_requests_total').map((sample) => sample.labels.route));
    expect([...routes].filter((label) => /no-such|with-a-secret/.test(label ?? ''))).toEqual([]);
    // The refused scrapes of the test before were counted like any request, as 401s.
    expect(valueOf(after, 'changegate_http_requests_total', { method: 'GET', route: '/metrics', status: '401' })).toBeGreaterThanOrEqual(4);
  });

  it('observes how long a request waited for its approval', async () => {
    const bob = await buildUser(t);
    const group = await buildGroup(t, { executors: [bob.username], approvers: ['admin'] });
    const device = await buildDevice(t);
    await buildChange(t, { accessGroup: group.name, devices: [device.name] });
    const asked = await bob.client.post('/requests', { device: device.name });
    expect(asked.status).toBe(201);
    t.clock.advance(90_000);
    expect((await t.admin.post(`/requests/${asked.body.request.number}/approve`, { comment: 'go' })).status).toBe(200);

    const after = await samples();
    expect(valueOf(after, 'changegate_request_approval_seconds_count')).toBe(1);
    expect(valueOf(after, 'changegate_request_approval_seconds_sum')).toBe(90);
    expect(valueOf(after, 'changegate_request_approval_seconds_bucket', { le: '60' })).toBe(0);
    expect(valueOf(after, 'changegate_request_approval_seconds_bucket', { le: '300' })).toBe(1);
  });

  it('counts notification deliveries by channel and outcome', async () => {
    const created = await t.admin.post('/webhooks', { name: 'metrics hook', url: receiver.url, kinds: ['request.created'] });
    expect(created.status).toBe(201);
    receiver.secret = created.body.secret;
    receiver.statuses.push(503);
    // The first attempt meets a receiver that is down; the next one a receiver that answers.
    expect((await t.admin.post(`/webhooks/${created.body.webhook.id}/test`, {})).status).toBe(202);
    await receiver.received.next();
    const retrying = await waitUntil(async () => {
      const now = await samples();
      return valueOf(now, 'changegate_notification_deliveries_total', { channel: 'webhook', outcome: 'retrying' }) === 1 ? now : undefined;
    }, 'the failed attempt counted');
    expect(valueOf(retrying, 'changegate_notification_deliveries_total', { channel: 'webhook', outcome: 'delivered' })).toBeUndefined();
    expect((await t.admin.post(`/webhooks/${created.body.webhook.id}/test`, {})).status).toBe(202);
    await waitUntil(async () => (valueOf(await samples(), 'changegate_notification_deliveries_total', { channel: 'webhook', outcome: 'delivered' }) === 1 ? true : undefined), 'the delivery counted');
  });

  it('reads the event log, the age of its checkpoint and the instances when scraped', async () => {
    const checkpoint = await t.cg.checkpointPublisher.signNow();
    expect(checkpoint).toBeDefined();
    t.clock.advance(42_000);
    await t.cg.heartbeat();
    await t.cg.heartbeat();
    const now = await samples();
    expect(valueOf(now, 'changegate_event_log_entries')).toBeGreaterThanOrEqual(checkpoint?.size ?? Number.POSITIVE_INFINITY);
    expect(valueOf(now, 'changegate_event_log_checkpoint_entries')).toBe(checkpoint?.size);
    expect(valueOf(now, 'changegate_event_log_checkpoint_age_seconds')).toBe(42);
    expect(valueOf(now, 'changegate_instance_heartbeats_total')).toBe(2);
    expect(valueOf(now, 'changegate_instances', { status: 'live' })).toBe(1);
    expect(valueOf(now, 'changegate_instance_heartbeat_age_seconds', { instance_id: t.cg.instance.id })).toBe(0);
    expect(valueOf(now, 'changegate_sessions_live')).toBe(0);
    expect(valueOf(now, 'changegate_command_store_backlog')).toBe(0);
    // The process's own metrics come along.
    expect(valueOf(now, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });
});

describe('/metrics on a port of its own', () => {
  let t: TestChangegate;
  let started: Started;

  beforeAll(async () => {
    t = await startTestChangegate('pglite', { ...QUIET, CHANGEGATE_METRICS_PORT: '0' });
    started = await t.cg.startBackground();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves it there, counting the HTTP port’s requests, and not on the HTTP port', async () => {
    expect(started.metricsPort).toBeGreaterThan(0);
    expect((await t.admin.get('/me')).status).toBe(200);
    const answer = await fetch(`http://127.0.0.1:${started.metricsPort}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await answer.text());
    expect(valueOf(samples, 'changegate_http_requests_total', { method: 'GET', route: '/api/v1/me', status: '200' })).toBe(1);
    expect(valueOf(samples, 'changegate_sessions_started_total')).toBe(0);

    const other = await fetch(`http://127.0.0.1:${started.metricsPort}/api/v1/me`);
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ error: { code: 'route_not_found' } });
    const onHttpPort = await t.cg.app.inject({ method: 'GET', url: '/metrics' });
    expect(onHttpPort.statusCode).toBe(404);
    expect(onHttpPort.body).not.toContain('changegate_');
  });
});

describe('without metrics settings', () => {
  let t: TestChangegate;

  beforeAll(async () => {
    t = await startTestChangegate('pglite');
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves no /metrics and counts nothing', async () => {
    expect(t.cg.metrics).toBeUndefined();
    const answer = await t.cg.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(answer.statusCode).toBe(404);
    expect(answer.body).not.toContain('changegate_');
  });
});
