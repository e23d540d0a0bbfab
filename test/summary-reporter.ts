import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends the run with one plain line CI can read: `N passed, N failed, N assertions`. The assertions
 * are the `expect` calls the tests made (counted by test/assertion-count.ts).
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let assertions = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        assertions += test.meta().assertions ?? 0;
      }
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed += 1;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${assertions} assertions\n`);
  }
}
