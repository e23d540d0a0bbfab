/**
 * Counts the `expect` assertions each test made, for the summary line (test/summary-reporter.ts):
 * a change that speeds the suite up must not make it check less. The count is kept on the test's
 * meta, which reaches the reporter in the main process.
 */
import { afterEach, expect } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** The `expect` calls the test made, its hooks included. */
    assertions?: number;
  }
}

// Registered before any test file's hooks, so it runs after them (hooks after a test run in stack order).
afterEach((context) => {
  const local = (context as unknown as { _local?: boolean })._local ? context.expect.getState().assertionCalls : 0;
  context.task.meta.assertions = expect.getState().assertionCalls + local;
});
