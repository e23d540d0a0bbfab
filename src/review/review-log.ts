import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { findEntries } from '../eventlog/index.ts';
import type { Executor } from '../platform/database.ts';
import type { ComparisonCounts, Outcome } from './comparison.ts';
import type { ChangeAuditView, DeviceAuditView } from './review.views.ts';

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

export const REVIEW_RESULT_ACTION = 'review.result';

/** A change-audit result as the event log keeps it (`data` of a `review.result` event). */
export interface LoggedReviewResult {
  /** The change's id (its name is the event's subject, `change:CHG-42`). */
  readonly change: string;
  readonly score: number;
  readonly outcome: Outcome;
  readonly counts: ComparisonCounts;
  /** Hex SHA-256 of the board's canonical JSON (`boardDigest`). */
  readonly boardDigest: string;
  /** How `boardDigest` was computed (`BOARD_DIGEST_VERSION`); results logged before it was written are version 1. */
  readonly boardDigestVersion?: BoardDigestVersion;
}

/**
 * 1: over each device's name (results logged before version 2, which hold no version); a device
 * renamed since makes the board differ. 2: over each device's ID, which a rename keeps. 3: also
 * over each device's capture status, its sessions' statuses and their reasons with when each
 * began, so that a capture note removed from the records (a limited board passed off as complete)
 * makes the board differ.
 */
export type BoardDigestVersion = 1 | 2 | 3;
export const BOARD_DIGEST_VERSION: BoardDigestVersion = 3;

/** What a result is checked on: the score, the outcome and the board of a change audit. */
export type ChangeAuditResult = Pick<ChangeAuditView, 'score' | 'outcome' | 'devices'>;

/** A device's capture as version 3 hashes it: the facts, not their wording (the warning, each reason's text), which may be reworded. */
const hashedCapture = ({ status, sessions }: DeviceAuditView['capture']) => ({
  status,
  sessions: sessions.map(({ session, status: each, reasons }) => ({ session, status: each, reasons: reasons.map(({ reason, since, offsetSeconds }) => ({ reason, since, offsetSeconds })) })),
});

/**
 * The SHA-256 (hex) of the board: the RFC 8785 canonical JSON of the audit's `devices`, each
 * device's ID (version 2 on; its name in version 1), score, outcome, counts and every row (script
 * step, command with its output and, when it differs, what was typed; links), and from version 3
 * its capture (`hashedCapture`), as `GET /changes/{name}/audit` and the JSON report show
 * them. Names are left out of version 2 because a rename changes no fact of the board.
 */
export function boardDigest(devices: ChangeAuditView['devices'], version: BoardDigestVersion = BOARD_DIGEST_VERSION): string {
  const hashed =
    version === 1
      ? devices.map(({ device, score, outcome, counts, rows }) => ({ device, score, outcome, counts, rows }))
      : version === 2
        ? devices.map(({ deviceId, score, outcome, counts, rows }) => ({ deviceId, score, outcome, counts, rows }))
        : devices.map(({ deviceId, score, outcome, counts, rows, capture }) => ({ deviceId, score, outcome, counts, rows, capture: hashedCapture(capture) }));
  // A command's `typed` is hashed only when it holds something, and its `fromKeystrokes` only when
  // true: boards logged before they existed keep their digest.
  const omitted = (key: string, value: unknown) => (key === 'typed' && value === null) || (key === 'fromKeystrokes' && value === false);
  const text = canonicalize(JSON.parse(JSON.stringify(hashed, (key, value: unknown) => (omitted(key, value) ? undefined : value))));
  if (text === undefined) throw new Error('the board cannot be canonicalized');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The logged form of a computed result. */
export function loggedResult(changeId: string, audit: Pick<ChangeAuditView, 'score' | 'outcome' | 'counts' | 'devices'>): LoggedReviewResult {
  return { change: changeId, score: audit.score, outcome: audit.outcome, counts: audit.counts, boardDigest: boardDigest(audit.devices), boardDigestVersion: BOARD_DIGEST_VERSION };
}

export interface ReviewResultEvent {
  readonly eventSeq: number;
  readonly time: Date;
  readonly logged: LoggedReviewResult;
}

/**
 * The latest `review.result` event of a change. `at`, the stored result's computation time (the
 * event's time), lets the event time index find it; without it, or if nothing is at that time,
 * every result event is searched.
 */
export async function findReviewResultEvent(db: Executor, changeId: string, at?: Date): Promise<ReviewResultEvent | undefined> {
  const find = async (time?: Date) =>
    (await findEntries(db, { actions: [REVIEW_RESULT_ACTION], dataHolds: { change: changeId }, ...(time && { at: time }), newestFirst: true, limit: 1 }))[0];
  const entry = (at && (await find(at))) || (await find());
  return entry && { eventSeq: entry.seq, time: entry.time, logged: entry.data as unknown as LoggedReviewResult };
}

export type ReviewResultCheck =
  | { readonly ok: true; readonly eventSeq: number; readonly logged: LoggedReviewResult }
  | {
      readonly ok: false;
      /** `not_logged`: the change has no logged result; `differs`: the score, outcome or board is not the last one logged. */
      readonly reason: 'not_logged' | 'differs';
      readonly eventSeq?: number;
      readonly logged?: LoggedReviewResult;
      /** What differs: `score`, `outcome`, `board`. */
      readonly differences: readonly string[];
      readonly message: string;
    };

/**
 * Checks a change-audit result (what `GET /changes/{name}/audit` answers, or an evidence bundle
 * holds) against the last result the event log holds for the change: the score, the outcome and
 * the board digest. The result is logged when it is computed and stored, after each of the
 * change's sessions ends; a board rebuilt from records edited since (a command's text or output,
 * a session row) differs from it.
 *
 * @example
 * const check = await checkReviewResultInLog(db, change.id, await reviews.audit(actor, 'CHG-42'));
 * if (!check.ok) console.log(check.message);
 */
export async function checkReviewResultInLog(db: Executor, changeId: string, result: ChangeAuditResult): Promise<ReviewResultCheck> {
  const stored = await db.selectFrom('change_review').select('computed_at').where('change_id', '=', changeId).executeTakeFirst();
  const event = await findReviewResultEvent(db, changeId, stored?.computed_at);
  if (!event) {
    return { ok: false, reason: 'not_logged', differences: ['score', 'outcome', 'board'], message: 'the event log holds no change-audit result for this change' };
  }
  const { logged } = event;
  // Each result is checked the way it was hashed: an older entry is never held to a newer digest.
  const version = logged.boardDigestVersion ?? 1;
  const differences = [
    ...(logged.score !== result.score ? ['score'] : []),
    ...(logged.outcome !== result.outcome ? ['outcome'] : []),
    ...(logged.boardDigest !== boardDigest(result.devices, version) ? ['board'] : []),
  ];
  if (differences.length === 0) return { ok: true, eventSeq: event.eventSeq, logged };
  const said = `score ${logged.score}, outcome ${logged.outcome}, board ${logged.boardDigest.slice(0, 12)}…`;
  const byNames =
    version === 1 && differences.includes('board')
      ? ` (that result was logged before boards were hashed by device ID: a device renamed since also makes its board differ; the next session's end logs it anew)`
      : '';
  return {
    ok: false,
    reason: 'differs',
    eventSeq: event.eventSeq,
    logged,
    differences,
    message: `the change audit differs from the result event ${event.eventSeq} logged (${said}) in its ${differences.join(', ')}: the records it is computed from changed since${byNames}`,
  };
}
