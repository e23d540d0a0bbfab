import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { appendEvent } from '../eventlog/index.ts';
import { findPartitionByName, partitionNamesByIds } from '../objects/index.ts';
import { hasPrivilege, inPartition, partitionsWith, type Actor } from '../access/index.ts';
import { usernamesByIds } from '../identity/index.ts';
import { credentialsOfDevice, findDeviceInPartition, findDevicesByIds, findDevicesNamed, type Device } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { AppError, errors } from '../platform/errors.ts';
import type { LiveSessionControl } from '../platform/live-session-control.ts';
import type { AccessGroup } from './access-group.ts';
import { accessGroupsWithMember, findAccessGroupsByIds } from './access-group.store.ts';
import { ChangeVisibility } from './change-visibility.ts';
import { changeStatus, planDigest, type Change } from './change.ts';
import { changesCoveringDevice, findChange, findChangeByName, unfinishedChangesOfGroups } from './change.store.ts';
import { decide, presentRequest, type AccessRequest, type RequestStatus, type RequestView } from './request.ts';
import type { SessionTargetView } from './request.views.ts';
import {
  closeOpenRequests,
  closeRequestIn,
  decisionsOf,
  findRequestByNumber,
  insertDecision,
  insertRequest,
  latestRequest,
  listRequests,
  requestsPastDue,
  setRequestStatus,
  type ClosedRequest,
  type OpenRequestMatch,
} from './request.store.ts';

/** What a request tells people. The notifications module implements it; it must not do network I/O in the transaction. */
export interface RequestNotifier {
  notify(
    trx: Tx,
    notice: { kind: string; recipients: readonly string[]; title: string; body: string; link?: string; data: Record<string, unknown> },
  ): Promise<void>;
}

export interface RequestServiceDeps {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly notifier: RequestNotifier;
  /** Ends the live sessions of a revoked request, after its transaction commits. */
  readonly live: LiveSessionControl;
  /** Observes how long requests wait for their approval, once it commits (platform/metrics.ts). */
  readonly metrics?: { requestApproved(secondsSinceRequested: number): void };
}

export interface AccessQuery {
  /** The change ID to use when several open changes cover the device. */
  readonly change?: string;
  readonly justification?: string;
  /** Ask again after a denial or cancellation, instead of being told about it. */
  readonly again?: boolean;
}

export interface AccessOutcome {
  readonly request: RequestView;
  /** True when this call created the request (the approvers were just notified). */
  readonly created: boolean;
}

export interface RequestListFilter {
  readonly status?: RequestStatus;
  readonly change?: string;
  readonly device?: string;
  readonly limit?: number;
}

/**
 * Requests to run a change on a device, and their approval (the seed's "Requesting a change").
 * `requestAccess` is what the session gateway asks before it connects anyone.
 */
export class RequestService {
  constructor(private readonly deps: RequestServiceDeps) {}

  /**
   * Finds the open change that lets the user onto the device and returns their request for it:
   * the pending or approved one that exists, or a new pending one (its approvers are notified).
   * When no change allows it, the error says exactly why; when several do, it lists them.
   */
  async requestAccess(actor: Actor, deviceRef: string, query: AccessQuery = {}): Promise<AccessOutcome> {
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const sight = new ChangeVisibility(trx, actor);
      let named: Change | undefined;
      if (query.change) {
        // A change the caller may not see reads exactly as one that does not exist.
        named = await findChangeByName(trx, query.change);
        const namedGroup = named && (await findAccessGroupsByIds(trx, [named.accessGroupId]))[0];
        if (!named || !(await sight.change(named, namedGroup))) throw errors.notFound('change', query.change);
      }

      // Devices the caller may not see are left out, so asking for one answers exactly as for a
      // device that does not exist: nothing about its changes or groups leaks.
      const devices: Device[] = [];
      let changes: Change[] = [];
      const groups = new Map<string, AccessGroup>();
      for (const candidate of await devicesByRef(trx, deviceRef)) {
        const covering = await changesCoveringDevice(trx, candidate.id);
        for (const group of await findAccessGroupsByIds(trx, [...new Set(covering.map((change) => change.accessGroupId))])) groups.set(group.id, group);
        if (!(await sight.device(candidate, covering.map((change) => ({ change, group: groups.get(change.accessGroupId) }))))) continue;
        devices.push(candidate);
        changes.push(...covering.filter((change) => !changes.some((known) => known.id === change.id)));
      }
      if (named) {
        const only = named.id;
        changes = changes.filter((change) => change.id === only);
        if (changes.length === 0) throw errors.noChange(deviceRef, named.name);
      }
      if (changes.length === 0) throw errors.noChange(deviceRef);

      const groupOf = (change: Change) => groups.get(change.accessGroupId) as AccessGroup;
      const asExecutor = changes.filter((change) => groupOf(change).executors.includes(actor.userId));
      if (asExecutor.length === 0) {
        // An access group is named only to those who may see it.
        const names: string[] = [];
        for (const change of changes) {
          const group = groupOf(change);
          if (!names.includes(group.name) && (await sight.group(group, change))) names.push(group.name);
        }
        throw errors.notExecutor(deviceRef, names);
      }
      const allowed = asExecutor.filter((change) => groupOf(change).plannerMayExecute || change.createdBy !== actor.username);
      if (allowed.length === 0) {
        throw errors.plannerMayNotExecute(asExecutor.map((change) => change.name));
      }
      const open = allowed.filter((change) => changeStatus(change, now) === 'open');
      if (open.length === 0) throw windowProblem(allowed, now, deviceRef);
      if (open.length > 1) {
        const choices = open.map((change) => ({ change: change.name, title: change.title, dueAt: change.dueAt.toISOString() }));
        throw errors.changeAmbiguous(deviceRef, choices);
      }
      const change = open[0] as Change;
      const group = groupOf(change);
      const device = devices.find((candidate) => change.devices.includes(candidate.id)) as Device;

      const latest = await latestRequest(trx, change.id, device.id, actor.userId);
      if (latest?.status === 'approved') {
        // Defence in depth: an edit through ChangeService cancels the approvals, but an approval
        // admits a session only while the change is still exactly the plan every approver saw.
        if (await approvalHolds(trx, latest, change)) return { request: await this.present(trx, latest), created: false };
        if (!query.again) {
          throw errors.approvalOutdated(latest.number, change.name, deviceRef);
        }
        const reason = 'the change was edited after its approval';
        await closeRequestIn(trx, latest.id, ['approved'], 'cancelled', now, reason);
        await appendEvent(trx, { actor: actor.username, action: 'request.cancel', subject: `request:${latest.number}`, data: { change: change.name, reason }, time: now });
      }
      const keep = latest && (latest.status === 'pending' || (!query.again && (latest.status === 'denied' || latest.status === 'cancelled')));
      if (latest && keep) return { request: await this.present(trx, latest), created: false };

      const justification = query.justification?.trim() || null;
      if (group.requiresJustification && !justification) {
        throw errors.justificationRequired(group.name, change.name);
      }
      const row = await insertRequest(trx, { id: randomUUID(), changeId: change.id, deviceId: device.id, requesterId: actor.userId, justification, createdAt: now });
      await appendEvent(trx, {
        actor: actor.username,
        action: 'request.create',
        subject: `request:${row.number}`,
        data: { change: change.name, device: device.name, justification },
        time: now,
      });
      await this.deps.notifier.notify(trx, {
        kind: 'request.created',
        recipients: group.approvers.filter((id) => id !== actor.userId),
        title: `Request #${row.number}: ${actor.username} asks to run ${change.name} on ${device.name}`,
        body: `${actor.username} asks to run change ${change.name} "${change.title}" on ${device.name}.${justification ? `\nJustification: ${justification}` : ''}\nThe window closes at ${change.dueAt.toISOString()}.`,
        link: `/requests/${row.number}`,
        data: { request: row.number, change: change.name, device: device.name, requester: actor.username },
      });
      return { request: await this.present(trx, row), created: true };
    });
  }

  /**
   * Credentials ➔ All: each device account the user may start a session on, as an executor of a
   * change that is open or not yet open, with their latest request for it. Being an executor of
   * the change's access group is the privilege; a planner who may not execute their own change
   * does not see it here, as the broker would refuse them.
   */
  async sessionTargets(actor: Actor): Promise<SessionTargetView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const groups = (await accessGroupsWithMember(trx, actor.userId)).filter((group) => group.executors.includes(actor.userId));
      const groupById = new Map(groups.map((group) => [group.id, group]));
      const changes = (await unfinishedChangesOfGroups(trx, [...groupById.keys()], now)).filter(
        (change) => (groupById.get(change.accessGroupId) as AccessGroup).plannerMayExecute || change.createdBy !== actor.username,
      );
      const devices = new Map((await findDevicesByIds(trx, [...new Set(changes.flatMap((change) => change.devices))])).map((device) => [device.id, device]));
      const partitions = await partitionNamesByIds(trx, [...devices.values()].map((device) => device.partitionId));
      const approverNames = await usernamesByIds(trx, groups.flatMap((group) => group.approvers));
      const accounts = new Map<string, string[]>();
      for (const id of devices.keys()) accounts.set(id, (await credentialsOfDevice(trx, id)).map((credential) => credential.account));

      const targets: SessionTargetView[] = [];
      for (const change of changes) {
        const group = groupById.get(change.accessGroupId) as AccessGroup;
        const status = changeStatus(change, now);
        if (status !== 'open' && status !== 'scheduled') continue;
        for (const deviceId of change.devices) {
          const device = devices.get(deviceId);
          if (!device) continue;
          const latest = await latestRequest(trx, change.id, device.id, actor.userId);
          const partition = partitions.get(device.partitionId) ?? device.partitionId;
          for (const account of accounts.get(device.id) ?? []) {
            targets.push({
              device: device.name,
              partition,
              account,
              change: change.name,
              changeTitle: change.title,
              changeStatus: status,
              startAt: change.startAt.toISOString(),
              dueAt: change.dueAt.toISOString(),
              accessGroup: group.name,
              justificationRequired: group.requiresJustification,
              approvers: group.approvers.map((id) => approverNames.get(id) ?? id),
              approvalsRequired: group.approvalsRequired,
              target: `${partition}.${device.name}:${account}+${change.name}`,
              request: latest ? { number: latest.number, status: latest.status } : null,
            });
          }
        }
      }
      return targets;
    });
  }

  async approve(actor: Actor, number: number, comment = ''): Promise<RequestView> {
    return this.decideRequest(actor, number, 'approve', comment);
  }

  async deny(actor: Actor, number: number, comment = ''): Promise<RequestView> {
    return this.decideRequest(actor, number, 'deny', comment);
  }

  /** The requester withdraws a pending or approved request. */
  async cancel(actor: Actor, number: number): Promise<RequestView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const request = await findRequestByNumber(trx, number);
      if (!request || request.requesterId !== actor.userId) throw errors.notFound('request', String(number));
      if (request.status !== 'pending' && request.status !== 'approved') throw errors.requestNotPending(request.number, request.status);
      const now = this.deps.clock.now();
      await setRequestStatus(trx, request.id, 'cancelled', now, `cancelled by ${actor.username}`);
      await appendEvent(trx, { actor: actor.username, action: 'request.cancel', subject: `request:${number}`, time: now });
      return this.present(trx, { ...request, status: 'cancelled', closedAt: now, closeReason: `cancelled by ${actor.username}` });
    });
  }

  /**
   * Revokes an approved request: an approver of its group, or a holder of `Request.Revoke` in its
   * change's partition, withdraws the approval. Its live sessions end at once (the user sees who
   * ended them and why), its requester is told, and the event log keeps who and why. Anyone who
   * may not see the request reads "not found"; one who may see it but not revoke it, 403.
   */
  async revoke(actor: Actor, number: number, reason: string): Promise<RequestView> {
    const why = reason.trim();
    const { view, requestId } = await this.deps.db.transaction().execute(async (trx) => {
      const request = await findRequestByNumber(trx, number);
      const change = request && (await findChange(trx, request.changeId));
      const group = change && (await findAccessGroupsByIds(trx, [change.accessGroupId]))[0];
      if (!request || !change || !group) throw errors.notFound('request', String(number));
      const mayRevoke = group.approvers.includes(actor.userId) || (await hasPrivilege(trx, actor, 'Request.Revoke', inPartition(change.partitionId)));
      const mayView = mayRevoke || request.requesterId === actor.userId || (await hasPrivilege(trx, actor, 'Request.View', inPartition(change.partitionId)));
      if (!mayView) throw errors.notFound('request', String(number));
      if (!mayRevoke) {
        const which = (await new ChangeVisibility(trx, actor).group(group, change)) ? `access group ${group.name}` : "the request's access group";
        throw errors.forbidden(`Revoking request #${number} needs the Request.Revoke privilege for its partition, or being an approver of ${which}.`);
      }
      if (why === '') throw errors.validation('Say why the request is revoked: its requester is told.', [{ path: '/reason', message: 'must not be empty' }]);
      if (request.status !== 'approved') {
        throw errors.requestNotApproved(number, request.status);
      }
      const now = this.deps.clock.now();
      const closeReason = `revoked by ${actor.username}: ${why}`;
      // Conditional on the status read above: a concurrent cancel or expiry wins, and this answers 409.
      const closed = await closeRequestIn(trx, request.id, ['approved'], 'cancelled', now, closeReason);
      if (!closed) throw errors.requestNotPending(request.number, 'cancelled');
      const device = (await findDevicesByIds(trx, [request.deviceId]))[0];
      await appendEvent(trx, {
        actor: actor.username,
        action: 'request.revoke',
        subject: `request:${number}`,
        data: { change: change.name, device: device?.name ?? null, reason: why },
        time: now,
      });
      await this.deps.notifier.notify(trx, {
        kind: 'request.revoked',
        recipients: [request.requesterId],
        title: `Request #${number} revoked by ${actor.username}: ${change.name}`,
        body: `Your approved request #${number} to run ${change.name} "${change.title}" on ${device?.name ?? 'its device'} was revoked by ${actor.username}: ${why}.\nIts sessions were ended. A new request, and a new approval, is needed to run it.`,
        link: `/requests/${number}`,
        data: { request: number, change: change.name, by: actor.username, reason: why },
      });
      return { view: await this.present(trx, { ...request, status: 'cancelled', closedAt: now, closeReason }), requestId: request.id };
    });
    await this.deps.live.end({ requestId }, { by: actor.username, reason: why });
    return view;
  }

  /**
   * Cancels the pending and approved requests that match, inside the caller's transaction, because
   * what they were approved for changed (a device's address or key, a change's plan). Each gets an
   * event naming why; its requester is told, and with `tellApprovers` the group's approvers too.
   * The caller has checked its own privilege; the caller also ends the live sessions of these
   * requests once the transaction commits. Returns the cancelled requests.
   */
  async cancelOpen(trx: Tx, match: OpenRequestMatch, why: { readonly actor: string; readonly reason: string; readonly tellApprovers?: boolean }): Promise<ClosedRequest[]> {
    const now = this.deps.clock.now();
    const closed = await closeOpenRequests(trx, match, 'cancelled', now, why.reason);
    for (const request of closed) {
      const change = (await findChange(trx, request.changeId)) as Change;
      const group = (await findAccessGroupsByIds(trx, [change.accessGroupId]))[0];
      const device = (await findDevicesByIds(trx, [request.deviceId]))[0];
      await appendEvent(trx, {
        actor: why.actor,
        action: 'request.cancel',
        subject: `request:${request.number}`,
        data: { change: change.name, device: device?.name ?? null, reason: why.reason, was: request.was },
        time: now,
      });
      const approvers = why.tellApprovers && group ? group.approvers : [];
      await this.deps.notifier.notify(trx, {
        kind: 'request.cancelled',
        recipients: [...new Set([request.requesterId, ...approvers])],
        title: noticeTitle(`Request #${request.number} cancelled: ${why.reason}`),
        body: `Request #${request.number} to run ${change.name} "${change.title}" on ${device?.name ?? 'its device'} was cancelled: ${why.reason}.\nA new request, and a new approval, is needed to run it.`,
        link: `/requests/${request.number}`,
        data: { request: request.number, change: change.name, reason: why.reason },
      });
    }
    return closed;
  }

  /** One request: for its requester, its approvers, and holders of Request.View in its partition. */
  async get(actor: Actor, number: number): Promise<RequestView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const { request } = await this.visibleRequest(trx, actor, number);
      return this.present(trx, request);
    });
  }

  /** The seed's "My requests". */
  async listMine(actor: Actor, filter: RequestListFilter = {}): Promise<RequestView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const rows = await listRequests(trx, { ...(await this.filterOf(trx, filter)), requesterId: actor.userId, limit: filter.limit ?? 200 });
      return Promise.all(rows.map((row) => this.present(trx, row)));
    });
  }

  /** The seed's "My approvals": requests under groups the caller approves for, pending first. */
  async listApprovals(actor: Actor, filter: RequestListFilter = {}): Promise<RequestView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const changeIds = (
        await trx
          .selectFrom('change as c')
          .innerJoin('access_group as g', 'g.id', 'c.access_group_id')
          .select('c.id')
          .where((eb) => eb(eb.ref('g.approvers'), '@>', JSON.stringify([actor.userId]) as never))
          .execute()
      ).map((row) => row.id);
      const base = await this.filterOf(trx, filter);
      const scoped = base.changeIds ? base.changeIds.filter((id) => changeIds.includes(id)) : changeIds;
      const rows = await listRequests(trx, { ...base, changeIds: scoped, pendingFirst: true, limit: filter.limit ?? 200 });
      return Promise.all(rows.map((row) => this.present(trx, row)));
    });
  }

  /** Every request in the partitions where the caller holds Request.View (auditors, administrators). */
  async listAll(actor: Actor, filter: RequestListFilter = {}): Promise<RequestView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partitions = await partitionsWith(trx, actor, 'Request.View');
      if (partitions !== 'all' && partitions.length === 0) throw errors.forbidden('You need the Request.View privilege to list the requests of others.');
      let query = trx.selectFrom('change').select('id');
      if (partitions !== 'all') query = query.where('partition_id', 'in', partitions);
      const visible = (await query.execute()).map((row) => row.id);
      const base = await this.filterOf(trx, filter);
      const scoped = base.changeIds ? base.changeIds.filter((id) => visible.includes(id)) : visible;
      const rows = await listRequests(trx, { ...base, changeIds: scoped, limit: filter.limit ?? 200 });
      return Promise.all(rows.map((row) => this.present(trx, row)));
    });
  }

  /**
   * Expires the pending and approved requests whose change window has closed, and tells their
   * requesters. A system change: run periodically by the server. Safe when several instances run
   * it at once: each request expires once, with one entry and one notice. Returns how many this
   * pass expired.
   */
  async expireDue(): Promise<number> {
    return this.deps.db.transaction().execute(async (trx) => {
      const now = this.deps.clock.now();
      const due = await requestsPastDue(trx, now);
      let expired = 0;
      for (const request of due) {
        // Only a request this pass moved gets its entry and notice (another pass may have expired it since it was read).
        if (!(await closeRequestIn(trx, request.id, ['pending', 'approved'], 'expired', now, 'the change window closed'))) continue;
        expired += 1;
        const change = (await findChange(trx, request.changeId)) as Change;
        await appendEvent(trx, { actor: 'system', action: 'request.expire', subject: `request:${request.number}`, data: { change: change.name }, time: now });
        await this.deps.notifier.notify(trx, {
          kind: 'request.expired',
          recipients: [request.requesterId],
          title: `Request #${request.number} expired: the window of ${change.name} closed`,
          body: `Your request #${request.number} to run ${change.name} "${change.title}" expired when its window closed at ${change.dueAt.toISOString()}.`,
          link: `/requests/${request.number}`,
          data: { request: request.number, change: change.name },
        });
      }
      return expired;
    });
  }

  private async decideRequest(actor: Actor, number: number, decision: 'approve' | 'deny', comment: string): Promise<RequestView> {
    let approvedAfterSeconds: number | undefined;
    const outcome = await this.deps.db.transaction().execute(async (trx): Promise<RequestView | AppError> => {
      const { request, change, group } = await this.visibleRequest(trx, actor, number);
      if (!group.approvers.includes(actor.userId)) {
        const which = (await new ChangeVisibility(trx, actor).group(group, change)) ? `access group ${group.name}` : "this request's access group";
        throw errors.forbidden(`You are not an approver of ${which}.`);
      }
      if (request.requesterId === actor.userId) {
        throw errors.selfApproval();
      }
      const now = this.deps.clock.now();
      if (request.status === 'pending' && changeStatus(change, now) !== 'open') {
        // The window closed before the expiry job ran: expire it now and say so.
        await setRequestStatus(trx, request.id, 'expired', now, 'the change window closed');
        await appendEvent(trx, { actor: 'system', action: 'request.expire', subject: `request:${number}`, data: { change: change.name }, time: now });
        return errors.requestExpired(number, change.name);
      }
      if (request.status !== 'pending') throw errors.requestNotPending(request.number, request.status);
      const earlier = await decisionsOf(trx, [request.id]);
      if (earlier.some((row) => row.approverId === actor.userId)) throw errors.conflict(`You already decided request #${number}.`);
      // The decision is for the plan as it is now: a later edit voids it (see `approvalHolds`).
      const digest = planDigest(change);
      await insertDecision(trx, { requestId: request.id, approverId: actor.userId, decision, comment, decidedAt: now, digest });
      const status = decide([...earlier, { decision }], group.approvalsRequired);
      await appendEvent(trx, {
        actor: actor.username,
        action: `request.${decision}`,
        subject: `request:${number}`,
        data: { comment, status, change: change.name, digest },
        time: now,
      });
      if (status !== 'pending') {
        await setRequestStatus(trx, request.id, status, now);
        if (status === 'approved') approvedAfterSeconds = (now.getTime() - request.createdAt.getTime()) / 1000;
        const verdict = status === 'approved' ? 'approved' : `denied by ${actor.username}`;
        await this.deps.notifier.notify(trx, {
          kind: 'request.decided',
          recipients: [request.requesterId],
          title: `Request #${number} ${verdict}: ${change.name}`,
          body: `Your request #${number} to run ${change.name} "${change.title}" was ${verdict}.${comment ? `\nComment: ${comment}` : ''}${status === 'approved' ? '\nConnect again to start the session.' : ''}`,
          link: `/requests/${number}`,
          data: { request: number, change: change.name, status },
        });
      }
      return this.present(trx, { ...request, status, decidedAt: status === 'pending' ? null : now });
    });
    if (outcome instanceof AppError) throw outcome;
    if (approvedAfterSeconds !== undefined) this.deps.metrics?.requestApproved(approvedAfterSeconds);
    return outcome;
  }

  /** A request, with its change and group, if the caller is its requester, one of its approvers, or holds Request.View. */
  private async visibleRequest(trx: Tx, actor: Actor, number: number): Promise<{ request: AccessRequest; change: Change; group: AccessGroup }> {
    const request = await findRequestByNumber(trx, number);
    const change = request && (await findChange(trx, request.changeId));
    const group = change && (await findAccessGroupsByIds(trx, [change.accessGroupId]))[0];
    if (!request || !change || !group) throw errors.notFound('request', String(number));
    const mayView =
      request.requesterId === actor.userId ||
      group.approvers.includes(actor.userId) ||
      (await hasPrivilege(trx, actor, 'Request.View', inPartition(change.partitionId)));
    if (!mayView) throw errors.notFound('request', String(number));
    return { request, change, group };
  }

  private async filterOf(trx: Tx, filter: RequestListFilter): Promise<{ status?: RequestStatus; changeIds?: string[]; deviceIds?: string[] }> {
    const changeIds = filter.change ? ((await findChangeByName(trx, filter.change))?.id ?? null) : undefined;
    const deviceIds = filter.device ? (await devicesByRef(trx, filter.device)).map((device) => device.id) : undefined;
    return {
      ...(filter.status && { status: filter.status }),
      ...(changeIds !== undefined && { changeIds: changeIds === null ? [] : [changeIds] }),
      ...(deviceIds !== undefined && { deviceIds }),
    };
  }

  private async present(trx: Tx, request: AccessRequest): Promise<RequestView> {
    const change = (await findChange(trx, request.changeId)) as Change;
    const group = (await findAccessGroupsByIds(trx, [change.accessGroupId]))[0] as AccessGroup;
    const device = (await findDevicesByIds(trx, [request.deviceId]))[0];
    const decisions = await decisionsOf(trx, [request.id]);
    const usernames = await usernamesByIds(trx, [request.requesterId, ...group.approvers, ...decisions.map((decision) => decision.approverId)]);
    return presentRequest(
      request,
      decisions,
      { change, device: device?.name ?? request.deviceId, approvers: group.approvers, approvalsRequired: group.approvalsRequired },
      usernames,
    );
  }
}

/**
 * Devices a user names at the gateway: `web01`, or `PARTITION.web01`. No privilege is needed to
 * look one up, since executors hold none on devices; an unknown name then reads "no change lets
 * you onto it", which tells nothing about what exists.
 */
async function devicesByRef(trx: Tx, ref: string): Promise<Device[]> {
  const dot = ref.indexOf('.');
  if (dot > 0) {
    const partition = await findPartitionByName(trx, ref.slice(0, dot));
    const device = partition && (await findDeviceInPartition(trx, partition.id, ref.slice(dot + 1)));
    if (device) return [device];
  }
  return findDevicesNamed(trx, ref);
}

/** Says why none of the changes is open now: the earliest window still to open, or else the last one that closed. */
function windowProblem(changes: readonly Change[], now: Date, deviceRef: string): AppError {
  const scheduled = changes.filter((change) => changeStatus(change, now) === 'scheduled').sort((a, b) => a.startAt.getTime() - b.startAt.getTime());
  const next = scheduled[0];
  if (next) {
    return errors.windowNotOpen(next.name, deviceRef, next.startAt);
  }
  const closed = changes.filter((change) => changeStatus(change, now) === 'closed').sort((a, b) => b.dueAt.getTime() - a.dueAt.getTime());
  const last = closed[0];
  if (last) {
    return errors.windowClosed(last.name, deviceRef, last.dueAt);
  }
  const cancelled = changes[0] as Change;
  return errors.changeCancelledForRequest(cancelled.name, deviceRef, cancelled.cancelReason);
}

/**
 * Whether an approved request still admits a session: each approval it rests on recorded the
 * digest of exactly the plan the change has now. An approval recorded before approvals kept a
 * digest says nothing about what it was for, so it does not hold.
 */
async function approvalHolds(trx: Tx, request: AccessRequest, change: Change): Promise<boolean> {
  const approvals = (await decisionsOf(trx, [request.id])).filter((decision) => decision.decision === 'approve');
  const digest = planDigest(change);
  return approvals.length > 0 && approvals.every((decision) => decision.digest === digest);
}

/** A notice's title is one line of at most 200 characters; a long reason is cut, the body keeps it whole. */
function noticeTitle(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 199)}…` : oneLine;
}
