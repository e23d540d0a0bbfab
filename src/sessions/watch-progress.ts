import { coalescedRun } from '../platform/coalesced-run.ts';

/** Where a watcher's board comes from: the session's own, when it runs here; else read from what its instance stored. */
export interface ProgressSource {
  /** The board of the session as this instance keeps it, or undefined when it does not run here. */
  local(): object | undefined;
  /** The board from the stored commands, and how many of the session's commands it counts. */
  snapshot?(): Promise<{ readonly board: object; readonly commands: number } | undefined>;
}

/** How long a watcher of another instance's session waits before reading a board that lags the recording again. */
export const SNAPSHOT_RETRY_MS = 200;
/** Reads of a lagging board before it is sent as it is. */
const SNAPSHOT_TRIES = 10;

/**
 * Sends a watcher the board of the session it watches each time the recording marks a command:
 * the session's live board when it runs here (updated before the marker is written), else the
 * board read from the database, read again while it counts fewer commands than the recording has
 * marked (the instance running the session stores commands and recording chunks separately, each
 * within a second). One read at a time; marks meanwhile make one more read after it.
 */
export class WatchProgress {
  private marks = 0;
  private holding = true;
  private last: object | undefined;
  /** Reads the stored board, one read at a time: marks meanwhile make one more read after it. */
  private readonly readAgain = coalescedRun(() => this.read());

  constructor(
    private readonly source: ProgressSource,
    private readonly send: (board: object) => void,
    private readonly stopped: () => boolean,
    private readonly retryMs = SNAPSHOT_RETRY_MS,
  ) {}

  /** The recording marked a command (replayed or live). */
  marked(): void {
    this.marks++;
    if (!this.holding) this.update();
  }

  /** The session's own board changed without a mark (a decision of its command policy). */
  changed(): void {
    if (!this.holding) this.update();
  }

  /** The replay of the recording so far is done: the board as it stands now, then one per command. */
  release(): void {
    this.holding = false;
    this.update();
  }

  private update(): void {
    if (this.stopped()) return;
    const local = this.source.local();
    if (local !== undefined) {
      if (local !== this.last) this.deliver(local);
      return;
    }
    if (this.source.snapshot) this.readAgain();
  }

  private async read(): Promise<void> {
    for (let attempt = 1; attempt <= SNAPSHOT_TRIES && !this.stopped(); attempt++) {
      const marks = this.marks;
      const snapshot = await this.source.snapshot?.();
      if (!snapshot) return;
      if (snapshot.commands >= marks || attempt === SNAPSHOT_TRIES) return this.deliver(snapshot.board);
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    }
  }

  private deliver(board: object): void {
    if (this.stopped()) return;
    this.last = board;
    this.send(board);
  }
}
