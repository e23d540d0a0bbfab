import { Badge, Card, Group, SimpleGrid, Text, Title } from '@mantine/core';
import type { BoardRow } from './audit.queries.ts';
import { DARK_ORANGE } from './Outcome.tsx';

/** The kinds of line a board shows: the Change Audit board's, and a live session's progress. */
export type BoardKind = BoardRow['kind'];

/** 6.6:1 under white text. */
const DARK_GREEN = '#1e6b30';

/**
 * How a board shows each kind of line: always in words (the badge), the colour repeating them.
 * Badges are filled, under white text at AA contrast (Mantine's green.9 and orange.9 fall just
 * short of 4.5:1, hence two darker shades); the lines' tints are shade 1, under the page's dark text.
 */
export const KINDS: Record<BoardKind, { readonly label: string; readonly badge: string; readonly tint?: string; readonly meaning: string }> = {
  matched: { label: 'matched', badge: 'teal.9', meaning: 'executed as the script says' },
  missing: { label: 'missing', badge: 'red.9', tint: 'red', meaning: 'in the script, but not executed' },
  extra: { label: 'extra', badge: DARK_GREEN, tint: 'green', meaning: 'executed, but not in the script' },
  out_of_order: { label: 'out of order', badge: DARK_ORANGE, tint: 'orange', meaning: 'a step of the script executed at another place' },
  failed_expectation: { label: 'expectation failed', badge: 'grape.9', tint: 'grape', meaning: 'executed, but its output is not what the script expects' },
  skipped: { label: 'optional, skipped', badge: 'gray.7', meaning: 'an optional step not executed' },
  session_end: { label: 'ended the session', badge: 'gray.7', meaning: 'the exit that closed the session, not counted' },
};

export const LEGEND_ORDER: readonly BoardKind[] = ['missing', 'extra', 'out_of_order', 'failed_expectation', 'skipped', 'matched', 'session_end'];

/** A badge in the board's words and colours; `label`, `color` and `variant` word and show it otherwise (a live session's "to do"). */
export function KindBadge({ kind, label, color, variant = 'filled' }: { kind: BoardKind; label?: string; color?: string; variant?: 'filled' | 'outline' }) {
  return (
    <Badge color={color ?? KINDS[kind].badge} variant={variant} autoContrast style={{ whiteSpace: 'nowrap', flexShrink: 0 }}>
      {label ?? KINDS[kind].label}
    </Badge>
  );
}

/** The style of a tinted line: its tint, and a bar at its left in the tint's dark shade (for those who do not tell the tints apart). */
export function tintStyle(kind: BoardKind): { bg?: string; style?: { boxShadow: string } } {
  const tint = KINDS[kind].tint;
  return tint ? { bg: `${tint}.1`, style: { boxShadow: `inset 4px 0 0 var(--mantine-color-${tint}-9)` } } : {};
}

/** What each kind of line means, as a card; `kinds` picks and orders them. */
export function Legend({ kinds = LEGEND_ORDER }: { kinds?: readonly BoardKind[] }) {
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">
        Legend
      </Title>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="xs">
        {kinds.map((kind) => (
          <Group key={kind} gap="xs" wrap="nowrap">
            <KindBadge kind={kind} />
            <Text size="sm">
              {KINDS[kind].meaning}
              {KINDS[kind].tint && ` (${KINDS[kind].tint} line)`}
            </Text>
          </Group>
        ))}
      </SimpleGrid>
    </Card>
  );
}

/** What a row says about the row it pairs with: a step missing here ran elsewhere, or the reverse. */
export function pairing(row: { readonly kind: BoardKind; readonly linkedRow: number | null }): string | undefined {
  if (row.linkedRow === null) return undefined;
  if (row.kind === 'missing') return `executed out of order: row ${row.linkedRow + 1}`;
  if (row.kind === 'out_of_order') return `planned at row ${row.linkedRow + 1}`;
  return undefined;
}
