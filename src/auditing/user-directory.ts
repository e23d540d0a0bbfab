import type { Executor } from '../platform/database.ts';

/**
 * What auditing asks about users. Identity owns them and sits beside auditing, not below it, so
 * the composition root hands its answers in (`src/changegate.ts`); a test may hand in its own.
 */
export interface UserDirectory {
  /** Those of `usernames` that name a user. */
  existingUsernames(db: Executor, usernames: readonly string[]): Promise<ReadonlySet<string>>;
  /** The user's time zone (`Europe/Berlin`), UTC for a user who does not exist. */
  timeZoneOf(db: Executor, userId: string): Promise<string>;
}
