import { Badge } from '@mantine/core';
import type { Outcome } from './audit.queries.ts';

export const OUTCOMES: readonly Outcome[] = ['as_planned', 'incomplete', 'exceeded', 'incomplete_and_exceeded'];

const LABELS: Record<Outcome, string> = {
  as_planned: 'as planned',
  incomplete: 'incomplete',
  exceeded: 'exceeded',
  incomplete_and_exceeded: 'incomplete and exceeded',
};

/** Under white text at 6.1:1, where Mantine's orange.9 gives 4.3:1, short of AA. */
export const DARK_ORANGE = '#b03a0a';

/** Filled and dark enough for white text at AA contrast. */
const COLORS: Record<Outcome, string> = {
  as_planned: 'teal.9',
  incomplete: 'red.9',
  exceeded: DARK_ORANGE,
  incomplete_and_exceeded: 'red.9',
};

export function outcomeLabel(outcome: string): string {
  return LABELS[outcome as Outcome] ?? outcome;
}

/** How a session or change ended against its script, in words (the colour only repeats them). */
export function OutcomeBadge({ outcome }: { outcome: string | null }) {
  if (outcome === null) return <>not scored yet</>;
  return (
    <Badge color={COLORS[outcome as Outcome] ?? 'gray.7'} variant="filled" autoContrast miw="max-content">
      {outcomeLabel(outcome)}
    </Badge>
  );
}

/** A score out of 100, or a dash while it is being computed. */
export function scoreText(score: number | null): string {
  return score === null ? '—' : `${score} / 100`;
}
