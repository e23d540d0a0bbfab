import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.ts';
import type { paths } from '../api/schema';

/** A session's board against its change's script on its device, and the steps expected next (`GET /api/v1/sessions/{n}/progress`, and the watch socket's progress messages). */
export type LiveProgress = paths['/api/v1/sessions/{session}/progress']['get']['responses'][200]['content']['application/json'];
export type LiveRow = LiveProgress['rows'][number];
export type LiveStep = LiveProgress['next'][number];

/** The progress of a session, asked again every `pollMs` when given. */
export function useSessionProgress(session: number, options: { pollMs?: number; enabled?: boolean } = {}) {
  return useQuery({
    queryKey: ['session', session, 'progress'],
    queryFn: async () => unwrap(await api.GET('/api/v1/sessions/{session}/progress', { params: { path: { session: String(session) } } })),
    refetchInterval: options.pollMs ?? false,
    enabled: options.enabled ?? true,
  });
}

/**
 * Where a line of the board stands while the session runs. The server's board compares what ran
 * with the whole script, so a step not reached yet is "missing" there; a watcher reads it as a
 * step still to do (`to_do`, or `next` when the script expects it next), and as missing only once
 * a later step ran.
 */
export type RowState = 'next' | 'to_do' | 'board';

/** The highest index of a step that ran (at its place, with a failed expectation, or out of order); -1 when none did. */
function lastStepRun(progress: LiveProgress): number {
  let last = -1;
  for (const row of progress.rows) {
    if (row.step && row.command && (row.kind === 'matched' || row.kind === 'failed_expectation' || row.kind === 'out_of_order')) last = Math.max(last, row.step.index);
  }
  return last;
}

/**
 * Each row of the board with where it stands now, in the order things happen: the board places
 * the commands that ran after the last step that ran at its end, after the steps still to do; here
 * they come before those steps, as they ran before them. `linkedRow` follows its row.
 */
export function rowStates(progress: LiveProgress): Array<{ readonly row: LiveRow; readonly state: RowState }> {
  const last = lastStepRun(progress);
  const next = new Set(progress.next.map((step) => step.index));
  const states = progress.rows.map((row, index): { row: LiveRow; state: RowState; index: number } => {
    const notRun = row.step !== null && row.command === null && row.linkedRow === null && (row.kind === 'missing' || row.kind === 'skipped');
    if (!notRun || row.step === null || row.step.index <= last) return { row, state: 'board', index };
    return { row, state: next.has(row.step.index) ? 'next' : 'to_do', index };
  });
  const ordered = [...states.filter((each) => each.state === 'board'), ...states.filter((each) => each.state !== 'board')];
  const placeOf = new Map(ordered.map((each, place) => [each.index, place]));
  return ordered.map(({ row, state }) => ({ row: row.linkedRow === null ? row : { ...row, linkedRow: placeOf.get(row.linkedRow) ?? row.linkedRow }, state }));
}

/** The required steps of the script that ran, wherever they ran. */
export function requiredStepsRun(progress: LiveProgress): number {
  const ran = new Set<number>();
  for (const row of progress.rows) if (row.step && row.command && !row.step.optional && row.kind !== 'extra' && row.kind !== 'session_end') ran.add(row.step.index);
  return ran.size;
}

/** A deviation a watcher is told of once: a command off the script, a step run out of order or failing its expectation, a required step passed over. */
export interface Deviation {
  readonly key: string;
  /** In words, for the live region: "hostname is not in the script". */
  readonly said: string;
}

export function deviationsOf(progress: LiveProgress): Deviation[] {
  const deviations: Deviation[] = [];
  for (const { row, state } of rowStates(progress)) {
    const command = row.command;
    if (row.kind === 'extra' && command) deviations.push({ key: `extra:${command.session}:${command.seq}`, said: `${command.text} is not in the script` });
    if (row.kind === 'out_of_order' && command) deviations.push({ key: `order:${command.session}:${command.seq}`, said: `${command.text} ran out of order` });
    if (row.kind === 'failed_expectation' && command) deviations.push({ key: `expect:${command.session}:${command.seq}`, said: `${command.text}: its output is not what the script expects` });
    if (row.kind === 'missing' && row.step && row.linkedRow === null && state === 'board') deviations.push({ key: `missing:${row.step.index}`, said: `step ${row.step.text} was passed over` });
  }
  return deviations;
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** The progress in a few words: `2 of 5 steps · 1 extra · 1 out of order`. */
export function progressSummary(progress: LiveProgress): string {
  const { counts } = progress;
  const passedOver = rowStates(progress).filter(({ row, state }) => row.kind === 'missing' && row.linkedRow === null && state === 'board').length;
  return [
    `${requiredStepsRun(progress)} of ${plural(counts.requiredSteps, 'step')}`,
    ...(counts.extra > 0 ? [`${counts.extra} extra`] : []),
    ...(counts.outOfOrder > 0 ? [`${counts.outOfOrder} out of order`] : []),
    ...(counts.failedExpectation > 0 ? [plural(counts.failedExpectation, 'expectation failed', 'expectations failed')] : []),
    ...(passedOver > 0 ? [`${passedOver} missing`] : []),
  ].join(' · ');
}
