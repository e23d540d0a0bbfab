/**
 * Runs `task` one at a time, however often it is asked for: a call while it runs asks for one
 * more run once it ends (any number of such calls make one), never two at once. For reads that
 * refresh a view of something that changes: the last run always starts after the last change it
 * was told of. A failing run is the task's to handle; the next one runs all the same.
 */
export function coalescedRun(task: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void task()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return run;
}
