/** Who is acting: an authenticated user. Every service method takes one and checks it first. */
export interface Actor {
  readonly userId: string;
  readonly username: string;
}

/** How the system itself appears in the event log for what no user did (expiry, start-up). */
export const SYSTEM_ACTOR_NAME = 'system';
