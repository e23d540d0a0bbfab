import { sql } from 'kysely';
import { Type } from 'typebox';
import { pendingMigrations, type DatabaseHandle } from './database.ts';
import { AppError, errors } from './errors.ts';
import type { Api } from './http.ts';
import { LivenessViewSchema, NotReadyViewSchema, ReadinessViewSchema, type LivenessView, type NotReadyView, type ReadinessView } from './instance.views.ts';
import { VERSION } from './version.ts';

/** What the readiness check asks of this instance: its id, and since when it drains (undefined while it serves). */
export interface ReadinessSource {
  readonly id: string;
  readonly drainingSince: Date | undefined;
}

const tags = ['health'];

/**
 * Health checks; none needs a sign-in. `/health/live` says the process answers (a restart is due
 * when it does not); `/health/ready` says the instance should get traffic: the database answers,
 * it holds every migration this version has, and the instance is not draining. A load balancer
 * sends new connections only to ready instances.
 */
export function healthRoutes(app: Api, deps: { readonly database: DatabaseHandle; readonly instance: ReadinessSource }): void {
  const { database, instance } = deps;
  app.get(
    '/health',
    {
      schema: {
        tags,
        summary: 'Liveness and database reachability; needs no sign-in',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok'), version: Type.String(), database: Type.String() }) },
      },
    },
    async () => {
      await databaseAnswers(database);
      return { status: 'ok' as const, version: VERSION, database: database.kind };
    },
  );

  app.get(
    '/health/live',
    { schema: { tags, summary: 'The process answers: 200 as long as it runs, whatever the database does', security: [], response: { 200: LivenessViewSchema } } },
    async (): Promise<LivenessView> => ({ status: 'live', version: VERSION }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags,
        summary: 'Ready for traffic: the database answers, every migration is applied, and the instance is not draining; otherwise 503 with why',
        security: [],
        response: { 200: ReadinessViewSchema, 503: NotReadyViewSchema },
      },
    },
    async (_request, reply) => {
      const problem = await unreadiness(database, instance);
      // Answered, not thrown: a load balancer asks every few seconds, and a draining instance is
      // no failure for the server log.
      if (problem) return reply.status(503).send(problem);
      const ready: ReadinessView = { status: 'ready', instance: instance.id, version: VERSION, database: database.kind };
      return ready;
    },
  );
}

async function databaseAnswers(database: DatabaseHandle): Promise<void> {
  try {
    await sql`SELECT 1`.execute(database.db);
  } catch {
    throw errors.unavailable('The database does not answer.');
  }
}

/** Why the instance should get no traffic now, if it should not: the answer's body. */
async function unreadiness(database: DatabaseHandle, instance: ReadinessSource): Promise<NotReadyView | undefined> {
  if (instance.drainingSince) return notReady(errors.instanceDraining(instance.drainingSince));
  let pending: string[];
  try {
    await sql`SELECT 1`.execute(database.db);
    pending = await pendingMigrations(database.db);
  } catch {
    return notReady(errors.unavailable('The database does not answer.'));
  }
  return pending.length > 0 ? notReady(errors.migrationsPending(pending), { migrations: pending }) : undefined;
}

function notReady(error: AppError<'unavailable' | 'migrations_pending' | 'instance_draining'>, details?: { migrations: string[] }): NotReadyView {
  return { error: { code: error.code, message: error.message, ...(details && { details }) } };
}
