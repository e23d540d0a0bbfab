import type { RequestStatus } from '../platform/tables/changes.ts';
import type { DecisionRow, RequestRow } from './request.store.ts';
import type { RequestView } from './request.views.ts';

export type { RequestStatus } from '../platform/tables/changes.ts';
export const REQUEST_STATUSES: readonly RequestStatus[] = ['pending', 'approved', 'denied', 'cancelled', 'expired'];

export type { RequestView } from './request.views.ts';

export interface RequestContext {
  readonly change: { name: string; title: string; dueAt: Date };
  readonly device: string;
  readonly approvers: readonly string[];
  readonly approvalsRequired: number;
}

export function presentRequest(row: RequestRow, decisions: readonly DecisionRow[], context: RequestContext, usernames: ReadonlyMap<string, string>): RequestView {
  const name = (id: string) => usernames.get(id) ?? id;
  return {
    id: row.id,
    number: row.number,
    status: row.status,
    change: context.change.name,
    changeTitle: context.change.title,
    device: context.device,
    requester: name(row.requester_id),
    justification: row.justification,
    approvers: context.approvers.map(name).sort(),
    approvalsRequired: context.approvalsRequired,
    decisions: decisions.map((decision) => ({
      approver: name(decision.approver_id),
      decision: decision.decision,
      comment: decision.comment,
      decidedAt: decision.decided_at.toISOString(),
      digest: decision.digest,
    })),
    createdAt: row.created_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
    closedAt: row.closed_at?.toISOString() ?? null,
    closeReason: row.close_reason,
    expiresAt: context.change.dueAt.toISOString(),
  };
}

/**
 * The outcome of N-of-M approval after one more decision: any denial denies; N approvals approve;
 * otherwise the request waits for more.
 */
export function decide(decisions: ReadonlyArray<Pick<DecisionRow, 'decision'>>, approvalsRequired: number): 'approved' | 'denied' | 'pending' {
  if (decisions.some((decision) => decision.decision === 'deny')) return 'denied';
  return decisions.filter((decision) => decision.decision === 'approve').length >= approvalsRequired ? 'approved' : 'pending';
}
