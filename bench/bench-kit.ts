/** Helpers several benchmarks share: seeded data, percentiles, timing of async work. */

/** Deterministic PRNG (mulberry32), so every run measures the same data and asks the same questions. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The `p`th percentile (0–100) of the times, by the nearest rank below. */
export function percentile(times: readonly number[], p: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Wall time in milliseconds of each of `runs` calls, after `warmup` unmeasured ones. */
export async function timeAll(runs: number, run: (k: number) => Promise<unknown>, warmup = 5): Promise<number[]> {
  for (let k = 0; k < warmup; k++) await run(k);
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const start = performance.now();
    await run(k);
    times.push(performance.now() - start);
  }
  return times;
}
