import type { ObjectMeta } from '../objects/index.ts';
import type { FieldProblem } from '../platform/errors.ts';
import type { Selectable } from 'kysely';
import type { UserTable } from '../platform/database-schema.ts';
import type { UserView } from './user.views.ts';

/** An account as stored. */
export type UserRow = Selectable<UserTable>;

/**
 * A user's profile as a configuration object: what the object store versions and the audit trail
 * captures. Its name is the username; users are system-wide and sit in GLOBAL. Password hash,
 * TOTP secret and sign-in state are not part of it, so no snapshot ever holds them.
 */
export interface UserProfile extends ObjectMeta {
  readonly displayName: string;
  readonly email: string | null;
  readonly timeZone: string;
  readonly disabledAt: Date | null;
}

/** Lower-case letters, digits, `.`, `_`, `-`; no `@`, which the gateway uses in `alice@web01`. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface ProfileInput {
  readonly displayName?: string;
  readonly email?: string | null;
  readonly timeZone?: string;
}

/** Checks the profile fields a user or an administrator may set. */
export function profileProblems(input: ProfileInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.displayName !== undefined && input.displayName.trim() === '') problems.push({ path: '/displayName', message: 'must not be empty' });
  if (input.email && !EMAIL_PATTERN.test(input.email)) problems.push({ path: '/email', message: 'is not an e-mail address' });
  if (input.timeZone !== undefined && !isTimeZone(input.timeZone)) {
    problems.push({ path: '/timeZone', message: `"${input.timeZone}" is not an IANA time zone such as Europe/Berlin or UTC` });
  }
  return problems;
}

export type { UserView } from './user.views.ts';

export function presentUser(row: UserRow, now: Date): UserView {
  return {
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    email: row.email,
    timeZone: row.time_zone,
    disabled: row.disabled_at !== null,
    totpEnabled: row.totp_enabled_at !== null,
    lockedUntil: row.locked_until && row.locked_until > now ? row.locked_until.toISOString() : null,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    updatedAt: row.updated_at.toISOString(),
    updatedBy: row.updated_by,
  };
}
