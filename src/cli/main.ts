import { runCli } from './program.ts';

const exitCode = await runCli(process.argv.slice(2));
// Exit explicitly once pending output is written: a library's leftover timer or socket must not
// keep a finished command alive.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
process.exit(exitCode);
