import { Alert, Anchor, Group, Table, Text, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, NamedCell, PagedTable, StatusBadge, useUrlFilters, StatusFilter } from '../ui.tsx';
import { CommandReviews } from './CommandReviews.tsx';
import { useReviewsToDecide } from './command-reviews.ts';

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'cancelled', 'expired'] as const;
type Status = (typeof REQUEST_STATUSES)[number];

/** How often an open list asks again: a decision made elsewhere shows within this. */
export const LIVE_POLL_MS = 5_000;

/**
 * My requests (`scope` mine) and My approvals (`scope` approvals, pending first). My approvals
 * starts with the commands waiting for the user's decision, for an approver asked to review any.
 */
export default function RequestsPage({ scope }: { scope: 'mine' | 'approvals' }) {
  const me = useMe();
  const [search] = useSearchParams();
  const linked = Number(search.get('review')) || undefined;
  const reviews = useReviewsToDecide({ enabled: scope === 'approvals', pollMs: LIVE_POLL_MS, linked });
  const withReviews = reviews.reviews.length > 0 || reviews.linkedMissing;
  const { values, set, page } = useUrlFilters(['status', 'change', 'device'] as const);
  const status = (REQUEST_STATUSES as readonly string[]).includes(values.status) ? (values.status as Status) : undefined;
  const requests = useQuery({
    queryKey: ['requests', scope, status, values.change, values.device],
    // The rows shown stay while a changed filter loads, instead of a spinner at each keystroke.
    placeholderData: keepPreviousData,
    queryFn: async () =>
      unwrap(
        await api.GET('/api/v1/requests', {
          params: { query: { scope, ...(status && { status }), ...(values.change && { change: values.change }), ...(values.device && { device: values.device }) } },
        }),
      ),
    refetchInterval: LIVE_POLL_MS,
  });
  return (
    <>
      <Title order={1} size="h2" mb="md">
        {scope === 'mine' ? 'My requests' : 'My approvals'}
      </Title>
      {reviews.error && (
        <Alert color="red" role="alert" title="Could not load the commands waiting" mb="md">
          {reviews.error instanceof ApiError ? reviews.error.message : String(reviews.error)}
        </Alert>
      )}
      {withReviews && (
        <>
          <CommandReviews reviews={reviews.reviews} linked={linked} linkedMissing={reviews.linkedMissing} />
          <Title order={2} size="h3" mb="sm">
            Requests
          </Title>
        </>
      )}
      <Group mb="md" align="end">
        <StatusFilter statuses={REQUEST_STATUSES} value={status} onChange={(value) => set('status', value)} />
        <TextInput label="Change" placeholder="Any" value={values.change} onChange={(event) => set('change', event.currentTarget.value)} w={200} />
        <TextInput label="Device" placeholder="Any" value={values.device} onChange={(event) => set('device', event.currentTarget.value)} w={200} />
      </Group>
      <Loaded query={requests}>
        {(rows) => (
          // Pending first, as the seed's approvers work through them; then the newest.
          <PagedTable
            rows={[...rows].sort((a, b) => Number(b.status === 'pending') - Number(a.status === 'pending'))}
            page={page}
            onPage={(next) => set('page', String(next))}
            headers={['Request', 'Status', 'Change', 'Device', ...(scope === 'approvals' ? ['Requester'] : []), 'Approvals', 'Asked']}
            rowKey={(request) => request.id}
          >
            {(request) => (
              <>
                <Table.Td>
                  <Anchor component={Link} to={`/requests/${request.number}`}>
                    #{request.number}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <StatusBadge status={request.status} />
                </Table.Td>
                <NamedCell name={request.change} detail={request.changeTitle} />
                <Table.Td>{request.device}</Table.Td>
                {scope === 'approvals' && <Table.Td>{request.requester}</Table.Td>}
                <Table.Td>
                  {request.decisions.filter((decision) => decision.decision === 'approve').length} of {request.approvalsRequired}
                </Table.Td>
                <Table.Td>{formatTime(request.createdAt, me.user.timeZone)}</Table.Td>
              </>
            )}
          </PagedTable>
        )}
      </Loaded>
    </>
  );
}
