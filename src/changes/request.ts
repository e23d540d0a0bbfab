import type { RequestStatus } from '../platform/tables/changes.ts';
import type { RequestView } from './request.views.ts';

export type { RequestStatus } from '../platform/tables/changes.ts';
export const REQUEST_STATUSES: readonly RequestStatus[] = ['pending', 'approved', 'denied', 'cancelled', 'expired'];

/** A request to run a change on a device, as stored: pending until decided, closed when cancelled or expired. */
export interface AccessRequest {
  readonly id: string;
  /** The number users quote: request #42. */
  readonly number: number;
  readonly changeId: string;
  readonly deviceId: string;
  readonly requesterId: string;
  readonly justification: string | null;
  readonly status: RequestStatus;
  readonly createdAt: Date;
  readonly decidedAt: Date | null;
  readonly closedAt: Date | null;
  readonly closeReason: string | null;
}

/** One approver's decision on a request, with the digest of the plan they decided on (null before digests were kept). */
export interface RequestDecision {
  readonly requestId: string;
  readonly approverId: string;
  readonly decision: 'approve' | 'deny';
  readonly comment: string;
  readonly decidedAt: Date;
  readonly digest: string | null;
}

export type { RequestView } from './request.views.ts';

export interface RequestContext {
  readonly change: { name: string; title: string; dueAt: Date };
  readonly device: string;
  readonly approvers: readonly string[];
  readonly approvalsRequired: number;
}

export function presentRequest(request: AccessRequest, decisions: readonly RequestDecision[], context: RequestContext, usernames: ReadonlyMap<string, string>): RequestView {
  const name = (id: string) => usernames.get(id) ?? id;
  return {
    id: request.id,
    number: request.number,
    status: request.status,
    change: context.change.name,
    changeTitle: context.change.title,
    device: context.device,
    requester: name(request.requesterId),
    justification: request.justification,
    approvers: context.approvers.map(name).sort(),
    approvalsRequired: context.approvalsRequired,
    decisions: decisions.map((decision) => ({
      approver: name(decision.approverId),
      decision: decision.decision,
      comment: decision.comment,
      decidedAt: decision.decidedAt.toISOString(),
      digest: decision.digest,
    })),
    createdAt: request.createdAt.toISOString(),
    decidedAt: request.decidedAt?.toISOString() ?? null,
    closedAt: request.closedAt?.toISOString() ?? null,
    closeReason: request.closeReason,
    expiresAt: context.change.dueAt.toISOString(),
  };
}

/**
 * The outcome of N-of-M approval after one more decision: any denial denies; N approvals approve;
 * otherwise the request waits for more.
 */
export function decide(decisions: ReadonlyArray<Pick<RequestDecision, 'decision'>>, approvalsRequired: number): 'approved' | 'denied' | 'pending' {
  if (decisions.some((decision) => decision.decision === 'deny')) return 'denied';
  return decisions.filter((decision) => decision.decision === 'approve').length >= approvalsRequired ? 'approved' : 'pending';
}
