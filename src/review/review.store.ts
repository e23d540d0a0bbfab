import type { Executor } from '../platform/database.ts';
import type { ChangeReviewTable } from '../platform/tables/review.ts';
import type { ChangeComparison } from './comparison.ts';

export async function saveReview(db: Executor, changeId: string, comparison: ChangeComparison, at: Date): Promise<void> {
  const row = {
    score: comparison.score,
    outcome: comparison.outcome,
    counts: JSON.stringify(comparison.counts),
    devices: JSON.stringify(comparison.devices.map((device) => ({ device: device.device, score: device.score, outcome: device.outcome, counts: device.counts }))),
    computed_at: at,
  };
  await db
    .insertInto('change_review')
    .values({ change_id: changeId, ...row })
    .onConflict((oc) => oc.column('change_id').doUpdateSet(row))
    .execute();
}

/** A change's stored result, as the last session's end computed it. */
export interface StoredReview {
  readonly score: number;
  readonly outcome: ChangeReviewTable['outcome'];
  readonly counts: Record<string, number>;
  /** Each device's part of the result (its board is not stored). */
  readonly devices: Array<{ device: string; score: number; outcome: string; counts: Record<string, number> }>;
  readonly computedAt: Date;
}

/** The stored result of a change, if computed. */
export async function storedReview(db: Executor, changeId: string): Promise<StoredReview | undefined> {
  const row = await db.selectFrom('change_review').selectAll().where('change_id', '=', changeId).executeTakeFirst();
  return row && { score: row.score, outcome: row.outcome, counts: row.counts, devices: row.devices, computedAt: row.computed_at };
}

/** When the results of these changes were last computed, for those computed at all. */
export async function computedTimes(db: Executor, changeIds: readonly string[]): Promise<Map<string, Date>> {
  if (changeIds.length === 0) return new Map();
  const rows = await db.selectFrom('change_review').select(['change_id', 'computed_at']).where('change_id', 'in', [...changeIds]).execute();
  return new Map(rows.map((row) => [row.change_id, row.computed_at]));
}

/** The changes whose stored result matches: an outcome, a score range; every condition given must hold. */
export async function changesScored(db: Executor, filter: { outcome?: ChangeReviewTable['outcome']; scoreMin?: number; scoreMax?: number }): Promise<string[]> {
  let query = db.selectFrom('change_review').select('change_id');
  if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
  if (filter.scoreMin !== undefined) query = query.where('score', '>=', filter.scoreMin);
  if (filter.scoreMax !== undefined) query = query.where('score', '<=', filter.scoreMax);
  return (await query.execute()).map((row) => row.change_id);
}

export async function reviewsOf(db: Executor, changeIds: readonly string[]): Promise<Map<string, { score: number; outcome: string }>> {
  if (changeIds.length === 0) return new Map();
  const rows = await db.selectFrom('change_review').select(['change_id', 'score', 'outcome']).where('change_id', 'in', changeIds).execute();
  return new Map(rows.map((row) => [row.change_id, { score: row.score, outcome: row.outcome }]));
}
