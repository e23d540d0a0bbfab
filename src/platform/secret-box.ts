import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';

/**
 * Encrypts secrets at rest with AES-256-GCM under the master key. Each ciphertext records the id
 * of the key that sealed it, so keys can be rotated, and is bound to a context string (what the
 * secret belongs to), so a ciphertext copied onto another record does not open.
 *
 * Format: `v1.<key id>.<iv>.<ciphertext>.<tag>`, base64url parts.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** Seals with the first key; opens with any of them, so older keys keep working until rotated out. */
  constructor(keys: readonly Buffer[]) {
    const [current] = keys;
    if (!current) throw new Error('a master key is needed');
    for (const key of keys) {
      if (key.length !== 32) throw new Error('a master key must be 32 bytes');
      this.keys.set(keyId(key), key);
    }
    this.currentKeyId = keyId(current);
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** The id of the key that sealed a value, without opening it. */
  static keyIdOf(sealed: string): string | undefined {
    return sealed.split('.')[1];
  }

  seal(plaintext: string, context: string): string {
    const key = this.keys.get(this.currentKeyId) as Buffer;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.currentKeyId, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  open(sealed: string, context: string): string {
    const [version, id, iv, ciphertext, tag] = sealed.split('.');
    if (version !== 'v1' || !id || iv === undefined || ciphertext === undefined || tag === undefined) throw new Error('not a sealed secret');
    const key = this.keys.get(id);
    if (!key) throw new Error(`the secret is sealed with key ${id}, which this server does not hold`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** A short public name for a key: the first 16 hex digits of its SHA-256. */
function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Reads a master key given as 64 hex digits or 44 characters of base64. */
export function parseMasterKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const decoded = Buffer.from(trimmed, 'base64');
  return decoded.length === 32 && /^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed) ? decoded : undefined;
}

/** Reads a list of master keys separated by commas or new lines, the current one first. */
export function parseMasterKeys(text: string): Buffer[] | undefined {
  const parts = text.split(/[,\n]/).map((part) => part.trim()).filter((part) => part !== '');
  const keys = parts.map(parseMasterKey);
  return keys.length > 0 && keys.every((key) => key !== undefined) ? (keys as Buffer[]) : undefined;
}

/**
 * Loads the master key file (one key per line, the current one first), creating it with a random
 * key on the first start, mode 0600: readable by the server's user only.
 */
export async function loadOrCreateKeyFile(file: string): Promise<{ keys: Buffer[]; created: boolean }> {
  try {
    const keys = parseMasterKeys(await readFile(file, 'utf8'));
    if (!keys) throw new Error(`${file} does not hold master keys (one per line: 64 hex digits or 32 bytes of base64)`);
    return { keys, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = randomBytes(32);
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return { keys: [key], created: true };
  }
}

/** Replaces the key file in one step (write aside, then rename), so a crash leaves the old or the new file whole. */
export async function writeKeyFile(file: string, keys: readonly Buffer[]): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, keys.map((key) => `${key.toString('base64')}\n`).join(''), { mode: 0o600 });
  await rename(temporary, file);
}
