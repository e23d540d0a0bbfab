#!/usr/bin/env node
// `npm test`: the strict type check and the whole suite, side by side. The type check is
// TypeScript 7's native compiler (the package `typescript-7`), which checks both projects in some
// five seconds, mostly while the suite is still setting up; TypeScript 5's took forty seconds of
// CPU from the suite. Arguments go to vitest (`npm test -- src/changes`).
// Exits non-zero when either fails; the type check's errors are printed after the suite's summary.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
/** A package's own command, by its package.json's `bin`. */
const binOf = (name, command) => {
  const manifest = require.resolve(`${name}/package.json`);
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8'));
  return path.join(path.dirname(manifest), typeof bin === 'string' ? bin : bin[command]);
};
const tscBin = binOf('typescript-7', 'tsc');
const vitestBin = binOf('vitest', 'vitest');

let typeErrors = '';
/** `tsc --noEmit` on one project: the server's (tsconfig.json) or the web console's (web/tsconfig.json). */
const typecheckProject = (...args) =>
  new Promise((resolve) => {
    const tsc = spawn(process.execPath, [tscBin, '--noEmit', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    tsc.stdout.on('data', (chunk) => (typeErrors += chunk));
    tsc.stderr.on('data', (chunk) => (typeErrors += chunk));
    tsc.on('close', (code) => resolve(code ?? 1));
  });
// One after the other: the suite has the other core.
const typecheck = typecheckProject().then(async (server) => (await typecheckProject('-p', 'web/tsconfig.json')) || server);
// The suite's last line is `N passed, N failed, N assertions`: it is written again at the very end,
// with the type check counted as one more test, so that CI reads one line for both.
let summary;
const suite = new Promise((resolve) => {
  const vitest = spawn(process.execPath, [vitestBin, 'run', ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'] });
  let tail = '';
  vitest.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    tail = (tail + chunk).slice(-4096);
    const match = /^(\d+) passed, (\d+) failed, (\d+) assertions$/m.exec(tail);
    if (match) summary = match.slice(1).map(Number);
  });
  vitest.on('close', (code) => resolve(code ?? 1));
});

const [typecheckCode, suiteCode] = await Promise.all([typecheck, suite]);
if (typecheckCode === 0) {
  console.log('\nType check (tsc --noEmit, strict; the server and the web console): no errors.');
} else {
  process.stdout.write(`\n${typeErrors}`);
  console.log('Type check (tsc --noEmit, strict): FAILED, see the errors above.');
}
const [passed, failed, assertions] = summary ?? [0, 1, 0];
const typeChecked = typecheckCode === 0 ? 1 : 0;
console.log(`${passed + typeChecked} passed, ${failed + 1 - typeChecked} failed, ${assertions} assertions`);
process.exitCode = typecheckCode || suiteCode;
