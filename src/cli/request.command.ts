import { Option, type Command } from 'commander';
import type { RequestStatus, RequestView } from '../changes/index.ts';
import { REQUEST_STATUSES } from '../changes/request.ts';
import { printFields } from './field-list.ts';
import { withApi } from './api-connection.ts';
import { requestNumber, wholeNumber } from './option-values.ts';
import { printJson, printLines, printTable, shortTime } from './output.ts';

const NUMBER = 'the request number, such as 42';

type Scope = 'mine' | 'approvals' | 'all';

interface ListOptions {
  readonly scope: Scope;
  readonly status?: RequestStatus;
  readonly change?: string;
  readonly device?: string;
  readonly limit?: number;
  readonly json?: boolean;
}

/** `changegate request list|show|create|approve|deny|cancel|revoke`: asking to run a change on a device, and deciding. */
export function registerRequestCommands(program: Command): void {
  const request = program.command('request').description('ask to run a change on a device, and approve, deny, cancel and list requests');

  request
    .command('list')
    .description('list requests: your own (mine), those you approve (approvals, pending first), or every one (all, needs Request.View)')
    .addOption(new Option('--scope <scope>', 'whose requests').choices(['mine', 'approvals', 'all']).default('mine'))
    .addOption(new Option('--status <status>', 'only requests with this status').choices(REQUEST_STATUSES))
    .option('--change <id>', 'only requests to run this change')
    .option('--device <device>', 'only requests for this device')
    .option('--limit <n>', 'at most this many, newest first (default: 200)', wholeNumber('a number of requests', 1, 1000))
    .option('--json', 'print the requests as JSON')
    .action((options: ListOptions) =>
      withApi(async (api) => {
        const found = await api.get<RequestView[]>('/requests', { scope: options.scope, status: options.status, change: options.change, device: options.device, limit: options.limit });
        if (options.json) return printJson(found);
        printTable(['number', 'status', 'change', 'device', 'requester', 'approvals', 'created', 'expires'], found.map(requestRow), 'No requests match.');
      }),
    );

  request
    .command('show')
    .description('show one request and its decisions: yours, one you approve, or any with Request.View')
    .argument('<number>', NUMBER, requestNumber)
    .option('--json', 'print the request as JSON')
    .action((number: number, options: { json?: boolean }) =>
      withApi(async (api) => {
        const shown = await api.get<RequestView>(`/requests/${number}`);
        if (options.json) return printJson(shown);
        printRequest(shown);
      }),
    );

  request
    .command('create')
    .description(
      'ask to run the open change that includes a device, as its executor (what the gateway does when you connect); answers your pending or approved request if there is one',
    )
    .argument('<device>', 'the device: its name, or PARTITION.name')
    .option('--change <id>', 'the change to run, when several open changes include the device')
    .option('--justification <text>', 'why you need to run it now (some access groups require one)')
    .option('--again', 'ask again after a denial or cancellation, instead of being shown it')
    .option('--json', 'print the request, and whether it was created now, as JSON')
    .action((device: string, options: { change?: string; justification?: string; again?: boolean; json?: boolean }) =>
      withApi(async (api) => {
        const outcome = await api.post<{ request: RequestView; created: boolean }>('/requests', { device, change: options.change, justification: options.justification, again: options.again });
        if (options.json) return printJson(outcome);
        const { request: asked } = outcome;
        printLines(
          `Request #${asked.number} to run ${asked.change} on ${asked.device}: ${asked.status}${outcome.created ? ' (created now; its approvers were notified)' : ' (it already existed)'}.`,
          nextStep(asked),
        );
      }),
    );

  for (const decision of ['approve', 'deny'] as const) {
    request
      .command(decision)
      .description(
        decision === 'approve'
          ? 'approve a pending request, as an approver of its access group; it is approved once enough approvers did'
          : 'deny a pending request, as an approver of its access group; one denial denies it',
      )
      .argument('<number>', NUMBER, requestNumber)
      .option('--comment <text>', decision === 'approve' ? 'a note for the requester' : 'why, for the requester')
      .option('--json', 'print the request as JSON')
      .action((number: number, options: { comment?: string; json?: boolean }) =>
        withApi(async (api) => {
          const decided = await api.post<RequestView>(`/requests/${number}/${decision}`, { comment: options.comment });
          if (options.json) return printJson(decided);
          printLines(`${decision === 'approve' ? 'Approved' : 'Denied'} request #${decided.number} (${decided.requester} to run ${decided.change} on ${decided.device}): it is now ${decided.status}.`);
          if (decided.status === 'pending') printLines(nextStep(decided));
        }),
      );
  }

  request
    .command('cancel')
    .description('withdraw your pending or approved request')
    .argument('<number>', NUMBER, requestNumber)
    .action((number: number) =>
      withApi(async (api) => {
        const cancelled = await api.post<RequestView>(`/requests/${number}/cancel`);
        printLines(`Cancelled request #${cancelled.number} to run ${cancelled.change} on ${cancelled.device}.`);
      }),
    );

  request
    .command('revoke')
    .description("revoke someone's approved request, as an approver of its access group or with Request.Revoke: its live sessions end at once")
    .argument('<number>', NUMBER, requestNumber)
    .requiredOption('--reason <text>', 'why, for the requester and the event log')
    .option('--json', 'print the request as JSON')
    .action((number: number, options: { reason: string; json?: boolean }) =>
      withApi(async (api) => {
        const revoked = await api.post<RequestView>(`/requests/${number}/revoke`, { reason: options.reason });
        if (options.json) return printJson(revoked);
        printLines(`Revoked request #${revoked.number} (${revoked.requester} to run ${revoked.change} on ${revoked.device}): ${revoked.closeReason ?? 'revoked'}.`);
      }),
    );
}

const approvalsGiven = (request: RequestView): number => request.decisions.filter((decision) => decision.decision === 'approve').length;

/** What happens next: who must still approve, or that the session may start. */
function nextStep(request: RequestView): string {
  switch (request.status) {
    case 'pending': {
      const decided = new Set(request.decisions.map((decision) => decision.approver));
      const waiting = request.approvers.filter((approver) => !decided.has(approver) && approver !== request.requester);
      const missing = request.approvalsRequired - approvalsGiven(request);
      return `It needs ${missing} more ${missing === 1 ? 'approval' : 'approvals'} (${approvalsGiven(request)} of ${request.approvalsRequired} so far) from: ${waiting.join(', ') || '-'}.`;
    }
    case 'approved':
      return `It is approved until ${shortTime(request.expiresAt)}: connect to ${request.device} through the gateway to start the session.`;
    case 'denied':
      return 'It was denied: `changegate request show` gives the reason; --again asks anew.';
    default:
      return `It is ${request.status}${request.closeReason ? ` (${request.closeReason})` : ''}; --again asks anew.`;
  }
}

const requestRow = (request: RequestView): string[] => [
  `#${request.number}`,
  request.status,
  request.change,
  request.device,
  request.requester,
  `${approvalsGiven(request)} of ${request.approvalsRequired}`,
  shortTime(request.createdAt),
  shortTime(request.expiresAt),
];

function printRequest(request: RequestView): void {
  printFields([
    ['Request', `#${request.number}`],
    ['Status', request.status],
    ['Change', `${request.change} "${request.changeTitle}"`],
    ['Device', request.device],
    ['Requester', request.requester],
    ['Justification', request.justification],
    ['Approvers', request.approvers.join(', ')],
    ['Approvals needed', `${request.approvalsRequired} (${approvalsGiven(request)} given)`],
    ['Created', request.createdAt],
    ['Decided', request.decidedAt],
    ['Closed', request.closedAt ? `${request.closedAt}${request.closeReason ? `: ${request.closeReason}` : ''}` : null],
    ['Expires', `${request.expiresAt} (when the change's window closes)`],
  ]);
  printLines('Decisions:', ...(request.decisions.length === 0 ? ['  none yet'] : request.decisions.map(decisionLine)));
}

const decisionLine = (decision: RequestView['decisions'][number]): string =>
  `  ${shortTime(decision.decidedAt)}  ${decision.approver} ${decision.decision === 'approve' ? 'approved' : 'denied'}${decision.comment ? `: ${decision.comment}` : ''}`;
