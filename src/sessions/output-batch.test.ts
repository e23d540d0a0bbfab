import { describe, expect, it, vi } from 'vitest';
import { retainedMemory } from '../../test/gateway-kit.ts';
import { OutputBatch, type OutputBatchOptions, type OutputStream } from './output-batch.ts';

function batch(options?: OutputBatchOptions): { output: OutputBatch; delivered: Array<[string, OutputStream]> } {
  const delivered: Array<[string, OutputStream]> = [];
  const output = new OutputBatch((data, stream) => delivered.push([data.toString(), stream]), options);
  return { output, delivered };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('OutputBatch', () => {
  it('joins the chunks of one turn and delivers them after it', async () => {
    const { output, delivered } = batch();
    output.add(Buffer.from('one '), 'stdout');
    output.add(Buffer.from('two'), 'stdout');
    expect(delivered).toEqual([]);
    await nextTurn();
    expect(delivered).toEqual([['one two', 'stdout']]);
    output.add(Buffer.from('three'), 'stdout');
    await nextTurn();
    expect(delivered).toEqual([['one two', 'stdout'], ['three', 'stdout']]);
  });

  it('delivers at once when the batch reaches its size', () => {
    const { output, delivered } = batch({ maxBytes: 8 });
    output.add(Buffer.from('1234'), 'stdout');
    output.add(Buffer.from('5678'), 'stdout');
    expect(delivered).toEqual([['12345678', 'stdout']]);
  });

  it('keeps stdout and stderr in the order they came', async () => {
    const { output, delivered } = batch();
    output.add(Buffer.from('a'), 'stdout');
    output.add(Buffer.from('b'), 'stderr');
    output.add(Buffer.from('c'), 'stderr');
    output.add(Buffer.from('d'), 'stdout');
    await nextTurn();
    expect(delivered).toEqual([
      ['a', 'stdout'],
      ['bc', 'stderr'],
      ['d', 'stdout'],
    ]);
  });

  it('delivers what waits on flush, and nothing twice', async () => {
    const { output, delivered } = batch();
    output.add(Buffer.from('prompt$ '), 'stdout');
    output.flush();
    expect(delivered).toEqual([['prompt$ ', 'stdout']]);
    output.flush();
    await nextTurn();
    expect(delivered).toHaveLength(1);
  });

  it('lets a batch fill for up to holdMs while output streams, but not an echo after a pause', () => {
    // On a clock the test moves: whether output "streams" depends on milliseconds between calls,
    // which a busy machine would stretch.
    vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    try {
      const { output, delivered } = batch({ maxBytes: 8 * 1024, holdMs: 200 });
      output.add(Buffer.alloc(4 * 1024, 'a'), 'stdout');
      vi.advanceTimersByTime(0);
      expect(delivered).toHaveLength(1); // nothing streamed before it: out after the turn
      output.add(Buffer.from('b'), 'stdout');
      vi.advanceTimersByTime(0);
      expect(delivered).toHaveLength(1); // a large batch just went out: this one waits to fill
      output.add(Buffer.alloc(8 * 1024 - 1, 'c'), 'stdout');
      expect(delivered.map(([text]) => text.length)).toEqual([4 * 1024, 8 * 1024]); // full: out at once
      output.add(Buffer.from('d'), 'stdout');
      vi.advanceTimersByTime(199);
      expect(delivered).toHaveLength(2); // still filling
      vi.advanceTimersByTime(1);
      expect(delivered[2]).toEqual(['d', 'stdout']); // the last of the stream, after holdMs
      output.add(Buffer.from('e'), 'stdout'); // an echo after the stream ended: out after the turn
      vi.advanceTimersByTime(0);
      expect(delivered[3]).toEqual(['e', 'stdout']);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('what a batch holds, measured', () => {
  it('never holds a full batch (32 KiB) between calls, however much the device sends in one turn', () => {
    let delivered = 0;
    const output = new OutputBatch((data) => (delivered += data.length));
    const before = retainedMemory();
    let most = 0;
    // 64 MiB in ssh2's largest channel packets (32 KiB) and in odd sizes, without a turn in between.
    for (let k = 0; k < 4096; k++) {
      output.add(Buffer.alloc(k % 2 === 0 ? 32 * 1024 : 777, 0x61), 'stdout');
      most = Math.max(most, output.pendingBytes);
    }
    const held = retainedMemory() - before;
    expect(most).toBeLessThan(32 * 1024);
    expect(held).toBeLessThan(1024 * 1024); // a batch and the measure's own noise, of 64 MiB sent
    output.flush();
    expect(delivered).toBe(2048 * 32 * 1024 + 2048 * 777);
  });
});
