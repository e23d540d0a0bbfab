import { Secret, TOTP } from 'otpauth';
import type { SealedColumn } from '../platform/reseal.ts';

/** RFC 6238 time-based one-time codes: SHA-1, 6 digits, 30-second steps, as authenticator apps expect. */
const PERIOD_SECONDS = 30;

function totpFor(secretBase32: string, label = 'changegate'): TOTP {
  return new TOTP({ issuer: 'Changegate', label, secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: PERIOD_SECONDS });
}

/** A new random 160-bit secret, base32 as authenticator apps take it. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://` URI an authenticator app scans (as a QR code) or takes pasted. */
export function totpUri(secretBase32: string, username: string): string {
  return totpFor(secretBase32, username).toString();
}

/** The code an authenticator shows at `time`, for tests and the CLI's self-check. */
export function totpCode(secretBase32: string, time: Date): string {
  return totpFor(secretBase32).generate({ timestamp: time.getTime() });
}

/**
 * Checks a code, accepting one step of clock drift either way. Returns the time step the code
 * belongs to, so the caller can refuse a step already used (a replayed code), or undefined.
 */
export function verifyTotp(secretBase32: string, code: string, time: Date): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const totp = totpFor(secretBase32);
  const delta = totp.validate({ token: code, timestamp: time.getTime(), window: 1 });
  if (delta === null) return undefined;
  return totp.counter({ timestamp: time.getTime() }) + delta;
}

/** A TOTP secret is sealed bound to its user, so it cannot be moved onto another account. */
export const totpSealContext = (userId: string) => `totp:${userId}`;

/** Where identity keeps sealed values, for the vault rotation. */
export const IDENTITY_SEALED_COLUMNS: readonly SealedColumn[] = [{ table: 'app_user', column: 'totp_secret', context: totpSealContext }];
