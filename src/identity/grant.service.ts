import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { isUuid } from '../platform/ids.ts';
import { hasPrivilege, requirePrivilege } from '../access/access.ts';
import type { Actor } from '../access/actor.ts';
import { adoptGrant, deleteGrant, findGrantByScope, insertGrant, updateGrantLevel } from '../access/grant.store.ts';
import { findNamedGrant, listNamedGrants, nameGrants, type NamedGrant } from './named-grants.ts';
import { findPartitionByName } from '../objects/partition.store.ts';
import { isPrivilege, isSystemOnly, PRIVILEGES, SYSTEM, type GrantLevel, type Privilege, type Scope } from '../access/privilege.ts';
import { findUserByName } from './user.store.ts';
import type { GrantView } from './grant.views.ts';

export const presentGrant = (row: NamedGrant): GrantView => ({
  id: row.id,
  username: row.username,
  privilege: row.privilege,
  level: row.level,
  partition: row.partitionName,
  grantedAt: row.grantedAt.toISOString(),
  grantedBy: row.grantedBy,
});

export interface GrantInput {
  readonly username: string;
  readonly privilege: string;
  readonly level: GrantLevel;
  /** Partition name; omitted or null for system-wide. */
  readonly partition?: string | null;
}

/**
 * Grants and revocations. Only a holder of the privilege at Admin level may grant or revoke it,
 * and only within the scope of that Admin grant: a partition admin cannot grant system-wide.
 */
export class GrantService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly clock: Clock }) {}

  async grant(actor: Actor, input: GrantInput): Promise<GrantView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const privilege = checkedPrivilege(input.privilege);
      const scope = await this.scopeOf(trx, actor, input.partition ?? null, privilege);
      const user = await findUserByName(trx, input.username);
      if (!user) throw errors.notFound('user', input.username);
      const now = this.deps.clock.now();
      const existing = await findGrantByScope(trx, user.id, privilege, scope.partitionId);
      let id: string;
      if (existing) {
        if (existing.level === input.level && existing.source === 'manual') return presentGrant((await nameGrants(trx, [existing]))[0] as NamedGrant);
        // Granting what the provider's groups gave makes it the administrator's: no sign-in removes it then.
        if (existing.level === input.level) await adoptGrant(trx, existing.id, now, actor.username);
        else await updateGrantLevel(trx, existing.id, input.level, now, actor.username);
        id = existing.id;
      } else {
        id = randomUUID();
        await insertGrant(trx, { id, userId: user.id, privilege, level: input.level, partitionId: scope.partitionId, grantedAt: now, grantedBy: actor.username });
      }
      await appendEvent(trx, {
        actor: actor.username,
        action: 'grant.create',
        subject: `user:${user.username}`,
        data: { privilege, level: input.level, partition: input.partition ?? null },
        time: now,
      });
      return presentGrant((await findNamedGrant(trx, id)) as NamedGrant);
    });
  }

  async revoke(actor: Actor, grantId: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const grant = isUuid(grantId) ? await findNamedGrant(trx, grantId) : undefined;
      if (!grant || !(await hasPrivilege(trx, actor, grant.privilege, grant, 'admin'))) throw errors.notFound('grant', grantId);
      await deleteGrant(trx, grant.id);
      await appendEvent(trx, {
        actor: actor.username,
        action: 'grant.revoke',
        subject: `user:${grant.username}`,
        data: { privilege: grant.privilege, level: grant.level, partition: grant.partitionName },
        time: this.deps.clock.now(),
      });
    });
  }

  /**
   * Grants the caller may see: all of them for a `User.Admin`; otherwise their own and those of
   * privileges they administer.
   */
  async list(actor: Actor, filter: { username?: string; privilege?: string } = {}): Promise<GrantView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      let userId: string | undefined;
      if (filter.username) {
        const user = await findUserByName(trx, filter.username);
        if (!user) return [];
        userId = user.id;
      }
      const rows = await listNamedGrants(trx, { userId, privilege: filter.privilege });
      if (await hasPrivilege(trx, actor, 'User.Admin', SYSTEM)) return rows.map(presentGrant);
      const administered = (await listNamedGrants(trx, { userId: actor.userId })).filter((grant) => grant.level === 'admin');
      const visible = rows.filter(
        (row) =>
          row.userId === actor.userId ||
          administered.some((own) => own.privilege === row.privilege && (own.partitionId === null || own.partitionId === row.partitionId)),
      );
      return visible.map(presentGrant);
    });
  }

  /** The privileges a user holds, for `GET /me`. */
  async mine(actor: Actor): Promise<GrantView[]> {
    return this.deps.db.transaction().execute(async (trx) => (await listNamedGrants(trx, { userId: actor.userId })).map(presentGrant));
  }

  /**
   * The scope a grant names. The privilege check comes before "no such partition", so a caller
   * without Admin level learns nothing about which partitions exist.
   */
  private async scopeOf(trx: Tx, actor: Actor, partitionName: string | null, privilege: Privilege): Promise<Scope> {
    if (partitionName === null) {
      await requirePrivilege(trx, actor, privilege, SYSTEM, 'admin');
      return SYSTEM;
    }
    if (isSystemOnly(privilege)) {
      throw errors.validation(`${privilege} applies to the whole installation: grant it system-wide (without a partition).`, [
        { path: '/partition', message: 'must be omitted for this privilege' },
      ]);
    }
    const partition = await findPartitionByName(trx, partitionName);
    await requirePrivilege(trx, actor, privilege, partition ? { partitionId: partition.id } : SYSTEM, 'admin');
    if (!partition) throw errors.notFound('partition', partitionName);
    return { partitionId: partition.id };
  }
}

function checkedPrivilege(name: string): Privilege {
  if (isPrivilege(name)) return name;
  throw errors.validation(`"${name}" is not a privilege. GET /api/v1/privileges lists them all.`, [
    { path: '/privilege', message: `expected one of ${PRIVILEGES.join(', ')}` },
  ]);
}
