import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { formatKeyId, isValidKeyName, NoteError, strictBase64, type NoteSignature, type SigningKey } from './signed-note.ts';

/**
 * A witness's public key, and the kind of signature line it makes over a checkpoint:
 *
 * - `cosignature/v1` (signature type 0x04, https://c2sp.org/tlog-cosignature): what a C2SP witness
 *   answers. The line holds key ID ‖ 8-byte big-endian POSIX time ‖ Ed25519 signature over
 *   `cosignature/v1\ntime <time>\n` followed by the checkpoint's text.
 * - `note` (signature type 0x01, https://c2sp.org/signed-note): a plain Ed25519 note signature over
 *   the checkpoint's text, as a witness built on Go's `note.Sign` answers.
 *
 * Both are written as a signed-note verifier key, `<name>+<key ID>+<base64(type ‖ 32-byte key)>`;
 * the key ID is SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4], as both specs say.
 *
 * @example
 * const key = parseWitnessKey('witness.example/w1+002a8886+BBBE…');
 * verifyCosignature(checkpointText, line, key); // undefined when it verifies, else why not
 */
export interface WitnessKey {
  readonly name: string;
  readonly keyId: number;
  readonly kind: 'cosignature/v1' | 'note';
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
}

const TYPE_BYTE = { note: 0x01, 'cosignature/v1': 0x04 } as const;

/** The time of a cosignature is at most 2^63 − 1 (tlog-cosignature). */
const MAX_TIMESTAMP = 2n ** 63n - 1n;

const witnessKeyId = (name: string, type: number, publicKey: Buffer): number =>
  createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, type])).update(publicKey).digest().readUInt32BE(0);

const ed25519Public = (publicKey: Buffer): KeyObject => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' });

/** Reads a witness's verifier key (type 0x04 or 0x01); a NoteError (`bad_key`) says what is wrong, never quoting it. */
export function parseWitnessKey(text: string): WitnessKey {
  const shape = '<name>+<key ID>+<base64 key>';
  const trimmed = text.trim();
  const first = trimmed.indexOf('+');
  const second = first < 0 ? -1 : trimmed.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new NoteError('bad_key', `a witness key has the form ${shape}`);
  const name = trimmed.slice(0, first);
  const id = trimmed.slice(first + 1, second);
  const bytes = strictBase64(trimmed.slice(second + 1));
  if (!isValidKeyName(name)) throw new NoteError('bad_key', 'the name of a witness key (before its first "+") is non-empty and holds no spaces');
  if (!/^[0-9a-f]{8}$/.test(id)) throw new NoteError('bad_key', `the key ID of a witness key (between its first two "+") is 8 lower-case hex digits; the form is ${shape}`);
  if (!bytes) throw new NoteError('bad_key', 'the key of a witness key (after its second "+") is not standard base64');
  const kind = bytes[0] === TYPE_BYTE['cosignature/v1'] ? 'cosignature/v1' : bytes[0] === TYPE_BYTE.note ? 'note' : undefined;
  if (!kind) throw new NoteError('bad_key', 'a witness key is of signature type 0x04 (Ed25519 cosignature/v1) or 0x01 (Ed25519 note signature): its first byte is neither');
  if (bytes.length !== 33) throw new NoteError('bad_key', `an Ed25519 witness key holds 32 bytes after its type byte, not ${bytes.length - 1}`);
  const publicKey = bytes.subarray(1);
  const keyId = Number.parseInt(id, 16);
  if (witnessKeyId(name, bytes[0] as number, publicKey) !== keyId) throw new NoteError('bad_key', "the witness key's ID does not match its name and key: the key text was altered");
  return { name, keyId, kind, publicKey };
}

/** `<name>+<key ID>+<base64(type ‖ key)>`: how the key is written in CHANGEGATE_WITNESSES. */
export function encodeWitnessKey(key: WitnessKey): string {
  return `${key.name}+${formatKeyId(key.keyId)}+${Buffer.concat([Buffer.from([TYPE_BYTE[key.kind]]), key.publicKey]).toString('base64')}`;
}

/** The witness key of an Ed25519 key pair: what a witness running `key` publishes. */
export function witnessKeyOf(key: Pick<SigningKey, 'name' | 'publicKey'>, kind: WitnessKey['kind'] = 'cosignature/v1'): WitnessKey {
  return { name: key.name, kind, publicKey: key.publicKey, keyId: witnessKeyId(key.name, TYPE_BYTE[kind], key.publicKey) };
}

/** What a cosignature/v1 signs: two header lines, then the checkpoint's text. */
const cosignedMessage = (text: string, time: bigint) => Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');

/**
 * Why `signature` (one parsed line of a witness's answer) is not a valid signature by `key` over
 * the checkpoint `text`; undefined when it is. A line under another name or key ID is not the key's.
 */
export function cosignatureProblem(text: string, signature: NoteSignature, key: WitnessKey): string | undefined {
  const named = `${key.name}+${formatKeyId(key.keyId)}`;
  if (signature.name !== key.name || signature.keyId !== key.keyId) return `it is signed by ${signature.name}+${formatKeyId(signature.keyId)}, not by ${named}`;
  if (key.kind === 'note') {
    return signature.signature.length === 64 && verify(null, Buffer.from(text, 'utf8'), ed25519Public(key.publicKey), signature.signature) ? undefined : `the signature of ${named} does not verify`;
  }
  if (signature.signature.length !== 8 + 64) return `the cosignature of ${named} is not a time and an Ed25519 signature (cosignature/v1)`;
  const time = signature.signature.readBigUInt64BE(0);
  if (time > MAX_TIMESTAMP) return `the cosignature of ${named} carries a time past 2^63 − 1`;
  return verify(null, cosignedMessage(text, time), ed25519Public(key.publicKey), signature.signature.subarray(8)) ? undefined : `the cosignature of ${named} does not verify`;
}

/**
 * A witness's signature line over a checkpoint text, as a witness makes it: for tests and tools
 * that play a witness. `time` is the cosignature's POSIX time in seconds (cosignature/v1 only).
 */
export function witnessSignatureLine(text: string, key: SigningKey, kind: WitnessKey['kind'] = 'cosignature/v1', time = Math.floor(Date.now() / 1000)): string {
  const witness = witnessKeyOf(key, kind);
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.publicKey.toString('base64url'), d: key.seed.toString('base64url') }, format: 'jwk' });
  const id = Buffer.alloc(4);
  id.writeUInt32BE(witness.keyId);
  let body: Buffer;
  if (kind === 'note') body = sign(null, Buffer.from(text, 'utf8'), privateKey);
  else {
    const stamp = Buffer.alloc(8);
    stamp.writeBigUInt64BE(BigInt(time));
    body = Buffer.concat([stamp, sign(null, cosignedMessage(text, BigInt(time)), privateKey)]);
  }
  return `\u2014 ${key.name} ${Buffer.concat([id, body]).toString('base64')}\n`;
}
