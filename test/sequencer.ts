import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest for their size: real processes (first starts, a crash, the compiled
 * build) and bulk traffic through ssh. Vitest orders files by the durations of the last run, and
 * in a fresh clone (CI), knowing none, by size, which put these last, where each was the tail of
 * the run. They start first, longest first.
 */
const LONGEST = [
  'src/cli/serve.command.test.ts',
  'src/sessions/crash.test.ts',
  'src/sessions/scale-out.test.ts',
  // Mostly waiting on Chromium and on the pages' refreshes.
  'web/test/change-workflow.test.ts',
  'web/test/console.test.ts',
  'web/test/audited-sessions.test.ts',
  'web/test/live-sessions.test.ts',
  'src/sessions/memory-bounds.test.ts',
  'src/changes/approvals.test.ts',
  'src/cli/compiled-build.test.ts',
  'src/sessions/session-limits.test.ts',
  'src/evidence/evidence.test.ts',
  'src/sessions/gateway.test.ts',
];

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const index = LONGEST.findIndex((name) => file.moduleId.endsWith(`/${name}`));
      return index === -1 ? LONGEST.length : index;
    };
    // Array.prototype.sort is stable: the rest keep Vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
