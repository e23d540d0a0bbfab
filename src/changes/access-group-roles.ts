import { sql } from 'kysely';
import type { AccessGroupRole, AccessGroupRoles } from '../identity/index.ts';
import type { Executor } from '../platform/database.ts';

/**
 * A user's roles in access groups, for identity's rule that a user administrator may act only on
 * accounts holding nothing beyond their own powers: an executor reaches devices with vaulted
 * credentials, an approver lets requests through.
 */
export const accessGroupRoles: AccessGroupRoles = {
  async rolesOf(db: Executor, userId: string): Promise<AccessGroupRole[]> {
    const member = JSON.stringify([userId]);
    const rows = await db
      .selectFrom('access_group as g')
      .innerJoin('partition as p', 'p.id', 'g.partition_id')
      .select(['g.id', 'g.name', 'g.partition_id', 'p.name as partition_name'])
      .select(sql<boolean>`g.executors @> ${member}::jsonb`.as('is_executor'))
      .select(sql<boolean>`g.approvers @> ${member}::jsonb`.as('is_approver'))
      .where((eb) => eb.or([sql<boolean>`g.executors @> ${member}::jsonb`, sql<boolean>`g.approvers @> ${member}::jsonb`]))
      .orderBy('p.name')
      .orderBy('g.name')
      .execute();
    return rows.flatMap((row) => {
      const base = { kind: 'role' as const, groupId: row.id, group: `${row.partition_name}.${row.name}`, partitionId: row.partition_id };
      return [...(row.is_executor ? [{ ...base, role: 'executor' as const }] : []), ...(row.is_approver ? [{ ...base, role: 'approver' as const }] : [])];
    });
  },
};
