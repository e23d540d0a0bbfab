import { ConfigError, type Config } from '../platform/config.ts';
import { isPrivilege, isSystemOnly, type Privilege } from '../access/privilege.ts';
import { USERNAME_PATTERN } from './user.ts';

/** One grant a provider group gives: at Access level, in a partition (by name) or system-wide. */
export interface GroupGrant {
  readonly group: string;
  readonly privilege: Privilege;
  readonly partition: string | null;
}

/** OpenID Connect sign-in as configured, checked once at start. */
export interface OidcSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly displayName: string;
  readonly createUsers: boolean;
  /** Link existing local accounts (a password or TOTP) at their first sign-in through the provider; off, only accounts without either are linked. */
  readonly linkExisting: boolean;
  readonly usernameClaim: string;
  readonly groupsClaim: string;
  readonly groupGrants: readonly GroupGrant[];
  /** `amr` values that stand for the TOTP code; empty: never. */
  readonly mfaAmr: readonly string[];
  /** Where the provider sends the browser back: `<public URL>/api/v1/auth/oidc/callback`. */
  readonly redirectUri: string;
}

export const OIDC_CALLBACK_PATH = '/api/v1/auth/oidc/callback';

/**
 * The OpenID Connect settings of `config`, or undefined when sign-in through a provider is off.
 * The privileges of the group mapping are checked against the catalogue here (the configuration
 * only checks their shape): a name that is not a privilege stops the start with a ConfigError.
 */
export function oidcSettingsOf(config: Config): OidcSettings | undefined {
  if (!config.oidcIssuer || !config.oidcClientId || !config.publicUrl) return undefined;
  const problems: string[] = [];
  const groupGrants: GroupGrant[] = [];
  for (const grant of config.oidcGroupGrants) {
    if (!isPrivilege(grant.privilege)) {
      problems.push(`CHANGEGATE_OIDC_GROUP_GRANTS: "${grant.privilege}" (for group "${grant.group}") is not a privilege; GET /api/v1/privileges lists them.`);
    } else if (grant.partition !== null && isSystemOnly(grant.privilege)) {
      problems.push(`CHANGEGATE_OIDC_GROUP_GRANTS: ${grant.privilege} applies to the whole installation: give it without "@${grant.partition}".`);
    } else groupGrants.push({ group: grant.group, privilege: grant.privilege, partition: grant.partition });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    issuer: config.oidcIssuer,
    clientId: config.oidcClientId,
    clientSecret: config.oidcClientSecret,
    displayName: config.oidcDisplayName,
    createUsers: config.oidcCreateUsers,
    linkExisting: config.oidcLinkExisting,
    usernameClaim: config.oidcUsernameClaim,
    groupsClaim: config.oidcGroupsClaim,
    groupGrants,
    mfaAmr: config.oidcMfaAmr,
    redirectUri: `${config.publicUrl}${OIDC_CALLBACK_PATH}`,
  };
}

/**
 * Whether `next` is a page of this console to return to after sign-in: a path on this site, never
 * `//host` or `/\host` (another site to a browser), a full URL, or text with control characters.
 */
export function isReturnPath(next: string): boolean {
  return next.length <= 2000 && /^\/(?![/\\])/.test(next) && !/[\x00-\x20\x7f\\]/.test(next);
}

/** The groups a claim lists: an array of strings, or one string; anything else lists none. */
export function groupsOf(claim: unknown): string[] {
  if (typeof claim === 'string') return [claim];
  if (Array.isArray(claim)) return claim.filter((group): group is string => typeof group === 'string');
  return [];
}

/** The Changegate username a claim names (lower-cased), or why it names none. */
export function usernameOf(claim: unknown): { username: string } | { problem: 'no_username_claim' | 'invalid_username' } {
  if (typeof claim !== 'string' || claim === '') return { problem: 'no_username_claim' };
  // ASCII only before lower-casing: "\u212Aate" (a Kelvin sign) lower-cases to "kate".
  if (!/^[\x21-\x7e]+$/.test(claim)) return { problem: 'invalid_username' };
  const username = claim.toLowerCase();
  return USERNAME_PATTERN.test(username) ? { username } : { problem: 'invalid_username' };
}

/** The grants the user's groups call for, once each (by privilege and partition name). */
export function wantedGrants(mapping: readonly GroupGrant[], groups: readonly string[]): Array<{ privilege: Privilege; partition: string | null; groups: string[] }> {
  const held = new Set(groups);
  const wanted = new Map<string, { privilege: Privilege; partition: string | null; groups: string[] }>();
  for (const grant of mapping) {
    if (!held.has(grant.group)) continue;
    const key = `${grant.privilege}@${grant.partition ?? ''}`;
    const known = wanted.get(key);
    if (known) known.groups.push(grant.group);
    else wanted.set(key, { privilege: grant.privilege, partition: grant.partition, groups: [grant.group] });
  }
  return [...wanted.values()];
}

/** Whether the ID token's `amr` says the provider checked a second factor Changegate accepts for its TOTP code. */
export function providerMfa(amr: unknown, accepted: readonly string[]): boolean {
  return Array.isArray(amr) && amr.some((method) => typeof method === 'string' && accepted.includes(method));
}

/**
 * Why the provider's answer was refused, for the event log and the sign-in page: never the token,
 * the code or the provider's whole message. `check` names the failed check (`aud`, `exp`, `nonce`,
 * `state`, the provider's OAuth error code…).
 */
export function refusalOf(error: unknown): { reason: 'provider_refused' | 'token_refused'; check: string } {
  const shape = error as { name?: string; error?: unknown; code?: unknown; cause?: { cause?: { claim?: unknown; attribute?: unknown } } } | null;
  if (shape?.name === 'AuthorizationResponseError') return { reason: 'provider_refused', check: safeWord(shape.error) ?? 'error' };
  if (shape?.name === 'ResponseBodyError') return { reason: 'token_refused', check: safeWord(shape.error) ?? 'token_endpoint' };
  const detail = shape?.cause?.cause;
  const check = safeWord(detail?.claim) ?? safeWord(detail?.attribute) ?? safeWord(shape?.code) ?? 'response';
  return { reason: 'token_refused', check };
}

/** A short code from a foreign error, or nothing: what reaches the log must be no token. */
function safeWord(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : undefined;
}
