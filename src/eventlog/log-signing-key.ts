import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../platform/config.ts';
import { encodePrivateKey, encodeVerifierKey, formatKeyId, generateSigningKey, isValidKeyName, NoteError, parsePrivateKey, type SigningKey } from './signed-note.ts';

/** The key that signs the event log's checkpoints, and the log identity it signs for. */
export interface LogSigningKey {
  /** The checkpoints' first line, and the key's name. */
  readonly origin: string;
  readonly key: SigningKey;
  /** `<origin>+<key ID>+<base64 key>`: what an auditor verifies checkpoints with. */
  readonly verifierKey: string;
  /** The key ID as 8 hex digits. */
  readonly keyId: string;
  /** The key file, when the key is not given in CHANGEGATE_LOG_SIGNING_KEY. */
  readonly file: string | undefined;
  /** True when this start wrote the key file. */
  readonly created: boolean;
}

/** Where the signing key lives when CHANGEGATE_LOG_SIGNING_KEY is not set. */
export const logSigningKeyFile = (config: Pick<Config, 'dataDir'>) => path.join(config.dataDir, 'log-signing.key');

/**
 * The log's origin: CHANGEGATE_LOG_ORIGIN, else the public URL's host and path without its scheme
 * (`https://changegate.example.com/` → `changegate.example.com`, `http://localhost:8080` → `localhost:8080`).
 */
export function logOrigin(config: Pick<Config, 'logOrigin' | 'publicUrl' | 'httpPort'>): string {
  if (config.logOrigin) return config.logOrigin;
  const url = new URL(config.publicUrl ?? `http://localhost:${config.httpPort}`);
  return `${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * Loads the checkpoint signing key: CHANGEGATE_LOG_SIGNING_KEY, else `<dataDir>/log-signing.key`,
 * written (mode 0600) on the first start. It lives outside the database on purpose: whoever can
 * rewrite the database cannot also sign a checkpoint for the rewritten log. The key's name is the
 * log's origin: once the key exists, the origin stays the one it was made for (a new port or
 * public URL does not make a new log identity that auditors do not know); an origin set
 * explicitly in CHANGEGATE_LOG_ORIGIN that differs from the key's is refused, naming both.
 */
export async function loadLogSigningKey(config: Pick<Config, 'logOrigin' | 'publicUrl' | 'httpPort' | 'logSigningKey' | 'dataDir'>): Promise<LogSigningKey> {
  const wanted = logOrigin(config);
  if (!isValidKeyName(wanted)) {
    throw new Error(`The event log's origin "${wanted}" cannot name its signing key: set CHANGEGATE_LOG_ORIGIN to one without spaces, such as changegate.example.com/log.`);
  }
  const from = config.logSigningKey ? 'CHANGEGATE_LOG_SIGNING_KEY' : logSigningKeyFile(config);
  const { text, created } = config.logSigningKey ? { text: config.logSigningKey, created: false } : await readOrCreateKeyFile(logSigningKeyFile(config), wanted);
  let key: SigningKey;
  try {
    key = parsePrivateKey(text);
  } catch (error) {
    if (error instanceof NoteError) throw new Error(`${from} does not hold a valid log signing key: ${error.message}.`);
    throw error;
  }
  if (config.logOrigin && key.name !== config.logOrigin) {
    throw new Error(
      `The log signing key in ${from} is for the origin "${key.name}", but CHANGEGATE_LOG_ORIGIN says "${config.logOrigin}". ` +
        `Auditors know the log by its origin: set CHANGEGATE_LOG_ORIGIN=${key.name} (or unset it) to keep it, or start a new log identity with a new key.`,
    );
  }
  const origin = key.name;
  return {
    origin,
    key,
    verifierKey: encodeVerifierKey(key),
    keyId: formatKeyId(key.keyId),
    file: config.logSigningKey ? undefined : logSigningKeyFile(config),
    created,
  };
}

async function readOrCreateKeyFile(file: string, origin: string): Promise<{ text: string; created: boolean }> {
  try {
    return { text: await readFile(file, 'utf8'), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await writeFile(file, `${encodePrivateKey(generateSigningKey(origin))}\n`, { mode: 0o600, flag: 'wx' });
    return { text: await readFile(file, 'utf8'), created: true };
  } catch (error) {
    // Another process sharing the data directory wrote it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { text: await readFile(file, 'utf8'), created: false };
  }
}
