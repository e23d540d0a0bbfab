import { Anchor, Badge, Box, Code, Group, Stack, Text, Title } from '@mantine/core';
import { useId } from 'react';
import { Link } from 'react-router';
import type { CommandReview } from '../requests/command-reviews.ts';
import { formatTime } from '../time.ts';
import { sessionPath } from './audit.queries.ts';
import { formatOffset, hashOfOffset } from './playback-time.ts';

/** What the policy did with the line, in the board's words, and its badge colour (dark enough for white text). */
function outcomeOf(decision: CommandReview): { label: string; color: string } {
  switch (decision.decision) {
    case 'deny':
      return { label: 'refused', color: 'red.9' };
    case 'warn':
      return { label: 'ran, warned', color: 'orange.9' };
    case 'allow':
      return { label: 'ran, echo off', color: 'gray.7' };
    case 'review':
      switch (decision.status) {
        case 'pending':
          return { label: 'waits for an approver', color: 'indigo.8' };
        case 'allowed':
          return { label: 'allowed by an approver', color: 'teal.9' };
        case 'refused':
          return { label: 'refused by an approver', color: 'red.9' };
        case 'expired':
          return { label: 'refused: no approver in time', color: 'red.9' };
        default:
          return { label: 'given up', color: 'gray.7' };
      }
  }
}

/** Who ended a review, and what they said: "by carol: not during business hours". */
function reviewNote(decision: CommandReview): string | undefined {
  if (decision.decision !== 'review') return undefined;
  if (decision.status === 'pending') return `asked: ${decision.asked.join(', ')}`;
  if (decision.decidedBy === null) return undefined;
  return `by ${decision.decidedBy}${decision.comment ? `: ${decision.comment}` : ''}`;
}

/**
 * The command policy's decisions on a device's board: each line refused, warned of, held for review
 * (with how the review went) or rebuilt from the keys typed, when, why, and where to watch it. Lines
 * that ran without a word from the policy are not listed: the board's rows show them.
 */
export function PolicyDecisions({ decisions, device, zone, session }: { decisions: readonly CommandReview[]; device: string; zone: string; session: number }) {
  const titleId = useId();
  if (decisions.length === 0) return null;
  return (
    <Box component="section" aria-labelledby={titleId} mt="sm">
      <Title order={3} size="h5" id={titleId} mb={4}>
        Command policy on {device}: {decisions.length} {decisions.length === 1 ? 'decision' : 'decisions'}
      </Title>
      <Stack gap={0} component="ol" m={0} p={0} style={{ listStyle: 'none' }}>
        {decisions.map((decision) => {
          const outcome = outcomeOf(decision);
          const note = reviewNote(decision);
          return (
            <Box component="li" key={decision.number} py={6} style={{ borderBottom: '1px solid var(--mantine-color-gray-3)' }}>
              <Group gap={6} align="baseline">
                <Badge color={outcome.color} variant="filled" autoContrast miw="max-content">
                  {outcome.label}
                </Badge>
                {decision.line === null ? <Text size="sm">(line not shown)</Text> : <Code style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>{decision.line}</Code>}
              </Group>
              <Text size="xs" mt={2}>
                {decision.reasons.join('; ')}
                {note && ` — ${note}`}
              </Text>
              <Text size="xs" c="dimmed">
                #{decision.number}, {formatTime(decision.time, zone)}, {decision.user}
                {decision.session === session ? '' : ` in session #${decision.session}`} ·{' '}
                <Anchor component={Link} to={sessionPath(decision.session, 'video', hashOfOffset(decision.offsetSeconds))} size="xs" underline="always">
                  Watch at {formatOffset(decision.offsetSeconds)}
                </Anchor>
              </Text>
            </Box>
          );
        })}
      </Stack>
    </Box>
  );
}
