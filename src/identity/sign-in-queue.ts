import { availableParallelism } from 'node:os';

/**
 * How many password checks run at once, in all: twice the processor threads, but always one
 * libuv thread short of the pool (4 unless `UV_THREADPOOL_SIZE` says otherwise), since scrypt
 * runs there beside file and DNS work. Each check also holds a database connection (10 in the
 * PostgreSQL pool), so a flood cannot take them all.
 */
export const CHECKS_AT_ONCE = Math.max(1, Math.min(2 * availableParallelism(), (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 1));
/** Checks waiting for a place, beyond which a new one is refused at once (about 10 s of checks on 2 cores). */
export const MAX_WAITING = 256;
/** How long a user stays known at a source after signing in there. */
export const KNOWN_FOR_MS = 30 * 24 * 60 * 60 * 1000;
/** How many (username, source) pairs are remembered: beyond it the oldest is forgotten. */
export const MAX_KNOWN = 50_000;

/** What `run` answers when too many checks wait already: the check did not run. */
export const BUSY = Symbol('busy');

/**
 * Password checks, a few at a time (`CHECKS_AT_ONCE`), each in its turn: first come, first
 * checked, except that a user signing in again from a source where they signed in lately goes
 * ahead of the others, and the others never hold the last place: so a flood from many addresses,
 * which the rate limits count one address at a time, delays the known users little. A flood gets
 * at most a handful of checks from such a source (its rate limits hold), so it cannot use that
 * lane. At most `MAX_WAITING` others wait; beyond it a check is refused at once.
 */
export class SignInQueue {
  private running = 0;
  private runningOthers = 0;
  private readonly known: Array<() => void> = [];
  private readonly others: Array<() => void> = [];
  /** When each `username\nsource` pair last signed in, oldest first. */
  private readonly signedIn = new Map<string, number>();
  private peak = 0;

  constructor(private readonly atOnce = CHECKS_AT_ONCE) {}

  /** Runs a check when its turn comes, or answers `BUSY` at once when too many others wait. */
  async run<T>(check: () => Promise<T>, from: { username: string; source: string; time: number }): Promise<T | typeof BUSY> {
    const known = this.isKnown(from.username, from.source, from.time);
    if (this.mayStart(known)) this.take(known);
    else {
      if (!known && this.others.length >= MAX_WAITING) return BUSY;
      // Whoever wakes this one has taken its place for it.
      await new Promise<void>((resolve) => (known ? this.known : this.others).push(resolve));
    }
    try {
      return await check();
    } finally {
      this.running -= 1;
      if (!known) this.runningOthers -= 1;
      this.wakeNext();
    }
  }

  /** Remembers that a user signed in from a source. */
  signedInFrom(username: string, source: string, time: number): void {
    const key = `${username}\n${source}`;
    this.signedIn.delete(key);
    this.signedIn.set(key, time);
    if (this.signedIn.size > MAX_KNOWN) {
      const oldest = this.signedIn.keys().next().value;
      if (oldest !== undefined) this.signedIn.delete(oldest);
    }
  }

  /** Checks running and waiting now, the most that ran at once so far, and the pairs remembered. */
  size(): { running: number; waiting: number; peak: number; known: number } {
    return { running: this.running, waiting: this.known.length + this.others.length, peak: this.peak, known: this.signedIn.size };
  }

  /** Whether a check may start now: a place is free, and for one not known, not the last one (unless there is only one). */
  private mayStart(known: boolean): boolean {
    return this.running < this.atOnce && (known || this.runningOthers < Math.max(1, this.atOnce - 1));
  }

  private take(known: boolean): void {
    this.running += 1;
    if (!known) this.runningOthers += 1;
    this.peak = Math.max(this.peak, this.running);
  }

  private wakeNext(): void {
    const known = this.known.length > 0 && this.mayStart(true);
    const next = known ? this.known.shift() : this.mayStart(false) ? this.others.shift() : undefined;
    if (!next) return;
    this.take(known);
    next();
  }

  private isKnown(username: string, source: string, time: number): boolean {
    const at = this.signedIn.get(`${username}\n${source}`);
    return at !== undefined && time - at < KNOWN_FOR_MS;
  }
}
