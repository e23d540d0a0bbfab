import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ObjectStore } from '../objects/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findPartitionByName, GLOBAL_PARTITION } from '../objects/index.ts';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Clock } from '../platform/clock.ts';
import { isUniqueViolation, type Database, type Tx } from '../platform/database.ts';
import { errors, type FieldProblem } from '../platform/errors.ts';
import type { OutboundAddresses } from '../platform/outbound-address.ts';
import type { SecretBox } from '../platform/secret-box.ts';
import { presentDelivery, type DeliveryView } from './delivery.ts';
import { findDelivery, insertDeliveries } from './delivery.store.ts';
import { insertNotice } from './notification.store.ts';
import {
  generateWebhookSecret,
  normalizeKinds,
  presentWebhook,
  secretContext,
  WEBHOOK_TEST_KIND,
  webhookProblems,
  type Webhook,
  type WebhookView,
} from './webhook.ts';
import { findWebhook, findWebhookByName, listWebhooks, webhookKind } from './webhook.store.ts';
import type { WebhookWithSecret } from './webhook.views.ts';

export interface WebhookServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  readonly secrets: SecretBox;
  /** The addresses a webhook may reach: its URL's host is resolved and checked at each save. */
  readonly addresses: OutboundAddresses;
  /** Called after a commit that queued a delivery, so the dispatcher sends it now rather than at its next poll. */
  readonly wake?: () => void;
}

export interface NewWebhook {
  readonly name: string;
  readonly url: string;
  /** Notice kinds to receive; empty or absent means all. */
  readonly kinds?: readonly string[];
  readonly enabled?: boolean;
  /** The HMAC secret; absent generates one. Either way it is answered once, here, and never again. */
  readonly secret?: string;
}

export interface WebhookPatch {
  readonly name?: string;
  readonly url?: string;
  readonly kinds?: readonly string[];
  readonly enabled?: boolean;
  /** The version the caller last read: a webhook changed since answers 409 instead of being overwritten. */
  readonly expectedVersion?: number;
}

/**
 * Webhooks: where notices are POSTed. Managing them needs `User.Admin` system-wide; every write
 * goes through the object store (version, event, audit rules). The secret is sealed at rest and
 * appears in no answer but the one that set it, and in no event.
 */
export class WebhookService {
  constructor(private readonly deps: WebhookServiceDeps) {}

  async list(actor: Actor): Promise<WebhookView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      return (await listWebhooks(trx)).map(presentWebhook);
    });
  }

  async get(actor: Actor, id: string): Promise<WebhookView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      return presentWebhook(await this.existing(trx, id));
    });
  }

  async create(actor: Actor, input: NewWebhook): Promise<WebhookWithSecret> {
    await this.requireAdministrator(actor);
    const problems = await this.problems(input);
    if (problems.length > 0) throw errors.validation('The webhook cannot be created: fix the fields listed.', problems);
    return this.uniqueName(input.name, () =>
      this.deps.db.transaction().execute(async (trx) => {
        await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
        if (await findWebhookByName(trx, input.name)) throw errors.alreadyExists('webhook', input.name);
        const partition = await findPartitionByName(trx, GLOBAL_PARTITION);
        if (!partition) throw new Error(`the ${GLOBAL_PARTITION} partition is missing`);
        const id = randomUUID();
        const secret = input.secret ?? generateWebhookSecret();
        const webhook = await this.deps.objects.create(
          trx,
          webhookKind,
          {
            partitionId: partition.id,
            applicationId: null,
            name: input.name,
            url: input.url,
            secret: this.deps.secrets.seal(secret, secretContext(id)),
            kinds: normalizeKinds(input.kinds ?? []),
            enabled: input.enabled ?? true,
          },
          actor,
          { id },
        );
        return { webhook: presentWebhook(webhook), secret };
      }),
    );
  }

  async update(actor: Actor, id: string, patch: WebhookPatch): Promise<WebhookView> {
    await this.requireAdministrator(actor);
    const problems = await this.problems(patch);
    if (problems.length > 0) throw errors.validation('The webhook cannot be saved: fix the fields listed.', problems);
    return this.uniqueName(patch.name, () =>
      this.deps.db.transaction().execute(async (trx) => {
        await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
        const webhook = await this.existing(trx, id);
        if (patch.name !== undefined && patch.name !== webhook.name && (await findWebhookByName(trx, patch.name))) {
          throw errors.alreadyExists('webhook', patch.name);
        }
        const updated = await this.deps.objects.update(
          trx,
          webhookKind,
          webhook,
          {
            ...(patch.name !== undefined && { name: patch.name }),
            ...(patch.url !== undefined && { url: patch.url }),
            ...(patch.kinds !== undefined && { kinds: normalizeKinds(patch.kinds) }),
            ...(patch.enabled !== undefined && { enabled: patch.enabled }),
          },
          actor,
          { expectedVersion: patch.expectedVersion },
        );
        return presentWebhook(updated);
      }),
    );
  }

  /**
   * The privilege check before a URL is checked: resolving its name can take seconds, so it runs
   * outside any transaction (one would hold a database connection all that time), and only for
   * those who may save webhooks. The write's transaction checks the privilege again.
   */
  private async requireAdministrator(actor: Actor): Promise<void> {
    await this.deps.db.transaction().execute((trx) => requirePrivilege(trx, actor, 'User.Admin', SYSTEM));
  }

  /** Deletes a webhook with its deliveries, sent or not. */
  async remove(actor: Actor, id: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const webhook = await this.existing(trx, id);
      await this.deps.objects.delete(trx, webhookKind, webhook, actor, { expectedVersion });
    });
  }

  /** Replaces the secret with the one given or a generated one, answered once. */
  async rotateSecret(actor: Actor, id: string, secret?: string): Promise<WebhookWithSecret> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const webhook = await this.existing(trx, id);
      const problems = webhookProblems({ ...(secret !== undefined && { secret }) });
      if (problems.length > 0) throw errors.validation('The secret cannot be used.', problems);
      const next = secret ?? generateWebhookSecret();
      const updated = await this.deps.objects.update(trx, webhookKind, webhook, { secret: this.deps.secrets.seal(next, secretContext(id)) }, actor);
      return { webhook: presentWebhook(updated), secret: next };
    });
  }

  /** Queues a `webhook.test` notice for this webhook alone, enabled or not, and answers its delivery. */
  async test(actor: Actor, id: string): Promise<DeliveryView> {
    const delivery = await this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      const webhook = await this.existing(trx, id);
      const now = this.deps.clock.now();
      const noticeId = randomUUID();
      const deliveryId = randomUUID();
      await insertNotice(trx, {
        id: noticeId,
        kind: WEBHOOK_TEST_KIND,
        title: `Test of webhook ${webhook.name}`,
        body: `${actor.username} sent this test to check that the receiver gets and verifies Changegate's webhooks.`,
        link: null,
        data: { webhook: webhook.name, requestedBy: actor.username },
        created_at: now,
      });
      await insertDeliveries(trx, [
        { id: deliveryId, notice_id: noticeId, channel: 'webhook', webhook_id: id, status: 'pending', attempts: 0, next_attempt_at: now, created_at: now },
      ]);
      await appendEvent(trx, { actor: actor.username, action: 'webhook.test', subject: `webhook:${GLOBAL_PARTITION}.${webhook.name}`, data: { id, deliveryId }, time: now });
      // A webhook call goes to no user: there is no username to show.
      return presentDelivery({ ...((await findDelivery(trx, deliveryId)) ?? unreachable(deliveryId)), username: null });
    });
    this.deps.wake?.();
    return delivery;
  }

  /**
   * The fields' problems, and where the URL leads: its host must resolve, and only to addresses a
   * webhook may reach. (Each delivery checks again: a name can resolve elsewhere later.)
   */
  private async problems(fields: NewWebhook | WebhookPatch): Promise<FieldProblem[]> {
    const problems = webhookProblems(fields);
    if (fields.url === undefined || problems.some((problem) => problem.path === '/url')) return problems;
    const checked = await this.deps.addresses.check(new URL(fields.url).hostname);
    if (checked.ok) return problems;
    const advice =
      checked.refused === undefined
        ? 'a webhook needs a host name that resolves to a public address'
        : 'webhooks reach public addresses only (an administrator can allow a network in CHANGEGATE_WEBHOOK_ALLOW)';
    // Where webhookProblems would have put it: after the name.
    const named = problems.filter((problem) => problem.path === '/name');
    return [...named, { path: '/url', message: `${checked.reason}: ${advice}` }, ...problems.slice(named.length)];
  }

  private async existing(trx: Tx, id: string): Promise<Webhook> {
    const webhook = await findWebhook(trx, id);
    if (!webhook) throw errors.notFound('webhook', id);
    return webhook;
  }

  /** Two administrators choosing the same new name at once: the loser hears "already exists", not a 500. */
  private async uniqueName<T>(name: string | undefined, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (name !== undefined && isUniqueViolation(error)) throw errors.alreadyExists('webhook', name);
      throw error;
    }
  }
}

function unreachable(id: string): never {
  throw new Error(`the delivery ${id} just inserted cannot be read back`);
}
