import ssh2 from 'ssh2';

/** Reads a server's SSH host key: the smallest interface the device service needs, so tests can use a real sshd. */
export interface HostKeyProbe {
  /** Resolves the host key as an OpenSSH public key line (`ssh-ed25519 AAAA…`). */
  fetch(hostname: string, port: number): Promise<string>;
}

const TIMEOUT_MS = 10_000;

/**
 * Opens an SSH connection only as far as the key exchange, keeps the host key the server proves it
 * holds, and hangs up before authenticating.
 */
export const sshHostKeyProbe: HostKeyProbe = {
  fetch(hostname, port) {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let hostKey: string | undefined;
      const finish = (error?: Error) => {
        client.removeAllListeners();
        client.on('error', () => {});
        client.end();
        if (hostKey) resolve(hostKey);
        else reject(error ?? new Error('the server closed the connection before showing its host key'));
      };
      client.on('error', (error) => finish(error));
      client.on('close', () => finish());
      client.connect({
        host: hostname,
        port,
        username: 'changegate-probe',
        readyTimeout: TIMEOUT_MS,
        hostVerifier: (key: Buffer) => {
          const algorithm = key.subarray(4, 4 + key.readUInt32BE(0)).toString('latin1');
          hostKey = `${algorithm} ${key.toString('base64')}`;
          // Refusing the key ends the handshake here: nothing is authenticated, nothing is sent.
          setImmediate(() => finish());
          return false;
        },
      });
    });
  },
};
