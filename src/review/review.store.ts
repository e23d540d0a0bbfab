import type { Executor } from '../platform/database.ts';
import type { ChangeComparison } from './comparison.ts';

/** A command executed under a change, with where it ran and where it sits in its recording. */
export interface ChangeCommandRow {
  readonly session_id: string;
  readonly session_number: number;
  readonly device_id: string;
  readonly seq: number;
  readonly time: Date;
  readonly offset_seconds: number;
  readonly text: string;
  readonly output: string;
  readonly output_truncated: boolean;
  readonly exit_status: number | null;
  /** Why its session ended, and the status the device's shell exited with (null if it did not exit). */
  readonly session_kind: string;
  readonly session_end_reason: string | null;
  readonly session_exit_status: number | null;
}

/** Every command captured in the change's sessions, in time order. */
export async function commandsOfChange(db: Executor, changeId: string): Promise<ChangeCommandRow[]> {
  return db
    .selectFrom('session_command as c')
    .innerJoin('session as s', 's.id', 'c.session_id')
    .select([
      'c.session_id',
      's.number as session_number',
      's.device_id',
      'c.seq',
      'c.time',
      'c.offset_seconds',
      'c.text',
      'c.output',
      'c.output_truncated',
      'c.exit_status',
      's.kind as session_kind',
      's.end_reason as session_end_reason',
      's.exit_status as session_exit_status',
    ])
    .where('s.change_id', '=', changeId)
    .orderBy('c.time')
    .orderBy('s.number')
    .orderBy('c.seq')
    .execute();
}

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

/** The stored result of a change, if computed: its score, outcome and when it was computed. */
export async function storedReview(db: Executor, changeId: string): Promise<{ score: number; outcome: string; computedAt: Date } | undefined> {
  const row = await db.selectFrom('change_review').select(['score', 'outcome', 'computed_at']).where('change_id', '=', changeId).executeTakeFirst();
  return row && { score: row.score, outcome: row.outcome, computedAt: row.computed_at };
}

/** Changes with a session a crash interrupted (no session end recomputed their score) since their score was last computed. */
export async function changesScoredBeforeInterruption(db: Executor): Promise<string[]> {
  const rows = await db
    .selectFrom('session as s')
    .leftJoin('change_review as r', 'r.change_id', 's.change_id')
    .select('s.change_id')
    .distinct()
    .where('s.end_reason', '=', 'interrupted')
    .where((eb) => eb.or([eb('r.computed_at', 'is', null), eb('r.computed_at', '<', eb.ref('s.ended_at'))]))
    .execute();
  return rows.map((row) => row.change_id);
}

export async function reviewsOf(db: Executor, changeIds: readonly string[]): Promise<Map<string, { score: number; outcome: string }>> {
  if (changeIds.length === 0) return new Map();
  const rows = await db.selectFrom('change_review').select(['change_id', 'score', 'outcome']).where('change_id', 'in', changeIds).execute();
  return new Map(rows.map((row) => [row.change_id, { score: row.score, outcome: row.outcome }]));
}
