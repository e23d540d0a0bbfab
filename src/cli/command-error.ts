import { ConfigError } from '../platform/config.ts';
import { isAppError } from '../platform/errors.ts';

/** Exit codes: 0 done, 1 the command failed, 2 the command line or configuration is wrong, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** A failure in how a command was called or what it names (an unknown `--as` user, no such grant). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** The command has already printed its outcome (a failed verification); only the exit code is left. */
export class CommandFailed extends Error {
  constructor(readonly exitCode: number = EXIT.failed) {
    super(`the command failed with exit code ${exitCode}`);
    this.name = 'CommandFailed';
  }
}

/**
 * Writes what went wrong to `stderr`, without a stack trace, and returns the exit code: a bad
 * configuration is 2, a refused or failed operation 1.
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (error instanceof CommandFailed) return error.exitCode;
  if (error instanceof ConfigError) {
    stderr.write(`${error.message}\n`);
    return EXIT.usage;
  }
  if (isAppError(error)) {
    stderr.write(`error: ${error.message}\n`);
    for (const problem of problemsOf(error.details)) stderr.write(`  ${problem}\n`);
    return EXIT.failed;
  }
  if (error instanceof CommandError) {
    stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  stderr.write(`error: ${messageOf(error)}\n`);
  return EXIT.failed;
}

/** Some libraries throw plain objects with a message (the embedded database does); never print `[object Object]`. */
function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'message' in error) return String(error.message);
  return typeof error === 'object' ? JSON.stringify(error) : String(error);
}

/** The field problems of a validation error, as `/email: is not an e-mail address`. */
function problemsOf(details: unknown): string[] {
  if (typeof details !== 'object' || details === null || !('problems' in details) || !Array.isArray(details.problems)) return [];
  return details.problems.map((problem: unknown) => {
    if (typeof problem !== 'object' || problem === null) return String(problem);
    const { path, message } = problem as { path?: unknown; message?: unknown };
    return path ? `${String(path)}: ${String(message)}` : String(message);
  });
}
