/**
 * Vitest global setup: builds dist/ and the web console before any test file runs, unless they
 * already match the sources (a check of some 20 ms): the process tests run the compiled program, as
 * an operator does, and the browser tests the console it serves.
 * In watch mode, again before each rerun, so they never run code older than the sources.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const BUILD = fileURLToPath(new URL('../scripts/build.mjs', import.meta.url));
const BUILD_CONSOLE = fileURLToPath(new URL('../scripts/build-console.mjs', import.meta.url));

export default function buildDist(project: TestProject): void {
  const build = () => {
    execFileSync(process.execPath, [BUILD, '--if-stale'], { stdio: 'inherit' });
    // The browser tests drive the console the server serves.
    execFileSync(process.execPath, [BUILD_CONSOLE, '--if-stale'], { stdio: 'inherit' });
  };
  build();
  project.onTestsRerun(() => {
    build();
  });
}
