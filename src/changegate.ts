import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { Type } from 'typebox';
import { EventLogService, eventRoutes } from './eventlog/index.ts';
import {
  AuthService,
  authRoutes,
  bootstrapInstallation,
  GrantService,
  grantRoutes,
  PartitionService,
  partitionRoutes,
  registerAuthentication,
  UserService,
  userRoutes,
  type BootstrapResult,
} from './identity/index.ts';
import { systemClock, type Clock } from './platform/clock.ts';
import type { Config } from './platform/config.ts';
import { migrate, openDatabase, type DatabaseHandle } from './platform/database.ts';
import { errors } from './platform/errors.ts';
import { API_PREFIX, createHttpServer, type Api } from './platform/http.ts';
import { createLogger, type Logger } from './platform/logger.ts';
import { loadOrCreateKeyFile, parseMasterKey, SecretBox } from './platform/secret-box.ts';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface Services {
  readonly auth: AuthService;
  readonly users: UserService;
  readonly grants: GrantService;
  readonly partitions: PartitionService;
  readonly events: EventLogService;
}

/** One running Changegate: its database, services and HTTP app, not yet listening. */
export interface Changegate {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly services: Services;
  readonly app: Api;
  readonly bootstrap: BootstrapResult;
  readonly masterKeyCreated: boolean;
  /** Stops accepting requests, lets those under way finish, then closes the database. */
  close(): Promise<void>;
}

export interface ChangegateOptions {
  readonly config: Config;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** An already open database (tests); otherwise the one the configuration names. */
  readonly database?: DatabaseHandle;
}

/** Opens the database, applies migrations, prepares the first start, and builds the services and the HTTP app. */
export async function createChangegate(options: ChangegateOptions): Promise<Changegate> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const database =
    options.database ??
    (await openDatabase(config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: config.dataDir }));
  try {
    await migrate(database.db);
    const { secrets, created: masterKeyCreated } = await openSecretBox(config);
    const bootstrap = await bootstrapInstallation(database.db, clock, { adminPassword: config.adminPassword });
    const db = database.db;
    const services: Services = {
      auth: new AuthService({ db, clock, secrets, policy: config }),
      users: new UserService({ db, clock }),
      grants: new GrantService({ db, clock }),
      partitions: new PartitionService({ db, clock }),
      events: new EventLogService({ db }),
    };
    const app = await createHttpServer({ logger, version: VERSION });
    await app.register(
      async (api) => {
        registerAuthentication(api, services.auth);
        healthRoute(api, database);
        authRoutes(api, { ...services, cookieSecure: config.cookieSecure });
        userRoutes(api, services.users);
        grantRoutes(api, services.grants);
        partitionRoutes(api, services.partitions);
        eventRoutes(api, services.events);
      },
      { prefix: API_PREFIX },
    );
    await app.ready();
    return {
      config,
      database,
      services,
      app,
      bootstrap,
      masterKeyCreated,
      close: async () => {
        await app.close();
        await database.close();
      },
    };
  } catch (error) {
    if (!options.database) await database.close();
    throw error;
  }
}

async function openSecretBox(config: Config): Promise<{ secrets: SecretBox; created: boolean }> {
  if (config.masterKey) return { secrets: new SecretBox(parseMasterKey(config.masterKey) as Buffer), created: false };
  await mkdir(config.dataDir, { recursive: true });
  const { key, created } = await loadOrCreateKeyFile(path.join(config.dataDir, 'master.key'));
  return { secrets: new SecretBox(key), created };
}

function healthRoute(app: Api, database: DatabaseHandle): void {
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness and database reachability; needs no sign-in',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), database: Type.String() }) },
      },
    },
    async () => {
      try {
        await sql`SELECT 1`.execute(database.db);
      } catch {
        throw errors.unavailable('The database does not answer.');
      }
      return { status: 'ok' as const, version: VERSION, database: database.kind };
    },
  );
}
