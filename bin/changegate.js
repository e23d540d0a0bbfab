#!/usr/bin/env node
// The `changegate` command (and `npm start`): runs the compiled program in dist/. In a checkout
// (src/ beside it) it first builds dist/ if it does not match the sources, so it never runs code
// older than them; checking costs some 20 ms, building about a second. `serve` also builds the web
// console (web/dist) when web/ changed, in a few seconds.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/cli/main.ts', import.meta.url))) {
  const { BuildError, ensureBuilt } = await import('../scripts/build.mjs');
  try {
    await ensureBuilt();
    if (process.argv[2] === 'serve') {
      const { ensureConsoleBuilt } = await import('../scripts/build-console.mjs');
      await ensureConsoleBuilt();
    }
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
} else if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  process.stderr.write('This installation of Changegate has no compiled program (dist/): build it with `npm run build` where its sources are.\n');
  process.exit(1);
}
await import('../dist/cli/main.js');
