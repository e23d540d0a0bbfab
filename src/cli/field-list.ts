import { printLines } from './output.ts';

/** One line of a `show` command: a label and its value; `null` prints `-`. */
export type Field = readonly [label: string, value: string | number | null];

/** Lays out labelled values one per line, the values aligned: `Host:  web01.example.com`. */
export function formatFields(fields: readonly Field[]): string[] {
  const width = Math.max(0, ...fields.map(([label]) => label.length + 1));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${value === null || value === '' ? '-' : String(value)}`.trimEnd());
}

export function printFields(fields: readonly Field[]): void {
  printLines(...formatFields(fields));
}

/** A block of text under a heading, its lines numbered and indented: how a script is shown. */
export function numberedLines(text: string): string[] {
  const lines = text.replace(/\n$/, '').split('\n');
  const width = String(lines.length).length;
  return lines.map((line, index) => `  ${String(index + 1).padStart(width)}  ${line}`.trimEnd());
}
