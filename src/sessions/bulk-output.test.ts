import { describe, expect, it } from 'vitest';
import { BulkOutputHolder, isPlainOutput } from './bulk-output.ts';

const lines = (from: number, count: number, width = 100): string =>
  Array.from({ length: count }, (_, k) => `line ${String(from + k).padStart(8, '0')} ${'x'.repeat(width)}\r\n`).join('');

describe('the bulk-output holder', () => {
  it('holds a little output whole and gives it back as it came', () => {
    const holder = new BulkOutputHolder();
    expect(holder.hold(Buffer.from('first\r\n'), 10)).toBe(false);
    expect(holder.hold(Buffer.from('second\r\n'), 10)).toBe(false);
    expect(holder.bytes).toBe(15);
    const taken = holder.take();
    expect(taken.data.toString()).toBe('first\r\nsecond\r\n');
    expect(taken.skipped).toBe(false);
    expect(holder.bytes).toBe(0);
    expect(holder.skippedBytes).toBe(0);
  });

  it('keeps only the last lines of a large output, and counts what it dropped', () => {
    const holder = new BulkOutputHolder();
    const all = Buffer.from(lines(1, 20_000)); // about 2.3 MB, printed in 4 KiB chunks
    for (let at = 0; at < all.length; at += 4096) expect(holder.hold(all.subarray(at, at + 4096), 30)).toBe(false);
    expect(holder.bytes).toBeLessThan(128 * 1024);
    const taken = holder.take();
    expect(taken.skipped).toBe(true);
    expect(holder.skippedBytes + taken.data.length).toBe(all.length);
    // What is left is whole lines, the last ones printed.
    expect(taken.data.toString().endsWith(lines(19_971, 30))).toBe(true);
    expect(taken.data.toString().startsWith('line ')).toBe(true);
  });

  it('asks to be emptied when the output has too few line breaks to cut', () => {
    const holder = new BulkOutputHolder();
    const chunk = Buffer.alloc(64 * 1024, 'y');
    let due = false;
    let held = 0;
    while (!due) {
      due = holder.hold(chunk, 30);
      held += chunk.length;
    }
    expect(held).toBeGreaterThan(1024 * 1024);
    const taken = holder.take();
    expect(taken.data.length).toBe(held);
    expect(taken.skipped).toBe(false);
    expect(holder.skippedBytes).toBe(0);
  });

  it('starts afresh after it was emptied', () => {
    const holder = new BulkOutputHolder();
    holder.hold(Buffer.from(lines(1, 2000)), 5);
    holder.take();
    holder.hold(Buffer.from('after\r\n'), 5);
    expect(holder.take()).toEqual({ data: Buffer.from('after\r\n'), skipped: false });
  });
});

describe('plain output, which the holder may take', () => {
  it('is text, line breaks, colours and erasing in the line; nothing that changes the terminal', () => {
    expect(isPlainOutput(Buffer.from(lines(1, 3)))).toBe(true);
    expect(isPlainOutput(Buffer.from('\x1b[32mok\x1b[0m\x1b[K\r\n'))).toBe(true);
    expect(isPlainOutput(Buffer.from('\x1b[2J'))).toBe(false); // clears the screen
    expect(isPlainOutput(Buffer.from('\x1b[?1049h'))).toBe(false); // alternate screen
    expect(isPlainOutput(Buffer.from('\x1b]133;A\x07'))).toBe(false); // a shell's prompt mark
  });
});
