import type { Kysely } from 'kysely';
import type { ObjectStore } from '../objects/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findDeviceByRef, findDevicesByIds } from '../inventory/index.ts';
import { inPartition, partitionsWith, requireObjectPrivilege, requirePrivilege, type Actor } from '../access/index.ts';
import { partitionNamesByIds, resolvePlace } from '../objects/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors, isAppError } from '../platform/errors.ts';
import type { LiveSessionControl } from '../platform/live-session-control.ts';
import { findAccessGroupByRef } from './access-group.service.ts';
import { findAccessGroupsByIds } from './access-group.store.ts';
import { changeProblems, changeStatus, planChanges, planDigest, presentChange, type Change, type ChangeStatus, type ChangeView } from './change.ts';
import { changeKind, findChangeByName, listChanges, lockChange } from './change.store.ts';
import type { ScriptCheckView } from './change.views.ts';
import { parseScript } from './script.ts';
import { changeHasRequests } from './request.store.ts';
import type { RequestService } from './request.service.ts';

export interface ChangeInput {
  readonly title?: string;
  readonly description?: string;
  readonly startAt?: Date;
  readonly dueAt?: Date;
  /** Access group name (or `PARTITION.name`). */
  readonly accessGroup?: string;
  /** Device names (or `PARTITION.name`). */
  readonly devices?: readonly string[];
  readonly script?: string;
}

export interface NewChange extends ChangeInput {
  /** The change ID, such as CHG-2026-042. */
  readonly name: string;
  readonly title: string;
  readonly startAt: Date;
  readonly dueAt: Date;
  readonly accessGroup: string;
  readonly devices: readonly string[];
  readonly script: string;
  readonly partition?: string;
  readonly application?: string | null;
}

export interface ChangeServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly objects: ObjectStore;
  /** Cancels the requests whose approval an edit voids. */
  readonly requests: Pick<RequestService, 'cancelOpen'>;
  /** Ends the sessions of those requests, after the edit commits. */
  readonly live: LiveSessionControl;
}

/** Finds a change by its change ID; one the caller may not view is "not found". */
export async function findVisibleChange(trx: Tx, actor: Actor, name: string): Promise<Change> {
  const change = await findChangeByName(trx, name);
  if (!change) throw errors.notFound('change', name);
  await requireObjectPrivilege(trx, actor, 'Change.View', inPartition(change.partitionId), { what: 'change', key: name });
  return change;
}

/** Registering, editing and cancelling changes (the seed's "Registering a change"). */
export class ChangeService {
  constructor(private readonly deps: ChangeServiceDeps) {}

  async list(actor: Actor, filter: { status?: ChangeStatus; device?: string } = {}): Promise<ChangeView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const deviceId = filter.device ? (await findDeviceByRef(trx, actor, filter.device)).id : undefined;
      const changes = await listChanges(trx, { partitionIds: await partitionsWith(trx, actor, 'Change.View'), status: filter.status, deviceId, now: this.deps.clock.now() });
      return this.present(trx, changes);
    });
  }

  /**
   * Checks a script as the change editor sends it while the planner types; saves nothing. For
   * planners: those who may register or edit a change somewhere.
   */
  async checkScript(actor: Actor, script: string): Promise<ScriptCheckView> {
    await this.deps.db.transaction().execute(async (trx) => {
      for (const privilege of ['Change.Create', 'Change.Edit'] as const) {
        const partitions = await partitionsWith(trx, actor, privilege);
        if (partitions === 'all' || partitions.length > 0) return;
      }
      throw errors.forbidden('You need the Change.Create or Change.Edit privilege to check a change script.');
    });
    const parsed = parseScript(script);
    return parsed.ok ? { steps: parsed.script.steps.length, errors: [] } : { steps: 0, errors: parsed.errors.map(({ line, column, message }) => ({ line, column, message })) };
  }

  async get(actor: Actor, name: string): Promise<ChangeView> {
    return this.deps.db.transaction().execute(async (trx) => (await this.present(trx, [await findVisibleChange(trx, actor, name)]))[0] as ChangeView);
  }

  async create(actor: Actor, input: NewChange): Promise<ChangeView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const place = await resolvePlace(trx, input);
      await requirePrivilege(trx, actor, 'Change.Create', inPartition(place.partitionId));
      this.check(input);
      if (await findChangeByName(trx, input.name)) throw errors.alreadyExists('change', input.name);
      const references = await this.references(trx, actor, place.partitionId, input);
      const change = await this.deps.objects.create(
        trx,
        changeKind,
        {
          partitionId: place.partitionId,
          applicationId: place.applicationId,
          name: input.name,
          title: input.title.trim(),
          description: input.description ?? '',
          startAt: input.startAt,
          dueAt: input.dueAt,
          accessGroupId: references.accessGroupId as string,
          devices: references.devices as string[],
          script: input.script,
          cancelledAt: null,
          cancelledBy: null,
          cancelReason: null,
          scriptFrozenAt: null,
        },
        actor,
      );
      return (await this.present(trx, [change]))[0] as ChangeView;
    });
  }

  /**
   * Edits a change. Its script is frozen once a session has run for it (the audit compares against
   * that script), and a cancelled change stays as it was. An approval is for exactly the plan the
   * approver saw: editing the window, devices, script or access group cancels the change's pending
   * and approved requests (requesters and approvers are told why) and ends their live sessions.
   */
  async update(actor: Actor, name: string, patch: ChangeInput & { expectedVersion?: number }): Promise<ChangeView> {
    const { view, voided } = await this.deps.db.transaction().execute(async (trx) => {
      const change = await findVisibleChange(trx, actor, name);
      await requirePrivilege(trx, actor, 'Change.Edit', inPartition(change.partitionId));
      if (change.cancelledAt) throw errors.changeCancelled(name, change.cancelledAt);
      if (patch.script !== undefined && patch.script !== change.script && change.scriptFrozenAt) {
        throw errors.scriptFrozen(name, change.scriptFrozenAt);
      }
      this.check({ ...patch, startAt: patch.startAt ?? change.startAt, dueAt: patch.dueAt ?? change.dueAt });
      const references = await this.references(trx, actor, change.partitionId, patch);
      const updated = await this.deps.objects.update(
        trx,
        changeKind,
        change,
        {
          ...(patch.title !== undefined && { title: patch.title.trim() }),
          ...(patch.description !== undefined && { description: patch.description }),
          ...(patch.startAt !== undefined && { startAt: patch.startAt }),
          ...(patch.dueAt !== undefined && { dueAt: patch.dueAt }),
          ...(patch.script !== undefined && { script: patch.script }),
          ...(references.accessGroupId && { accessGroupId: references.accessGroupId }),
          ...(references.devices && { devices: references.devices }),
        },
        actor,
        { expectedVersion: patch.expectedVersion },
      );
      let voided: { requestIds: string[]; reason: string } | undefined;
      if (planDigest(updated) !== planDigest(change)) {
        const reason = `change ${change.name} was edited by ${actor.username} (${planChanges(change, updated).join(', ')}): an approval is for the plan as it was approved`;
        const cancelled = await this.deps.requests.cancelOpen(trx, { changeId: change.id }, { actor: actor.username, reason, tellApprovers: true });
        voided = { requestIds: cancelled.filter((request) => request.was === 'approved').map((request) => request.id), reason };
      }
      return { view: (await this.present(trx, [updated]))[0] as ChangeView, voided };
    });
    for (const requestId of voided?.requestIds ?? []) await this.deps.live.end({ requestId }, { by: actor.username, reason: voided?.reason ?? '' });
    return view;
  }

  /** Cancels a change: no session can start for it any more, and its open requests are closed. */
  async cancel(actor: Actor, name: string, reason?: string): Promise<ChangeView> {
    const { view, ended } = await this.deps.db.transaction().execute(async (trx) => {
      const change = await findVisibleChange(trx, actor, name);
      await requirePrivilege(trx, actor, 'Change.Edit', inPartition(change.partitionId));
      if (change.cancelledAt) return { view: (await this.present(trx, [change]))[0] as ChangeView, ended: undefined };
      const now = this.deps.clock.now();
      const cancelled = await this.deps.objects.update(
        trx,
        changeKind,
        change,
        { cancelledAt: now, cancelledBy: actor.username, cancelReason: reason ?? null },
        actor,
        { reason: reason ?? 'cancelled' },
      );
      const why = 'the change was cancelled';
      // Each closed request gets its own entry and its requester a notice.
      await this.deps.requests.cancelOpen(trx, { changeId: change.id }, { actor: actor.username, reason: why });
      return { view: (await this.present(trx, [cancelled]))[0] as ChangeView, ended: { changeId: change.id, why } };
    });
    // A cancelled change runs no more: its sessions end once the cancellation is stored.
    if (ended) await this.deps.live.end({ changeId: ended.changeId }, { by: actor.username, reason: ended.why });
    return view;
  }

  async delete(actor: Actor, name: string, expectedVersion?: number): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const change = await findVisibleChange(trx, actor, name);
      await requirePrivilege(trx, actor, 'Change.Delete', inPartition(change.partitionId));
      if (change.scriptFrozenAt || (await changeHasRequests(trx, change.id))) {
        throw errors.conflict(`Change ${name} has requests or sessions, which the audit must keep: cancel it instead.`);
      }
      await this.deps.objects.delete(trx, changeKind, change, actor, { expectedVersion });
    });
  }

  /**
   * Freezes the script when the first session of the change starts. A system change: in the event
   * log, not in the audit trail. Idempotent.
   */
  async freezeScript(trx: Tx, change: Change): Promise<Change> {
    if (change.scriptFrozenAt) return change;
    // Several sessions of a change may start at once: the first freezes the script, and the others,
    // waiting on the row, find it frozen rather than a version that moved under them.
    const current = await lockChange(trx, change.id);
    if (!current || current.scriptFrozenAt) return current ?? change;
    return this.deps.objects.systemUpdate(trx, changeKind, current, { scriptFrozenAt: this.deps.clock.now() }, 'script.freeze');
  }

  private check(input: ChangeInput & { name?: string }): void {
    const { problems, scriptErrors } = changeProblems(input);
    if (problems.length === 0) return;
    const scriptOnly = problems.every((problem) => problem.path === '/script');
    if (scriptOnly) {
      throw errors.scriptInvalid(problems, scriptErrors);
    }
    throw errors.validation(`The change cannot be saved: ${problems.map((problem) => `${problem.path} ${problem.message}`).join('; ')}.`, problems);
  }

  /** Resolves the access group and devices a planner named: they must exist, be visible, and sit in the change's partition. */
  private async references(trx: Tx, actor: Actor, partitionId: string, input: ChangeInput): Promise<{ accessGroupId?: string; devices?: string[] }> {
    const inWrongPartition = (what: string, ref: string, path: string) =>
      errors.validation(`The ${what} "${ref}" is in another partition than the change.`, [{ path, message: 'must be in the change\'s partition' }]);
    let accessGroupId: string | undefined;
    if (input.accessGroup !== undefined) {
      const group = await findAccessGroupByRef(trx, actor, input.accessGroup).catch((error: unknown) => {
        throw isAppError(error, 'not_found')
          ? errors.validation(`Access group "${input.accessGroup}" does not exist, or you may not see it.`, [{ path: '/accessGroup', message: 'no such access group' }])
          : error;
      });
      if (group.partitionId !== partitionId) throw inWrongPartition('access group', input.accessGroup, '/accessGroup');
      accessGroupId = group.id;
    }
    let devices: string[] | undefined;
    if (input.devices !== undefined) {
      devices = [];
      for (const [index, ref] of input.devices.entries()) {
        const device = await findDeviceByRef(trx, actor, ref).catch((error: unknown) => {
          throw isAppError(error, 'not_found')
            ? errors.validation(`Device "${ref}" does not exist, or you may not see it.`, [{ path: `/devices/${index}`, message: 'no such device' }])
            : error;
        });
        if (device.partitionId !== partitionId) throw inWrongPartition('device', ref, `/devices/${index}`);
        if (!devices.includes(device.id)) devices.push(device.id);
      }
    }
    return { accessGroupId, devices };
  }

  private async present(trx: Tx, changes: readonly Change[]): Promise<ChangeView[]> {
    const now = this.deps.clock.now();
    const groups = new Map((await findAccessGroupsByIds(trx, [...new Set(changes.map((change) => change.accessGroupId))])).map((group) => [group.id, group.name]));
    const deviceIds = [...new Set(changes.flatMap((change) => change.devices))];
    const devices = new Map((await findDevicesByIds(trx, deviceIds)).map((device) => [device.id, device.name]));
    const partitions = await partitionNamesByIds(trx, changes.map((change) => change.partitionId));
    return changes.map((change) =>
      presentChange(change, now, {
        partition: partitions.get(change.partitionId) ?? '',
        accessGroup: groups.get(change.accessGroupId) ?? change.accessGroupId,
        devices: change.devices.map((id) => devices.get(id) ?? id),
      }),
    );
  }
}

export { changeStatus };
