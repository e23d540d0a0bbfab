import xterm from '@xterm/headless';
import { afterEach, describe, expect, it } from 'vitest';
import { LineReader, type CapturedCommand } from './line-reader.ts';

/** A terminal and its line reader, fed as a session feeds them: the device's output, the user's keys. */
function session(cols = 80, rows = 24) {
  const terminal = new xterm.Terminal({ cols, rows, scrollback: 500, allowProposedApi: true });
  const commands: CapturedCommand[] = [];
  const reader = new LineReader(terminal, { onCommand: (command) => commands.push(command), maxOutputBytes: 64 * 1024 });
  let offset = 0;
  const print = async (text: string): Promise<void> => {
    for (let from = 0; from < text.length; ) {
      const end = reader.pieceEnd(text, from);
      const piece = text.slice(from, end);
      await new Promise<void>((written) => terminal.write(piece, written));
      reader.parsed(piece);
      from = end;
    }
  };
  /** Keys typed, each echoed by the device as a shell's line editor does (Enter as "\r\n"). */
  const type = async (keys: string): Promise<void> => {
    for (const key of keys) {
      reader.keys(key, new Date(Date.UTC(2026, 0, 1, 0, 0, offset)), offset);
      offset++;
      if (key !== '\r') await print(key);
    }
  };
  return { terminal, reader, commands, print, type };
}

const sessions: Array<ReturnType<typeof session>> = [];
const open = (...args: Parameters<typeof session>) => {
  const opened = session(...args);
  sessions.push(opened);
  return opened;
};
afterEach(() => {
  for (const opened of sessions.splice(0)) opened.terminal.dispose();
});

describe('the line reader', () => {
  it('reads a command at its prompt and its output until the next prompt', async () => {
    const s = open();
    await s.print('alice@web01:~$ ');
    await s.type('uptime\r');
    expect(s.reader.pendingEnters).toBe(1);
    await s.print('\r\n 10:00:00 up 3 days\r\nalice@web01:~$ ');
    expect(s.reader.pendingEnters).toBe(0);
    expect(s.commands).toEqual([]); // its output may go on until the next prompt is typed at
    await s.type('e');
    expect(s.commands).toEqual([
      { seq: 1, time: new Date(Date.UTC(2026, 0, 1, 0, 0, 6)), offsetSeconds: 6, text: 'uptime', output: ' 10:00:00 up 3 days\n', outputTruncated: false, exitStatus: null },
    ]);
    expect(s.reader.commands).toBe(1);
  });

  it('reads the line as the device shows it, after the line editor changed it', async () => {
    const s = open();
    await s.print('$ ');
    // "ls /tnp", two rubouts, "mp": the shell echoes each rubout as "\b \b".
    for (const key of 'ls /tnp') {
      s.reader.keys(key, new Date(), 0);
      await s.print(key);
    }
    for (let k = 0; k < 2; k++) {
      s.reader.keys('\x7f', new Date(), 0);
      await s.print('\b \b');
    }
    await s.type('mp\r');
    await s.print('\r\nfile\r\n$ ');
    s.reader.end();
    expect(s.commands.map((command) => [command.text, command.output])).toEqual([['ls /tmp', 'file\n']]);
  });

  it('joins the lines of a command the shell reads over several, at its continuation prompt', async () => {
    const s = open();
    await s.print('$ ');
    await s.type('echo "one\r');
    await s.print('\r\n> ');
    await s.type('two"\r');
    await s.print('\r\none\r\ntwo\r\n$ ');
    await s.type('x');
    expect(s.commands.map((command) => [command.text, command.output])).toEqual([['echo "one\ntwo"', 'one\ntwo\n']]);
  });

  it('never reads what is typed at a password prompt, and cuts its echo from the output', async () => {
    const s = open();
    await s.print('$ ');
    await s.type('sudo id\r');
    await s.print('\r\n[sudo] password for alice: ');
    await s.type('hunter2\r'); // a careless program echoes it
    await s.print('\r\nuid=0(root)\r\n$ ');
    s.reader.end();
    expect(s.commands.map((command) => command.text)).toEqual(['sudo id']);
    expect(JSON.stringify(s.commands)).not.toContain('hunter2');
    expect(s.commands[0]?.output).toContain('uid=0(root)');
  });

  it('drops a line the user interrupts with Ctrl-C', async () => {
    const s = open();
    await s.print('$ ');
    await s.type('rm -rf /srv/data');
    s.reader.keys('\x03', new Date(), 0);
    await s.print('^C\r\n$ ');
    await s.type('ls\r');
    await s.print('\r\n$ ');
    s.reader.end();
    expect(s.commands.map((command) => command.text)).toEqual(['ls']);
  });

  it("takes the exit status from the shell's own mark, and leaves it unknown without one", async () => {
    const s = open();
    await s.print('$ ');
    await s.type('false\r');
    await s.print('\r\n\x1b]133;D;1\x07$ ');
    await s.type('true\r');
    await s.print('\r\n$ ');
    s.reader.end();
    expect(s.commands.map((command) => [command.text, command.exitStatus])).toEqual([
      ['false', 1],
      ['true', null],
    ]);
  });

  it('reads nothing typed in a full-screen program', async () => {
    const s = open();
    await s.print('$ ');
    await s.type('vi notes\r');
    await s.print('\r\n\x1b[?1049h\x1b[H~\r\n~\r\n');
    await s.type('ihello\r');
    await s.type('\x1b:wq\r');
    await s.print('\x1b[?1049l$ ');
    s.reader.end();
    expect(s.commands.map((command) => command.text)).toEqual(['vi notes']);
  });

  it('cuts output at line feeds only while an Enter waits for its line', async () => {
    const s = open();
    await s.print('$ ');
    expect(s.reader.pieceEnd('a\r\nb\r\n', 0)).toBe(6);
    await s.type('ls\r');
    expect(s.reader.pieceEnd('ls\r\nb\r\n', 0)).toBe(2); // "\r\n" in a piece of its own
    expect(s.reader.pieceEnd('ls\r\nb\r\n', 2)).toBe(4);
    expect(s.reader.pieceEnd('x\x1b[?2004l\r\n', 0)).toBe(9); // just after DECRST 2004
  });

  it('lets the screen alone only while nothing is typed and the running command has all the output it keeps', async () => {
    const s = open();
    await s.print('$ ');
    expect(s.reader.readsNothing).toBe(false);
    await s.type('cat big.log\r');
    expect(s.reader.readsNothing).toBe(false); // an Enter waits
    await s.print('\r\n');
    await s.print('log line of some length\r\n'.repeat(3000)); // past the 64 KiB kept of it
    expect(s.reader.readsNothing).toBe(true);
    await s.type('q');
    expect(s.reader.readsNothing).toBe(false); // a line is being typed
  });
});
