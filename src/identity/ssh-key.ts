import { createHash } from 'node:crypto';

/** The public key algorithms the gateway accepts from users. */
const ALGORITHMS = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

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
  if (blob.length < 4) return { ok: false, problem: 'the key is too short' };
  const nameLength = blob.readUInt32BE(0);
  if (4 + nameLength > blob.length || blob.subarray(4, 4 + nameLength).toString('latin1') !== algorithm) {
    return { ok: false, problem: `the key's content does not match its algorithm "${algorithm}": is it truncated?` };
  }
  const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
  return { ok: true, key: { algorithm, data, comment: rest.join(' '), fingerprint } };
}
