/**
 * Dropping a PostgreSQL database waits for a checkpoint, a second or more on a busy machine: a
 * test's `close` starts the drop and goes on, and the test file waits for its drops at its end
 * (a setup file, test/database-drops-setup.ts), so no database outlives its run.
 */
const underWay = new Set<Promise<unknown>>();

/** Lets `drop` finish in the background; its failure is reported when the file's drops are awaited. */
export function dropLater(drop: () => Promise<unknown>): void {
  const running = drop();
  underWay.add(running);
  // Kept until awaited, so that a failure surfaces there rather than as an unhandled rejection.
  running.catch(() => undefined);
}

/** Waits for every drop started so far. */
export async function dropsFinished(): Promise<void> {
  const running = [...underWay];
  underWay.clear();
  await Promise.all(running);
}
