import { createHash } from 'node:crypto';

/**
 * The public key algorithms the gateway accepts from users, and how many length-prefixed fields
 * follow the algorithm name in the key blob (RFC 4253 §6.6, RFC 5656, RFC 8709, OpenSSH PROTOCOL.u2f).
 */
const FIELDS_AFTER_NAME = new Map<string, number>([
  ['ssh-ed25519', 1],
  ['ssh-rsa', 2],
  ['ecdsa-sha2-nistp256', 2],
  ['ecdsa-sha2-nistp384', 2],
  ['ecdsa-sha2-nistp521', 2],
  ['sk-ssh-ed25519@openssh.com', 2],
  ['sk-ecdsa-sha2-nistp256@openssh.com', 3],
]);
const ALGORITHMS = new Set(FIELDS_AFTER_NAME.keys());

/** Splits a key blob into its length-prefixed fields; undefined unless it ends exactly on a field boundary. */
function blobFields(blob: Buffer): Buffer[] | undefined {
  const fields: Buffer[] = [];
  let offset = 0;
  while (offset < blob.length) {
    if (offset + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(offset);
    if (offset + 4 + length > blob.length) return undefined;
    fields.push(blob.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return fields;
}

export interface SshPublicKey {
  readonly algorithm: string;
  /** The base64 key blob, as in `authorized_keys`. */
  readonly data: string;
  readonly comment: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

export type ParsedSshKey = { ok: true; key: SshPublicKey } | { ok: false; problem: string };

/**
 * Parses one OpenSSH public key line (`ssh-ed25519 AAAA… comment`). The blob must decode and
 * name the same algorithm as the line, which catches truncated and mispasted keys.
 */
export function parseSshPublicKey(line: string): ParsedSshKey {
  const [algorithm, data, ...rest] = line.trim().split(/\s+/);
  if (!algorithm || !data) return { ok: false, problem: 'expected "<algorithm> <base64 key> [comment]", as in an id_*.pub file' };
  if (!ALGORITHMS.has(algorithm)) {
    return { ok: false, problem: `algorithm "${algorithm}" is not accepted; use one of ${[...ALGORITHMS].join(', ')}` };
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return { ok: false, problem: 'the key is not valid base64' };
  const blob = Buffer.from(data, 'base64');
  const fields = blobFields(blob);
  const wellFormed =
    fields !== undefined &&
    fields[0]?.toString('latin1') === algorithm &&
    fields.length === 1 + (FIELDS_AFTER_NAME.get(algorithm) ?? 0) &&
    (algorithm !== 'ssh-ed25519' || fields[1]?.length === 32);
  if (!wellFormed) return { ok: false, problem: `the key's content is not a whole ${algorithm} key: is it truncated, or pasted with extra characters?` };
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { ok: true, key: { algorithm, data, comment: rest.join(' '), fingerprint } };
}
