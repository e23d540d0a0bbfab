import { createHash, randomBytes } from 'node:crypto';

/**
 * A secret a client holds and shows back (a web session's cookie, an API token, a sign-in under
 * way at the identity provider): 256 random bits, URL-safe. Only its hash (`secretHash`) is stored,
 * so a copy of the database opens nothing.
 */
export const newSecret = (): string => randomBytes(32).toString('base64url');

/** The SHA-256 (hex) of a secret as it is stored and looked up. */
export const secretHash = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');
