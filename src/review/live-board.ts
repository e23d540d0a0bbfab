import type { Kysely } from 'kysely';
import { findAccessGroup, findChange, parseScript, type Script, type ScriptStep } from '../changes/index.ts';
import { matchesPattern, normalizeCommand, stepPattern } from '../changes/script.ts';
import { findDevice } from '../inventory/index.ts';
import type { Clock } from '../platform/clock.ts';
import { coalescedRun } from '../platform/coalesced-run.ts';
import type { Database } from '../platform/database.ts';
import { commandsOfChange, decisionsOnBoard, findSession, type ChangeCommand, type CommandReviewView, type ProgressTracking, type SessionProgress } from '../sessions/index.ts';
import type { CapturedCommand } from '../sessions/index.ts';
import { compareDevice, type BoardRow, type DeviceComparison, type ExecutedCommand } from './comparison.ts';
import type { Deviation, DeviationAlerts } from './deviation-alerts.ts';
import type { LiveBoardRowView, LiveCommandView, LiveProgressView } from './review.views.ts';

const SHELL_EXIT = /^(?:exit|logout)(?: \d+)?$/;

/** Sorts after every real command: a line allowed at its Enter and not read back yet ran last. */
const NOT_YET_READ = new Date(8_640_000_000_000_000);

/**
 * The board of one device while a session of its change runs: the commands of the change's
 * earlier sessions on the device, read once as the session starts, and this session's commands
 * as the capture reads them. Each command compares the device's commands with the script again in
 * memory (no database read), which for a script of S steps and C commands costs O((S + C) × D)
 * for D differences: a few milliseconds for hundreds of commands.
 */
export class LiveBoard implements SessionProgress {
  private readonly commands: ExecutedCommand[];
  private readonly shown = new Map<string, LiveCommandView>();
  private comparison: DeviceComparison;
  private board: LiveProgressView;
  /** This session's commands the board holds. */
  private own = 0;
  /** This session's commands already alerted as deviations. */
  private readonly alerted = new Set<string>();
  private decisions: CommandReviewView[];
  private readonly listeners = new Set<() => void>();
  /** Reads the decisions again, one reading at a time: decisions stored meanwhile make one more. */
  private readonly readDecisionsAgain: () => void;

  constructor(
    private readonly script: Script,
    private readonly place: { readonly sessionId: string; readonly session: number; readonly change: string; readonly device: string },
    stored: readonly ChangeCommand[],
    private readonly clock: Clock,
    private readonly alerts?: { add(deviation: Deviation): void; close(): Promise<void> },
    decisions: readonly CommandReviewView[] = [],
    /** Reads the device's decisions in the change's sessions again; without it, decisions stay as given. */
    private readonly readDecisions?: () => Promise<CommandReviewView[]>,
  ) {
    this.decisions = [...decisions];
    this.readDecisionsAgain = coalescedRun(async () => {
      if (!this.readDecisions) return;
      // A board that misses a decision for now (a failed read) shows it at the next reading.
      this.decisions = await this.readDecisions();
      this.board = this.present();
      for (const listener of this.listeners) listener();
    });
    this.commands = executedCommands(stored);
    for (const row of stored) {
      this.shown.set(commandId(row.sessionId, row.seq), liveCommand(row.sessionNumber, row));
      if (row.sessionId === place.sessionId) this.own++;
    }
    this.comparison = compareDevice(script, this.commands);
    this.board = this.present();
  }

  /** This session's commands on the board. */
  get ownCommands(): number {
    return this.own;
  }

  add(command: CapturedCommand): LiveProgressView {
    const id = commandId(this.place.sessionId, command.seq);
    // The session's latest command may be the `exit` that ends it, which is no deviation; a
    // command after it makes it an `exit` like any other (leaving `sudo -i`).
    const previous = this.commands.findLastIndex((candidate) => candidate.sessionId === this.place.sessionId);
    const before = this.commands[previous];
    if (before?.lastOfExitedShell) this.commands[previous] = { ...before, lastOfExitedShell: false };
    this.commands.push({
      id,
      sessionId: this.place.sessionId,
      time: command.time,
      offsetSeconds: command.offsetSeconds,
      text: command.text,
      output: command.output,
      exitStatus: command.exitStatus,
      lastOfExitedShell: true,
    });
    const shown = liveCommand(this.place.session, command);
    this.shown.set(id, shown);
    this.own++;
    this.comparison = compareDevice(this.script, this.commands);
    this.board = this.present();
    // A command may turn a deviation only later: a step run early is out of order once the step
    // before it runs. Each of this session's commands is alerted the first time it deviates.
    for (const row of this.comparison.rows) {
      if ((row.kind !== 'extra' && row.kind !== 'out_of_order') || row.command.sessionId !== this.place.sessionId || this.alerted.has(row.command.id)) continue;
      this.alerted.add(row.command.id);
      const command = this.shown.get(row.command.id);
      if (command) this.alerts?.add({ kind: row.kind, command, step: row.kind === 'out_of_order' ? row.step.text : null });
    }
    return this.board;
  }

  current(): LiveProgressView {
    return this.board;
  }

  isNextStep(line: string, pending: readonly string[]): boolean {
    const rows =
      pending.length === 0
        ? this.comparison.rows
        : compareDevice(this.script, [
            ...this.commands,
            ...pending.map((text, k) => ({ id: `pending:${k}`, sessionId: this.place.sessionId, time: NOT_YET_READ, offsetSeconds: 0, text })),
          ]).rows;
    const typed = normalizeCommand(line.trim());
    // Leaving the shell is how every session ends, never a step a script must list.
    if (SHELL_EXIT.test(typed)) return true;
    return nextSteps(this.script, rows).some((step) => matchesPattern(stepPattern(step), typed));
  }

  decided(): void {
    this.readDecisionsAgain();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    return this.alerts?.close() ?? Promise.resolve();
  }

  private present(): LiveProgressView {
    const { comparison } = this;
    const row = (board: BoardRow): LiveBoardRowView => ({
      kind: board.kind,
      step: 'step' in board ? presentStep(board.step) : null,
      command: 'command' in board ? (this.shown.get(board.command.id) ?? null) : null,
      linkedRow: board.kind === 'missing' ? (board.outOfOrderRow ?? null) : board.kind === 'out_of_order' ? board.missingRow : null,
    });
    return {
      session: this.place.session,
      change: this.place.change,
      device: this.place.device,
      score: comparison.score,
      outcome: comparison.outcome,
      counts: comparison.counts,
      rows: comparison.rows.map(row),
      next: nextSteps(this.script, comparison.rows).map(presentStep),
      decisions: this.decisions,
      at: this.clock.now().toISOString(),
    };
  }
}

/**
 * The steps the script expects next on a device, given its board: the steps after the last one
 * that ran (matched, failed its expectation, or ran out of order), up to and including the first
 * required one, so the optional steps on the way may run or be skipped. A step whose expectation
 * failed may run again (a check repeated after a fix). Empty once the last required step ran and
 * no optional step follows.
 */
export function nextSteps(script: Script, rows: readonly BoardRow[]): ScriptStep[] {
  let last = -1;
  let lastFailed = false;
  for (const row of rows) {
    if ((row.kind === 'matched' || row.kind === 'failed_expectation' || row.kind === 'out_of_order') && row.step.index > last) {
      last = row.step.index;
      lastFailed = row.kind === 'failed_expectation';
    }
  }
  const next: ScriptStep[] = [];
  const failedStep = script.steps[last];
  if (lastFailed && failedStep) next.push(failedStep);
  for (const step of script.steps.slice(last + 1)) {
    next.push(step);
    if (!step.optional) break;
  }
  return next;
}

/**
 * The change's commands as the comparison takes them. The last command of an interactive shell
 * that exited (the device sent its exit status; nothing else ended the session first) knows it
 * ended the session: its `exit` is not a deviation.
 */
export function executedCommands(rows: readonly ChangeCommand[]): ExecutedCommand[] {
  const lastSeq = new Map<string, number>();
  for (const row of rows) lastSeq.set(row.sessionId, Math.max(row.seq, lastSeq.get(row.sessionId) ?? 0));
  return rows.map((row) => {
    const shellExited = row.sessionKind !== 'exec' && row.sessionEndReason === 'client_closed' && row.sessionExitStatus !== null;
    return {
      id: commandId(row.sessionId, row.seq),
      sessionId: row.sessionId,
      time: row.time,
      offsetSeconds: row.offsetSeconds,
      text: row.text,
      output: row.output,
      exitStatus: row.exitStatus,
      lastOfExitedShell: shellExited && lastSeq.get(row.sessionId) === row.seq,
    };
  });
}

/** A command's id on the board: its session and its place there. */
export const commandId = (sessionId: string, seq: number): string => `${sessionId}:${seq}`;

const presentStep = (step: ScriptStep) => ({ index: step.index, line: step.line, text: step.text, optional: step.optional, expect: step.expect?.pattern ?? null });

const liveCommand = (session: number, command: Pick<CapturedCommand, 'seq' | 'time' | 'offsetSeconds' | 'text' | 'exitStatus'>): LiveCommandView => ({
  session,
  seq: command.seq,
  time: command.time.toISOString(),
  offsetSeconds: command.offsetSeconds,
  text: command.text,
  exitStatus: command.exitStatus,
});

/**
 * Opens the live board of each session as it starts, and reads the board of a session another
 * instance runs for its watchers here. Alerts of deviations go to `alerts` when given.
 */
export class LiveBoards implements ProgressTracking {
  constructor(private readonly deps: { readonly db: Kysely<Database>; readonly clock: Clock; readonly alerts?: DeviationAlerts }) {}

  async open(sessionId: string): Promise<LiveBoard | undefined> {
    return this.load(sessionId, true);
  }

  async snapshot(sessionId: string): Promise<{ board: LiveProgressView; commands: number } | undefined> {
    const board = await this.load(sessionId, false);
    return board && { board: board.current(), commands: board.ownCommands };
  }

  private async load(sessionId: string, alerting: boolean): Promise<LiveBoard | undefined> {
    const { db } = this.deps;
    const session = await findSession(db, sessionId);
    const change = session && (await findChange(db, session.changeId));
    if (!session || !change) return undefined;
    const parsed = parseScript(change.script);
    // A saved change's script always parses; an empty one would only come from a database edit.
    const script = parsed.ok ? parsed.script : { steps: [] };
    const device = await findDevice(db, session.deviceId);
    const stored = await commandsOfChange(db, change.id, session.deviceId);
    const readDecisions = async () => (await decisionsOnBoard(db, change.id, session.deviceId)).get(session.deviceId) ?? [];
    const group = alerting ? await findAccessGroup(db, change.accessGroupId) : undefined;
    const place = { sessionId, session: session.number, change: change.name, device: device?.name ?? session.deviceId };
    const alerts =
      group &&
      this.deps.alerts?.forSession({ ...place, changeId: change.id, userId: session.userId, username: session.username, approvers: group.approvers, mode: group.deviationAlerts });
    return new LiveBoard(script, place, stored, this.deps.clock, alerts, await readDecisions(), readDecisions);
  }
}
