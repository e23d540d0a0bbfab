import type { ObjectMeta } from '../objects/index.ts';
import type { FieldProblem } from '../platform/errors.ts';
import type { Selectable } from 'kysely';
import type { UserTable } from '../platform/database-schema.ts';
import type { UserView } from './user.views.ts';

/** An account as stored. */
export type UserRow = Selectable<UserTable>;

/**
 * An account as identity works with it: the profile, the password hash and sealed TOTP secret the
 * sign-in code checks, and the sign-in state. It never leaves the process (`presentUser` decides what does).
 */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly displayName: string;
  readonly email: string | null;
  readonly timeZone: string;
  readonly passwordHash: string | null;
  readonly disabledAt: Date | null;
  readonly lockedUntil: Date | null;
  readonly totpSecret: string | null;
  readonly totpEnabledAt: Date | null;
  readonly totpLastStep: number | null;
  /** Bumped by every security change: gateway connections signed in before it open no more sessions. */
  readonly signinEpoch: number;
  readonly version: number;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

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

export function presentUser(user: User, now: Date): UserView {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    email: user.email,
    timeZone: user.timeZone,
    disabled: user.disabledAt !== null,
    totpEnabled: user.totpEnabledAt !== null,
    lockedUntil: user.lockedUntil && user.lockedUntil > now ? user.lockedUntil.toISOString() : null,
    version: user.version,
    createdAt: user.createdAt.toISOString(),
    createdBy: user.createdBy,
    updatedAt: user.updatedAt.toISOString(),
    updatedBy: user.updatedBy,
  };
}

/** The administrator a new installation starts with. */
export const FIRST_ADMIN = 'admin';
