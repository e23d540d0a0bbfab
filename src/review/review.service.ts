import type { Kysely } from 'kysely';
import { changeStatus, findChange, findVisibleChange, parseScript, type Change } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';
import { findUserByName } from '../identity/index.ts';
import { hasPrivilege, inPartition, partitionsWith, type Actor } from '../access/index.ts';
import { findDeviceByRef, findDevicesByIds } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import type { Database, Tx } from '../platform/database.ts';
import { errors } from '../platform/errors.ts';
import { commandCountsOf, presentSession, requestNumbersOf, type SessionView } from '../sessions/index.ts';
import { compareChange, type BoardRow, type ComparisonCounts, type ExecutedCommand, type Outcome } from './comparison.ts';
import { findReviewResultEvent, loggedResult, REVIEW_RESULT_ACTION, type LoggedReviewResult } from './review-log.ts';
import type { BoardCommandView, BoardRowView, DeviceAuditView, ChangeAuditView, AuditedSessionView, AuditedSessionFilter } from './review-views.ts';
import { changesScoredBeforeInterruption, commandsOfChange, reviewsOf, saveReview, storedReview, type ChangeCommandRow } from './review.store.ts';


/**
 * The change audit (the seed's "Auditing the sessions"): the commands executed on each device of a
 * change, across all its sessions, against its script. Reading it needs Session.View in the
 * change's partition, since it shows what was typed and printed.
 */
export class ReviewService {
  private readonly loops = new Map<string, Promise<void>>();
  private readonly stale = new Set<string>();

  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly clock: Clock }) {}

  /**
   * Recomputes a change's score after one of its sessions ended, coalescing: while a recompute of
   * the change runs, any number of further endings cause one more run after it, not one each (a
   * recompute reads every session of the change). Resolves once the score reflects every ending.
   */
  recomputeAfterSession(changeId: string): Promise<void> {
    this.stale.add(changeId);
    let loop = this.loops.get(changeId);
    if (!loop) {
      loop = (async () => {
        try {
          while (this.stale.delete(changeId)) await this.recompute(changeId);
        } finally {
          this.loops.delete(changeId);
        }
      })();
      this.loops.set(changeId, loop);
    }
    return loop;
  }

  async audit(actor: Actor, changeName: string): Promise<ChangeAuditView> {
    return this.deps.db.transaction().execute(async (trx) => {
      const change = await findVisibleChange(trx, actor, changeName);
      if (!(await hasPrivilege(trx, actor, 'Session.View', inPartition(change.partitionId)))) {
        throw errors.forbidden('You need the Session.View privilege to audit the sessions of a change.');
      }
      return this.build(trx, change);
    });
  }

  /** Audited sessions, with the score and outcome of their change; filters combine. */
  async listSessions(actor: Actor, filter: AuditedSessionFilter = {}): Promise<AuditedSessionView[]> {
    return this.deps.db.transaction().execute(async (trx) => {
      const partitions = await partitionsWith(trx, actor, 'Session.View');
      if (partitions !== 'all' && partitions.length === 0) throw errors.forbidden('You need the Session.View privilege to list audited sessions.');
      let query = trx.selectFrom('session as s').leftJoin('change_review as r', 'r.change_id', 's.change_id').selectAll('s').select(['r.score', 'r.outcome']).where('s.ended_at', 'is not', null);
      if (partitions !== 'all') query = query.where('s.partition_id', 'in', partitions);
      if (filter.change) query = query.where('s.change_name', '=', filter.change);
      if (filter.user) query = query.where('s.user_id', '=', (await findUserByName(trx, filter.user))?.id ?? '00000000-0000-0000-0000-000000000000');
      if (filter.device) {
        const device = await findDeviceByRef(trx, actor, filter.device).catch(() => undefined);
        query = query.where('s.device_id', '=', device?.id ?? '00000000-0000-0000-0000-000000000000');
      }
      if (filter.from) query = query.where('s.started_at', '>=', filter.from);
      if (filter.to) query = query.where('s.started_at', '<', filter.to);
      if (filter.outcome) query = query.where('r.outcome', '=', filter.outcome);
      if (filter.scoreMin !== undefined) query = query.where('r.score', '>=', filter.scoreMin);
      if (filter.scoreMax !== undefined) query = query.where('r.score', '<=', filter.scoreMax);
      if (filter.command) {
        const pattern = `%${filter.command.replace(/[\\%_]/g, '\\$&')}%`;
        query = query.where((eb) => eb.exists(eb.selectFrom('session_command as c').select('c.seq').whereRef('c.session_id', '=', 's.id').where('c.text', 'like', pattern)));
      }
      const rows = await query.orderBy('s.started_at', 'desc').limit(filter.limit ?? 200).execute();
      const counts = await commandCountsOf(trx, rows.map((row) => row.id));
      const requests = await requestNumbersOf(trx, rows.map((row) => row.request_id));
      const now = this.deps.clock.now();
      return rows.map(({ score, outcome, ...session }) => ({
        ...presentSession(session, now, counts.get(session.id) ?? 0, requests.get(session.request_id) ?? null),
        changeScore: score,
        changeOutcome: outcome,
      }));
    });
  }

  /**
   * Recomputes and stores a change's score after one of its sessions ended, and logs the result
   * (score, outcome, counts, board digest) in the event log in the same transaction: a
   * `review.result` event, once per distinct result (a session that changed nothing on the board
   * writes nothing). A system change.
   */
  async recompute(changeId: string): Promise<void> {
    await this.deps.db.transaction().execute(async (trx) => {
      const change = await findChange(trx, changeId);
      if (!change) return;
      const audit = await this.build(trx, change);
      const result = loggedResult(change.id, audit);
      const stored = await storedReview(trx, change.id);
      if (stored && stored.score === result.score && stored.outcome === result.outcome) {
        const previous = await findReviewResultEvent(trx, change.id, stored.computedAt);
        if (previous && sameResult(previous.logged, result)) return;
      }
      const now = this.deps.clock.now();
      const devices = audit.devices.map((device) => ({ ...device, rows: [] }));
      await saveReview(trx, change.id, { devices, counts: audit.counts, score: audit.score, outcome: audit.outcome }, now);
      await appendEvent(trx, { actor: 'system', action: REVIEW_RESULT_ACTION, subject: `change:${change.name}`, data: { ...result }, time: now });
    });
  }

  /**
   * After a restart marked sessions a crash left open as interrupted: recomputes (and logs) the
   * score of their changes, as a session's end would have. Returns how many changes.
   */
  async recomputeAfterInterruptions(): Promise<number> {
    const changeIds = await changesScoredBeforeInterruption(this.deps.db);
    for (const changeId of changeIds) await this.recomputeAfterSession(changeId);
    return changeIds.length;
  }

  /** Scores of several changes, for lists. */
  async scores(changeIds: readonly string[]): Promise<Map<string, { score: number; outcome: string }>> {
    return reviewsOf(this.deps.db, changeIds);
  }

  private async build(trx: Tx, change: Change): Promise<ChangeAuditView> {
    const parsed = parseScript(change.script);
    // A saved change's script always parses; an empty one would only come from a database edit.
    const script = parsed.ok ? parsed.script : { steps: [] };
    const devices = await findDevicesByIds(trx, change.devices);
    const names = new Map(devices.map((device) => [device.id, device.name]));
    const executed = await commandsOfChange(trx, change.id);
    // By ID: a board is the same board whatever its devices are called now.
    const byDevice = new Map<string, ExecutedCommand[]>(change.devices.map((id) => [id, []]));
    const rowsById = new Map<string, ChangeCommandRow>();
    const lastSeq = new Map<string, number>();
    for (const row of executed) lastSeq.set(row.session_id, Math.max(row.seq, lastSeq.get(row.session_id) ?? 0));
    for (const row of executed) {
      const id = `${row.session_id}:${row.seq}`;
      rowsById.set(id, row);
      const list = byDevice.get(row.device_id) ?? [];
      // An interactive shell that exited (the device sent its exit status; nothing else ended the session first).
      const shellExited = row.session_kind !== 'exec' && row.session_end_reason === 'client_closed' && row.session_exit_status !== null;
      list.push({
        id,
        sessionId: row.session_id,
        time: row.time,
        offsetSeconds: row.offset_seconds,
        text: row.text,
        output: row.output,
        exitStatus: row.exit_status,
        lastOfExitedShell: shellExited && lastSeq.get(row.session_id) === row.seq,
      });
      byDevice.set(row.device_id, list);
    }
    const comparison = compareChange(script, byDevice);
    const presentCommand = (command: ExecutedCommand): BoardCommandView => {
      const row = rowsById.get(command.id) as ChangeCommandRow;
      return {
        session: row.session_number,
        seq: row.seq,
        time: row.time.toISOString(),
        offsetSeconds: row.offset_seconds,
        text: row.text,
        output: row.output,
        outputTruncated: row.output_truncated,
        exitStatus: row.exit_status,
        recording: `/api/v1/sessions/${row.session_number}/recording`,
      };
    };
    const presentRow = (row: BoardRow): BoardRowView => ({
      kind: row.kind,
      step: 'step' in row ? { index: row.step.index, line: row.step.line, text: row.step.text, optional: row.step.optional, expect: row.step.expect?.pattern ?? null } : null,
      command: 'command' in row ? presentCommand(row.command) : null,
      linkedRow: row.kind === 'missing' ? (row.outOfOrderRow ?? null) : row.kind === 'out_of_order' ? row.missingRow : null,
    });
    const sessionRows = await trx.selectFrom('session').selectAll().where('change_id', '=', change.id).orderBy('started_at').execute();
    const counts = await commandCountsOf(trx, sessionRows.map((row) => row.id));
    const requests = await requestNumbersOf(trx, sessionRows.map((row) => row.request_id));
    const now = this.deps.clock.now();
    const partition = await trx.selectFrom('partition').select('name').where('id', '=', change.partitionId).executeTakeFirst();
    return {
      change: {
        name: change.name,
        title: change.title,
        description: change.description,
        partition: partition?.name ?? '',
        startAt: change.startAt.toISOString(),
        dueAt: change.dueAt.toISOString(),
        status: changeStatus(change, now),
        devices: change.devices.map((id) => names.get(id) ?? id),
        script: change.script,
      },
      score: comparison.score,
      outcome: comparison.outcome,
      counts: comparison.counts,
      devices: comparison.devices.map((device) => ({
        device: names.get(device.device) ?? device.device,
        deviceId: device.device,
        score: device.score,
        outcome: device.outcome,
        counts: device.counts,
        rows: device.rows.map(presentRow),
      })),
      sessions: sessionRows.map((row) => presentSession(row, now, counts.get(row.id) ?? 0, requests.get(row.request_id) ?? null)),
      generatedAt: now.toISOString(),
    };
  }
}

/**
 * The change's counts are the devices' summed, which the board holds: the digest covers them. A
 * result logged with an older digest is not the same: it is logged again, with the current one.
 */
const sameResult = (a: LoggedReviewResult, b: LoggedReviewResult) =>
  a.score === b.score && a.outcome === b.outcome && a.boardDigest === b.boardDigest && (a.boardDigestVersion ?? 1) === (b.boardDigestVersion ?? 1);
