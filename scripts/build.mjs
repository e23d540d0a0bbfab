#!/usr/bin/env node
/**
 * Compiles Changegate's src/ into dist/, the JavaScript that `npm start` and the `changegate` bin
 * run.
 *
 * Each TypeScript module (tests left out) becomes one JavaScript module at the same path under
 * dist/, its `.ts` imports rewritten to `.js`, and every other file under src/ (migrations, the
 * evidence bundle's verify.mjs) is copied beside them. The tree keeps its shape and dist/ sits
 * beside src/, so a path the code resolves from `import.meta.url` (`./migrations`,
 * `../package.json`) finds the same file from either.
 *
 * esbuild does the transpiling: a full build takes about a second, where `tsc` takes ten or more
 * and would make the first `npm start` slower than running the sources through tsx. It is a
 * dependency, not a development one, because `npm start` builds. Types are checked by
 * `npm run typecheck`, not here; `isolatedModules` and `verbatimModuleSyntax` in tsconfig.json make
 * a file-by-file transpile mean the same as tsc's.
 *
 * dist/.build.json holds a hash of everything the build reads: the sources and assets,
 * tsconfig.json, package.json, package-lock.json (which pins esbuild) and this script. dist/ is
 * current while that hash matches, so checking costs one read of those files (some 20 ms), and any
 * change to them, a file added or removed included, is seen whatever the files' times say.
 *
 *   node scripts/build.mjs             build now (npm run build)
 *   node scripts/build.mjs --if-stale  build only if dist/ does not match the sources
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout this script belongs to. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

const STAMP = '.build.json';
/** Beside dist/, not in it: dist/ is replaced whole. */
const LOCK = 'dist.lock';
/** Files outside src/ that change what the build emits. */
const SETTINGS = ['tsconfig.json', 'package.json', 'package-lock.json', 'scripts/build.mjs'];
/** Tests and their kits stay out of dist/: nothing the program runs imports them. */
const TEST_FILE = /\.(test|testing|test-kit)\.ts$/;
/** Declarations describe a module for the type checker only. */
const DECLARATION = /\.d\.[cm]?ts$/;
/** A lock held longer than this is left over from a build that died. */
const LOCK_GIVE_UP_MS = 5 * 60_000;

/** Thrown when dist/ cannot be made current; its message says what to do. */
export class BuildError extends Error {}

/**
 * The files under src/ the build reads, relative to src/ with `/` separators, sorted:
 * `modules` are compiled, `assets` copied as they are.
 */
export function buildInputs(root = PROJECT_ROOT) {
  const src = path.join(root, 'src');
  const modules = [];
  const assets = [];
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const relative = path.relative(src, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
    if (DECLARATION.test(relative) || TEST_FILE.test(relative)) continue;
    (/\.[cm]?ts$/.test(relative) ? modules : assets).push(relative);
  }
  return { modules: modules.sort(), assets: assets.sort() };
}

/** A hash of every file the build reads, by name and content. */
export function sourceHash(root = PROJECT_ROOT) {
  const { modules, assets } = buildInputs(root);
  return hashFiles(root, [...SETTINGS, ...[...modules, ...assets].map((name) => `src/${name}`)]);
}

/** A hash of files by name (relative to `root`, `/` separators) and content; a missing file counts as such. */
export function hashFiles(root, names) {
  const hash = createHash('sha256');
  for (const name of names) {
    let content;
    try {
      content = readFileSync(path.join(root, name));
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
      content = null;
    }
    hash.update(`${name}\0${content === null ? -1 : content.length}\0`);
    if (content !== null) hash.update(content);
  }
  return hash.digest('hex');
}

/** The source hash dist/ was built from, or undefined when there is no complete build. */
export function builtFrom(root = PROJECT_ROOT) {
  try {
    return JSON.parse(readFileSync(path.join(root, 'dist', STAMP), 'utf8')).sourceHash;
  } catch {
    return undefined;
  }
}

/** Whether dist/ holds the build of the sources as they are now. */
export function isCurrent(root = PROJECT_ROOT) {
  return builtFrom(root) === sourceHash(root);
}

/**
 * Builds dist/ unless it is current; tells `report` when it builds. Resolves to whether it built.
 * Several processes may call it at once: one builds, the others wait for it and find dist/ current.
 */
export async function ensureBuilt({ root = PROJECT_ROOT, report = printToStderr } = {}) {
  if (isCurrent(root)) return false;
  return withBuildLock(root, async () => {
    // Whoever held the lock before may have just built these very sources.
    if (isCurrent(root)) return false;
    await buildUnlocked(root, report);
    return true;
  });
}

/** Builds dist/ from the sources now, current or not. */
export async function build({ root = PROJECT_ROOT, report = printToStderr } = {}) {
  await withBuildLock(root, () => buildUnlocked(root, report));
}

async function buildUnlocked(root, report) {
  const started = performance.now();
  // Hashed before esbuild reads anything: a file changed during the build leaves a hash that no
  // longer matches, so the next check builds again rather than trusting a mixed dist/.
  const hash = sourceHash(root);
  const esbuild = await loadEsbuild(root);
  // Built beside dist/ and swapped in whole: a server already running from dist/ still finds every
  // file it reads later (migrations at start, verify.mjs at each export), and a failed build
  // leaves dist/ as it was, whose hash still tells it is out of date.
  for (const entry of readdirSync(root)) if (/^dist\.(next|old)-\d+$/.test(entry)) rmSync(path.join(root, entry), { recursive: true, force: true });
  const next = `dist.next-${process.pid}`;
  const { modules, assets } = buildInputs(root);
  try {
    await esbuild.build({
      absWorkingDir: root,
      entryPoints: modules.map((name) => `src/${name}`),
      outdir: next,
      outbase: 'src',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      // Bundling only so that the plugin below sees each import: it keeps every one outside the
      // file, so each module still compiles on its own, as tsx runs it.
      bundle: true,
      packages: 'external',
      plugins: [relativeImportsStayModules],
      logLevel: 'silent',
    });
  } catch (error) {
    rmSync(path.join(root, next), { recursive: true, force: true });
    const messages = error.errors ? await esbuild.formatMessages(error.errors, { kind: 'error', color: false }) : [String(error)];
    throw new BuildError(`Building dist/ failed:\n${messages.join('')}Fix the source and run it again (\`npm run typecheck\` shows type errors too).`);
  } finally {
    await esbuild.stop?.();
  }
  for (const name of assets) {
    const target = path.join(root, next, name);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(path.join(root, 'src', name), target);
  }
  writeFileSync(path.join(root, next, STAMP), `${JSON.stringify({ sourceHash: hash, esbuild: esbuild.version, modules: modules.length, assets: assets.length }, null, 2)}\n`);
  const old = path.join(root, `dist.old-${process.pid}`);
  try {
    renameSync(path.join(root, 'dist'), old);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  renameSync(path.join(root, next), path.join(root, 'dist'));
  rmSync(old, { recursive: true, force: true });
  report(`Built dist/ from src/: ${modules.length} modules and ${assets.length} other files in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

/**
 * Each relative import stays a separate module, its `.ts` named `.js` as in dist/. One that dist/
 * would not hold (a test, a file outside src/, a file that is not there) fails the build here
 * rather than the program when it runs.
 */
const relativeImportsStayModules = {
  name: 'relative-imports-stay-modules',
  setup(build) {
    const src = path.join(build.initialOptions.absWorkingDir, 'src') + path.sep;
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const target = path.resolve(args.resolveDir, args.path);
      const problem = !target.startsWith(src) ? 'lies outside src/' : TEST_FILE.test(target) ? 'is a test file' : !existsSync(target) ? 'does not exist' : undefined;
      if (problem) return { errors: [{ text: `"${args.path}" ${problem}, so dist/ would not hold it` }] };
      return { path: args.path.replace(/\.([cm]?)ts$/, '.$1js'), external: true };
    });
  },
};

async function loadEsbuild(root) {
  try {
    return await import('esbuild');
  } catch (error) {
    if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new BuildError(`dist/ in ${root} does not match src/, and it cannot be built: esbuild is not installed. Run \`npm ci\`, then \`npm run build\`.`);
  }
}

/** Runs `work` while holding the lock file `name` (dist.lock), waiting for a build under way in another process. */
export async function withBuildLock(root, work, name = LOCK) {
  const lock = path.join(root, name);
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    if (lockIsAbandoned(lock)) rmSync(lock, { force: true });
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

function lockIsAbandoned(lock) {
  let holder;
  let age;
  try {
    holder = Number(readFileSync(lock, 'utf8').trim());
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return false; // released meanwhile, or just created and not yet written: look again
  }
  if (age > LOCK_GIVE_UP_MS) return true;
  if (!Number.isInteger(holder) || holder <= 0) return false;
  try {
    process.kill(holder, 0);
    return false;
  } catch (error) {
    return error.code === 'ESRCH';
  }
}

function printToStderr(line) {
  process.stderr.write(`${line}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  try {
    if (ifStale) await ensureBuilt();
    else await build();
  } catch (error) {
    process.stderr.write(`${error instanceof BuildError ? error.message : error.stack}\n`);
    process.exitCode = 1;
  }
}
