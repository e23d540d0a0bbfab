import { describe, expect, it } from 'vitest';
import { clampTerminalSize, MAX_COLS, MAX_ROWS, TerminalClient } from './terminal-client.ts';

/** The user's end of a session with nothing behind it: what it echoes is kept, what it is sent comes from the test. */
class TestTerminal extends TerminalClient {
  echoed = '';
  constructor(cols = 80, rows = 24) {
    super({ kind: 'shell', interactive: true, term: 'xterm', cols, rows, sourceIp: '127.0.0.1', sourcePort: null });
  }
  resize(cols: number, rows: number): void {
    this.resized(cols, rows);
  }
  type(data: string | Buffer): void {
    this.received(Buffer.isBuffer(data) ? data : Buffer.from(data));
  }
  write(data: Buffer | string): void {
    this.echoed += data.toString();
  }
  writeError(data: Buffer | string): void {
    this.echoed += data.toString();
  }
  backlogged(): undefined {
    return undefined;
  }
  paused = false;
  pauseInput(): void {
    this.paused = true;
  }
  resumeInput(): void {
    this.paused = false;
  }
  protected end(): void {}
}

describe('what a user can make the gateway hold before a session opens', () => {
  it('keeps at most 2000 characters of a prompt\'s answer, however much is typed', async () => {
    const terminal = new TestTerminal();
    const answer = terminal.ask('Justification: ', { echo: true });
    for (let i = 0; i < 100; i += 1) terminal.type('x'.repeat(1000));
    terminal.type('\r');
    expect(await answer).toBe('x'.repeat(2000));
    expect(terminal.echoed).toBe(`Justification: ${'x'.repeat(2000)}\r\n`);
  });

  it('keeps at most 64 KiB typed ahead of the session, and hands it over in order', () => {
    const terminal = new TestTerminal();
    for (let i = 0; i < 200; i += 1) terminal.type(Buffer.alloc(1024, i % 256));
    const handed: Buffer[] = [];
    terminal.onInput((data) => handed.push(data));
    const kept = Buffer.concat(handed);
    expect(kept.length).toBe(64 * 1024);
    expect(kept.subarray(0, 1024).every((byte) => byte === 0)).toBe(true);
    expect(kept.subarray(63 * 1024).every((byte) => byte === 63)).toBe(true);
    // Once the session listens, input goes straight through, unbounded by the typed-ahead limit.
    terminal.type(Buffer.alloc(100 * 1024, 7));
    expect(handed.at(-1)?.length).toBe(100 * 1024);
  });

  it('pauses the user at the typed-ahead bound instead of dropping, and reads again for a prompt and for the session', async () => {
    const terminal = new TestTerminal();
    terminal.type(Buffer.alloc(60 * 1024, 1));
    expect(terminal.paused).toBe(false);
    terminal.type(Buffer.alloc(8 * 1024, 2)); // crosses the bound: kept, and the user waits
    expect(terminal.paused).toBe(true);
    const answer = terminal.ask('Justification: ', { echo: false });
    expect(terminal.paused).toBe(false);
    terminal.type('because\r');
    expect(await answer).toBe('because');
    terminal.type(Buffer.alloc(1024, 3)); // full: dropped, and paused again
    expect(terminal.paused).toBe(true);
    const handed: Buffer[] = [];
    terminal.onInput((data) => handed.push(data));
    expect(terminal.paused).toBe(false);
    expect(Buffer.concat(handed).length).toBe(68 * 1024);
  });
});

describe('terminal sizes', () => {
  it('clamps what a client asks for to 1 × 1 … 1000 × 500, at the start and at each resize', () => {
    expect(clampTerminalSize(20000, 20000)).toEqual({ cols: MAX_COLS, rows: MAX_ROWS });
    expect(clampTerminalSize(0, -5)).toEqual({ cols: 1, rows: 1 });
    expect(clampTerminalSize(200.7, 60)).toEqual({ cols: 200, rows: 60 });
    expect(clampTerminalSize(Number.NaN, Number.POSITIVE_INFINITY)).toEqual({ cols: 1, rows: 1 });

    const terminal = new TestTerminal(20000, 20000);
    expect([terminal.cols, terminal.rows]).toEqual([1000, 500]);
    const heard: Array<[number, number]> = [];
    terminal.onResize((cols, rows) => heard.push([cols, rows]));
    terminal.resize(65535, 65535);
    terminal.resize(200, 60);
    expect(heard).toEqual([
      [1000, 500],
      [200, 60],
    ]);
    expect([terminal.cols, terminal.rows]).toEqual([200, 60]);
  });
});
