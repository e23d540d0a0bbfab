import { buildUser, startTestChangegate, TestClient, type TestChangegate } from '../test/harness.ts';
import type { Benchmark, BenchFigure } from './run.ts';

/**
 * A real user's sign-in while a flood of sign-ins with unknown names arrives from one address at
 * 200 a second, beside the same sign-in on an idle server. Changegate runs in this process on
 * PGlite with the default limits (10 failures per address and minute); requests go through
 * Fastify's inject, so the figures hold the server's work, not a network's.
 */

const FLOOD_PER_SECOND = 200;
const SIGN_INS = 40;
const ATTACKER = '203.0.113.7';
const USER_ADDRESS = '198.51.100.20';

interface Latencies {
  readonly p50: number;
  readonly p95: number;
}

function percentiles(times: number[]): Latencies {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95) };
}

/** The real user's sign-ins, one after the other, each timed. */
async function signIns(t: TestChangegate, user: { username: string; password: string }): Promise<Latencies> {
  const client = new TestClient(t.cg, undefined, USER_ADDRESS);
  const times: number[] = [];
  for (let k = 0; k < SIGN_INS; k += 1) {
    const start = performance.now();
    const answer = await client.post('/auth/login', { username: user.username, password: user.password });
    times.push(performance.now() - start);
    if (answer.status !== 200) throw new Error(`the real user's sign-in failed: ${answer.status}`);
  }
  return percentiles(times);
}

/** Sends unknown-user sign-ins at `perSecond` until stopped; answers how many were sent and refused. */
function flood(t: TestChangegate, perSecond: number): { stop(): Promise<{ sent: number; refused: number }> } {
  const attacker = new TestClient(t.cg, undefined, ATTACKER);
  const pending: Array<Promise<void>> = [];
  let sent = 0;
  let refused = 0;
  const started = performance.now();
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    for (; sent < due; sent += 1) {
      pending.push(
        attacker.post('/auth/login', { username: `nobody${sent}`, password: 'guessing-a-password' }).then((answer) => {
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

export const benchmarks: Benchmark[] = [
  {
    name: 'sign-in under a flood',
    async run() {
      const t = await startTestChangegate('pglite');
      try {
        const user = await buildUser(t);
        await signIns(t, user); // warm-up
        const idle = await signIns(t, user);
        const attack = flood(t, FLOOD_PER_SECOND);
        const flooded = await signIns(t, user);
        const { sent, refused } = await attack.stop();
        const figures: BenchFigure[] = [
          { name: `sign-in p50 during ${FLOOD_PER_SECOND}/s unknown-user sign-ins`, value: flooded.p50, unit: 'ms', baseline: { name: 'idle p50', value: idle.p50 } },
          {
            name: `sign-in p95 during ${FLOOD_PER_SECOND}/s unknown-user sign-ins`,
            value: flooded.p95,
            unit: 'ms',
            baseline: { name: 'idle p95', value: idle.p95 },
            target: { of: 'ratio', atMost: 3 },
          },
          { name: 'flood sign-ins sent during the measurement', value: sent, unit: 'attempts' },
          { name: 'of which refused at once (429)', value: refused, unit: 'attempts' },
        ];
        return figures;
      } finally {
        await t.close();
      }
    },
  },
];
