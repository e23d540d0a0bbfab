import { buildUser, startTestChangegate, TestClient, type TestChangegate } from '../test/harness.ts';
import type { Benchmark, BenchFigure } from './run.ts';

/**
 * A real user's sign-in while a flood of sign-ins with unknown names arrives at 200 a second,
 * beside the same sign-in on an idle server; the flood comes from one address, from one IPv6 /48
 * (each attempt from a new /64), or from many addresses (each attempt from a new IPv4 /24, as a
 * botnet would). Changegate runs in this process on PGlite with the default limits (10 failures
 * per address and minute, 160 per /48 or /24); requests go through Fastify's inject, so the
 * figures hold the server's work, not a network's.
 */

const FLOOD_PER_SECOND = 200;
const SIGN_INS = 40;
const USER_ADDRESS = '198.51.100.20';

/** Where the flood's attempt number `k` comes from. */
const FLOODS: ReadonlyArray<{ readonly name: string; readonly from: (k: number) => string }> = [
  { name: 'one address', from: () => '203.0.113.7' },
  { name: 'one IPv6 /48, a new /64 each', from: (k) => `2001:db8:ab:${(k & 0xffff).toString(16)}::1` },
  { name: 'many addresses, a new /24 each', from: (k) => `${11 + ((k >> 16) & 63)}.${(k >> 8) & 255}.${k & 255}.1` },
];

interface Latencies {
  readonly p50: number;
  readonly p95: number;
}

function percentiles(times: number[]): Latencies {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95) };
}

/**
 * The real user's sign-ins, one after the other, each timed: from their usual address, or each
 * from an address they have not signed in from. Answers the times of those that signed in and
 * how many were refused.
 */
async function signIns(t: TestChangegate, user: { username: string; password: string }, count = SIGN_INS, newAddress?: (k: number) => string): Promise<Latencies & { refused: number }> {
  const times: number[] = [];
  let refused = 0;
  for (let k = 0; k < count; k += 1) {
    const client = new TestClient(t.cg, undefined, newAddress ? newAddress(k) : USER_ADDRESS);
    const start = performance.now();
    const answer = await client.post('/auth/login', { username: user.username, password: user.password });
    if (answer.status === 429 && newAddress) refused += 1;
    else if (answer.status !== 200) throw new Error(`the real user's sign-in failed: ${answer.status}`);
    else times.push(performance.now() - start);
  }
  return { ...percentiles(times), refused };
}

/** Sends unknown-user sign-ins at `perSecond` until stopped; answers how many were sent and refused. */
function flood(t: TestChangegate, perSecond: number, from: (k: number) => string): { stop(): Promise<{ sent: number; refused: number }> } {
  const pending: Array<Promise<void>> = [];
  let sent = 0;
  let refused = 0;
  const started = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    for (; sent < due; sent += 1) {
      pending.push(
        new TestClient(t.cg, undefined, from(sent)).post('/auth/login', { username: `nobody${sent}`, password: 'guessing-a-password' }).then((answer) => {
          if (answer.status === 429) refused += 1;
        }),
      );
    }
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return { sent, refused };
    },
  };
}

export const benchmarks: Benchmark[] = FLOODS.map((source) => ({
  name: `sign-in under a flood from ${source.name}`,
  async run() {
    const t = await startTestChangegate('pglite');
    try {
      const user = await buildUser(t);
      await signIns(t, user); // warm-up
      const idle = await signIns(t, user);
      const attack = flood(t, FLOOD_PER_SECOND, source.from);
      const flooded = await signIns(t, user);
      // A first sign-in from an address the user has not used waits in line with the flood.
      const fresh = await signIns(t, user, 10, (k) => `198.51.${100 + k}.21`);
      const { sent, refused } = await attack.stop();
      const during = `during ${FLOOD_PER_SECOND}/s unknown-user sign-ins from ${source.name}`;
      const figures: BenchFigure[] = [
        { name: `sign-in p50 ${during}`, value: flooded.p50, unit: 'ms', baseline: { name: 'idle p50', value: idle.p50 } },
        { name: `sign-in p95 ${during}`, value: flooded.p95, unit: 'ms', baseline: { name: 'idle p95', value: idle.p95 }, target: { of: 'ratio', atMost: 3 } },
        { name: 'first sign-in from a new address, p50', value: fresh.p50, unit: 'ms', baseline: { name: 'idle p50', value: idle.p50 } },
        { name: 'first sign-in from a new address, p95', value: fresh.p95, unit: 'ms', baseline: { name: 'idle p95', value: idle.p95 } },
        { name: 'first sign-ins from a new address refused (busy)', value: fresh.refused, unit: 'of 10' },
        { name: 'flood sign-ins sent during the measurement', value: sent, unit: 'attempts' },
        { name: 'of which refused at once (429)', value: refused, unit: 'attempts' },
      ];
      return figures;
    } finally {
      await t.close();
    }
  },
}));
