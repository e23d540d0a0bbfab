/**
 * Vitest global setup: builds dist/ before any test file runs, unless it already matches the
 * sources (a check of some 20 ms): the process tests run the compiled program, as an operator does.
 * In watch mode, again before each rerun, so they never run code older than the sources.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const BUILD = fileURLToPath(new URL('../scripts/build.mjs', import.meta.url));

export default function buildDist(project: TestProject): void {
  const build = () => execFileSync(process.execPath, [BUILD, '--if-stale'], { stdio: 'inherit' });
  build();
  project.onTestsRerun(() => {
    build();
  });
}
