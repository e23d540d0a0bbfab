import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';

/**
 * Where `/metrics` is served (docs/metrics.md): on a port of its own (`CHANGEGATE_METRICS_PORT`),
 * on the HTTP port behind a bearer token (`CHANGEGATE_METRICS_TOKEN` alone), or nowhere.
 */
export type MetricsMode = 'off' | 'own-port' | 'http-port';

export function metricsMode(config: Pick<Config, 'metricsPort' | 'metricsToken'>): MetricsMode {
  if (config.metricsPort !== undefined) return 'own-port';
  return config.metricsToken !== undefined ? 'http-port' : 'off';
}

/** The label of every request that matched no route: what a caller puts in a URL never becomes a label. */
export const UNMATCHED_ROUTE = 'unmatched';

/** The methods that get a label of their own; anything else is `other`. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * What is read when Prometheus scrapes rather than counted as it happens: cheap reads of state
 * that exists anyway (the live sessions, the queues, one row of the event log and of each instance).
 */
export interface ScrapeSources {
  /** Sessions this instance runs now. */
  liveSessions(): number;
  /** Captured commands waiting to be written to the database. */
  commandBacklog(): number;
  /** Bytes of terminal output and keystrokes waiting for the command capture, over the live sessions. */
  captureBacklogBytes(): number;
  /** The event log's size and its latest checkpoint. */
  eventLog(): Promise<{ readonly entries: number; readonly checkpoint: { readonly size: number; readonly createdAt: Date } | undefined }>;
  /** The instances sharing the database, as the registry sees them. */
  instances(): Promise<ReadonlyArray<{ readonly id: string; readonly status: string; readonly heartbeatAt: Date }>>;
}

export interface MetricsConfig {
  readonly clock: Clock;
  readonly logger?: Logger;
}

/** Per-instance heartbeat ages exported at most, the most recently beating first: the label stays bounded. */
const MAX_INSTANCE_SERIES = 100;

/**
 * Changegate's metrics, in a registry of its own (several instances in one process do not share
 * counters). The parts that count hold it through the small interface each declares (a session
 * runner its `SessionMetrics`, the dispatcher its `DeliveryMetrics`…); the rest is read at scrape
 * time through `readAtScrape`.
 *
 * @example
 *   const metrics = new Metrics({ clock });
 *   metrics.sessionStarted();
 *   const { contentType, text } = await metrics.exposition();
 */
export class Metrics {
  readonly registry = new Registry();
  private sources: ScrapeSources | undefined;
  private readonly sessionsStarted: Counter;
  private readonly sessionsEnded: Counter<'reason'>;
  private readonly bytes: { readonly in: Counter.Internal; readonly out: Counter.Internal };
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly approvalSeconds: Histogram;
  private readonly deliveries: Counter<'channel' | 'outcome'>;
  private readonly heartbeats: Counter;
  /** The reads of the sources, each setting its gauges, run before each exposition. */
  private readonly reads: ReadonlyArray<() => Promise<void>>;

  constructor(private readonly config: MetricsConfig) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const live = new Gauge({ name: 'changegate_sessions_live', help: 'Sessions this instance runs now (SSH gateway and web terminal).', registers });
    this.sessionsStarted = new Counter({ name: 'changegate_sessions_started_total', help: 'Sessions started on this instance.', registers });
    this.sessionsEnded = new Counter({
      name: 'changegate_sessions_ended_total',
      help: 'Sessions ended, by reason (client_closed, due_date_reached, terminated, upstream_failed, gateway_stopped, interrupted).',
      labelNames: ['reason'],
      registers,
    });
    const relayed = new Counter({
      name: 'changegate_session_bytes_total',
      help: 'Bytes relayed by sessions: in = keystrokes from the user to the device, out = output from the device to the user.',
      labelNames: ['direction'],
      registers,
    });
    this.bytes = { in: relayed.labels({ direction: 'in' }), out: relayed.labels({ direction: 'out' }) };
    const commandBacklog = new Gauge({ name: 'changegate_command_store_backlog', help: 'Captured commands waiting to be written to the database.', registers });
    const captureBacklog = new Gauge({
      name: 'changegate_capture_backlog_bytes',
      help: 'Bytes of terminal output and keystrokes waiting to be analysed by the command capture, over the live sessions.',
      registers,
    });
    this.httpRequests = new Counter({
      name: 'changegate_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'changegate_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.approvalSeconds = new Histogram({
      name: 'changegate_request_approval_seconds',
      help: 'Seconds from an access request being made to its approval.',
      buckets: [10, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 259_200, 604_800],
      registers,
    });
    this.deliveries = new Counter({
      name: 'changegate_notification_deliveries_total',
      help: 'Notification delivery attempts, by channel (email, webhook) and outcome (delivered, retrying, failed).',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    const eventLogEntries = new Gauge({ name: 'changegate_event_log_entries', help: 'Entries in the event log.', registers });
    const checkpointSize = new Gauge({ name: 'changegate_event_log_checkpoint_entries', help: 'Entries the latest checkpoint of the event log covers.', registers });
    const checkpointAge = new Gauge({
      name: 'changegate_event_log_checkpoint_age_seconds',
      help: 'Seconds since the latest checkpoint of the event log was signed (absent before the first).',
      registers,
    });
    this.heartbeats = new Counter({ name: 'changegate_instance_heartbeats_total', help: 'Heartbeats this instance wrote to the database.', registers });
    const instanceCount = new Gauge({
      name: 'changegate_instances',
      help: 'Instances registered in the database, by status (live, draining, silent, stopped).',
      labelNames: ['status'],
      registers,
    });
    const heartbeatAge = new Gauge({
      name: 'changegate_instance_heartbeat_age_seconds',
      help: 'Seconds since each instance not stopped last beat, by instance id.',
      labelNames: ['instance_id'],
      registers,
    });

    // Each read sets its gauges before the registry is serialized: one read per source, and a
    // source that fails leaves its gauges at their last value (the log says why) while the rest answer.
    const read = async (what: string, collect: (sources: ScrapeSources) => Promise<void> | void): Promise<void> => {
      if (!this.sources) return;
      try {
        await collect(this.sources);
      } catch (error) {
        this.config.logger?.warn({ err: error }, `metrics: reading ${what} failed`);
      }
    };
    this.reads = [
      () =>
        read('the live sessions', (sources) => {
          live.set(sources.liveSessions());
          commandBacklog.set(sources.commandBacklog());
          captureBacklog.set(sources.captureBacklogBytes());
        }),
      () =>
        read('the event log', async (sources) => {
          const { entries, checkpoint } = await sources.eventLog();
          eventLogEntries.set(entries);
          checkpointSize.set(checkpoint?.size ?? 0);
          // Before the first checkpoint the series is absent: no value would be honest (0 says "just signed").
          if (checkpoint) checkpointAge.set(Math.max(0, (config.clock.now().getTime() - checkpoint.createdAt.getTime()) / 1000));
          else checkpointAge.remove();
        }),
      () =>
        read('the instances', async (sources) => {
          const instances = await sources.instances();
          for (const status of ['live', 'draining', 'silent', 'stopped']) instanceCount.set({ status }, instances.filter((instance) => instance.status === status).length);
          heartbeatAge.reset();
          const now = config.clock.now().getTime();
          const beating = instances.filter((instance) => instance.status !== 'stopped').sort((a, b) => b.heartbeatAt.getTime() - a.heartbeatAt.getTime());
          for (const instance of beating.slice(0, MAX_INSTANCE_SERIES)) {
            heartbeatAge.set({ instance_id: instance.id }, Math.max(0, (now - instance.heartbeatAt.getTime()) / 1000));
          }
        }),
    ];
  }

  /** What the metrics read at scrape time; until it is given, those gauges stay at 0. */
  readAtScrape(sources: ScrapeSources): void {
    this.sources = sources;
  }

  sessionStarted(): void {
    this.sessionsStarted.inc();
  }

  /** `count` sessions ended for `reason` (one unless given: sessions marked interrupted come several at once). */
  sessionEnded(reason: string, count = 1): void {
    this.sessionsEnded.inc({ reason }, count);
  }

  bytesRelayed(direction: 'in' | 'out', bytes: number): void {
    this.bytes[direction].inc(bytes);
  }

  /** One answered HTTP request: `route` is the route's pattern (`/api/v1/changes/:name`), undefined when none matched. */
  httpAnswered(method: string, route: string | undefined, status: number, seconds: number): void {
    const labels = { method: METHODS.has(method) ? method : 'other', route: route ?? UNMATCHED_ROUTE, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  requestApproved(secondsSinceRequested: number): void {
    this.approvalSeconds.observe(Math.max(0, secondsSinceRequested));
  }

  deliveryAttempted(channel: string, outcome: string): void {
    this.deliveries.inc({ channel, outcome });
  }

  heartbeatWritten(): void {
    this.heartbeats.inc();
  }

  /** The Prometheus text exposition of every metric, read sources included. */
  async exposition(): Promise<{ readonly contentType: string; readonly text: string }> {
    await Promise.all(this.reads.map((read) => read()));
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

/**
 * Whether an `Authorization` header carries the metrics token. Both sides are hashed first, so the
 * comparison takes the same time whatever the header's length and however much of it matches.
 */
export function metricsTokenMatches(authorization: string | undefined, token: string): boolean {
  const sent = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? '';
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(sent), digest(token)) && sent.length > 0;
}

/**
 * `/metrics` on a port of its own, for a scraper on the inside network only: a bare `node:http`
 * server, no API on it. With a token, a request without it is 401 (the API's error shape).
 */
export class MetricsServer {
  private server: Server | undefined;

  constructor(private readonly options: { readonly metrics: Metrics; readonly token?: string | undefined; readonly logger?: Logger }) {}

  /** Listens; resolves with the port (the one chosen when `port` is 0). */
  async listen(port: number, host: string): Promise<number> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      const answer = (status: number, code: string, message: string) => {
        response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        response.end(JSON.stringify({ error: { code, message } }));
      };
      if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) return answer(404, 'route_not_found', `There is no route ${request.method} ${path} here: only GET /metrics.`);
      if (this.options.token !== undefined && !metricsTokenMatches(request.headers.authorization, this.options.token)) {
        return answer(401, 'unauthenticated', METRICS_TOKEN_REQUIRED);
      }
      this.options.metrics.exposition().then(
        ({ contentType, text }) => {
          response.writeHead(200, { 'content-type': contentType });
          response.end(request.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => {
          this.options.logger?.error({ err: error }, 'metrics: the scrape failed');
          answer(500, 'internal_error', 'Something went wrong on the server; the details are in its log.');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** What a scrape without the right token is told: never the token, nor whether one was close. */
export const METRICS_TOKEN_REQUIRED = 'Send the metrics token: an `Authorization: Bearer <token>` header with the value of CHANGEGATE_METRICS_TOKEN.';
