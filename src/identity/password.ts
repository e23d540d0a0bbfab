import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (RFC 7914) and a 16-byte random salt per password. The parameters
 * are stored with the hash (`$scrypt$ln=15,r=8,p=1$salt$hash`) so they can be raised later without
 * invalidating existing passwords.
 */
const LOG_N = 15;
/** The cost new hashes get: `LOG_N`, unless a test lowered it (`setPasswordCostForTests`). */
let logNForNewHashes = LOG_N;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

function scrypt(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r };
  return new Promise((resolve, reject) =>
    scryptCallback(password.normalize('NFC'), salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const logN = logNForNewHashes;
  const key = await scrypt(password, salt, logN, R, P);
  return `$scrypt$ln=${logN},r=${R},p=${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/**
 * Test seam: new hashes at a lower cost (`ln`), or the production one again with `undefined`.
 * The test suite hashes and checks passwords thousands of times, each a tenth of a second of a
 * core at the production cost; a hash names its own cost, so it is checked the same way either
 * way. Never called outside tests; the tests of hashing itself keep the production cost.
 */
export function setPasswordCostForTests(logN: number | undefined): void {
  logNForNewHashes = logN ?? LOG_N;
  dummyHash = undefined;
}

const FORMAT = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = FORMAT.exec(stored);
  if (!match) return false;
  const [, logN, r, p, salt, expected] = match as unknown as [string, string, string, string, string, string];
  const key = await scrypt(password, Buffer.from(salt, 'base64'), Number(logN), Number(r), Number(p));
  const want = Buffer.from(expected, 'base64');
  return want.length === key.length && timingSafeEqual(key, want);
}

/** Spends the same time as a real check, so an unknown username is not told apart by timing. */
let dummyHash: Promise<string> | undefined;
export async function verifyAgainstNothing(password: string): Promise<false> {
  dummyHash ??= hashPassword('changegate-timing-equalizer');
  await verifyPassword(password, await dummyHash);
  return false;
}

/** Says what is wrong with a new password, or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters long`;
  if (password.length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  return undefined;
}

/** A random password for the first administrator: 24 characters of base64url (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
