import type { ColumnType } from 'kysely';

/** Tables of the change audit. */
export interface ReviewTables {
  change_review: ChangeReviewTable;
  deviation_subscription: DeviationSubscriptionTable;
}

/** A user who asked to hear of a change's deviations while its sessions run. */
export interface DeviationSubscriptionTable {
  change_id: string;
  user_id: string;
  created_at: Date;
}

export interface ChangeReviewTable {
  change_id: string;
  score: number;
  outcome: 'as_planned' | 'incomplete' | 'exceeded' | 'incomplete_and_exceeded';
  counts: ColumnType<Record<string, number>, string, string>;
  devices: ColumnType<Array<{ device: string; score: number; outcome: string; counts: Record<string, number> }>, string, string>;
  computed_at: Date;
}
