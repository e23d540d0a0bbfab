import type { Selectable } from 'kysely';
import { fromJson, tableWriter, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { WebhookTable } from '../platform/tables/notifications.ts';
import type { Webhook } from './webhook.ts';

type WebhookRow = Selectable<WebhookTable>;

function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    partitionId: row.partition_id,
    name: row.name,
    applicationId: row.application_id,
    url: row.url,
    secret: row.secret,
    kinds: row.kinds,
    enabled: row.enabled,
    version: row.version,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function toRow(webhook: Webhook) {
  return {
    partition_id: webhook.partitionId,
    name: webhook.name,
    application_id: webhook.applicationId,
    url: webhook.url,
    secret: webhook.secret,
    kinds: [...webhook.kinds],
    enabled: webhook.enabled,
    version: webhook.version,
    updated_at: webhook.updatedAt,
    updated_by: webhook.updatedBy,
  };
}

/**
 * How the object store writes webhooks. Events say that the secret or the URL changed, never their
 * value: many receivers (chat services among them) take a token in the URL's path or query.
 */
export const webhookKind: ObjectKind<Webhook> = {
  type: 'Webhook',
  event: 'webhook',
  restore: { create: 'User.Admin', edit: 'User.Admin', delete: 'User.Admin', scope: 'system' },
  secretFields: ['secret', 'url'],
  ...tableWriter('webhook', toRow),
  find: (db, id) => findWebhook(db, id),
  fromSnapshot: (json) => fromJson<Webhook>(json),
  references: () => [],
  async keyHolders(db, webhook) {
    const holder = await findWebhookByName(db, webhook.name);
    return holder && holder.id !== webhook.id ? [`another webhook is now named ${webhook.name}`] : [];
  },
};

export async function findWebhook(db: Executor, id: string): Promise<Webhook | undefined> {
  const row = await db.selectFrom('webhook').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toWebhook(row);
}

export async function findWebhookByName(db: Executor, name: string): Promise<Webhook | undefined> {
  const row = await db.selectFrom('webhook').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toWebhook(row);
}

export async function listWebhooks(db: Executor): Promise<Webhook[]> {
  return (await db.selectFrom('webhook').selectAll().orderBy('name').execute()).map(toWebhook);
}

/** The enabled webhooks that receive notices of this kind: those listing it, and those listing none (all kinds). */
export async function subscribedWebhookIds(db: Executor, kind: string): Promise<string[]> {
  const rows = await db
    .selectFrom('webhook')
    .select('id')
    .where('enabled', '=', true)
    .where((eb) => eb.or([eb(eb.fn('cardinality', ['kinds']), '=', 0), eb(eb.val(kind), '=', eb.fn.any('kinds'))]))
    .orderBy('name')
    .execute();
  return rows.map((row) => row.id);
}
