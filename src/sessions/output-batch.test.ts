import { describe, expect, it } from 'vitest';
import { OutputBatch, type OutputStream } from './output-batch.ts';

function batch(maxBytes?: number): { output: OutputBatch; delivered: Array<[string, OutputStream]> } {
  const delivered: Array<[string, OutputStream]> = [];
  const output = new OutputBatch((data, stream) => delivered.push([data.toString(), stream]), maxBytes);
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
    const { output, delivered } = batch(8);
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
});
