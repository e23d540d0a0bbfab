/**
 * What the notification tests share: a Changegate with this module's services and routes on an
 * app of their own (the composition root may not wire them yet), a real SMTP server, a real
 * webhook receiver that verifies signatures, and a TCP server that never answers.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpListener, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { startTestChangegate, TEST_MASTER_KEY, TestClient, type TestChangegate } from '../../test/harness.ts';
import { ObjectStore } from '../objects/index.ts';
import type { Changegate } from '../changegate.ts';
import { contactsOf, findUserByName } from '../identity/index.ts';
import { registerAuthentication } from '../identity/auth.routes.ts';
import { type Actor } from '../access/index.ts';
import type { DatabaseKind } from '../platform/database.ts';
import { API_PREFIX, createHttpServer } from '../platform/http.ts';
import { createLogger } from '../platform/logger.ts';
import { OutboundAddresses, systemResolver, type Resolver } from '../platform/outbound-address.ts';
import { parseMasterKeys, SecretBox } from '../platform/secret-box.ts';
import { DeliveryService } from './delivery.service.ts';
import { Dispatcher, type DispatcherOptions } from './dispatcher.ts';
import { notificationRoutes } from './notification.routes.ts';
import { NotificationService } from './notification.service.ts';
import { webhookRoutes } from './webhook.routes.ts';
import { WebhookService } from './webhook.service.ts';

export const PUBLIC_URL = 'https://changegate.example.test';

export interface NotificationsTest {
  readonly t: TestChangegate;
  readonly secrets: SecretBox;
  readonly notifications: NotificationService;
  readonly webhooks: WebhookService;
  readonly deliveries: DeliveryService;
  /** What webhooks may reach: the allowed networks given, and the test's DNS. */
  readonly addresses: OutboundAddresses;
  /** The administrator, on the app with this module's routes. */
  readonly admin: TestClient;
  /** The same signed-in user, on the app with this module's routes. */
  clientOn(client: TestClient): TestClient;
  actorOf(username: string): Promise<Actor>;
  /** A dispatcher on the test clock; the test stops it (or just calls `runOnce`). */
  dispatcher(options?: Partial<DispatcherOptions>): Dispatcher;
  close(): Promise<void>;
}

/** The loopback networks the test receivers listen on: what most tests let webhooks reach. */
export const LOOPBACK_ALLOWED = ['127.0.0.1/32', '::1/128'] as const;

export interface NotificationsTestOptions {
  readonly emailEnabled?: boolean;
  /** The networks webhooks may reach although not public (CHANGEGATE_WEBHOOK_ALLOW). Default: LOOPBACK_ALLOWED. */
  readonly webhookAllow?: readonly string[];
  /** Names the test resolves itself; others go to the system's resolver. */
  readonly dns?: Resolver;
}

export async function startNotificationsTest(kind: DatabaseKind, options: NotificationsTestOptions = {}): Promise<NotificationsTest> {
  const t = await startTestChangegate(kind);
  const db = t.cg.database.db;
  const secrets = new SecretBox(parseMasterKeys(TEST_MASTER_KEY) ?? []);
  const addresses = new OutboundAddresses({ allow: options.webhookAllow ?? LOOPBACK_ALLOWED, resolve: options.dns ?? systemResolver });
  const notifications = new NotificationService({ db, clock: t.clock, emailEnabled: options.emailEnabled ?? false, users: { recipientsOf: contactsOf } });
  const webhooks = new WebhookService({ db, clock: t.clock, objects: new ObjectStore(t.clock), secrets, addresses });
  const deliveries = new DeliveryService({ db, clock: t.clock, users: { recipientsOf: contactsOf } });
  const app = await createHttpServer({ logger: createLogger('silent'), version: 'test' });
  await app.register(
    async (api) => {
      registerAuthentication(api, t.cg.services.auth);
      notificationRoutes(api, notifications);
      webhookRoutes(api, { webhooks, deliveries });
    },
    { prefix: API_PREFIX },
  );
  await app.ready();
  const cg: Changegate = { ...t.cg, app };
  const dispatchers: Dispatcher[] = [];
  return {
    t,
    secrets,
    notifications,
    webhooks,
    deliveries,
    addresses,
    admin: new TestClient(cg, t.admin.credentials),
    clientOn: (client) => new TestClient(cg, client.credentials),
    actorOf: async (username) => {
      const user = await findUserByName(db, username);
      if (!user) throw new Error(`no user ${username}`);
      return { userId: user.id, username: user.username };
    },
    dispatcher: (overrides = {}) => {
      const dispatcher = new Dispatcher({
        db,
        clock: t.clock,
        secrets,
        publicUrl: PUBLIC_URL,
        smtpFrom: 'Changegate <changegate@example.test>',
        webhookAddresses: addresses,
        ...overrides,
      });
      dispatchers.push(dispatcher);
      return dispatcher;
    },
    close: async () => {
      await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop()));
      await app.close();
      await t.close();
    },
  };
}

/** A promise with its resolver, to wait for what a server's handler sees. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** The next item, waiting for it if none has come yet. */
  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get size(): number {
    return this.items.length;
  }
}

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  /** The whole message as the SMTP server received it: headers, blank line, body. */
  readonly raw: string;
}

export interface SmtpSink {
  readonly url: string;
  readonly mail: Inbox<ReceivedMail>;
  close(): Promise<void>;
}

/** nodemailer's companion SMTP server on 127.0.0.1, any port, no TLS, no authentication. */
export async function startSmtpServer(): Promise<SmtpSink> {
  const mail = new Inbox<ReceivedMail>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        mail.push({ from, to: session.envelope.rcptTo.map((address) => address.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mail, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A TCP server that accepts connections and never says a word: an SMTP server that hangs. */
export async function startSilentServer(): Promise<{ url: string; connections: Inbox<Socket>; close(): Promise<void> }> {
  const connections = new Inbox<Socket>();
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    connections.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ReceivedWebhook {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawBody: Buffer;
  /** What the receiver computed: the signature header matches the HMAC of the raw body under `secret`. */
  readonly signatureValid: boolean;
  /** The status the receiver answered. */
  readonly status: number;
}

export interface WebhookReceiver {
  readonly url: string;
  /** The secret to verify with: the one the webhook's creation answered. */
  secret: string;
  /** Statuses to answer, in order; when used up, `fallbackStatus`. A bad signature is always answered 401. */
  readonly statuses: number[];
  fallbackStatus: number;
  readonly received: Inbox<ReceivedWebhook>;
  close(): Promise<void>;
}

/**
 * A webhook receiver as its documentation tells one to write: read the raw body, recompute
 * `sha256=` + HMAC-SHA256(secret, body) in hex and compare in constant time before trusting it.
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Inbox<ReceivedWebhook>();
  const receiver: WebhookReceiver = {
    url: '',
    secret: '',
    statuses: [],
    fallbackStatus: 200,
    received,
    close: async () => {},
  };
  const server: HttpServer = createHttpListener((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const expected = Buffer.from(`sha256=${createHmac('sha256', receiver.secret).update(rawBody).digest('hex')}`);
      const given = Buffer.from(String(request.headers['x-changegate-signature'] ?? ''));
      const signatureValid = expected.length === given.length && timingSafeEqual(expected, given);
      const status = signatureValid ? (receiver.statuses.shift() ?? receiver.fallbackStatus) : 401;
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(status < 300 ? 'ok' : status === 401 ? 'bad signature' : 'receiver is down for maintenance');
      received.push({ headers: request.headers, rawBody, signatureValid, status });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/hooks/changegate?token=in-the-query`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
