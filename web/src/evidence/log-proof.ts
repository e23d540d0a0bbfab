/**
 * The event log's proofs checked in the browser with Web Crypto, so what the page says "checks"
 * is computed here, not taken from the server's word. The same algorithms as the server
 * (src/eventlog/event.ts, merkle.ts) and the offline verifier (src/evidence/verify.mjs):
 *
 * - leaf hash: SHA-256(0x00 ‖ RFC 8785 canonical JSON of {seq, time, actor, action, subject, data});
 * - inclusion proof: RFC 9162 §2.1.3.2, interior nodes SHA-256(0x01 ‖ left ‖ right);
 * - checkpoint: a C2SP signed note, signed with Ed25519; its key ID is the first 4 bytes of
 *   SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
 */

/** An entry as the log hashed it. */
export interface LoggedEntry {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** RFC 8785 for values read from JSON: keys sorted by UTF-16 code units, strings and numbers as JSON.stringify writes them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: unknown) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .sort()
    .filter((key) => object[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(',')}}`;
}

async function sha256(...parts: readonly Uint8Array[]): Promise<Uint8Array<ArrayBuffer>> {
  const whole = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', whole));
}

const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);
const utf8 = (text: string) => new TextEncoder().encode(text);

/** The entry's leaf hash, recomputed from its content. */
export async function entryLeafHash(entry: LoggedEntry): Promise<Uint8Array> {
  const { seq, time, actor, action, subject, data } = entry;
  return sha256(LEAF, utf8(canonicalJson({ seq, time, actor, action, subject, data })));
}

/** The root an inclusion proof leads to from leaf `index` of a tree of `size` leaves, or undefined when it cannot belong there. */
export async function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Promise<Uint8Array | undefined> {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0 || p.length !== 32) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(NODE, p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await sha256(NODE, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** What a checkpoint note says: its three lines, and the text its signatures cover. */
export interface CheckpointText {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: string;
  readonly signed: string;
  readonly signatures: ReadonlyArray<{ readonly name: string; readonly bytes: Uint8Array<ArrayBuffer> }>;
}

export function parseCheckpoint(note: string): CheckpointText | undefined {
  const split = note.indexOf('\n\n');
  if (split < 0) return undefined;
  const signed = note.slice(0, split + 1);
  const [origin = '', size = '', rootHash = ''] = signed.split('\n');
  const signatures = note
    .slice(split + 2)
    .split('\n')
    .map((line) => /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line))
    .flatMap((match) => (match ? [{ name: match[1] as string, bytes: fromBase64(match[2] as string) }] : []));
  if (!/^\d+$/.test(size)) return undefined;
  return { origin, size: Number(size), rootHash, signed, signatures };
}

/**
 * Whether the note carries a valid Ed25519 signature of `verifierKey`
 * (`<name>+<key ID>+<base64(0x01 ‖ public key)>`), checked here with Web Crypto.
 */
export async function checkpointSignedBy(note: string, verifierKey: string): Promise<boolean> {
  // The base64 key may itself hold '+': only the first two separate.
  const [name, keyIdHex, ...rest] = verifierKey.trim().split('+');
  const encoded = rest.join('+');
  const checkpoint = parseCheckpoint(note);
  if (!name || !keyIdHex || !encoded || !checkpoint) return false;
  const key = fromBase64(encoded);
  if (key.length !== 33 || key[0] !== 1) return false;
  const keyId = (await sha256(utf8(`${name}\n`), key)).slice(0, 4);
  if (toHex(keyId) !== keyIdHex) return false;
  const publicKey = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
  for (const signature of checkpoint.signatures) {
    if (signature.name !== name || signature.bytes.length !== 68 || toHex(signature.bytes.slice(0, 4)) !== keyIdHex) continue;
    if (await crypto.subtle.verify({ name: 'Ed25519' }, publicKey, signature.bytes.slice(4), utf8(checkpoint.signed))) return true;
  }
  return false;
}
