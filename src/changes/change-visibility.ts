import { partitionsWith, type Actor, type Privilege } from '../access/index.ts';
import type { Tx } from '../platform/database.ts';
import type { AccessGroup } from './access-group.ts';
import type { Change } from './change.ts';
import type { Device } from '../inventory/index.ts';

/**
 * What one user may see of the changes workflow while a request is made or decided, so an answer
 * names nothing they could not read through the API anyway. Executors and approvers hold no
 * privilege on devices, changes or groups, so being a member of a change's access group counts:
 *
 * - a **change**: `Change.View` in its partition, or being an executor or approver of its group;
 * - a **device**: `Device.View` in its partition, or seeing a change that includes it;
 * - an **access group**: `AccessGroup.View` in its partition, being one of its executors or
 *   approvers, or seeing a change that names it (the change shows its group).
 *
 * One instance serves one use case: it caches the caller's grants for the transaction.
 */
export class ChangeVisibility {
  private readonly grants = new Map<Privilege, Promise<'all' | string[]>>();

  constructor(
    private readonly trx: Tx,
    private readonly actor: Actor,
  ) {}

  isMember(group: AccessGroup): boolean {
    return group.executors.includes(this.actor.userId) || group.approvers.includes(this.actor.userId);
  }

  async change(change: Change, group: AccessGroup | undefined): Promise<boolean> {
    return (group !== undefined && this.isMember(group)) || this.holds('Change.View', change.partitionId);
  }

  /** `covering`: every change that includes the device, with its group. */
  async device(device: Device, covering: ReadonlyArray<{ change: Change; group: AccessGroup | undefined }>): Promise<boolean> {
    if (await this.holds('Device.View', device.partitionId)) return true;
    for (const { change, group } of covering) if (await this.change(change, group)) return true;
    return false;
  }

  /** `change`: a change the caller is answered about, which names the group. */
  async group(group: AccessGroup, change?: Change): Promise<boolean> {
    if (this.isMember(group) || (await this.holds('AccessGroup.View', group.partitionId))) return true;
    return change !== undefined && change.accessGroupId === group.id && this.holds('Change.View', change.partitionId);
  }

  private async holds(privilege: Privilege, partitionId: string): Promise<boolean> {
    let partitions = this.grants.get(privilege);
    if (!partitions) {
      partitions = partitionsWith(this.trx, this.actor, privilege);
      this.grants.set(privilege, partitions);
    }
    const granted = await partitions;
    return granted === 'all' || granted.includes(partitionId);
  }
}
