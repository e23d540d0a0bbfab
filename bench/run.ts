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

/** A figure other than a time (a rate, an added latency, a count), with the bound it must meet. */
export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  /** How `value` reads: `MB/s`, `ms`, `sessions`. */
  readonly unit: string;
  /** The same thing done the plain way, in the same unit. */
  readonly baseline?: { readonly name: string; readonly value: number };
  readonly target?: BenchTarget;
}

/** What must hold of a figure: itself, its ratio to the baseline, or what it adds to the baseline, within bounds. */
export interface BenchTarget {
  readonly of: 'value' | 'ratio' | 'added';
  readonly atLeast?: number;
  readonly atMost?: number;
}

/** Median time of `fn` in milliseconds over `runs` runs, after `warmup` unmeasured ones. */
export type Measure = (fn: () => unknown, options?: { runs?: number; warmup?: number }) => number;

/** One line of the table: a time, or another figure. */
export type BenchRow = BenchResult | BenchFigure;

/**
 * What each `bench/*.bench.ts` exports: `export const benchmarks: Benchmark[]`. A bench file
 * imports only types from here (this module is the entry point, still evaluating while it loads
 * the bench files), and gets `measure` as an argument.
 */
export interface Benchmark {
  readonly name: string;
  run(measure: Measure): BenchRow[] | Promise<BenchRow[]>;
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

/**
 * Runs every `bench/*.bench.ts`, or those whose file name contains one of the arguments
 * (`npm run bench -- gateway`), prints one table and exits 1 when a target is missed.
 */
async function main(): Promise<void> {
  const directory = path.dirname(fileURLToPath(import.meta.url));
  const only = process.argv.slice(2);
  const files = (await readdir(directory))
    .filter((file) => file.endsWith('.bench.ts') && (only.length === 0 || only.some((word) => file.includes(word))))
    .sort();
  const rows: string[][] = [];
  let missed = 0;
  for (const file of files) {
    const module: { benchmarks?: Benchmark[] } = await import(pathToFileURL(path.join(directory, file)).href);
    for (const benchmark of module.benchmarks ?? []) {
      for (const result of await benchmark.run(measure)) {
        const row = 'ms' in result ? timeRow(result) : figureRow(result);
        if (row.met === false) missed++;
        rows.push([`${file.replace(/\.bench\.ts$/, '')} / ${result.name}`, row.baseline, row.result, row.ratio, row.target, row.met === undefined ? '' : row.met ? 'met' : 'MISSED']);
      }
    }
  }
  printTable(['benchmark', 'baseline', 'result', 'ratio', 'target', 'met'], rows);
  if (missed > 0) {
    console.log(`\n${missed} target(s) missed`);
    process.exitCode = 1;
  }
}

interface Cells {
  readonly baseline: string;
  readonly result: string;
  readonly ratio: string;
  readonly target: string;
  readonly met: boolean | undefined;
}

function timeRow(result: BenchResult): Cells {
  return {
    baseline: result.baseline ? `${result.baseline.ms.toFixed(1)} ms (${result.baseline.name})` : '',
    result: `${result.ms.toFixed(1)} ms`,
    ratio: result.baseline ? `${(result.ms / result.baseline.ms).toFixed(2)}×` : '',
    target: result.targetMs === undefined ? '' : `< ${result.targetMs} ms`,
    met: result.targetMs === undefined ? undefined : result.ms < result.targetMs,
  };
}

function figureRow(figure: BenchFigure): Cells {
  const { baseline, target } = figure;
  const ratio = baseline ? figure.value / baseline.value : undefined;
  const added = baseline ? figure.value - baseline.value : undefined;
  return {
    baseline: baseline ? `${format(baseline.value)} ${figure.unit} (${baseline.name})` : '',
    result: `${format(figure.value)} ${figure.unit}${added !== undefined && target?.of === 'added' ? ` (${added < 0 ? '' : '+'}${format(added)})` : ''}`,
    ratio: ratio === undefined ? '' : `${ratio.toFixed(2)}×`,
    target: target ? describeTarget(target, figure.unit) : '',
    met: target ? meets(target.of === 'value' ? figure.value : target.of === 'ratio' ? ratio : added, target) : undefined,
  };
}

function describeTarget(target: BenchTarget, unit: string): string {
  const bounds = [target.atLeast === undefined ? '' : `≥ ${target.atLeast}`, target.atMost === undefined ? '' : `≤ ${target.atMost}`].filter(Boolean).join(' and ');
  return target.of === 'value' ? `${bounds} ${unit}` : target.of === 'ratio' ? `ratio ${bounds}` : `added ${bounds} ${unit}`;
}

/** A figure that could not be measured (no baseline, NaN) misses its target. */
function meets(measured: number | undefined, target: BenchTarget): boolean {
  if (measured === undefined || Number.isNaN(measured)) return false;
  return (target.atLeast === undefined || measured >= target.atLeast) && (target.atMost === undefined || measured <= target.atMost);
}

/** Three significant figures or so: 0.123, 12.3, 1234. */
function format(value: number): string {
  const size = Math.abs(value);
  return value.toFixed(size >= 100 || Number.isInteger(value) ? 0 : size >= 10 ? 1 : size >= 1 ? 2 : 3);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, k) => Math.max(title.length, ...rows.map((row) => (row[k] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, k) => cell.padEnd(widths[k] ?? 0)).join('  ').trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
}

await main();
// The table is out; PGlite leaves a timer behind a closed instance that would keep the process up.
process.exit();
