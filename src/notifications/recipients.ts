import type { Executor } from '../platform/database.ts';

/** A user a notice goes to, as notifications see them. */
export interface Recipient {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  readonly disabled: boolean;
}

/**
 * Who the users are that notices go to. Identity owns them and sits beside notifications, not below
 * them, so the composition root hands its answer in (`src/changegate.ts`); it runs in the caller's
 * transaction, so a notice is addressed inside it.
 */
export interface Recipients {
  /** The users with these ids that exist. */
  recipientsOf(db: Executor, userIds: readonly string[]): Promise<readonly Recipient[]>;
}
