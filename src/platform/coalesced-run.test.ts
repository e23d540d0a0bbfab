import { describe, expect, it } from 'vitest';
import { coalescedRun } from './coalesced-run.ts';

describe('coalescedRun', () => {
  it('runs one at a time, and the calls made meanwhile as one more run that starts after them', async () => {
    const started: number[] = [];
    let calls = 0;
    const gates: Array<() => void> = [];
    const run = coalescedRun(async () => {
      started.push(calls);
      await new Promise<void>((resolve) => gates.push(resolve));
    });
    calls++;
    run();
    calls++;
    run();
    calls++;
    run();
    expect(started).toEqual([1]);
    gates.shift()?.();
    await expect.poll(() => started).toEqual([1, 3]);
    gates.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([1, 3]);
  });

  it('runs again after a run that failed', async () => {
    let runs = 0;
    const run = coalescedRun(async () => {
      runs++;
      throw new Error('the read failed');
    });
    run();
    await expect.poll(() => runs).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    run();
    await expect.poll(() => runs).toBe(2);
  });
});
