/**
 * How a caller proved who they are, for the checks that care (a recent password sign-in, a gateway
 * connection still valid). The HTTP layer and the gateway set it; code that opened the database
 * itself (the CLI's own commands) acts without one.
 */
export type SignIn =
  | { readonly kind: 'web_session'; readonly sessionId: string }
  | { readonly kind: 'api_token'; readonly tokenId: string }
  /** `epoch` is the user's sign-in epoch at the time: a security change bumps it and the connection stops opening sessions. */
  | { readonly kind: 'gateway'; readonly epoch: number };

/** Who is acting: an authenticated user. Every service method takes one and checks it first. */
export interface Actor {
  readonly userId: string;
  readonly username: string;
  readonly signIn?: SignIn;
}

/** How the system itself appears in the event log for what no user did (expiry, start-up). */
export const SYSTEM_ACTOR_NAME = 'system';
