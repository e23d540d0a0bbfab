import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys: a text ending in a newline,
 * a blank line, then one or more signature lines `— <key name> <base64(key ID ‖ signature)>`.
 * Keys are written as Go's golang.org/x/mod/sumdb/note writes them, so `note` tools read ours:
 *
 * ```text
 * verifier key:  <name>+<hex key ID>+<base64(0x01 ‖ 32-byte public key)>
 * private key:   PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>
 * key ID:        first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), big-endian
 * ```
 *
 * @example
 * const key = generateSigningKey('changegate.example.com');
 * const note = signNote('hello\n', key);
 * verifyNote(note, verifierOf(key)).text; // 'hello\n'
 */

/** Why a note or a key was refused: `malformed` (its syntax), `unknown_key`, `invalid_signature`, `bad_key`. */
export type NoteErrorReason = 'malformed' | 'unknown_key' | 'invalid_signature' | 'bad_key';

export class NoteError extends Error {
  constructor(
    readonly reason: NoteErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'NoteError';
  }
}

/** The signature type byte of Ed25519 in the signed-note registry. */
const ED25519 = 0x01;
/** The em dash and space that open a signature line. */
const SIGNATURE_PREFIX = '\u2014 ';
/** Go's note package refuses more; the spec asks verifiers to accept at least 16. */
const MAX_SIGNATURES = 100;

export interface VerifierKey {
  readonly name: string;
  /** The 4-byte key ID as an unsigned number. */
  readonly keyId: number;
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
}

export interface SigningKey extends VerifierKey {
  /** The raw 32-byte Ed25519 seed (RFC 8032 private key). */
  readonly seed: Buffer;
}

/** One signature line of a note, verified or not. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the key ID. */
  readonly signature: Buffer;
  /** The whole line as it stands in the note, with its newline. */
  readonly line: string;
}

export interface ParsedNote {
  /** The signed text, with its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface VerifiedNote extends ParsedNote {
  /** The signature of the verifier key that verified. */
  readonly verified: NoteSignature;
}

// DER prefixes that wrap a raw Ed25519 key for node:crypto (RFC 8410): PKCS #8 and SubjectPublicKeyInfo.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const privateKeyObject = (seed: Buffer): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
const publicKeyObject = (publicKey: Buffer): KeyObject => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });

function publicKeyOfSeed(seed: Buffer): Buffer {
  const der = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return der.subarray(SPKI_PREFIX.length);
}

/** Key names are non-empty and hold no Unicode space and no `+`. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s\u0085+]/u.test(name) && !/[\u0000-\u001f]/.test(name);
}

function requireKeyName(name: string): void {
  if (!isValidKeyName(name)) throw new NoteError('bad_key', `"${name}" cannot name a key: a key name is non-empty and holds no spaces and no "+"`);
}

/** The key ID the spec recommends: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), first 4 bytes. */
export function ed25519KeyId(name: string, publicKey: Buffer): number {
  return createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, ED25519])).update(publicKey).digest().readUInt32BE(0);
}

/** A new random Ed25519 key named `name`. */
export function generateSigningKey(name: string): SigningKey {
  requireKeyName(name);
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
  return signingKeyOf(name, Buffer.from(seed));
}

function signingKeyOf(name: string, seed: Buffer): SigningKey {
  const publicKey = publicKeyOfSeed(seed);
  return { name, seed, publicKey, keyId: ed25519KeyId(name, publicKey) };
}

/** The public half of a signing key. */
export function verifierOf(key: VerifierKey): VerifierKey {
  return { name: key.name, keyId: key.keyId, publicKey: key.publicKey };
}

const hex8 = (keyId: number) => keyId.toString(16).padStart(8, '0');

export const formatKeyId = hex8;

/** `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`: what a verifier is given. */
export function encodeVerifierKey(key: VerifierKey): string {
  return `${key.name}+${hex8(key.keyId)}+${Buffer.concat([Buffer.from([ED25519]), key.publicKey]).toString('base64')}`;
}

/** `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`: what the signer keeps secret. */
export function encodePrivateKey(key: SigningKey): string {
  return `PRIVATE+KEY+${key.name}+${hex8(key.keyId)}+${Buffer.concat([Buffer.from([ED25519]), key.seed]).toString('base64')}`;
}

/** Reads a verifier key text; a NoteError (`bad_key`) says what is wrong with it. */
export function parseVerifierKey(text: string): VerifierKey {
  const { name, keyId, key } = splitKeyText(text.trim(), 'verifier key', '<name>+<key ID>+<base64 key>');
  const publicKey = key;
  const computed = ed25519KeyId(name, publicKey);
  if (computed !== keyId) throw new NoteError('bad_key', `the verifier key's ID ${hex8(keyId)} does not match its name and key (${hex8(computed)}): the key text was altered`);
  return { name, keyId, publicKey };
}

/** Reads a private key text; its errors never quote the text. */
export function parsePrivateKey(text: string): SigningKey {
  const trimmed = text.trim();
  if (!trimmed.startsWith('PRIVATE+KEY+')) throw new NoteError('bad_key', 'a signed-note private key starts with PRIVATE+KEY+ (then <name>+<key ID>+<base64 key>)');
  const { name, keyId, key } = splitKeyText(trimmed.slice('PRIVATE+KEY+'.length), 'private key', 'PRIVATE+KEY+<name>+<key ID>+<base64 key>');
  const signing = signingKeyOf(name, key);
  if (signing.keyId !== keyId) throw new NoteError('bad_key', "the private key's ID does not match its name and key: the key text was altered");
  return signing;
}

/**
 * Splits a key text. Its errors never quote any part of it: a private key pasted in the wrong shape
 * (`PRIVATE+KEY+<seed>`, a seed alone) would put a fragment of the seed into a startup error and
 * the logs it is copied to; a verifier key's errors follow the same rule, for simplicity.
 */
function splitKeyText(text: string, what: string, shape: string): { name: string; keyId: number; key: Buffer } {
  // The name holds no '+', the ID neither; base64 may: split on the first two.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new NoteError('bad_key', `a ${what} has the form ${shape}`);
  const name = text.slice(0, first);
  const id = text.slice(first + 1, second);
  const encoded = text.slice(second + 1);
  if (!isValidKeyName(name)) throw new NoteError('bad_key', `the name of a ${what} (before its first "+") is non-empty and holds no spaces`);
  if (!/^[0-9a-f]{8}$/.test(id)) throw new NoteError('bad_key', `the key ID of a ${what} (between its first two "+") is 8 lower-case hex digits; the form is ${shape}`);
  const bytes = strictBase64(encoded);
  if (!bytes) throw new NoteError('bad_key', `the key of a ${what} (after its second "+") is not standard base64`);
  if (bytes[0] !== ED25519) throw new NoteError('bad_key', `the ${what} is not of signature type Ed25519 (its first byte is not 0x01): only Ed25519 keys are supported`);
  if (bytes.length !== 33) throw new NoteError('bad_key', `an Ed25519 ${what} holds 32 bytes after its type byte, not ${bytes.length - 1}`);
  return { name, keyId: Number.parseInt(id, 16), key: bytes.subarray(1) };
}

/** Standard base64 (RFC 4648 §4) that decodes and re-encodes to itself; undefined otherwise. */
export function strictBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** One signature line for `text` by `key`, with its newline. */
export function signatureLine(text: string, key: SigningKey): string {
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKeyObject(key.seed));
  const id = Buffer.alloc(4);
  id.writeUInt32BE(key.keyId);
  return `${SIGNATURE_PREFIX}${key.name} ${Buffer.concat([id, signature]).toString('base64')}\n`;
}

/** Signs `text` (which must end in a newline and be a valid note text) and returns the note. */
export function signNote(text: string, key: SigningKey): string {
  checkText(text);
  return `${text}\n${signatureLine(text, key)}`;
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('malformed', 'a note text ends with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('malformed', 'a note holds no control characters other than newline');
}

/**
 * Splits a note into its text and signature lines, checking the syntax only: the text is
 * everything up to the last blank line; each line after it must be a signature line.
 */
export function parseNote(note: string | Buffer): ParsedNote {
  const message = typeof note === 'string' ? note : decodeUtf8(note);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(message)) throw new NoteError('malformed', 'the note holds a control character other than newline');
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed', 'the note has no blank line between its text and its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block === '') throw new NoteError('malformed', 'the note has no signature lines after its blank line');
  if (!block.endsWith('\n')) throw new NoteError('malformed', 'the last signature line does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('malformed', `the note has ${lines.length} signatures; at most ${MAX_SIGNATURES} are read`);
  return { text, signatures: lines.map((line, index) => parseSignatureLine(line, index + 1)) };
}

/** Reads the signature lines of a block that holds nothing else (what a witness may answer). */
export function parseSignatureLines(block: string): NoteSignature[] {
  if (block === '' || !block.endsWith('\n')) throw new NoteError('malformed', 'signature lines each end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('malformed', `${lines.length} signatures; at most ${MAX_SIGNATURES} are read`);
  return lines.map((line, index) => parseSignatureLine(line, index + 1));
}

function parseSignatureLine(line: string, position: number): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteError('malformed', `signature line ${position} does not start with an em dash (U+2014) and a space`);
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? '' : rest.slice(0, space);
  const bytes = space < 0 ? undefined : strictBase64(rest.slice(space + 1));
  if (!isValidKeyName(name)) throw new NoteError('malformed', `signature line ${position} does not name a valid key`);
  if (!bytes || bytes.length < 5) throw new NoteError('malformed', `signature line ${position} does not hold base64 of a key ID and a signature`);
  return { name, keyId: bytes.readUInt32BE(0), signature: bytes.subarray(4), line: `${line}\n` };
}

function decodeUtf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new NoteError('malformed', 'the note is not valid UTF-8');
  }
}

/**
 * Verifies a note against one trusted key: at least one signature line must carry the key's name
 * and ID, and every such line must verify (a failing one rejects the whole note, as the spec
 * advises). Lines of other keys are ignored. Throws a NoteError saying why a note is refused.
 */
export function verifyNote(note: string | Buffer, key: VerifierKey): VerifiedNote {
  const parsed = parseNote(note);
  const own = parsed.signatures.filter((signature) => signature.name === key.name && signature.keyId === key.keyId);
  if (own.length === 0) {
    const names = parsed.signatures.map((signature) => `${signature.name}+${hex8(signature.keyId)}`).join(', ');
    throw new NoteError('unknown_key', `the note carries no signature of ${key.name}+${hex8(key.keyId)}; it is signed by ${names}`);
  }
  const publicKey = publicKeyObject(key.publicKey);
  const text = Buffer.from(parsed.text, 'utf8');
  for (const signature of own) {
    if (signature.signature.length !== 64 || !verify(null, text, publicKey, signature.signature)) {
      throw new NoteError('invalid_signature', `the signature of ${key.name}+${hex8(key.keyId)} does not verify: the note's text or signature was changed`);
    }
  }
  return { ...parsed, verified: own[0] as NoteSignature };
}
