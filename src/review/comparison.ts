import { diffArrays } from 'diff';
import {
  matchesPattern,
  normalizeCommand,
  outputMeetsExpectation,
  stepPattern,
  type Script,
  type StepPattern,
  type ScriptStep,
} from '../changes/script.ts';

/** One command line captured on a device, with what the terminal showed for it. */
export interface ExecutedCommand {
  readonly id: string;
  readonly sessionId: string;
  readonly time: Date;
  /** Seconds from the start of its session's recording, for the replay link. */
  readonly offsetSeconds: number;
  readonly text: string;
  readonly output?: string;
  readonly exitStatus?: number | null;
  /**
   * The last command of a shell session that ended because the device's shell exited (not one the
   * user left by closing the window, nor one that was terminated or reached its due date).
   */
  readonly lastOfExitedShell?: boolean;
}

/** `exit`, `exit 0`, `logout`: how a user leaves a shell. */
const SHELL_EXIT = /^(?:exit|logout)(?:\s+\S+)?$/;

/**
 * Whether a command is the `exit` or `logout` that ended its session: leaving the shell is how
 * every session ends, not a step a script needs to list, so unless the script plans it, it is
 * neither `extra` nor `out_of_order` but a `session_end` row that counts for nothing. An `exit`
 * anywhere else (leaving `su -`, `sudo -i` or an inner `ssh` in the middle of a session) is a
 * command like any other.
 */
export function endsSession(command: ExecutedCommand): boolean {
  return command.lastOfExitedShell === true && SHELL_EXIT.test(normalizeCommand(command.text).trim());
}

/**
 * One line of the board. `missing` is red on the board, `extra` green. A required step that ran
 * at the wrong place shows twice, linked by row index: `missing` where the script has it and
 * `out_of_order` where it ran.
 */
export type BoardRow =
  | { readonly kind: 'matched'; readonly step: ScriptStep; readonly command: ExecutedCommand }
  | { readonly kind: 'failed_expectation'; readonly step: ScriptStep; readonly command: ExecutedCommand }
  | { readonly kind: 'missing'; readonly step: ScriptStep; readonly outOfOrderRow?: number }
  | { readonly kind: 'skipped'; readonly step: ScriptStep }
  | { readonly kind: 'extra'; readonly command: ExecutedCommand }
  /** The `exit` or `logout` that ended a session, not in the script there: shown, never counted. */
  | { readonly kind: 'session_end'; readonly command: ExecutedCommand }
  | { readonly kind: 'out_of_order'; readonly step: ScriptStep; readonly command: ExecutedCommand; readonly missingRow: number };

export type BoardRowKind = BoardRow['kind'];

export interface ComparisonCounts {
  readonly matched: number;
  readonly missing: number;
  readonly skipped: number;
  readonly extra: number;
  readonly outOfOrder: number;
  readonly failedExpectation: number;
  readonly requiredSteps: number;
  /** Optional steps that ran at their place (matched or failed their expectation). */
  readonly optionalRun: number;
}

export type Outcome = 'as_planned' | 'incomplete' | 'exceeded' | 'incomplete_and_exceeded';

export interface DeviceComparison {
  readonly rows: readonly BoardRow[];
  readonly counts: ComparisonCounts;
  /** 0–100; see `compareDevice`. */
  readonly score: number;
  readonly outcome: Outcome;
}

export interface DeviceReview extends DeviceComparison {
  readonly device: string;
}

export interface ChangeComparison {
  /** One per device, in the order of the map given. */
  readonly devices: readonly DeviceReview[];
  /** Sums over the devices. */
  readonly counts: ComparisonCounts;
  readonly score: number;
  readonly outcome: Outcome;
}

/**
 * Aligns the commands executed on one device with the script and scores them.
 *
 * Algorithm. Commands are put in time order (stable, so two sessions merge correctly) and
 * normalized once. Each distinct command text is mapped to the steps it can carry out:
 * placeholder-free steps by an exact lookup of their normalized text, placeholder steps by their
 * literal-segment matcher, tried once per distinct pattern and only on texts that share the
 * pattern's first word (all texts when it starts with a placeholder). The alignment is a longest
 * common subsequence under that match relation, computed by jsdiff's `diffArrays` (Myers' O(ND)
 * diff; E. W. Myers, "An O(ND) Difference Algorithm and Its Variations", 1986) over integer
 * positions, with a comparator that reads the precomputed matches; Myers' greedy diagonal rule
 * stays optimal for any match relation, so a placeholder matching several commands is fine.
 * Steps that no command matches and commands that match no step are removed first, since they
 * cannot be in a common subsequence and the diff's cost grows with the number of edits; past
 * 1,000 edits the threshold method takes over (see `alignByThresholds`). The required steps are
 * aligned first, so an optional step never takes a command from a required one; each optional
 * step is then aligned with the commands in the gap its aligned neighbours leave. Then:
 * - a matched step whose `# expect:` fails is re-paired with the earliest other command between
 *   its aligned neighbours that carries out the step and meets the expectation (a check run
 *   again after a fix), else it is `failed_expectation`;
 * - each command left over that matches a required step left over is `out_of_order`, paired
 *   with that step's `missing` row (first such step in script order, commands taken in time
 *   order); other left-over commands are `extra`, even one that matches an optional step or
 *   repeats a matched one, since the plan did not allow it there; but the `exit` or `logout`
 *   that ended a session (see `endsSession`) is `session_end` and counts for nothing;
 * - left-over steps are `missing`, or `skipped` when optional.
 * Rows follow the script, with the commands of each gap after the steps of that gap.
 *
 * Score = round(100 × matched ÷ (required steps + optional steps run + extra)), where matched
 * counts `matched` rows only (not `failed_expectation` nor `out_of_order`), "optional steps
 * run" are optional steps with a `matched` or `failed_expectation` row (so running an optional
 * step keeps the score at most 100), and an empty denominator scores 100. Rounding never
 * reaches 100 unless everything matched, nor 0 unless nothing did (99.7 shows as 99, 0.3 as 1).
 * Outcome: `incomplete` when a step is missing or an expectation failed, `exceeded` when a
 * command is extra, both, or `as_planned`.
 *
 * Worked example: script `apt-get update`, `# optional` `apt-get upgrade -y`,
 * `systemctl restart nginx`, `# expect: active \(running\)` `systemctl status nginx`; executed
 * `apt-get update`, `vim /etc/nginx/nginx.conf`, `systemctl  restart nginx`,
 * `systemctl status nginx` (output `Active: active (running)`). Board: matched, skipped, extra,
 * matched, matched. Required 3, optional run 0, extra 1, matched 3: score round(100 × 3 ÷ 4) = 75,
 * outcome `exceeded`.
 */
export function compareDevice(script: Script, commands: readonly ExecutedCommand[]): DeviceComparison {
  const steps = script.steps;
  const executed = commands
    .map((command, order) => ({ command, order }))
    .sort((a, b) => a.command.time.getTime() - b.command.time.getTime() || a.order - b.order)
    .map(({ command }) => command);
  const matches = buildMatchIndex(steps, executed);

  // stepOfCommand[c] = the step command c carries out in the alignment, or -1; commandOfStep the reverse.
  const commandOfStep = new Int32Array(steps.length).fill(-1);
  const stepOfCommand = new Int32Array(executed.length).fill(-1);
  const link = (pairs: readonly (readonly [number, number])[]) => {
    for (const [step, command] of pairs) {
      commandOfStep[step] = command;
      stepOfCommand[command] = step;
    }
  };

  // Required steps first, so that an optional step can never take a command from a required one;
  // then the optional steps, each within the gap its neighbours left.
  const required = steps.flatMap((step, s) => (step.optional ? [] : [s]));
  link(align(required, executed.keys(), matches));
  if (required.length < steps.length) {
    let gapSteps: number[] = [];
    let gapStart = 0;
    for (let s = 0; s <= steps.length; s++) {
      const command = s < steps.length ? (commandOfStep[s] ?? -1) : executed.length;
      if (command === -1) {
        if (steps[s]?.optional) gapSteps.push(s);
        continue;
      }
      if (gapSteps.length > 0) link(align(gapSteps, range(gapStart, command), matches));
      gapSteps = [];
      gapStart = command + 1;
    }
  }

  const failed = repairExpectations(steps, executed, matches, commandOfStep, stepOfCommand);
  // A session's closing `exit` the script did not place is not a deviation, wherever it could fit.
  const sessionEnds = new Set<number>();
  executed.forEach((command, c) => {
    if (stepOfCommand[c] === -1 && endsSession(command)) sessionEnds.add(c);
  });
  const outOfOrderStep = pairOutOfOrder(steps, executed, matches, commandOfStep, stepOfCommand, sessionEnds);
  return buildBoard(steps, executed, commandOfStep, stepOfCommand, failed, outOfOrderStep, sessionEnds);
}

/** Compares every device's commands with the script; the whole change sums the devices' counts. */
export function compareChange(script: Script, byDevice: ReadonlyMap<string, readonly ExecutedCommand[]>): ChangeComparison {
  const devices: DeviceReview[] = [];
  for (const [device, commands] of byDevice) devices.push({ device, ...compareDevice(script, commands) });
  const counts: ComparisonCounts = {
    matched: sum(devices, (d) => d.counts.matched),
    missing: sum(devices, (d) => d.counts.missing),
    skipped: sum(devices, (d) => d.counts.skipped),
    extra: sum(devices, (d) => d.counts.extra),
    outOfOrder: sum(devices, (d) => d.counts.outOfOrder),
    failedExpectation: sum(devices, (d) => d.counts.failedExpectation),
    requiredSteps: sum(devices, (d) => d.counts.requiredSteps),
    optionalRun: sum(devices, (d) => d.counts.optionalRun),
  };
  return { devices, counts, score: scoreOf(counts), outcome: outcomeOf(counts) };
}

/** See `compareDevice` for the formula. */
export function scoreOf(counts: ComparisonCounts): number {
  const total = counts.requiredSteps + counts.optionalRun + counts.extra;
  if (counts.matched >= total) return 100;
  if (counts.matched === 0) return 0;
  return Math.min(99, Math.max(1, Math.round((100 * counts.matched) / total)));
}

export function outcomeOf(counts: ComparisonCounts): Outcome {
  const incomplete = counts.missing > 0 || counts.failedExpectation > 0;
  const exceeded = counts.extra > 0;
  if (incomplete && exceeded) return 'incomplete_and_exceeded';
  if (incomplete) return 'incomplete';
  if (exceeded) return 'exceeded';
  return 'as_planned';
}

/** Beyond this many edits Myers' diff, quadratic in them, gives way to `alignByThresholds`. */
const MAX_DIFF_EDITS = 1_000;
/** Beyond this many matching (step, command) pairs `alignByThresholds` is not tried. */
const MAX_THRESHOLD_PAIRS = 2_000_000;

/**
 * Longest common subsequence of the given steps and commands (both ascending), as
 * (step, command) pairs. Steps no command matches and commands that match no step are left out
 * first: they cannot be in a common subsequence, and the diff's cost grows with their number.
 * jsdiff's Myers diff costs O((N + M) × D) for D edits, so past `MAX_DIFF_EDITS` edits (e.g. a
 * script run backwards) the threshold method, O(P log N) for P matching pairs, takes over: its
 * subsequence is just as long, its ties possibly broken differently.
 */
function align(steps: readonly number[], commands: Iterable<number>, matches: MatchIndex): [number, number][] {
  const wanted = new Set(steps);
  const stepHasMatch = new Set<number>();
  const commandPositions: number[] = [];
  let pairCount = 0;
  for (const c of commands) {
    let any = false;
    for (const s of matches.stepsFor(c)) {
      if (!wanted.has(s)) continue;
      stepHasMatch.add(s);
      any = true;
      pairCount++;
    }
    if (any) commandPositions.push(c);
  }
  const stepPositions = steps.filter((s) => stepHasMatch.has(s));
  if (stepPositions.length === 0) return [];

  const comparator = (step: number, command: number) => matches.matches(step, command);
  const changes =
    diffArrays(stepPositions, commandPositions, { comparator, maxEditLength: MAX_DIFF_EDITS }) ??
    (pairCount > MAX_THRESHOLD_PAIRS ? diffArrays(stepPositions, commandPositions, { comparator }) : undefined);
  if (!changes) {
    const positionOf = new Int32Array((stepPositions[stepPositions.length - 1] ?? 0) + 1).fill(-1);
    stepPositions.forEach((s, k) => (positionOf[s] = k));
    const candidates = commandPositions.map((c) => {
      const list: number[] = [];
      for (const s of matches.stepsFor(c)) {
        const k = positionOf[s] ?? -1;
        if (k !== -1) list.push(k);
      }
      return list;
    });
    return alignByThresholds(candidates).map(([k, j]) => [itemAt(stepPositions, k), itemAt(commandPositions, j)]);
  }

  const pairs: [number, number][] = [];
  let s = 0;
  let c = 0;
  for (const change of changes) {
    if (change.added) c += change.count;
    else if (change.removed) s += change.count;
    else {
      for (let k = 0; k < change.count; k++) pairs.push([itemAt(stepPositions, s + k), itemAt(commandPositions, c + k)]);
      s += change.count;
      c += change.count;
    }
  }
  return pairs;
}

/**
 * A longest common subsequence by the threshold method (J. W. Hunt and T. G. Szymanski, "A Fast
 * Algorithm for Computing Longest Common Subsequences", 1977): `candidates[j]` lists, ascending,
 * the steps command `j` matches; returns (step, command) pairs, both ascending. `thresholds[k]`
 * is the smallest step that ends a common subsequence of length k + 1 so far; taking each
 * command's steps in descending order keeps two steps of one command out of one subsequence.
 * Exported for tests.
 */
export function alignByThresholds(candidates: readonly (readonly number[])[]): [number, number][] {
  const thresholds: number[] = [];
  const endsAt: number[] = [];
  const nodeStep: number[] = [];
  const nodeCommand: number[] = [];
  const nodePrevious: number[] = [];
  for (let j = 0; j < candidates.length; j++) {
    const list = candidates[j] ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const step = list[i] ?? 0;
      let low = 0;
      let high = thresholds.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((thresholds[middle] ?? 0) < step) low = middle + 1;
        else high = middle;
      }
      if (thresholds[low] === step) continue;
      thresholds[low] = step;
      endsAt[low] = nodeStep.length;
      nodeStep.push(step);
      nodeCommand.push(j);
      nodePrevious.push(low > 0 ? (endsAt[low - 1] ?? -1) : -1);
    }
  }
  const pairs: [number, number][] = [];
  for (let node = endsAt[thresholds.length - 1] ?? -1; node !== -1; node = nodePrevious[node] ?? -1) {
    pairs.push([nodeStep[node] ?? 0, nodeCommand[node] ?? 0]);
  }
  return pairs.reverse();
}

function* range(from: number, to: number): Generator<number> {
  for (let k = from; k < to; k++) yield k;
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}

interface MatchIndex {
  /** The steps command `c` can carry out, ascending. */
  stepsFor(c: number): readonly number[];
  matches(step: number, command: number): boolean;
}

const NO_STEPS: readonly number[] = [];

/** Which steps each command can carry out, computed once per distinct normalized command text. */
function buildMatchIndex(steps: readonly ScriptStep[], executed: readonly ExecutedCommand[]): MatchIndex {
  // Placeholder-free steps are found by their text; placeholder steps are grouped by pattern
  // (a script often repeats one, e.g. `kill -HUP {{pid}}`) and the patterns by first word.
  const literal = new Map<string, number[]>();
  const patternGroups = new Map<string, { pattern: StepPattern; steps: number[] }>();
  steps.forEach((step, s) => {
    const pattern = stepPattern(step);
    if (pattern.segments.length === 1) push(literal, pattern.segments[0] ?? '', s);
    else {
      const key = pattern.segments.join('{{}}');
      const group = patternGroups.get(key);
      if (group) group.steps.push(s);
      else patternGroups.set(key, { pattern, steps: [s] });
    }
  });
  const byFirstWord = new Map<string, { pattern: StepPattern; steps: number[] }[]>();
  const anyFirstWord: { pattern: StepPattern; steps: number[] }[] = [];
  for (const group of patternGroups.values()) {
    const head = group.pattern.segments[0] ?? '';
    const space = head.indexOf(' ');
    if (space === -1) anyFirstWord.push(group);
    else {
      const word = head.slice(0, space);
      const list = byFirstWord.get(word);
      if (list) list.push(group);
      else byFirstWord.set(word, [group]);
    }
  }

  const stepsOfText = new Map<string, readonly number[]>();
  const stepsOfCommand: (readonly number[])[] = [];
  for (const command of executed) {
    const text = normalizeCommand(command.text);
    let found = stepsOfText.get(text);
    if (!found) {
      const space = text.indexOf(' ');
      const list = [...(literal.get(text) ?? NO_STEPS)];
      for (const groups of [byFirstWord.get(space === -1 ? text : text.slice(0, space)) ?? [], anyFirstWord]) {
        for (const group of groups) if (matchesPattern(group.pattern, text)) list.push(...group.steps);
      }
      if (list.length > 1 && list.length > (literal.get(text)?.length ?? 0)) list.sort((a, b) => a - b);
      found = list.length === 0 ? NO_STEPS : list;
      stepsOfText.set(text, found);
    }
    stepsOfCommand.push(found);
  }
  return {
    stepsFor: (c) => stepsOfCommand[c] ?? NO_STEPS,
    matches: (step, command) => includesSorted(stepsOfCommand[command] ?? NO_STEPS, step),
  };
}

/** Binary search in an ascending list. */
function includesSorted(list: readonly number[], value: number): boolean {
  let low = 0;
  let high = list.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const item = list[middle] ?? 0;
    if (item === value) return true;
    if (item < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/** `items[index]` for an index known to be in range (`noUncheckedIndexedAccess` cannot see that). */
function itemAt<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new Error(`index ${index} is out of range`);
  return item;
}

function push<K>(map: Map<K, number[]>, key: K, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * For each aligned step whose expectation fails, looks for a better command between the
 * neighbouring aligned pairs; returns the steps that still fail.
 */
function repairExpectations(
  steps: readonly ScriptStep[],
  executed: readonly ExecutedCommand[],
  matches: MatchIndex,
  commandOfStep: Int32Array,
  stepOfCommand: Int32Array,
): Set<number> {
  const failed = new Set<number>();
  let previousCommand = -1;
  for (let s = 0; s < steps.length; s++) {
    const step = steps[s];
    const command = commandOfStep[s] ?? -1;
    if (!step || command === -1) continue;
    if (step.expect && !outputMeetsExpectation(step, executed[command]?.output)) {
      let nextCommand = executed.length;
      for (let t = s + 1; t < steps.length; t++) {
        const later = commandOfStep[t] ?? -1;
        if (later !== -1) {
          nextCommand = later;
          break;
        }
      }
      let better = -1;
      for (let k = previousCommand + 1; k < nextCommand; k++) {
        if (k !== command && stepOfCommand[k] === -1 && matches.matches(s, k) && outputMeetsExpectation(step, executed[k]?.output)) {
          better = k;
          break;
        }
      }
      if (better === -1) failed.add(s);
      else {
        stepOfCommand[command] = -1;
        stepOfCommand[better] = s;
        commandOfStep[s] = better;
      }
    }
    previousCommand = commandOfStep[s] ?? previousCommand;
  }
  return failed;
}

/** Pairs left-over commands with left-over required steps they carry out; returns command → step. */
function pairOutOfOrder(
  steps: readonly ScriptStep[],
  executed: readonly ExecutedCommand[],
  matches: MatchIndex,
  commandOfStep: Int32Array,
  stepOfCommand: Int32Array,
  sessionEnds: ReadonlySet<number>,
): Map<number, number> {
  const paired = new Map<number, number>();
  const taken = new Set<number>();
  for (let c = 0; c < executed.length; c++) {
    if (stepOfCommand[c] !== -1 || sessionEnds.has(c)) continue;
    for (const s of matches.stepsFor(c)) {
      if (commandOfStep[s] === -1 && !steps[s]?.optional && !taken.has(s)) {
        paired.set(c, s);
        taken.add(s);
        break;
      }
    }
  }
  return paired;
}

function buildBoard(
  steps: readonly ScriptStep[],
  executed: readonly ExecutedCommand[],
  commandOfStep: Int32Array,
  stepOfCommand: Int32Array,
  failed: ReadonlySet<number>,
  outOfOrderStep: ReadonlyMap<number, number>,
  sessionEnds: ReadonlySet<number>,
): DeviceComparison {
  // First the order of the rows, then the rows, so that linked rows can name each other.
  const order: ({ step: number } | { command: number } | { step: number; command: number })[] = [];
  const rowOfStep = new Map<number, number>();
  const rowOfCommand = new Map<number, number>();
  let nextCommand = 0;
  const flushCommands = (until: number) => {
    for (; nextCommand < until; nextCommand++) {
      rowOfCommand.set(nextCommand, order.length);
      order.push({ command: nextCommand });
    }
  };
  for (let s = 0; s < steps.length; s++) {
    const command = commandOfStep[s] ?? -1;
    if (command === -1) {
      rowOfStep.set(s, order.length);
      order.push({ step: s });
      continue;
    }
    flushCommands(command);
    order.push({ step: s, command });
    nextCommand = command + 1;
  }
  flushCommands(executed.length);

  let matched = 0;
  let missing = 0;
  let skipped = 0;
  let extra = 0;
  let outOfOrder = 0;
  let failedExpectation = 0;
  let optionalRun = 0;
  const outOfOrderCommandOf = new Map<number, number>();
  for (const [command, step] of outOfOrderStep) outOfOrderCommandOf.set(step, command);

  const rows: BoardRow[] = order.map((slot): BoardRow => {
    if ('step' in slot && 'command' in slot) {
      const step = itemAt(steps, slot.step);
      const command = itemAt(executed, slot.command);
      if (step.optional) optionalRun++;
      if (failed.has(slot.step)) {
        failedExpectation++;
        return { kind: 'failed_expectation', step, command };
      }
      matched++;
      return { kind: 'matched', step, command };
    }
    if ('step' in slot) {
      const step = itemAt(steps, slot.step);
      if (step.optional) {
        skipped++;
        return { kind: 'skipped', step };
      }
      missing++;
      const ranAt = outOfOrderCommandOf.get(slot.step);
      return ranAt === undefined ? { kind: 'missing', step } : { kind: 'missing', step, outOfOrderRow: rowOfCommand.get(ranAt) ?? -1 };
    }
    const command = itemAt(executed, slot.command);
    if (sessionEnds.has(slot.command)) return { kind: 'session_end', command };
    const stepIndex = outOfOrderStep.get(slot.command);
    if (stepIndex === undefined) {
      extra++;
      return { kind: 'extra', command };
    }
    outOfOrder++;
    return { kind: 'out_of_order', step: itemAt(steps, stepIndex), command, missingRow: rowOfStep.get(stepIndex) ?? -1 };
  });

  const requiredSteps = steps.filter((step) => !step.optional).length;
  const counts: ComparisonCounts = { matched, missing, skipped, extra, outOfOrder, failedExpectation, requiredSteps, optionalRun };
  return { rows, counts, score: scoreOf(counts), outcome: outcomeOf(counts) };
}
