import type { Kysely } from 'kysely';
import { findByRef, type ObjectStore } from '../objects/index.ts';
import { inPartition, partitionsWith, requirePrivilege, type Actor } from '../access/index.ts';
import { partitionNamesByIds, resolvePlace } from '../objects/index.ts';
import { userIdsOf, usernamesByIds } from '../identity/index.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors, type FieldProblem } from '../platform/errors.ts';
import { GROUP_NAME, NO_COMMAND_POLICY, presentAccessGroup, type AccessGroup, type AccessGroupView, type CommandPolicySetting, type DeviationAlerts } from './access-group.ts';
import { checkCommandPolicy, type CommandPolicyInput } from './access-group-policy.ts';
import { accessGroupKind, findAccessGroupsNamed, listAccessGroups } from './access-group.store.ts';

export interface AccessGroupInput {
  readonly description?: string;
  /** Usernames. */
  readonly executors?: readonly string[];
  /** Usernames. */
  readonly approvers?: readonly string[];
  readonly requiresJustification?: boolean;
  readonly approvalsRequired?: number;
  readonly plannerMayExecute?: boolean;
  /** Replaces the group's command policy as a whole (`strict` false unless given). */
  readonly commandPolicy?: CommandPolicyInput;
  readonly deviationAlerts?: DeviationAlerts;
}

export interface NewAccessGroup extends AccessGroupInput {
  readonly name: string;
  readonly partition?: string;
  readonly application?: string | null;
}

/** Finds an access group by `name` or `PARTITION.name`. */
export function findAccessGroupByRef(trx: Tx, actor: Actor, ref: string): Promise<AccessGroup> {
  return findByRef(trx, actor, ref, { what: 'access group', privilege: 'AccessGroup.View', named: findAccessGroupsNamed });
}

/** Access groups: executors, approvers and the approval rule of the changes that name them. */
export class AccessGroupService {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly objects: ObjectStore }) {}

  async list(actor: Actor): Promise<AccessGroupView[]> {
    return this.deps.db.transaction().execute(async (trx) => this.present(trx, await listAccessGroups(trx, await partitionsWith(trx, actor, 'AccessGroup.View'))));
  }

  async get(actor: Actor, ref: string): Promise<AccessGroupView> {
    return this.deps.db.transaction().execute(async (trx) => (await this.present(trx, [await findAccessGroupByRef(trx, actor, ref)]))[0] as AccessGroupView);
  }

  async create(actor: Actor, input: NewAccessGroup): Promise<AccessGroupView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const place = await resolvePlace(trx, input);
      await requirePrivilege(trx, actor, 'AccessGroup.Create', inPartition(place.partitionId));
      const problems: FieldProblem[] = [];
      if (!GROUP_NAME.test(input.name)) problems.push({ path: '/name', message: 'letters, digits, space, ".", "_" and "-", at most 128' });
      const members = await this.members(trx, input, { executors: [], approvers: [], approvalsRequired: 1 }, problems);
      const commandPolicy = input.commandPolicy === undefined ? NO_COMMAND_POLICY : checkCommandPolicy(input.commandPolicy, problems);
      if (problems.length > 0) throw errors.validation('The access group cannot be saved: fix the fields listed.', problems);
      if ((await findAccessGroupsNamed(trx, input.name)).some((group) => group.partitionId === place.partitionId)) {
        throw errors.alreadyExists('access group', `${place.partitionName}.${input.name}`);
      }
      const group = await this.deps.objects.create(
        trx,
        accessGroupKind,
        {
          partitionId: place.partitionId,
          applicationId: place.applicationId,
          name: input.name,
          description: input.description ?? '',
          ...members,
          requiresJustification: input.requiresJustification ?? false,
          // Separation of duties unless the group says otherwise: the planner does not also execute.
          plannerMayExecute: input.plannerMayExecute ?? false,
          commandPolicy,
          deviationAlerts: input.deviationAlerts ?? 'off',
        },
        actor,
      );
      return (await this.present(trx, [group]))[0] as AccessGroupView;
    });
  }

  async update(actor: Actor, ref: string, patch: AccessGroupInput & { expectedVersion?: number }): Promise<AccessGroupView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const group = await findAccessGroupByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'AccessGroup.Edit', inPartition(group.partitionId));
      const problems: FieldProblem[] = [];
      const members = await this.members(trx, patch, group, problems);
      const commandPolicy: CommandPolicySetting | undefined = patch.commandPolicy === undefined ? undefined : checkCommandPolicy(patch.commandPolicy, problems);
      if (problems.length > 0) throw errors.validation('The access group cannot be saved: fix the fields listed.', problems);
      const updated = await this.deps.objects.update(
        trx,
        accessGroupKind,
        group,
        {
          ...members,
          ...(patch.description !== undefined && { description: patch.description }),
          ...(patch.requiresJustification !== undefined && { requiresJustification: patch.requiresJustification }),
          ...(patch.plannerMayExecute !== undefined && { plannerMayExecute: patch.plannerMayExecute }),
          ...(commandPolicy !== undefined && { commandPolicy }),
          ...(patch.deviationAlerts !== undefined && { deviationAlerts: patch.deviationAlerts }),
        },
        actor,
        { expectedVersion: patch.expectedVersion },
      );
      return (await this.present(trx, [updated]))[0] as AccessGroupView;
    });
  }

  async delete(actor: Actor, ref: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const group = await findAccessGroupByRef(trx, actor, ref);
      await requirePrivilege(trx, actor, 'AccessGroup.Delete', inPartition(group.partitionId));
      const changes = await trx.selectFrom('change').select('name').where('access_group_id', '=', group.id).execute();
      if (changes.length > 0) throw errors.conflict(`Access group ${group.name} is used by changes (${changes.map((row) => row.name).join(', ')}).`);
      await this.deps.objects.delete(trx, accessGroupKind, group, actor, { expectedVersion });
    });
  }

  /** Resolves member usernames and checks the approval rule: 1 ≤ N ≤ the number of approvers. */
  private async members(
    trx: Tx,
    input: AccessGroupInput,
    current: Pick<AccessGroup, 'executors' | 'approvers' | 'approvalsRequired'>,
    problems: FieldProblem[],
  ): Promise<Pick<AccessGroup, 'executors' | 'approvers' | 'approvalsRequired'>> {
    const resolve = async (names: readonly string[] | undefined, field: string, fallback: readonly string[]) => {
      if (names === undefined) return fallback;
      const { ids, unknown } = await userIdsOf(trx, names);
      if (unknown.length > 0) problems.push({ path: `/${field}`, message: `no such user: ${unknown.join(', ')}` });
      return ids;
    };
    const executors = await resolve(input.executors, 'executors', current.executors);
    const approvers = await resolve(input.approvers, 'approvers', current.approvers);
    const approvalsRequired = input.approvalsRequired ?? current.approvalsRequired;
    if (approvers.length === 0) problems.push({ path: '/approvers', message: 'name at least one approver: requests cannot be approved otherwise' });
    else if (!Number.isInteger(approvalsRequired) || approvalsRequired < 1 || approvalsRequired > approvers.length) {
      problems.push({ path: '/approvalsRequired', message: `expected 1 to ${approvers.length} (the number of approvers)` });
    }
    return { executors, approvers, approvalsRequired };
  }

  private async present(trx: Tx, groups: readonly AccessGroup[]): Promise<AccessGroupView[]> {
    const usernames = await usernamesByIds(trx, groups.flatMap((group) => [...group.executors, ...group.approvers]));
    const partitions = await partitionNamesByIds(trx, groups.map((group) => group.partitionId));
    return groups.map((group) => presentAccessGroup(group, partitions.get(group.partitionId) ?? '', usernames));
  }
}
