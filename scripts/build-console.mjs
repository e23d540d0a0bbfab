#!/usr/bin/env node
/**
 * Builds the web console (web/) into web/dist, which the server serves at `/`.
 *
 * Like dist/ (scripts/build.mjs), web/dist holds a stamp, `.build.json`, with a hash of everything
 * the build reads: the files under web/ (web/dist left out), package.json, package-lock.json
 * (which pins Vite and every library the console bundles) and this script. `changegate serve` and
 * `npm start` build the console when that hash no longer matches; Vite takes a few seconds.
 *
 *   node scripts/build-console.mjs             build now (part of npm run build)
 *   node scripts/build-console.mjs --if-stale  build only if web/dist does not match web/
 */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, hashFiles, PROJECT_ROOT, withBuildLock } from './build.mjs';

const STAMP = '.build.json';
const SETTINGS = ['package.json', 'package-lock.json', 'scripts/build-console.mjs'];
/** Files under web/ that are not the console's sources: its build, and its browser tests. */
const NOT_SOURCE = /^(dist|dist\.[^/]+|node_modules|test)(\/|$)/;

/** The files under web/ the build reads, relative to web/ with `/` separators, sorted. */
function consoleInputs(root) {
  const web = path.join(root, 'web');
  const files = [];
  for (const entry of readdirSync(web, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const relative = path.relative(web, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    if (!NOT_SOURCE.test(relative)) files.push(relative);
  }
  return files.sort();
}

/** A hash of every file the console's build reads, by name and content. */
export function consoleHash(root = PROJECT_ROOT) {
  return hashFiles(root, [...SETTINGS, ...consoleInputs(root).map((name) => `web/${name}`)]);
}

/** Whether web/dist holds the build of web/ as it is now. */
export function consoleIsCurrent(root = PROJECT_ROOT) {
  try {
    return JSON.parse(readFileSync(path.join(root, 'web', 'dist', STAMP), 'utf8')).sourceHash === consoleHash(root);
  } catch {
    return false;
  }
}

/** Builds web/dist unless it is current; resolves to whether it built. */
export async function ensureConsoleBuilt({ root = PROJECT_ROOT, report = printToStderr } = {}) {
  if (consoleIsCurrent(root)) return false;
  return withBuildLock(
    root,
    async () => {
      if (consoleIsCurrent(root)) return false;
      await buildUnlocked(root, report);
      return true;
    },
    'web-dist.lock',
  );
}

/** Builds web/dist now, current or not. */
export async function buildConsole({ root = PROJECT_ROOT, report = printToStderr } = {}) {
  await withBuildLock(root, () => buildUnlocked(root, report), 'web-dist.lock');
}

async function buildUnlocked(root, report) {
  const started = performance.now();
  const hash = consoleHash(root);
  let vite;
  try {
    vite = await import('vite');
  } catch (error) {
    if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new BuildError('The web console (web/dist) does not match web/, and it cannot be built: Vite is not installed. Run `npm ci`, then `npm run build`.');
  }
  const web = path.join(root, 'web');
  // Built beside web/dist and swapped in whole: a server running keeps serving a whole console.
  for (const entry of readdirSync(web)) if (/^dist\.(next|old)-\d+$/.test(entry)) rmSync(path.join(web, entry), { recursive: true, force: true });
  const next = path.join(web, `dist.next-${process.pid}`);
  // A production build whatever the caller's NODE_ENV (the test runner sets `test`, which would
  // make Vite bundle React's development build).
  const callersEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await vite.build({ configFile: path.join(web, 'vite.config.ts'), mode: 'production', build: { outDir: next }, logLevel: 'warn' });
  } catch (error) {
    rmSync(next, { recursive: true, force: true });
    throw new BuildError(`Building the web console failed:\n${error instanceof Error ? error.message : String(error)}\nFix web/ and run it again.`);
  } finally {
    if (callersEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = callersEnv;
  }
  writeFileSync(path.join(next, STAMP), `${JSON.stringify({ sourceHash: hash }, null, 2)}\n`);
  const old = path.join(web, `dist.old-${process.pid}`);
  try {
    renameSync(path.join(web, 'dist'), old);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  renameSync(next, path.join(web, 'dist'));
  rmSync(old, { recursive: true, force: true });
  report(`Built the web console (web/dist) in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

function printToStderr(line) {
  process.stderr.write(`${line}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes('--if-stale')) await ensureConsoleBuilt();
    else await buildConsole();
  } catch (error) {
    process.stderr.write(`${error instanceof BuildError ? error.message : error.stack}\n`);
    process.exitCode = 1;
  }
}
