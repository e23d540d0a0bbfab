import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** One measured line of the table. */
export interface BenchResult {
  readonly name: string;
  /** Median wall time of one run, in milliseconds. */
  readonly ms: number;
  /** The same work done the plain way, to compare with. */
  readonly baseline?: { readonly name: string; readonly ms: number };
  /** An upper bound the result must stay under. */
  readonly targetMs?: number;
}

/** Median time of `fn` in milliseconds over `runs` runs, after `warmup` unmeasured ones. */
export type Measure = (fn: () => unknown, options?: { runs?: number; warmup?: number }) => number;

/**
 * What each `bench/*.bench.ts` exports: `export const benchmarks: Benchmark[]`. A bench file
 * imports only types from here (this module is the entry point, still evaluating while it loads
 * the bench files), and gets `measure` as an argument.
 */
export interface Benchmark {
  readonly name: string;
  run(measure: Measure): BenchResult[] | Promise<BenchResult[]>;
}

const measure: Measure = function measure(fn: () => unknown, { runs = 7, warmup = 2 }: { runs?: number; warmup?: number } = {}): number {
  for (let k = 0; k < warmup; k++) fn();
  const times: number[] = [];
  for (let k = 0; k < runs; k++) {
    const start = performance.now();
    fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
};

async function main(): Promise<void> {
  const directory = path.dirname(fileURLToPath(import.meta.url));
  const files = (await readdir(directory)).filter((file) => file.endsWith('.bench.ts')).sort();
  const rows: string[][] = [];
  let missed = 0;
  for (const file of files) {
    const module: { benchmarks?: Benchmark[] } = await import(pathToFileURL(path.join(directory, file)).href);
    for (const benchmark of module.benchmarks ?? []) {
      for (const result of await benchmark.run(measure)) {
        const met = result.targetMs === undefined ? '' : result.ms < result.targetMs ? `< ${result.targetMs} ms: met` : `< ${result.targetMs} ms: MISSED`;
        if (result.targetMs !== undefined && result.ms >= result.targetMs) missed++;
        rows.push([
          `${file.replace(/\.bench\.ts$/, '')} / ${result.name}`,
          `${result.ms.toFixed(1)} ms`,
          result.baseline ? `${result.baseline.ms.toFixed(1)} ms (${result.baseline.name})` : '',
          result.baseline ? `${(result.ms / result.baseline.ms).toFixed(2)}×` : '',
          met,
        ]);
      }
    }
  }
  printTable(['benchmark', 'time', 'baseline', 'ratio', 'target'], rows);
  if (missed > 0) {
    console.log(`\n${missed} target(s) missed`);
    process.exitCode = 1;
  }
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, k) => Math.max(title.length, ...rows.map((row) => (row[k] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, k) => cell.padEnd(widths[k] ?? 0)).join('  ').trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
}

await main();
