import { Alert, Anchor, Button, Card, Group, List, Progress, Stack, Text, Textarea, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiError, unwrap } from '../api/client.ts';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { Loaded, StatusBadge, notifyDone } from '../ui.tsx';
import { LIVE_POLL_MS } from './RequestsPage.tsx';

type Action = 'approve' | 'deny' | 'cancel' | 'revoke';

const DONE: Record<Action, string> = { approve: 'Approved', deny: 'Denied', cancel: 'Withdrawn', revoke: 'Revoked' };

/** One request: what it asks, who decided what, and the actions open to this user. Notifications link here. */
export default function RequestPage() {
  const me = useMe();
  const number = Number(useParams().number);
  const queryClient = useQueryClient();
  const [comment, setComment] = useState('');
  const [reason, setReason] = useState('');
  const request = useQuery({
    queryKey: ['request', number],
    queryFn: async () => unwrap(await api.GET('/api/v1/requests/{number}', { params: { path: { number } } })),
    refetchInterval: LIVE_POLL_MS,
    enabled: Number.isInteger(number),
  });
  const act = useMutation({
    mutationFn: async (action: Action) => {
      const path = { params: { path: { number } } };
      if (action === 'approve') return unwrap(await api.POST('/api/v1/requests/{number}/approve', { ...path, body: { ...(comment.trim() && { comment: comment.trim() }) } }));
      if (action === 'deny') return unwrap(await api.POST('/api/v1/requests/{number}/deny', { ...path, body: { ...(comment.trim() && { comment: comment.trim() }) } }));
      if (action === 'revoke') return unwrap(await api.POST('/api/v1/requests/{number}/revoke', { ...path, body: { reason: reason.trim() } }));
      return unwrap(await api.POST('/api/v1/requests/{number}/cancel', path));
    },
    onSuccess: (updated, action) => {
      queryClient.setQueryData(['request', number], updated);
      void queryClient.invalidateQueries({ queryKey: ['requests'] });
      void queryClient.invalidateQueries({ queryKey: ['notifications'] });
      setComment('');
      setReason('');
      notifyDone(`${DONE[action]}: request #${number}.`);
    },
  });
  const error = act.error instanceof ApiError ? act.error : undefined;

  if (!Number.isInteger(number)) return <Alert color="red">There is no request with that number.</Alert>;
  return (
    <Loaded query={request}>
      {(shown) => {
        const approvals = shown.decisions.filter((decision) => decision.decision === 'approve').length;
        const mine = shown.requester === me.user.username;
        const approver = shown.approvers.includes(me.user.username);
        const decided = shown.decisions.some((decision) => decision.approver === me.user.username);
        const canDecide = approver && !mine && !decided && shown.status === 'pending';
        const canWithdraw = mine && (shown.status === 'pending' || shown.status === 'approved');
        const canRevoke = shown.status === 'approved' && (approver || holds(me, 'Request.Revoke'));
        return (
          <Stack maw={760}>
            <Group>
              <Title order={1} size="h2">
                Request #{shown.number}
              </Title>
              <StatusBadge status={shown.status} />
            </Group>
            <Card withBorder>
              <Stack gap="xs">
                <Text>
                  <b>{shown.requester}</b> asks to run change <b>{shown.change}</b> ({shown.changeTitle}) on <b>{shown.device}</b>.
                </Text>
                <Text size="sm">Justification: {shown.justification ?? '—'}</Text>
                <Text size="sm">
                  Asked {formatTime(shown.createdAt, me.user.timeZone)}; lapses {formatTime(shown.expiresAt, me.user.timeZone)}.
                </Text>
                {shown.closeReason && <Text size="sm">Closed: {shown.closeReason}</Text>}
              </Stack>
            </Card>
            <Card withBorder>
              <Stack gap="xs">
                <Text fw={600}>
                  Approvals: {approvals} of {shown.approvalsRequired} needed
                </Text>
                <Progress value={(100 * Math.min(approvals, shown.approvalsRequired)) / shown.approvalsRequired} aria-label={`${approvals} of ${shown.approvalsRequired} approvals`} />
                <Text size="sm" c="dimmed">
                  Approvers: {shown.approvers.join(', ')}
                </Text>
                {shown.decisions.length > 0 && (
                  <List size="sm">
                    {shown.decisions.map((decision) => (
                      <List.Item key={decision.approver}>
                        <b>{decision.approver}</b> {decision.decision === 'approve' ? 'approved' : 'denied'} {formatTime(decision.decidedAt, me.user.timeZone)}
                        {decision.comment && <>: “{decision.comment}”</>}
                      </List.Item>
                    ))}
                  </List>
                )}
              </Stack>
            </Card>
            {error && (
              <Alert color="red" role="alert" title="Not done">
                {error.message}
              </Alert>
            )}
            {canDecide && (
              <Card withBorder>
                <Stack>
                  <Textarea label="Comment" description="The requester reads it with your decision." value={comment} onChange={(event) => setComment(event.currentTarget.value)} error={error?.fieldMessage('comment')} autosize minRows={2} maxLength={2000} />
                  <Group>
                    <Button color="teal.9" loading={act.isPending && act.variables === 'approve'} onClick={() => act.mutate('approve')}>
                      Approve
                    </Button>
                    <Button color="red.9" variant="outline" loading={act.isPending && act.variables === 'deny'} onClick={() => act.mutate('deny')}>
                      Deny
                    </Button>
                  </Group>
                </Stack>
              </Card>
            )}
            {canRevoke && (
              <Card withBorder>
                <Stack>
                  <Textarea label="Reason to revoke" description="Its live sessions end; the requester is told why." value={reason} onChange={(event) => setReason(event.currentTarget.value)} error={error?.fieldMessage('reason')} autosize minRows={2} maxLength={2000} />
                  <Group>
                    <Button color="red.9" disabled={!reason.trim()} loading={act.isPending && act.variables === 'revoke'} onClick={() => act.mutate('revoke')}>
                      Revoke
                    </Button>
                  </Group>
                </Stack>
              </Card>
            )}
            {canWithdraw && (
              <Group>
                <Button variant="default" loading={act.isPending && act.variables === 'cancel'} onClick={() => act.mutate('cancel')}>
                  Withdraw my request
                </Button>
              </Group>
            )}
            <Anchor component={Link} to={mine ? '/requests' : '/approvals'} size="sm">
              Back to {mine ? 'My requests' : 'My approvals'}
            </Anchor>
          </Stack>
        );
      }}
    </Loaded>
  );
}
