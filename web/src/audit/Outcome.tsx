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

/**
 * How a session or change ended against its script, in words (the colour only repeats them). An
 * outcome whose board rests on a limited capture says so ("as planned — capture limited"), and an
 * as planned one then loses its reassuring colour: commands may be missing from what it compared.
 */
export function OutcomeBadge({ outcome, captureLimited = false }: { outcome: string | null; captureLimited?: boolean }) {
  if (outcome === null) return <>not scored yet</>;
  const color = captureLimited && outcome === 'as_planned' ? DARK_ORANGE : (COLORS[outcome as Outcome] ?? 'gray.7');
  // The longer "— capture limited" wraps (between words) rather than widening a table past the screen.
  const wrapping = captureLimited
    ? { h: 'auto', maw: 220, py: 4, radius: 'sm', styles: { label: { whiteSpace: 'normal' as const, overflow: 'visible' as const, lineHeight: 1.4 } } }
    : { miw: 'max-content' };
  return (
    <Badge color={color} variant="filled" autoContrast {...wrapping}>
      {outcomeLabel(outcome)}
      {captureLimited && ' — capture limited'}
    </Badge>
  );
}

/** A score out of 100, or a dash while it is being computed. */
export function scoreText(score: number | null): string {
  return score === null ? '—' : `${score} / 100`;
}
