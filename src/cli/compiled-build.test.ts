import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';
import { VERSION } from '../changegate.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What the build reads or runs from a checkout; tests, docs and benchmarks play no part. */
const CHECKOUT = ['src', 'scripts', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json'];
const BUILT = /^Built dist\/ from src\/: \d+ modules and \d+ other files in [\d.]+ s\.$/m;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node [nodeArgs] <script> [args]` in `cwd`, to its end. */
function node(cwd: string, script: string, args: readonly string[] = [], nodeArgs: readonly string[] = []): Promise<Run> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A checkout of this project without dist/, in a directory of its own, using this project's installed packages. */
function freshCheckout(onTestFinished: TestContext['onTestFinished'], nodeModules = realpathSync(path.join(PROJECT_ROOT, 'node_modules'))): string {
  const root = mkdtempSync(path.join(tmpdir(), 'changegate-checkout-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  for (const name of CHECKOUT) cpSync(path.join(PROJECT_ROOT, name), path.join(root, name), { recursive: true });
  symlinkSync(nodeModules, path.join(root, 'node_modules'));
  return root;
}

/** Whether dist/ in `root` matches its sources, by the check the bin makes (scripts/build.mjs, plain JavaScript). */
async function isCurrent(root: string): Promise<boolean> {
  const build = (await import(pathToFileURL(path.join(PROJECT_ROOT, 'scripts', 'build.mjs')).href)) as { isCurrent(root: string): boolean };
  return build.isCurrent(root);
}

const filesUnder = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));

describe('the compiled program', () => {
  it('runs through the bin from dist/, loading no TypeScript and not tsx', async ({ onTestFinished }) => {
    // A loader hook that writes down every module the process resolves.
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-modules-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, 'resolved.txt');
    writeFileSync(path.join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const resolved = await next(specifier, context);\n  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');\n  return resolved;\n}\n`);
    writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const watched = ['--import', path.join(dir, 'register.mjs')];

    const result = await node(PROJECT_ROOT, 'bin/changegate.js', ['--version'], watched);
    expect(result).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const resolved = readFileSync(log, 'utf8').trim().split('\n');
    expect(resolved).toContain(pathToFileURL(path.join(PROJECT_ROOT, 'dist', 'cli', 'main.js')).href);
    expect(resolved.filter((url) => url.endsWith('.ts') || url.includes('/tsx/'))).toEqual([]);
    // A command that goes through the API starts without the server's modules: no HTTP server, no
    // database driver, no SSH gateway or terminal emulator is loaded for it.
    const serverPackages = /\/node_modules\/(fastify|@fastify\/[^/]+|@electric-sql\/pglite|pg|kysely|@xterm\/headless|nodemailer)\//;
    expect(resolved.filter((url) => serverPackages.test(url))).toEqual([]);

    // The same hook does see tsx where it is loaded, so its absence above means something.
    writeFileSync(log, '');
    expect((await node(PROJECT_ROOT, '--eval', ['0'], [...watched, '--import', 'tsx'])).code).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('/tsx/');
    // And it sees the server's modules where they are loaded.
    writeFileSync(log, '');
    expect((await node(PROJECT_ROOT, '--eval', ["await import('./dist/changegate.js')"], [...watched, '--input-type=module'])).code).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n').filter((url) => serverPackages.test(url)).length).toBeGreaterThan(0);
  }, 60_000);

  it("finds the files it reads beside its modules: the migrations, verify.mjs, package.json's version", async () => {
    const verifier = readFileSync(path.join(PROJECT_ROOT, 'src', 'evidence', 'verify.mjs'));
    const hash = await node(PROJECT_ROOT, 'dist/cli/main.js', ['verify-evidence', '--print-verifier-hash']);
    expect(hash).toEqual({ code: 0, stdout: `${createHash('sha256').update(verifier).digest('hex')}  verify.mjs\n`, stderr: '' });
    const migrations = readdirSync(path.join(PROJECT_ROOT, 'src', 'platform', 'migrations'));
    expect(readdirSync(path.join(PROJECT_ROOT, 'dist', 'platform', 'migrations'))).toEqual(migrations);
    // A first start applying them from dist/ is in serve.command.test.ts.
  }, 60_000);

  it('in a checkout without dist/, the bin builds it from src/ (no tests in it) and runs it; the next run builds nothing', async ({ onTestFinished }) => {
    const root = freshCheckout(onTestFinished);
    const first = await node(root, 'bin/changegate.js', ['--version']);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`${VERSION}\n`);
    expect(first.stderr).toMatch(BUILT);

    const built = filesUnder(path.join(root, 'dist'));
    expect(built).toContain(path.join('cli', 'main.js'));
    expect(built).toContain(path.join('platform', 'migrations', '0001_foundation.sql'));
    expect(built).toContain(path.join('evidence', 'verify.mjs'));
    expect(built.filter((file) => /\.(test|testing|test-kit)\.|\.ts$/.test(file))).toEqual([]);

    expect(await node(root, 'bin/changegate.js', ['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  }, 120_000);

  it('counts dist/ out of date after any change to a source, an asset or a setting, a file added or removed, but not after a mere touch', async ({ onTestFinished }) => {
    const root = freshCheckout(onTestFinished);
    expect((await node(root, 'scripts/build.mjs')).code).toBe(0);
    expect(await isCurrent(root)).toBe(true);

    const at = (name: string) => path.join(root, name);
    const changes: Array<[string, () => void, () => void]> = [
      ['a source', () => appendFileSync(at('src/cli/program.ts'), '\n'), () => cpSync(path.join(PROJECT_ROOT, 'src/cli/program.ts'), at('src/cli/program.ts'))],
      ['a migration', () => appendFileSync(at('src/platform/migrations/0001_foundation.sql'), '\n'), () => cpSync(path.join(PROJECT_ROOT, 'src/platform/migrations/0001_foundation.sql'), at('src/platform/migrations/0001_foundation.sql'))],
      ['a new module', () => writeFileSync(at('src/platform/extra.ts'), 'export const extra = 1;\n'), () => rmSync(at('src/platform/extra.ts'))],
      ['a removed module', () => rmSync(at('src/platform/clock.ts')), () => cpSync(path.join(PROJECT_ROOT, 'src/platform/clock.ts'), at('src/platform/clock.ts'))],
      ['tsconfig.json', () => appendFileSync(at('tsconfig.json'), '\n'), () => cpSync(path.join(PROJECT_ROOT, 'tsconfig.json'), at('tsconfig.json'))],
      ['package.json', () => appendFileSync(at('package.json'), '\n'), () => cpSync(path.join(PROJECT_ROOT, 'package.json'), at('package.json'))],
      ['package-lock.json', () => appendFileSync(at('package-lock.json'), '\n'), () => cpSync(path.join(PROJECT_ROOT, 'package-lock.json'), at('package-lock.json'))],
    ];
    for (const [what, change, undo] of changes) {
      change();
      expect(await isCurrent(root), what).toBe(false);
      undo();
      expect(await isCurrent(root), `${what} undone`).toBe(true);
    }
    // Same contents, newer times: nothing to build.
    const later = new Date(Date.now() + 60_000);
    for (const file of filesUnder(at('src'))) utimesSync(at(path.join('src', file)), later, later);
    expect(await isCurrent(root)).toBe(true);
    // A test file is not part of the build.
    writeFileSync(at('src/platform/extra.test.ts'), 'export {};\n');
    expect(await isCurrent(root)).toBe(true);
  }, 120_000);

  it('the bin rebuilds a changed source before running it, and runs nothing when the source does not compile or imports what dist/ leaves out', async ({ onTestFinished }) => {
    const root = freshCheckout(onTestFinished);
    expect((await node(root, 'scripts/build.mjs')).code).toBe(0);
    const main = path.join(root, 'src', 'cli', 'main.ts');
    const original = readFileSync(main, 'utf8');

    writeFileSync(main, `console.error('edited');\n${original}`);
    const edited = await node(root, 'bin/changegate.js', ['--version']);
    expect(edited.code).toBe(0);
    expect(edited.stdout).toBe(`${VERSION}\n`);
    expect(edited.stderr).toMatch(BUILT);
    expect(edited.stderr).toMatch(/^edited$/m);

    writeFileSync(main, `${original}\nconst = ;\n`);
    const broken = await node(root, 'bin/changegate.js', ['--version']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('');
    expect(broken.stderr).toContain('Building dist/ failed');
    expect(broken.stderr).toContain('src/cli/main.ts:');
    // Still refused the next time: the dist/ left from before is not taken for a build of this.
    expect((await node(root, 'bin/changegate.js', ['--version'])).code).toBe(1);

    // Imports that would compile but fail at run time, because dist/ does not hold what they name.
    writeFileSync(main, `import '../../test/harness.ts';\nimport './cli-process.testing.ts';\nimport './gone.ts';\n${original}`);
    const unresolved = await node(root, 'bin/changegate.js', ['--version']);
    expect(unresolved).toMatchObject({ code: 1, stdout: '' });
    expect(unresolved.stderr).toContain('"../../test/harness.ts" lies outside src/, so dist/ would not hold it');
    expect(unresolved.stderr).toContain('"./cli-process.testing.ts" is a test file, so dist/ would not hold it');
    expect(unresolved.stderr).toContain('"./gone.ts" does not exist, so dist/ would not hold it');

    writeFileSync(main, original);
    const fixed = await node(root, 'bin/changegate.js', ['--version']);
    expect(fixed.code).toBe(0);
    expect(fixed.stderr).toMatch(BUILT);
    expect(fixed.stderr).not.toContain('edited');
  }, 120_000);

  it('two commands started at once on an out-of-date dist/ build it once, and both run', async ({ onTestFinished }) => {
    const root = freshCheckout(onTestFinished);
    const both = await Promise.all([node(root, 'bin/changegate.js', ['--version']), node(root, 'bin/changegate.js', ['--version'])]);
    for (const run of both) expect(run).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(both.filter((run) => BUILT.test(run.stderr))).toHaveLength(1);
    expect(both.map((run) => run.stderr.replace(BUILT, '').trim())).toEqual(['', '']);
    // No lock and no half-built tree left behind.
    expect(readdirSync(root).filter((name) => name.startsWith('dist'))).toEqual(['dist']);
  }, 120_000);

  it('where esbuild is missing, a built dist/ runs, and an out-of-date one is refused with what to do', async ({ onTestFinished }) => {
    // The installed packages less esbuild: what a copied installation may lack.
    const installed = realpathSync(path.join(PROJECT_ROOT, 'node_modules'));
    const production = mkdtempSync(path.join(tmpdir(), 'changegate-modules-'));
    onTestFinished(() => rmSync(production, { recursive: true, force: true }));
    const withoutEsbuild = path.join(production, 'node_modules');
    mkdirSync(withoutEsbuild);
    for (const name of readdirSync(installed)) if (name !== 'esbuild' && name !== '.bin') symlinkSync(path.join(installed, name), path.join(withoutEsbuild, name));
    const root = freshCheckout(onTestFinished, withoutEsbuild);

    const unbuilt = await node(root, 'bin/changegate.js', ['--version']);
    expect(unbuilt.code).toBe(1);
    expect(unbuilt.stdout).toBe('');
    expect(unbuilt.stderr).toContain('does not match src/, and it cannot be built: esbuild is not installed. Run `npm ci`, then `npm run build`.');

    cpSync(path.join(PROJECT_ROOT, 'dist'), path.join(root, 'dist'), { recursive: true });
    expect(await node(root, 'bin/changegate.js', ['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  }, 120_000);
});
