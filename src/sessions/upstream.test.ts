import type ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import type { UnsealedCredential } from '../inventory/index.ts';
import { limitHandshakes, type UpstreamConnector, type UpstreamTarget } from './upstream.ts';

const credential = { account: 'root', password: 'secret' } as UnsealedCredential;
const device = (hostname: string): UpstreamTarget => ({ hostname, port: 22, hostKey: 'ssh-ed25519 AAAA' });

/** A connector whose handshakes finish when the test says, counting how many run at once per device. */
function heldConnector() {
  const running = new Map<string, number>();
  const most = new Map<string, number>();
  const pending: Array<{ hostname: string; finish: (ok: boolean) => void }> = [];
  const connector: UpstreamConnector = {
    connect: (target) =>
      new Promise((resolve, reject) => {
        const now = (running.get(target.hostname) ?? 0) + 1;
        running.set(target.hostname, now);
        most.set(target.hostname, Math.max(most.get(target.hostname) ?? 0, now));
        pending.push({
          hostname: target.hostname,
          finish: (ok) => {
            running.set(target.hostname, (running.get(target.hostname) ?? 1) - 1);
            if (ok) resolve({} as ssh2.Client);
            else reject(new Error('handshake refused'));
          },
        });
      }),
  };
  return { connector, most, pending, running };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('handshakes to one device at once', () => {
  it('runs at most the limit per device, the rest in turn, and each device apart', async () => {
    const held = heldConnector();
    const limited = limitHandshakes(held.connector, 3);
    const web = Array.from({ length: 10 }, () => limited.connect(device('web01'), credential));
    const db = Array.from({ length: 2 }, () => limited.connect(device('db01'), credential));
    const all = Promise.allSettled([...web, ...db]);
    await settle();
    expect(held.running.get('web01')).toBe(3);
    expect(held.running.get('db01')).toBe(2);
    // Finish web01's handshakes one by one, one of them failing: each frees its turn for the next.
    let failed = false;
    while (held.pending.length > 0) {
      const next = held.pending.shift();
      next?.finish(next.hostname !== 'web01' || failed || !(failed = true));
      await settle();
    }
    const results = await all;
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(11);
    expect(results.filter((result) => result.status === 'rejected')).toHaveLength(1);
    expect(held.most.get('web01')).toBe(3);
    expect(held.most.get('db01')).toBe(2);
    // Nothing is held afterwards: a new handshake starts at once.
    const later = limited.connect(device('web01'), credential);
    await settle();
    expect(held.running.get('web01')).toBe(1);
    held.pending.shift()?.finish(true);
    await later;
  });
});
