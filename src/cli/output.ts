import { cliIo } from './cli-io.ts';

/** Prints a value as indented JSON, for scripts (`--json`). */
export function printJson(value: unknown): void {
  cliIo().stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints lines of text for people. */
export function printLines(...lines: string[]): void {
  cliIo().stdout.write(lines.map((line) => `${line}\n`).join(''));
}

/** Lays rows out in plain text columns under upper-case headers, two spaces apart. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers.map((header) => header.toUpperCase())), ...rows.map(line)];
}

/** Prints a table, or `empty` when there are no rows. */
export function printTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, empty: string): void {
  printLines(...(rows.length === 0 ? [empty] : formatTable(headers, rows)));
}

export const yesNo = (value: boolean): string => (value ? 'yes' : 'no');

/** An ISO time to the minute, in UTC: `2025-03-01 14:05Z`; `-` when there is none. */
export const shortTime = (iso: string | null): string => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z` : '-');
