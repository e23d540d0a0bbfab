import type { Kysely } from 'kysely';
import type { Database } from '../platform/database.ts';
import type { Logger } from '../platform/logger.ts';
import type { SessionCommand } from './session.ts';
import { insertCommands } from './session.store.ts';

/** What a session's relay needs to store its captured commands. */
export interface CommandWrites {
  /** Resolves once the command is stored; rejects if it could not be. */
  write(command: SessionCommand): Promise<void>;
}

export interface CommandWriterConfig {
  readonly db: Kysely<Database>;
  /** Commands in one INSERT at most (10 parameters each); default 500. */
  readonly maxBatch?: number;
  readonly logger?: Logger;
}

interface Waiting {
  readonly command: SessionCommand;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Stores the captured commands of every session of the instance, a group commit at a time: a
 * command waits for no timer (alone, it is written at once), and those captured while a write is
 * under way go together in the next, one INSERT for all the sessions. A thousand sessions typing
 * cost the database a few statements a second, not one each. Should a batch fail, its commands are
 * written one by one, so one bad row costs only itself.
 */
export class CommandWriter implements CommandWrites {
  private waiting: Waiting[] = [];
  private writing = false;
  /** Commands in the INSERT under way. */
  private inFlight = 0;
  private readonly maxBatch: number;

  constructor(private readonly config: CommandWriterConfig) {
    this.maxBatch = config.maxBatch ?? 500;
  }

  /** Commands captured and not yet stored: waiting, or in the write under way (the metrics' command backlog). */
  get backlog(): number {
    return this.waiting.length + this.inFlight;
  }

  write(command: SessionCommand): Promise<void> {
    const stored = new Promise<void>((resolve, reject) => this.waiting.push({ command, resolve, reject }));
    if (!this.writing) {
      this.writing = true;
      // The other commands captured in this turn of the event loop join the first batch.
      setImmediate(() => void this.drain());
    }
    return stored;
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.inFlight = batch.length;
      try {
        await insertCommands(this.config.db, batch.map((entry) => entry.command));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        if (batch.length === 1) batch[0]?.reject(error);
        else {
          this.config.logger?.warn({ err: error, commands: batch.length }, 'storing captured commands together failed; storing them one by one');
          for (const entry of batch) await insertCommands(this.config.db, [entry.command]).then(entry.resolve, entry.reject);
        }
      }
    }
    this.inFlight = 0;
    this.writing = false;
  }
}
