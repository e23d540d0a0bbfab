/**
 * Vitest global setup: builds dist/ once, before any test file runs, unless it already matches the
 * sources (a check of some 20 ms): the process tests run the compiled program, as an operator does.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function buildDist(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url)), '--if-stale'], { stdio: 'inherit' });
}
