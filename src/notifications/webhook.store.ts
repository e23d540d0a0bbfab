import { fromJson, objectTable, type ObjectKind } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import type { Webhook } from './webhook.ts';

/** Webhooks as stored: the table maps the shared columns, these the webhook's own. */
const webhooks = objectTable<Webhook, 'webhook'>('webhook', {
  fromRow: (row) => ({ url: row.url, secret: row.secret, kinds: row.kinds, enabled: row.enabled }),
  toRow: (webhook) => ({ url: webhook.url, secret: webhook.secret, kinds: [...webhook.kinds], enabled: webhook.enabled }),
});

export const findWebhook = webhooks.find;
/** The webhook with this name: webhooks are system-wide, their names unique everywhere. */
export const findWebhookByName = webhooks.findByName;

export async function listWebhooks(db: Executor): Promise<Webhook[]> {
  return webhooks.list(db, 'all');
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
  ...webhooks.storage,
  fromSnapshot: (json) => fromJson<Webhook>(json),
  references: () => [],
  async keyHolders(db, webhook) {
    const holder = await findWebhookByName(db, webhook.name);
    return holder && holder.id !== webhook.id ? [`another webhook is now named ${webhook.name}`] : [];
  },
};

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
