import { describe, expect, it } from 'vitest';
import { TerminalClient } from './terminal-client.ts';

/** The user's end of a session with nothing behind it: what it echoes is kept, what it is sent comes from the test. */
class TestTerminal extends TerminalClient {
  echoed = '';
  constructor() {
    super({ kind: 'shell', interactive: true, term: 'xterm', cols: 80, rows: 24, sourceIp: '127.0.0.1', sourcePort: null });
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
});
