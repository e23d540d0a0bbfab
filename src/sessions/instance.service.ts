import type { Kysely } from 'kysely';
import { requirePrivilege, SYSTEM, type Actor } from '../access/index.ts';
import type { Database } from '../platform/database.ts';
import { presentInstance, type InstanceRegistry } from '../platform/instances.ts';
import type { InstanceView } from '../platform/instance.views.ts';

/**
 * The Changegate instances serving the database, as an administrator sees them: where each runs,
 * since when, and whether it serves, drains, went silent (its sessions are then marked
 * interrupted) or stopped. The registry is the platform's; the gateway's sessions are what it is for.
 */
export class InstanceService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly registry: Pick<InstanceRegistry, 'list'> }) {}

  /** Every registered instance with its status. Needs User.Admin: host names and ports are the operators' business. */
  async list(actor: Actor): Promise<InstanceView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'User.Admin', SYSTEM);
      return (await this.deps.registry.list(trx)).map(presentInstance);
    });
  }
}
