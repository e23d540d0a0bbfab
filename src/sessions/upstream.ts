import ssh2 from 'ssh2';
import { parseSshPublicKey } from '../identity/index.ts';
import type { UnsealedCredential } from '../inventory/index.ts';

export interface UpstreamTarget {
  readonly hostname: string;
  readonly port: number;
  /** The pinned host key line (`ssh-ed25519 AAAA…`): the only key the device may show. */
  readonly hostKey: string;
}

/** The device showed another host key than the pinned one. */
export class HostKeyMismatchError extends Error {
  constructor(readonly offeredFingerprint: string) {
    super(`the device presented host key ${offeredFingerprint}, not the pinned one`);
    this.name = 'HostKeyMismatchError';
  }
}

/** Opens the SSH connection to a device: the smallest interface the session runner needs. */
export interface UpstreamConnector {
  connect(target: UpstreamTarget, credential: UnsealedCredential): Promise<ssh2.Client>;
}

const READY_TIMEOUT_MS = 15_000;

/**
 * Connects with ssh2, accepting only the pinned host key: the key type is asked for first, and any
 * other key ends the handshake before the credential is sent.
 */
export const sshUpstream: UpstreamConnector = {
  connect(target, credential) {
    const [algorithm, pinnedData] = target.hostKey.split(/\s+/);
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let mismatch: HostKeyMismatchError | undefined;
      // Keystrokes are tiny packets: without this, Nagle's algorithm holds each one ~40 ms.
      client.once('connect', () => client.setNoDelay(true));
      client.once('ready', () => resolve(client));
      client.once('error', (error) => reject(mismatch ?? error));
      client.connect({
        host: target.hostname,
        port: target.port,
        username: credential.account,
        ...(credential.password !== undefined && { password: credential.password }),
        ...(credential.privateKey !== undefined && { privateKey: credential.privateKey }),
        ...(credential.passphrase !== undefined && { passphrase: credential.passphrase }),
        readyTimeout: READY_TIMEOUT_MS,
        keepaliveInterval: 15_000,
        // No keyboard-interactive fallback: the vault holds a password or a key, nothing to type.
        tryKeyboard: false,
        algorithms: algorithm ? { serverHostKey: [algorithm as ssh2.ServerHostKeyAlgorithm] } : undefined,
        hostVerifier: (key: Buffer) => {
          if (key.toString('base64') === pinnedData) return true;
          const offered = key.subarray(4, 4 + key.readUInt32BE(0)).toString('latin1');
          const parsed = parseSshPublicKey(`${offered} ${key.toString('base64')}`);
          mismatch = new HostKeyMismatchError(parsed.ok ? parsed.key.fingerprint : 'an unreadable key');
          return false;
        },
      });
      client.setNoDelay(true);
    });
  },
};

/**
 * Handshakes one device is asked for at once. OpenSSH's default `MaxStartups 10:30:100` drops
 * unauthenticated connections at random past 10 at once: many sessions starting together on one
 * device (a fleet-wide change) would lose some to it.
 */
export const HANDSHAKES_PER_DEVICE = 8;

/**
 * Lets at most `perDevice` handshakes run at once to each device (its address and port); the
 * others wait their turn, and a handshake's own timeout starts only when it begins. Each
 * connection's turn ends once it is ready or has failed, so a session keeps no slot.
 */
export function limitHandshakes(connector: UpstreamConnector, perDevice = HANDSHAKES_PER_DEVICE): UpstreamConnector {
  const devices = new Map<string, { running: number; waiting: Array<() => void> }>();
  return {
    async connect(target, credential) {
      const key = `${target.hostname}:${target.port}`;
      let device = devices.get(key);
      if (!device) devices.set(key, (device = { running: 0, waiting: [] }));
      const slots = device;
      if (slots.running >= perDevice) await new Promise<void>((resolve) => slots.waiting.push(resolve));
      else slots.running += 1;
      try {
        return await connector.connect(target, credential);
      } finally {
        // The slot passes to the next in line, or is given back.
        const next = slots.waiting.shift();
        if (next) next();
        else if ((slots.running -= 1) === 0) devices.delete(key);
      }
    },
  };
}
