import { Alert, Anchor, Button, Card, Code, Group, List, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { useEffect, useId, useRef, useState } from 'react';
import { Link } from 'react-router';
import { ApiError } from '../api/client.ts';
import { ServerRefusal } from '../admin/ServerRefusal.tsx';
import { holds, useMe } from '../session.tsx';
import { formatTime } from '../time.ts';
import { StatusBadge } from '../ui.tsx';
import { useDecideReview, type CommandReview } from './command-reviews.ts';

/** The decided reviews listed under the waiting ones: the latest. */
const DECIDED_SHOWN = 10;
/** The longest comment the API takes. */
const MAX_COMMENT = 2000;

const WHERE: Record<CommandReview['where'], string | undefined> = {
  shell: undefined,
  program: 'typed in a program the shell ran, not at its prompt',
  secret: 'typed at a password prompt',
  screen: 'typed in a full-screen program',
};

/** The highlight of the review a notice linked to (`?review=12`). */
const LINKED = { bg: 'indigo.0', style: { outline: '2px solid var(--mantine-color-indigo-8)', outlineOffset: -2 } };

/**
 * My approvals ➔ Commands waiting: lines the gateway holds until one of their access group's
 * approvers allows or refuses them (a review rule matched, or strict mode), each with what was typed,
 * why it waits and where; then the latest decided. A notice's link (`?review=12`) scrolls to its
 * review, highlighted, and gives it the focus.
 */
export function CommandReviews({ reviews, linked, linkedMissing }: { reviews: readonly CommandReview[]; linked: number | undefined; linkedMissing: boolean }) {
  const titleId = useId();
  const waiting = reviews.filter((review) => review.status === 'pending');
  const decided = reviews.filter((review) => review.status !== 'pending').slice(0, DECIDED_SHOWN);
  useScrollToLinked(linked, reviews.some((review) => review.number === linked));

  return (
    <Stack component="section" aria-labelledby={titleId} gap="sm" mb="xl">
      <Title order={2} size="h3" id={titleId}>
        Commands waiting
      </Title>
      {linkedMissing && (
        <Alert color="gray" title={`Review #${linked}`}>
          It is not a review you are asked to decide, or it no longer exists.
        </Alert>
      )}
      {waiting.length === 0 ? (
        <Text size="sm">No command waits for your decision now.</Text>
      ) : (
        <Text size="sm">Each line waits at the gateway: nothing more typed in its session reaches the device until an approver decides, or the user gives the line up.</Text>
      )}
      {waiting.map((review) => (
        <WaitingReview key={review.number} review={review} linked={review.number === linked} />
      ))}
      {decided.length > 0 && <DecidedReviews reviews={decided} linked={linked} />}
    </Stack>
  );
}

/** Scrolls to the linked review once it is shown, and gives it the focus: once per link followed. */
function useScrollToLinked(linked: number | undefined, shown: boolean) {
  const done = useRef<number>(undefined);
  useEffect(() => {
    if (linked === undefined || !shown || done.current === linked) return;
    const element = document.getElementById(`review-${linked}`);
    if (!element) return;
    done.current = linked;
    element.scrollIntoView({ block: 'center' });
    element.focus({ preventScroll: true });
  }, [linked, shown]);
}

function WaitingReview({ review, linked }: { review: CommandReview; linked: boolean }) {
  const me = useMe();
  const titleId = useId();
  const [comment, setComment] = useState('');
  const decide = useDecideReview();
  const error = decide.error;
  const commentError = error instanceof ApiError ? error.fieldMessage('comment') : undefined;
  const where = WHERE[review.where];
  const act = (decision: 'allow' | 'refuse') => decide.mutate({ number: review.number, decision, comment }, { onSuccess: () => setComment('') });

  return (
    <Card withBorder component="article" id={`review-${review.number}`} tabIndex={-1} aria-labelledby={titleId} {...(linked && LINKED)}>
      <Stack gap="xs">
        <Group justify="space-between" align="baseline">
          <Title order={3} size="h5" id={titleId}>
            Review #{review.number}: {review.user} on {review.device}
          </Title>
          <Text size="sm">waiting since {formatTime(review.time, me.user.timeZone)}</Text>
        </Group>
        <Code block fz="sm" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
          {review.line ?? '(not shown: typed at a password prompt, or neither the screen nor the keys typed tell it)'}
        </Code>
        {(where || review.fromKeystrokes) && (
          <Text size="xs">{[where, review.fromKeystrokes && 'rebuilt from the keys typed: the terminal echoed nothing'].filter(Boolean).join('; ')}</Text>
        )}
        <Text size="sm">
          <b>{review.user}</b> typed it in session{' '}
          {holds(me, 'Session.Watch') ? (
            <Anchor component={Link} to={`/live-sessions/${review.session}`} aria-label={`Watch session #${review.session}`}>
              #{review.session}
            </Anchor>
          ) : (
            `#${review.session}`
          )}{' '}
          on <b>{review.device}</b>, under change <b>{review.change}</b>.
        </Text>
        <div>
          <Text size="sm" fw={600}>
            Why it waits
          </Text>
          <List size="sm">
            {review.reasons.map((reason, k) => (
              <List.Item key={k}>{reason}</List.Item>
            ))}
          </List>
        </div>
        <Text size="sm">Asked: {review.asked.join(', ')}</Text>
        <Textarea
          label="Comment"
          description={`Optional. ${review.user} reads it in their terminal if you refuse the line.`}
          value={comment}
          onChange={(event) => setComment(event.currentTarget.value)}
          error={commentError}
          autosize
          minRows={1}
          maxLength={MAX_COMMENT}
        />
        <ServerRefusal error={error} title="Not decided" fields={['comment']} />
        <Group>
          <Button color="teal.9" aria-label={`Allow review #${review.number}`} loading={decide.isPending && decide.variables.decision === 'allow'} disabled={decide.isPending} onClick={() => act('allow')}>
            Allow
          </Button>
          <Button
            color="red.9"
            variant="outline"
            aria-label={`Refuse review #${review.number}`}
            loading={decide.isPending && decide.variables.decision === 'refuse'}
            disabled={decide.isPending}
            onClick={() => act('refuse')}
          >
            Refuse
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

/** Who decided, or how the review ended without a decision. */
function endedBy(review: CommandReview): string {
  if (review.decidedBy) return review.decidedBy;
  if (review.status === 'withdrawn') return 'given up by the user, or the session ended';
  if (review.status === 'expired') return 'no approver decided in time';
  return '—';
}

function DecidedReviews({ reviews, linked }: { reviews: readonly CommandReview[]; linked: number | undefined }) {
  const me = useMe();
  const titleId = useId();
  return (
    <>
      <Title order={3} size="h5" id={titleId} mt="sm">
        Decided
      </Title>
      <Table aria-labelledby={titleId}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Review</Table.Th>
            <Table.Th>Line</Table.Th>
            <Table.Th>Where</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Decided by</Table.Th>
            <Table.Th>When</Table.Th>
            <Table.Th>Comment</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {reviews.map((review) => (
            <Table.Tr key={review.number} id={`review-${review.number}`} tabIndex={-1} {...(review.number === linked && LINKED)}>
              <Table.Td>#{review.number}</Table.Td>
              <Table.Td>
                <Code style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{review.line ?? '(not shown)'}</Code>
              </Table.Td>
              <Table.Td>
                <Text size="sm">
                  {review.user} on {review.device}
                </Text>
                <Text size="xs" c="dimmed">
                  session #{review.session}, {review.change}
                </Text>
              </Table.Td>
              <Table.Td>
                <StatusBadge status={review.status ?? 'unknown'} />
              </Table.Td>
              <Table.Td>{endedBy(review)}</Table.Td>
              <Table.Td>{formatTime(review.decidedAt, me.user.timeZone)}</Table.Td>
              <Table.Td>{review.comment ?? '—'}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </>
  );
}
