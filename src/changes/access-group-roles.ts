import type { AccessGroupRole, AccessGroupRoles } from '../identity/index.ts';
import { partitionNamesByIds } from '../objects/index.ts';
import type { Executor } from '../platform/database.ts';
import { accessGroupsWithMember } from './access-group.store.ts';

/**
 * A user's roles in access groups, for identity's rule that a user administrator may act only on
 * accounts holding nothing beyond their own powers: an executor reaches devices with vaulted
 * credentials, an approver lets requests through.
 */
export const accessGroupRoles: AccessGroupRoles = {
  async rolesOf(db: Executor, userId: string): Promise<AccessGroupRole[]> {
    // Groups come by name; a stable sort by their partition's place in the name order puts them
    // by partition, then name, as the database orders names.
    const groups = await accessGroupsWithMember(db, userId);
    const partitions = await partitionNamesByIds(db, groups.map((group) => group.partitionId));
    const rank = new Map([...partitions.keys()].map((id, index) => [id, index]));
    const byPartition = [...groups].sort((a, b) => (rank.get(a.partitionId) ?? -1) - (rank.get(b.partitionId) ?? -1));
    return byPartition.flatMap((group) => {
      const base = { kind: 'role' as const, groupId: group.id, group: `${partitions.get(group.partitionId)}.${group.name}`, partitionId: group.partitionId };
      return [
        ...(group.executors.includes(userId) ? [{ ...base, role: 'executor' as const }] : []),
        ...(group.approvers.includes(userId) ? [{ ...base, role: 'approver' as const }] : []),
      ];
    });
  },
};
