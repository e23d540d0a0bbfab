import type { Kysely } from 'kysely';
import type { ObjectStore } from '../objects/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { hasPrivilege, partitionsWith, requireObjectPrivilege, requirePrivilege } from '../access/access.ts';
import type { Actor } from '../access/actor.ts';
import {
  applicationKind,
  countApplicationsIn,
  findApplication,
  findApplicationObject,
  findPartitionByName,
  findPartitionObject,
  globalPartitionId,
  groupApplicationUsers,
  hasSubApplications,
  listApplications,
  listApplicationUsers,
  listPartitions,
  partitionKind,
  type ApplicationUserGroup,
  type ApplicationUserKind,
  type ApplicationWithPartition,
} from '../objects/partition.store.ts';
import type { ApplicationUser } from '../objects/object-store.ts';
import { inPartition, SYSTEM, type Privilege } from '../access/privilege.ts';
import { APPLICATION_NAME, GLOBAL_PARTITION, PARTITION_NAME, type Partition } from '../objects/partition.ts';
import type { ApplicationView, PartitionView } from './partition.views.ts';

/** At most this many objects are named when an application still in use cannot be deleted. */
export const MAX_USERS_LISTED = 20;

interface ViewPrivilege {
  readonly privilege: Privilege;
  readonly systemWide?: true;
  readonly type: string;
}

/** The privilege that lets a caller see an object of each kind, so a refusal names only those. */
const VIEW_PRIVILEGE: Record<ApplicationUserKind, ViewPrivilege> = {
  Device: { privilege: 'Device.View', type: 'Device' },
  Credential: { privilege: 'Credential.View', type: 'Credential' },
  AccessGroup: { privilege: 'AccessGroup.View', type: 'AccessGroup' },
  Change: { privilege: 'Change.View', type: 'Change' },
  Webhook: { privilege: 'User.Admin', systemWide: true, type: 'Webhook' },
  AuditRule: { privilege: 'AuditingRule.View', type: 'AuditRule' },
  'Filter:AuditEntry': { privilege: 'AuditTrail.View', type: 'Filter' },
  'Filter:AuditRule': { privilege: 'AuditingRule.View', type: 'Filter' },
};

/** How a caller may see an object of a kind that uses an application; a kind not known here is counted, never named. */
const viewPrivilegeOf = (kind: string): ViewPrivilege | undefined => (VIEW_PRIVILEGE as Partial<Record<string, ViewPrivilege>>)[kind];

const objectColumns = (object: Partition | ApplicationWithPartition) => ({
  id: object.id,
  name: object.name,
  description: object.description,
  version: object.version,
  createdAt: object.createdAt.toISOString(),
  createdBy: object.createdBy,
  updatedAt: object.updatedAt.toISOString(),
  updatedBy: object.updatedBy,
});

export const presentPartition = (partition: Partition): PartitionView => objectColumns(partition);

export const presentApplication = (application: ApplicationWithPartition): ApplicationView => ({
  ...objectColumns(application),
  partition: application.partitionName,
  parent: application.name.includes('/') ? application.name.slice(0, application.name.lastIndexOf('/')) : null,
});

/**
 * Partitions and the applications inside them. Every write goes through the object store: versioned,
 * in the event log, and captured by the audit rules (partitions as objects of GLOBAL).
 */
export class PartitionService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly clock: Clock; readonly objects: ObjectStore }) {}

  async listPartitions(actor: Actor): Promise<PartitionView[]> {
    return this.deps.db.transaction().execute(async (trx) => (await listPartitions(trx, await partitionsWith(trx, actor, 'Partition.View'))).map(presentPartition));
  }

  async getPartition(actor: Actor, name: string): Promise<PartitionView> {
    return this.deps.db.transaction().execute(async (trx) => presentPartition(await this.visiblePartition(trx, actor, name, 'Partition.View')));
  }

  async createPartition(actor: Actor, input: { name: string; description?: string }): Promise<PartitionView> {
    return this.deps.db.transaction().execute(async (trx) => {
      await requirePrivilege(trx, actor, 'Partition.Create', SYSTEM);
      if (!PARTITION_NAME.test(input.name)) {
        throw errors.validation('The partition name is not valid.', [{ path: '/name', message: 'letters, digits, "_" and "-", at most 64, no dot' }]);
      }
      if (await findPartitionByName(trx, input.name)) throw errors.alreadyExists('partition', input.name);
      const fields = { partitionId: await globalPartitionId(trx), applicationId: null, name: input.name, description: input.description ?? '' };
      await this.deps.objects.create(trx, partitionKind, fields, actor);
      return presentPartition(await this.reread(trx, input.name));
    });
  }

  async updatePartition(actor: Actor, name: string, input: { description: string }): Promise<PartitionView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partition = await this.visiblePartition(trx, actor, name, 'Partition.View');
      await requirePrivilege(trx, actor, 'Partition.Edit', inPartition(partition.id));
      await this.deps.objects.update(trx, partitionKind, await this.object(trx, partition.id), { description: input.description }, actor);
      return presentPartition(await this.reread(trx, name));
    });
  }

  async deletePartition(actor: Actor, name: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const partition = await this.visiblePartition(trx, actor, name, 'Partition.View');
      await requirePrivilege(trx, actor, 'Partition.Delete', inPartition(partition.id));
      if (partition.name === GLOBAL_PARTITION) throw errors.conflict('The GLOBAL partition always exists and cannot be deleted.');
      const applications = await countApplicationsIn(trx, partition.id);
      if (applications > 0) throw errors.conflict(`Partition ${name} still holds ${applications} application(s): delete or move them first.`);
      const held = await this.deps.objects.heldIn(trx, partition.id);
      if (held.length > 0) throw errors.conflict(`Partition ${name} still holds objects (${held.join(', ')}): delete or move them first.`);
      await this.deps.objects.delete(trx, partitionKind, await this.object(trx, partition.id), actor);
    });
  }

  async listApplications(actor: Actor, filter: { partition?: string } = {}): Promise<ApplicationView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const visible = await partitionsWith(trx, actor, 'Application.View');
      let partitionId: string | undefined;
      if (filter.partition) {
        const partition = await findPartitionByName(trx, filter.partition);
        if (!partition) return [];
        partitionId = partition.id;
      }
      return (await listApplications(trx, visible, partitionId)).map(presentApplication);
    });
  }

  async getApplication(actor: Actor, partition: string, name: string): Promise<ApplicationView> {
    return this.deps.db.transaction().execute(async (trx) => presentApplication(await this.visibleApplication(trx, actor, partition, name)));
  }

  /** Creates `Finance/Reporting` inside partition `GLOBAL`; its parent `Finance` must exist first. */
  async createApplication(actor: Actor, input: { partition: string; name: string; description?: string }): Promise<ApplicationView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partition = await findPartitionByName(trx, input.partition);
      // Check first, so a caller without the privilege cannot tell which partitions exist.
      await requirePrivilege(trx, actor, 'Application.Create', partition ? inPartition(partition.id) : SYSTEM);
      if (!partition) throw errors.notFound('partition', input.partition);
      if (!APPLICATION_NAME.test(input.name)) {
        throw errors.validation('The application name is not valid.', [
          { path: '/name', message: 'segments of letters, digits, space, ".", "_" and "-", joined by "/", such as Finance/Reporting' },
        ]);
      }
      if (await findApplication(trx, partition.id, input.name)) throw errors.alreadyExists('application', `${input.partition}.${input.name}`);
      const parent = input.name.includes('/') ? input.name.slice(0, input.name.lastIndexOf('/')) : undefined;
      if (parent && !(await findApplication(trx, partition.id, parent))) {
        throw errors.validation(`Create the parent application "${parent}" first.`, [{ path: '/name', message: `parent "${parent}" does not exist` }]);
      }
      await this.deps.objects.create(trx, applicationKind, { partitionId: partition.id, applicationId: null, name: input.name, description: input.description ?? '' }, actor);
      return presentApplication(await this.rereadApplication(trx, partition.id, input.name));
    });
  }

  async updateApplication(actor: Actor, partition: string, name: string, input: { description: string }): Promise<ApplicationView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const application = await this.visibleApplication(trx, actor, partition, name);
      await requirePrivilege(trx, actor, 'Application.Edit', inPartition(application.partitionId));
      await this.deps.objects.update(trx, applicationKind, await this.applicationObject(trx, application.id), { description: input.description }, actor);
      return presentApplication(await this.rereadApplication(trx, application.partitionId, name));
    });
  }

  async deleteApplication(actor: Actor, partition: string, name: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const application = await this.visibleApplication(trx, actor, partition, name);
      await requirePrivilege(trx, actor, 'Application.Delete', inPartition(application.partitionId));
      if (await hasSubApplications(trx, application.partitionId, name)) throw errors.conflict(`Application ${name} has sub-applications: delete them first.`);
      const users = await this.deps.objects.applicationUsers(trx, application.id);
      if (users.length > 0) throw await this.inUse(trx, actor, application, users);
      try {
        await this.deps.objects.delete(trx, applicationKind, await this.applicationObject(trx, application.id), actor);
      } catch (error) {
        // A table that refers to applications whose kind declares no placement.
        if ((error as { code?: unknown }).code === '23503') throw errors.applicationInUse(`${partition}.${name}`, null);
        throw error;
      }
    });
  }

  /** The 409 for an application objects still use: all are counted, only those the caller may see are named. */
  private async inUse(trx: Tx, actor: Actor, application: ApplicationWithPartition, users: readonly ApplicationUser[]) {
    const groups = groupApplicationUsers(users);
    const visible: ApplicationUserGroup[] = [];
    for (const group of groups) {
      const view = viewPrivilegeOf(group.kind);
      if (view && (await hasPrivilege(trx, actor, view.privilege, view.systemWide ? SYSTEM : inPartition(group.partitionId)))) visible.push(group);
    }
    const listed = await listApplicationUsers(trx, users, visible, MAX_USERS_LISTED);
    const count = groups.reduce((total, group) => total + group.count, 0);
    const objects = listed.map((user) => ({ type: viewPrivilegeOf(user.kind)?.type ?? user.kind, businessKey: `${user.partitionName}.${user.name}` }));
    return errors.applicationInUse(`${application.partitionName}.${application.name}`, count, objects);
  }

  private async visiblePartition(trx: Tx, actor: Actor, name: string, privilege: 'Partition.View'): Promise<Partition> {
    const partition = await findPartitionByName(trx, name);
    if (!partition) throw errors.notFound('partition', name);
    await requireObjectPrivilege(trx, actor, privilege, inPartition(partition.id), { what: 'partition', key: name });
    return partition;
  }

  private async visibleApplication(trx: Tx, actor: Actor, partitionName: string, name: string): Promise<ApplicationWithPartition> {
    const key = `${partitionName}.${name}`;
    const partition = await findPartitionByName(trx, partitionName);
    const application = partition && (await findApplication(trx, partition.id, name));
    if (!application) throw errors.notFound('application', key);
    await requireObjectPrivilege(trx, actor, 'Application.View', inPartition(application.partitionId), { what: 'application', key });
    return application;
  }

  private async object(trx: Tx, id: string) {
    const partition = await findPartitionObject(trx, id);
    if (!partition) throw errors.notFound('partition', id);
    return partition;
  }

  private async applicationObject(trx: Tx, id: string) {
    const application = await findApplicationObject(trx, id);
    if (!application) throw errors.notFound('application', id);
    return application;
  }

  private async reread(trx: Tx, name: string): Promise<Partition> {
    const row = await findPartitionByName(trx, name);
    if (!row) throw errors.notFound('partition', name);
    return row;
  }

  private async rereadApplication(trx: Tx, partitionId: string, name: string): Promise<ApplicationWithPartition> {
    const row = await findApplication(trx, partitionId, name);
    if (!row) throw errors.notFound('application', name);
    return row;
  }
}
