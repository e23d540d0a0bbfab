import type { PGlite } from '@electric-sql/pglite';
import { sql, type Kysely, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './database-schema.ts';
import type { Logger } from './logger.ts';

/**
 * Messages between the instances sharing one database, by PostgreSQL's LISTEN/NOTIFY: a session's
 * recording grew, end these sessions, a request was decided. A message sent inside a transaction
 * is delivered when it commits, to every listener of its channel in every instance (the sender's
 * own included), and never if it rolls back. Delivery is not guaranteed across a lost connection:
 * listeners treat a message as a hint to look at the database, where the truth is.
 */
export interface DatabaseNotifications {
  /** Calls `handler` with each payload sent on `channel` from now on; resolves once listening. */
  listen(channel: string, handler: (payload: string) => void): Promise<Unlisten>;
  close(): Promise<void>;
}

export type Unlisten = () => Promise<void>;

/** PostgreSQL caps a payload at 8,000 bytes; messages stay well under it. */
export const MAX_PAYLOAD_BYTES = 7_000;

const CHANNEL = /^[a-z][a-z0-9_]{0,62}$/;

/** Sends `payload` on `channel`; inside a transaction, on its commit. */
export async function notify(db: Kysely<Database> | Transaction<Database>, channel: string, payload: string): Promise<void> {
  if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${channel}`);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new Error(`a notification on ${channel} is ${Buffer.byteLength(payload)} bytes, over ${MAX_PAYLOAD_BYTES}`);
  await sql`SELECT pg_notify(${channel}, ${payload})`.execute(db);
}

/** Handlers by channel; a handler that throws is logged, never stops the others. */
class Handlers {
  private readonly byChannel = new Map<string, Set<(payload: string) => void>>();

  constructor(private readonly logger: Logger | undefined) {}

  add(channel: string, handler: (payload: string) => void): boolean {
    if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${channel}`);
    let handlers = this.byChannel.get(channel);
    const first = !handlers;
    if (!handlers) this.byChannel.set(channel, (handlers = new Set()));
    handlers.add(handler);
    return first;
  }

  /** True when the channel has no handler left. */
  remove(channel: string, handler: (payload: string) => void): boolean {
    const handlers = this.byChannel.get(channel);
    handlers?.delete(handler);
    if (handlers?.size !== 0) return false;
    this.byChannel.delete(channel);
    return true;
  }

  channels(): string[] {
    return [...this.byChannel.keys()];
  }

  deliver(channel: string, payload: string): void {
    for (const handler of this.byChannel.get(channel) ?? []) {
      try {
        handler(payload);
      } catch (error) {
        this.logger?.error({ err: error, channel }, 'a notification handler failed');
      }
    }
  }
}

/** The embedded database: one process, so its own LISTEN is every instance's. */
export class PGliteNotifications implements DatabaseNotifications {
  private readonly handlers: Handlers;
  private readonly unlisten = new Map<string, () => Promise<void>>();

  constructor(
    private readonly pglite: PGlite,
    logger?: Logger,
  ) {
    this.handlers = new Handlers(logger);
  }

  async listen(channel: string, handler: (payload: string) => void): Promise<Unlisten> {
    if (this.handlers.add(channel, handler)) {
      this.unlisten.set(channel, await this.pglite.listen(channel, (payload) => this.handlers.deliver(channel, payload)));
    }
    return async () => {
      if (!this.handlers.remove(channel, handler)) return;
      const stop = this.unlisten.get(channel);
      this.unlisten.delete(channel);
      await stop?.();
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.unlisten.values()].map((stop) => stop().catch(() => undefined)));
    this.unlisten.clear();
  }
}

/** Waits between attempts to get the listening connection back: doubling up to the last. */
const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * PostgreSQL: one connection of its own, outside the pool (a pooled connection would be handed to
 * queries and lose its LISTENs). Opened on the first `listen`; when it is lost, it is opened again
 * and listens to every channel again, so a database restart costs the messages sent meanwhile,
 * which listeners make up for by reading the database.
 */
export class PostgresNotifications implements DatabaseNotifications {
  private readonly handlers: Handlers;
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private attempt = 0;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly logger?: Logger,
  ) {
    this.handlers = new Handlers(logger);
  }

  async listen(channel: string, handler: (payload: string) => void): Promise<Unlisten> {
    if (this.closed) throw new Error('the notifications connection is closed');
    const first = this.handlers.add(channel, handler);
    let client: pg.Client;
    try {
      client = await this.connection();
      if (first && this.client === client) await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      this.handlers.remove(channel, handler);
      throw error;
    }
    return async () => {
      if (!this.handlers.remove(channel, handler) || !this.client) return;
      await this.client.query(`UNLISTEN "${channel}"`).catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (message) => this.handlers.deliver(message.channel, message.payload ?? ''));
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    await client.connect();
    for (const channel of this.handlers.channels()) await client.query(`LISTEN "${channel}"`);
    this.client = client;
    this.attempt = 0;
    return client;
  }

  private lost(client: pg.Client, error?: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    this.logger?.warn({ err: error }, 'the connection listening for other instances was lost; opening it again');
    void client.end().catch(() => undefined);
    this.reconnect();
  }

  private reconnect(): void {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)] as number;
    this.attempt += 1;
    this.retry = setTimeout(() => {
      if (this.closed || this.handlers.channels().length === 0) return;
      this.connection().catch((error: unknown) => {
        this.logger?.warn({ err: error }, 'listening for other instances failed; trying again');
        this.reconnect();
      });
    }, delay);
    this.retry.unref();
  }
}

/**
 * Wakes whoever waits on a key (a request's number, a session's id) as soon as a message on
 * `channel` names it. A wake is a hint to read the database again: waiters also wake after their
 * own timeout, so a message lost while nobody listened (a lost connection, before `start`) only
 * delays them.
 */
export class ChannelWakes {
  private readonly waiting = new Map<string, Set<() => void>>();
  private unlisten: Unlisten | undefined;

  constructor(
    private readonly notifications: DatabaseNotifications,
    private readonly channel: string,
    /** The keys a payload names. */
    private readonly keysOf: (payload: string) => readonly string[],
  ) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.notifications.listen(this.channel, (payload) => {
      for (const key of this.keysOf(payload)) for (const wake of this.waiting.get(key) ?? []) wake();
    });
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
  }

  /** Resolves when a message names `key`, or after `ms`, whichever comes first. */
  next(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.waiting.get(key);
      if (!waiters) this.waiting.set(key, (waiters = new Set()));
      const wake = () => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) this.waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiters.add(wake);
    });
  }
}
