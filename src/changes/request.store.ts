import type { Selectable } from 'kysely';
import type { Executor, Tx } from '../platform/database.ts';
import type { AccessRequestTable, RequestDecisionTable, RequestStatus } from '../platform/tables/changes.ts';
import type { AccessRequest, RequestDecision } from './request.ts';

type RequestRow = Selectable<AccessRequestTable>;
type DecisionRow = Selectable<RequestDecisionTable>;

const toRequest = (row: RequestRow): AccessRequest => ({
  id: row.id,
  number: Number(row.number),
  changeId: row.change_id,
  deviceId: row.device_id,
  requesterId: row.requester_id,
  justification: row.justification,
  status: row.status,
  createdAt: row.created_at,
  decidedAt: row.decided_at,
  closedAt: row.closed_at,
  closeReason: row.close_reason,
});

const toDecision = (row: DecisionRow): RequestDecision => ({
  requestId: row.request_id,
  approverId: row.approver_id,
  decision: row.decision,
  comment: row.comment,
  decidedAt: row.decided_at,
  digest: row.digest,
});

export async function insertRequest(
  trx: Tx,
  request: { id: string; changeId: string; deviceId: string; requesterId: string; justification: string | null; createdAt: Date },
): Promise<AccessRequest> {
  const row = await trx
    .insertInto('access_request')
    .values({
      id: request.id,
      change_id: request.changeId,
      device_id: request.deviceId,
      requester_id: request.requesterId,
      justification: request.justification,
      status: 'pending',
      created_at: request.createdAt,
      decided_at: null,
      closed_at: null,
      close_reason: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRequest(row);
}

export async function findRequestByNumber(db: Executor, number: number): Promise<AccessRequest | undefined> {
  const row = await db.selectFrom('access_request').selectAll().where('number', '=', number).executeTakeFirst();
  return row && toRequest(row);
}

/** The requests of a change, by number. */
export async function requestsOfChange(db: Executor, changeId: string): Promise<AccessRequest[]> {
  return (await db.selectFrom('access_request').selectAll().where('change_id', '=', changeId).orderBy('number').execute()).map(toRequest);
}

/** Whether any request was ever made under the change. */
export async function changeHasRequests(db: Executor, changeId: string): Promise<boolean> {
  return (await db.selectFrom('access_request').select('number').where('change_id', '=', changeId).executeTakeFirst()) !== undefined;
}

/** The numbers people know requests by, keyed by request id. */
export async function requestNumbers(db: Executor, requestIds: readonly string[]): Promise<Map<string, number>> {
  if (requestIds.length === 0) return new Map();
  const rows = await db.selectFrom('access_request').select(['id', 'number']).where('id', 'in', [...new Set(requestIds)]).execute();
  return new Map(rows.map((row) => [row.id, Number(row.number)]));
}

/** The newest request of a user for a device under a change. */
export async function latestRequest(db: Executor, changeId: string, deviceId: string, requesterId: string): Promise<AccessRequest | undefined> {
  const row = await db
    .selectFrom('access_request')
    .selectAll()
    .where('change_id', '=', changeId)
    .where('device_id', '=', deviceId)
    .where('requester_id', '=', requesterId)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toRequest(row);
}

export interface RequestFilter {
  readonly requesterId?: string;
  /** Only requests under these changes. */
  readonly changeIds?: readonly string[];
  readonly status?: RequestStatus;
  readonly deviceIds?: readonly string[];
  /** Pending requests first, then newest first (the approver's view). */
  readonly pendingFirst?: boolean;
  readonly limit: number;
}

export async function listRequests(db: Executor, filter: RequestFilter): Promise<AccessRequest[]> {
  if (filter.changeIds?.length === 0 || filter.deviceIds?.length === 0) return [];
  let query = db.selectFrom('access_request').selectAll();
  if (filter.requesterId) query = query.where('requester_id', '=', filter.requesterId);
  if (filter.changeIds) query = query.where('change_id', 'in', filter.changeIds);
  if (filter.deviceIds) query = query.where('device_id', 'in', filter.deviceIds);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (filter.pendingFirst) query = query.orderBy((eb) => eb.case().when('status', '=', 'pending').then(0).else(1).end());
  return (await query.orderBy('number', 'desc').limit(filter.limit).execute()).map(toRequest);
}

export async function decisionsOf(db: Executor, requestIds: readonly string[]): Promise<RequestDecision[]> {
  if (requestIds.length === 0) return [];
  return (await db.selectFrom('request_decision').selectAll().where('request_id', 'in', requestIds).orderBy('decided_at').execute()).map(toDecision);
}

export async function insertDecision(trx: Tx, decision: RequestDecision): Promise<void> {
  await trx
    .insertInto('request_decision')
    .values({
      request_id: decision.requestId,
      approver_id: decision.approverId,
      decision: decision.decision,
      comment: decision.comment,
      decided_at: decision.decidedAt,
      digest: decision.digest,
    })
    .execute();
}

export async function setRequestStatus(
  trx: Tx,
  id: string,
  status: RequestStatus,
  at: Date,
  closeReason?: string,
): Promise<void> {
  const decided = status === 'approved' || status === 'denied';
  await trx
    .updateTable('access_request')
    .set({ status, ...(decided ? { decided_at: at } : { closed_at: at, close_reason: closeReason ?? null }) })
    .where('id', '=', id)
    .execute();
}

/** Which open requests to close: every field given must match. */
export interface OpenRequestMatch {
  readonly changeId?: string;
  readonly deviceId?: string;
  readonly requestId?: string;
}

/** A closed request, and the status it had before (`was`): pending or approved. */
export type ClosedRequest = AccessRequest & { readonly was: RequestStatus };

/** Closes the pending and approved requests that match (cancelled or expired) and returns them. */
export async function closeOpenRequests(trx: Tx, match: OpenRequestMatch, status: 'cancelled' | 'expired', at: Date, reason: string): Promise<ClosedRequest[]> {
  if (match.changeId === undefined && match.deviceId === undefined && match.requestId === undefined) return [];
  // Read (and lock) what they were first: UPDATE … RETURNING gives only the new status.
  let open = trx.selectFrom('access_request').select(['id', 'status']).where('status', 'in', ['pending', 'approved']);
  if (match.changeId !== undefined) open = open.where('change_id', '=', match.changeId);
  if (match.deviceId !== undefined) open = open.where('device_id', '=', match.deviceId);
  if (match.requestId !== undefined) open = open.where('id', '=', match.requestId);
  const was = new Map((await open.forUpdate().execute()).map((row) => [row.id, row.status]));
  if (was.size === 0) return [];
  const closed = await trx
    .updateTable('access_request')
    .set({ status, closed_at: at, close_reason: reason })
    .where('id', 'in', [...was.keys()])
    .returningAll()
    .execute();
  return closed.map((row) => ({ ...toRequest(row), was: was.get(row.id) ?? row.status })).sort((a, b) => a.number - b.number);
}

/** Closes one request if its status is still one of `from`; returns it, or undefined when it had moved on. */
export async function closeRequestIn(
  trx: Tx,
  id: string,
  from: readonly RequestStatus[],
  status: 'cancelled' | 'expired',
  at: Date,
  reason: string,
): Promise<AccessRequest | undefined> {
  const row = await trx
    .updateTable('access_request')
    .set({ status, closed_at: at, close_reason: reason })
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .returningAll()
    .executeTakeFirst();
  return row && toRequest(row);
}

/**
 * Pending or approved requests whose change's window has closed by `now`, locked for the caller's
 * transaction: rows another transaction holds (another instance expiring them) are passed over, not
 * waited for, so two expiry passes at once never take the same request.
 */
export async function requestsPastDue(trx: Tx, now: Date): Promise<AccessRequest[]> {
  const rows = await trx
    .selectFrom('access_request as r')
    .innerJoin('change as c', 'c.id', 'r.change_id')
    .selectAll('r')
    .where('r.status', 'in', ['pending', 'approved'])
    .where('c.due_at', '<=', now)
    .forUpdate('r')
    .skipLocked()
    .execute();
  return rows.map(toRequest);
}
