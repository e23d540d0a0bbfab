import type { ColumnType } from 'kysely';

/** Tables of the change audit. */
export interface ReviewTables {
  change_review: ChangeReviewTable;
}

export interface ChangeReviewTable {
  change_id: string;
  score: number;
  outcome: 'as_planned' | 'incomplete' | 'exceeded' | 'incomplete_and_exceeded';
  counts: ColumnType<Record<string, number>, string, string>;
  devices: ColumnType<Array<{ device: string; score: number; outcome: string; counts: Record<string, number> }>, string, string>;
  computed_at: Date;
}
