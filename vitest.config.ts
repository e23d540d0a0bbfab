import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/sequencer.ts';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/test/**/*.test.ts'],
    // Much of the suite waits on real sshd, ssh, Chromium and PostgreSQL processes: more workers
    // than the default (cores - 1) keep both cores of a small CI machine busy. On a 2-core machine,
    // three workers left two fifths of the CPU idle (8 min 20 s); with four or five both cores are
    // busy, and a run takes as long with either (10 min 10 s and 9 min 40 s on one machine), but
    // with five a process a test starts (a first start on PGlite) waited longer for the CPU.
    maxWorkers: 4,
    // Test files share a worker's loaded modules instead of loading the whole server again for
    // each file: half the suite's time went to that. Each file still makes its own servers and
    // databases; state a module keeps is keyed by the database or server it belongs to.
    isolate: false,
    // A larger young generation: the workers allocate fast (PGlite, HTTP, terminals), and with
    // V8's default most of their garbage-collection time went to scavenges. A tenth less CPU.
    execArgv: ['--max-semi-space-size=32'],
    testTimeout: 30_000,
    // What a test waits for with expect.poll may take some seconds on a busy machine (a page
    // rendering, a list refreshing): Vitest's default of one second failed there. Waiting longer
    // costs a passing test nothing.
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 60_000,
    // The process tests run the compiled program in dist/: build it once, before any of them. A
    // migrated database is made once per run (or kept from an earlier run with the same
    // migrations) and copied for each test.
    globalSetup: ['./test/build-dist.ts', './test/global-setup-databases.ts'],
    // Counts each test's assertions for the summary line; hashes passwords at a test cost; waits
    // for a test file's databases to be dropped.
    setupFiles: ['./test/assertion-count.ts', './test/password-cost.ts', './test/database-drops-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    sequence: { sequencer: LongestFirstSequencer },
  },
});
