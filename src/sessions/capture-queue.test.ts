import xterm from '@xterm/headless';
import { afterEach, describe, expect, it } from 'vitest';
import { CaptureQueue, type ScreenReader } from './capture-queue.ts';

/** A reader that notes what it was given, and what the screen showed then. */
function recordingReader(options: { readsNothing?: boolean; cutAtLineFeeds?: boolean; keysThrow?: boolean } = {}) {
  const calls: string[] = [];
  let terminal: xterm.Terminal | undefined;
  const screenRow = (): string => {
    const buffer = terminal?.buffer.active;
    return buffer?.getLine(buffer.baseY + buffer.cursorY)?.translateToString(true) ?? '';
  };
  const reader: ScreenReader = {
    readsNothing: options.readsNothing ?? false,
    pieceEnd: (text, from) => {
      if (!options.cutAtLineFeeds) return text.length;
      const newline = text.indexOf('\n', from);
      return newline === -1 ? text.length : newline + 1;
    },
    parsed: (piece) => calls.push(`parsed ${JSON.stringify(piece)}`),
    keys: (data) => {
      if (options.keysThrow) throw new Error('a bug in reading');
      calls.push(`keys ${JSON.stringify(data)} at ${JSON.stringify(screenRow())} (${terminal?.cols}x${terminal?.rows})`);
    },
    end: () => calls.push('end'),
  };
  return { reader, calls, attach: (attached: xterm.Terminal) => (terminal = attached) };
}

const terminals: xterm.Terminal[] = [];
function queueWith(reader: ReturnType<typeof recordingReader>, maxBacklogBytes = 8 * 1024 * 1024) {
  const terminal = new xterm.Terminal({ cols: 80, rows: 24, scrollback: 500, allowProposedApi: true });
  terminals.push(terminal);
  reader.attach(terminal);
  return new CaptureQueue(terminal, reader.reader, maxBacklogBytes);
}
afterEach(() => {
  terminals.length = 0; // finish() disposes of each
});

const time = new Date(Date.UTC(2026, 0, 1));

describe('the capture queue', () => {
  it('gives the reader a keystroke only once everything printed before it is on the screen', async () => {
    const reader = recordingReader();
    const queue = queueWith(reader);
    queue.output(Buffer.from('alice@web01:~$ '));
    queue.input(Buffer.from('l'), time, 1);
    queue.output(Buffer.from('l'));
    queue.input(Buffer.from('s'), time, 2);
    queue.resize(100, 30);
    queue.input(Buffer.from('\r'), time, 3);
    await queue.finish();
    expect(reader.calls).toEqual([
      'parsed "alice@web01:~$ "',
      'keys "l" at "alice@web01:~$ " (80x24)',
      'parsed "l"',
      'keys "s" at "alice@web01:~$ l" (80x24)',
      'keys "\\r" at "alice@web01:~$ l" (100x30)',
      'end',
    ]);
  });

  it("writes output in the reader's pieces, and a character split across chunks whole", async () => {
    const reader = recordingReader({ cutAtLineFeeds: true });
    const queue = queueWith(reader);
    const text = Buffer.from('one\r\ntwo\r\nthrée');
    const split = text.indexOf(0xc3) + 1; // inside the "é"
    queue.output(text.subarray(0, split));
    queue.output(text.subarray(split));
    await queue.finish();
    expect(reader.calls).toEqual(['parsed "one\\r\\n"', 'parsed "two\\r\\n"', 'parsed "thr"', 'parsed "ée"', 'end']);
  });

  it('drops what comes beyond its backlog bound, never making the session wait, and says the capture is lossy', async () => {
    const reader = recordingReader();
    const queue = queueWith(reader, 10);
    queue.output(Buffer.from('12345678'));
    queue.output(Buffer.from('abcdefgh')); // 16 bytes would wait: dropped
    queue.input(Buffer.from('xy'), time, 0);
    expect(queue.backlogBytes).toBe(10);
    expect(queue.lossy).toBe(true);
    await queue.finish();
    expect(queue.backlogBytes).toBe(0);
    expect(reader.calls).toEqual(['parsed "12345678"', 'keys "xy" at "12345678" (80x24)', 'end']);
  });

  it('holds plain bulk output while the reader reads nothing, giving the emulator only its last lines', async () => {
    const reader = recordingReader({ readsNothing: true });
    const queue = queueWith(reader);
    let printed = 0;
    for (let k = 1; k <= 20_000; k++) {
      const line = Buffer.from(`log line ${k} ${'x'.repeat(80)}\r\n`);
      queue.output(line);
      printed += line.length;
    }
    queue.output(Buffer.from('$ '));
    queue.input(Buffer.from('q'), time, 0);
    await queue.finish();
    const parsed = reader.calls.filter((call) => call.startsWith('parsed')).join('');
    expect(queue.skippedBytes).toBeGreaterThan(printed - 128 * 1024);
    expect(parsed.length).toBeLessThan(256 * 1024);
    expect(parsed).toContain(`log line 20000 ${'x'.repeat(80)}`);
    expect(reader.calls.at(-2)).toBe('keys "q" at "$ " (80x24)');
  });

  it('emulates all the output while the reader reads the screen, and output that is not plain', async () => {
    const reading = recordingReader({ readsNothing: false });
    const queue = queueWith(reading);
    for (let k = 0; k < 2000; k++) queue.output(Buffer.from(`line ${k} ${'x'.repeat(80)}\r\n`));
    await queue.finish();
    expect(queue.skippedBytes).toBe(0);

    const idle = recordingReader({ readsNothing: true });
    const screen = queueWith(idle);
    for (let k = 0; k < 2000; k++) screen.output(Buffer.from(`\x1b[H\x1b[2Jframe ${k} ${'x'.repeat(80)}\r\n`)); // a full-screen redraw
    await screen.finish();
    expect(screen.skippedBytes).toBe(0);
  });

  it('takes nothing after finish, and ends the reader once', async () => {
    const reader = recordingReader();
    const queue = queueWith(reader);
    queue.output(Buffer.from('bye'));
    const finished = queue.finish();
    queue.output(Buffer.from('late'));
    queue.input(Buffer.from('x'), time, 0);
    queue.resize(10, 10);
    await finished;
    expect(reader.calls).toEqual(['parsed "bye"', 'end']);
  });

  it('stops feeding a reader that failed, and says the capture is lossy; the session goes on', async () => {
    const reader = recordingReader({ keysThrow: true });
    const queue = queueWith(reader);
    queue.output(Buffer.from('$ '));
    queue.input(Buffer.from('l'), time, 0);
    queue.output(Buffer.from('l'));
    await queue.finish();
    expect(queue.lossy).toBe(true);
    expect(reader.calls).toEqual(['parsed "$ "']);
  });
});
