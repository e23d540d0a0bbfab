/**
 * Which running sessions a security change reaches: every field given must match. Services below
 * the sessions module (identity, inventory, changes) end sessions through this, never by importing
 * the gateway.
 */
export interface LiveSessionMatch {
  readonly userId?: string;
  readonly deviceId?: string;
  readonly requestId?: string;
  readonly changeId?: string;
}

/** Why and by whom sessions are ended: the user sees both, the session record keeps `by`. */
export interface SessionEnding {
  readonly by: string;
  readonly reason: string;
}

/**
 * Ends the live sessions a security change makes unsafe to continue (a disabled user, a device
 * whose address changed, a revoked request). Call it after the change's transaction commits.
 */
export interface LiveSessionControl {
  /** Ends the matching sessions this instance runs; resolves with how many were ended. */
  end(match: LiveSessionMatch, ending: SessionEnding): Promise<number>;
}

/** For a process that runs no sessions (the CLI's own commands, some tests). */
export const NO_LIVE_SESSIONS: LiveSessionControl = { end: async () => 0 };
