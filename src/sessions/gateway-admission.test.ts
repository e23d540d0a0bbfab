import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPair, must, ssh, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import type { Started } from '../changegate.ts';
import { Gateway, generateGatewayHostKey, MAX_AUTH_TRIES, MAX_UNAUTHENTICATED_PER_SOURCE } from './gateway.ts';
import { sourceOf } from '../platform/source-address.ts';
import { LiveSessions } from './live.ts';

/** A raw TCP connection to the gateway that never speaks: what it received, and when it closed. */
class IdleConnection {
  received = '';
  readonly closed: Promise<void>;
  private readonly socket: net.Socket;

  /** `from` is the local address to connect from (another loopback address is another source). */
  constructor(port: number, from?: string) {
    this.socket = net.connect({ port, host: '127.0.0.1', ...(from && { localAddress: from }) });
    this.socket.on('data', (data: Buffer) => (this.received += data.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Resolves with the gateway's version line, or undefined when the gateway closed without one. */
  async greeting(): Promise<string | undefined> {
    const line = () => (/^SSH-2\.0-[^\r\n]*\r?\n/.exec(this.received)?.[0] ?? undefined);
    await Promise.race([this.closed, waitUntil(async () => (line() ?? (this.socket.destroyed ? '' : undefined)), 'the version line or a close')]);
    return line()?.trim();
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && this.socket.readyState === 'open';
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('the SSH gateway before sign-in', () => {
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let aliceKey: ReturnType<typeof keyPair>;
  const idle: IdleConnection[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-admission-'));
    aliceKey = keyPair(dir, 'alice');
    t = await startTestChangegate('pglite', {
      CHANGEGATE_SSH_PORT: '0',
      CHANGEGATE_HTTP_HOST: '127.0.0.1',
      CHANGEGATE_GATEWAY_AUTH_TIMEOUT_SECONDS: '2',
      CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED: '2',
    });
    started = await t.cg.startBackground();
    const alice = await buildUser(t, { username: 'alice' });
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'registering alice’s key');
  });

  afterAll(async () => {
    for (const connection of idle) connection.destroy();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = (): IdleConnection => {
    const connection = new IdleConnection(started.sshPort);
    idle.push(connection);
    return connection;
  };

  /** A gateway beside the shared one, on the same services, with a long deadline: for tests of its own limits. */
  async function gatewayOfItsOwn(maxUnauthenticated: number): Promise<{ gateway: Gateway; port: number }> {
    const gateway = new Gateway({
      auth: t.cg.services.auth,
      runner: t.cg.runner,
      live: new LiveSessions(),
      hostKey: generateGatewayHostKey(),
      authTimeoutSeconds: 600,
      maxUnauthenticated,
    });
    return { gateway, port: await gateway.listen(0, '127.0.0.1') };
  }

  it('closes a connection that has not signed in within the timeout (2 s here)', async () => {
    const silent = open();
    expect(await silent.greeting()).toBe('SSH-2.0-Changegate');
    expect(silent.isOpen).toBe(true);
    // The client does nothing more: only the gateway's deadline can close it (else the test times out).
    await silent.closed;
    expect(silent.received).toBe('SSH-2.0-Changegate\r\n');
  });

  it('refuses a third connection while two are signing in, admits one again once one of them closes, and a real user signs in after', async () => {
    const first = open();
    const second = open();
    expect(await first.greeting()).toBe('SSH-2.0-Changegate');
    expect(await second.greeting()).toBe('SSH-2.0-Changegate');

    const third = open();
    expect(await third.greeting()).toBeUndefined(); // closed before any byte: no version line, no key exchange
    await third.closed;
    expect(first.isOpen && second.isOpen).toBe(true);
    // A real client, too, is turned away while the gateway is full.
    const refused = await ssh(started.sshPort, 'alice', 'true', { key: aliceKey.file });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/Connection (closed|reset)/);

    first.destroy();
    const fourth = await waitUntil(async () => {
      const candidate = open();
      return (await candidate.greeting()) ? candidate : undefined;
    }, 'a connection to be admitted once one closed');
    expect(fourth.isOpen).toBe(true);

    second.destroy();
    fourth.destroy();
    await waitUntil(async () => {
      // alice has no device to reach: the gateway signs her in and explains, exit status 1.
      const result = await ssh(started.sshPort, 'alice', 'true', { key: aliceKey.file });
      return result.code === 1 ? result : undefined;
    }, 'alice to sign in once the idle connections are gone').then((result) => expect(result.stderr).toContain('say which device to reach'));
  });

  it(`closes a connection after ${MAX_AUTH_TRIES} failed sign-in attempts`, async () => {
    // A gateway of its own with a long deadline: six password checks must not race the 2 s one.
    const { gateway, port } = await gatewayOfItsOwn(10);
    let calls = 0;
    let failures = 0;
    let signedIn = false;
    const client = new ssh2.Client();
    const ended = new Promise<void>((resolve) => {
      client.on('error', () => resolve());
      client.on('close', () => resolve());
    });
    client.on('ready', () => (signedIn = true));
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'nobody-here',
      // Tries another password for as long as the gateway answers (an unknown user: nothing to lock).
      authHandler: (methodsLeft, _partial, next) => {
        calls++;
        if (methodsLeft !== null) failures++; // every call but the first follows a refusal
        if (calls > 20) return next(false as unknown as ssh2.AuthenticationType);
        next({ type: 'password', username: 'nobody-here', password: `guess-${calls}` });
      },
    });
    try {
      await ended;
      expect(signedIn).toBe(false);
      // The attempt after the sixth refusal is never answered: the gateway has closed the connection.
      expect(failures).toBe(MAX_AUTH_TRIES);
    } finally {
      await gateway.close();
    }
  });

  it(`refuses a ${MAX_UNAUTHENTICATED_PER_SOURCE + 1}th connection from one address while ${MAX_UNAUTHENTICATED_PER_SOURCE} of its own are signing in, and a user from another address still signs in`, async () => {
    // The cap for everyone is far above the one per source: one address alone cannot fill the gateway.
    const { gateway, port } = await gatewayOfItsOwn(64);
    const attacker: IdleConnection[] = [];
    try {
      for (let k = 0; k < MAX_UNAUTHENTICATED_PER_SOURCE; k++) attacker.push(new IdleConnection(port, '127.0.0.2'));
      for (const connection of attacker) expect(await connection.greeting()).toBe('SSH-2.0-Changegate');
      expect(gateway.unauthenticatedConnections).toBe(MAX_UNAUTHENTICATED_PER_SOURCE);

      const oneMore = new IdleConnection(port, '127.0.0.2');
      attacker.push(oneMore);
      expect(await oneMore.greeting()).toBeUndefined(); // closed before any byte, as when the gateway is full
      await oneMore.closed;
      expect(attacker.slice(0, MAX_UNAUTHENTICATED_PER_SOURCE).every((connection) => connection.isOpen)).toBe(true);

      // alice, from 127.0.0.1, signs in with her key through the real client (no device named: exit status 1).
      const result = await ssh(port, 'alice', 'true', { key: aliceKey.file });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('say which device to reach');
      // Another address gets its own connections too.
      const neighbour = new IdleConnection(port, '127.0.0.3');
      attacker.push(neighbour);
      expect(await neighbour.greeting()).toBe('SSH-2.0-Changegate');

      // Once one of its connections closes, the address gets one again.
      attacker[0]?.destroy();
      const again = await waitUntil(async () => {
        const candidate = new IdleConnection(port, '127.0.0.2');
        attacker.push(candidate);
        return (await candidate.greeting()) ? candidate : undefined;
      }, 'a connection from 127.0.0.2 to be admitted once one of its own closed');
      expect(again.isOpen).toBe(true);
    } finally {
      for (const connection of attacker) connection.destroy();
      await gateway.close();
    }
  });

  it('generates host keys that read back, every time (ssh2 writes one it cannot read about once in 300)', () => {
    for (let k = 0; k < 1000; k++) {
      const parsed = ssh2.utils.parseKey(generateGatewayHostKey());
      expect(parsed instanceof Error || Array.isArray(parsed)).toBe(false);
    }
  });

  it('counts an IPv4 address as itself, also IPv4-mapped, and an IPv6 address by its /64', () => {
    expect(sourceOf('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceOf('2001:db8:1:2:bbbb::9')).toBe(sourceOf('2001:db8:1:2:aaaa::1'));
    expect(sourceOf('2001:db8:1:3::1')).not.toBe(sourceOf('2001:db8:1:2::1'));
  });

  it('stops without waiting for connections that have not signed in, however long their timeout', async () => {
    const { gateway, port } = await gatewayOfItsOwn(10);
    const connections = [new IdleConnection(port), new IdleConnection(port), new IdleConnection(port)];
    for (const connection of connections) expect(await connection.greeting()).toBe('SSH-2.0-Changegate');
    expect(gateway.unauthenticatedConnections).toBe(3);
    await gateway.close(); // it waited for the clients to leave, before
    await Promise.all(connections.map((connection) => connection.closed));
    expect(connections.every((connection) => !connection.isOpen)).toBe(true);
    await waitUntil(async () => (gateway.unauthenticatedConnections === 0 ? true : undefined), 'the gateway to forget them');
  });
});
