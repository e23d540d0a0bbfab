import type { ColumnType } from 'kysely';
import type { CreatedOnly } from './columns.ts';

/** OpenID Connect sign-in (migration 0024): sign-ins under way, and the provider accounts users are linked to. */
export interface OidcTables {
  oidc_sign_in: OidcSignInTable;
  oidc_identity: OidcIdentityTable;
}

export interface OidcSignInTable {
  /** SHA-256 of the flow token the browser holds in its cookie. */
  flow_hash: CreatedOnly<string>;
  /** The address (or IPv6 /64) the sign-in came from: pending sign-ins are bounded per source. */
  source: string;
  step: 'provider' | 'totp';
  state: string | null;
  nonce: string | null;
  /** Sealed with the master key. */
  code_verifier: string | null;
  user_id: string | null;
  /** At the TOTP step: the provider's subject and the user's groups there, bound once the code is right. */
  subject: string | null;
  groups: ColumnType<string[] | null, string | null, string | null>;
  next: string;
  created_at: Date;
  expires_at: Date;
}

export interface OidcIdentityTable {
  user_id: CreatedOnly<string>;
  issuer: string;
  subject: string;
  linked_at: Date;
  last_sign_in_at: Date;
}
