import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, type ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { retainedMemory } from '../../test/gateway-kit.ts';
import { CommandCapture, DEFAULT_MAX_BACKLOG_BYTES, MAX_PENDING_ENTERS, execCommand, isPlainOutput, type CapturedCommand } from './command-capture.ts';
import { splitShellInput } from './shell-line.ts';
import { PlainText, plainText, TerminalTextDecoder } from './terminal-text.ts';

describe('splitShellInput', () => {
  it.each([
    ['ls -l', ['ls -l'], null],
    ['  ls  ', ['  ls  '], null],
    ['\n\n  \n', [], null],
    ['echo a; echo b', ['echo a; echo b'], null],
    ['echo one \\\ntwo', ['echo one two'], null],
    ['echo one \\', [], 'backslash'],
    ['echo one \\\\', ['echo one \\\\'], null],
    ['echo "a\nb"', ['echo "a\nb"'], null],
    ['echo "a', [], 'quote'],
    ["echo 'it''s'", ["echo 'it''s'"], null],
    ["echo 'a\\", [], 'quote'],
    ["echo 'a\\\nb'", ["echo 'a\\\nb'"], null],
    ['echo "a\\"', [], 'quote'],
    ["echo $'a\\'b'", ["echo $'a\\'b'"], null],
    ['echo `date', [], 'quote'],
    ["echo hi # it's a comment", ["echo hi # it's a comment"], null],
    ['echo a#b"', [], 'quote'],
    ['for i in 1 2; do', [], 'compound'],
    ['for i in 1 2; do\necho $i\ndone', ['for i in 1 2; do\necho $i\ndone'], null],
    ['if true; then\n  echo yes\nfi\nls', ['if true; then\n  echo yes\nfi', 'ls'], null],
    ['echo done for if', ['echo done for if'], null],
    ['f() {\necho f\n}', ['f() {\necho f\n}'], null],
    ['function f {\necho f\n}', ['function f {\necho f\n}'], null],
    ['echo ${HOME} {a,b}', ['echo ${HOME} {a,b}'], null],
    ['(cd /tmp\nls)', ['(cd /tmp\nls)'], null],
    ['echo $(date\n)', ['echo $(date\n)'], null],
    ['case $x in\na) echo a;;\nesac', ['case $x in\na) echo a;;\nesac'], null],
    ['cat <<EOF\nhello $x\nEOF\necho after', ['cat <<EOF\nhello $x\nEOF', 'echo after'], null],
    ["cat <<-'END' > f\n\tbody\n\tEND", ["cat <<-'END' > f\n\tbody\n\tEND"], null],
    ['cat <<EOF\nbody', [], 'heredoc'],
    ['cat <<<"here string"', ['cat <<<"here string"'], null],
    ['echo p1\necho p2\n', ['echo p1', 'echo p2'], null],
    ['echo p1\necho "p2', ['echo p1'], 'quote'],
  ] as const)('%j', (text, commands, incomplete) => {
    expect(splitShellInput(text)).toEqual({ commands, incomplete });
  });
});

describe('plainText', () => {
  it('drops escape sequences, lets a carriage return overwrite, keeps line feeds, and caps the size', () => {
    expect(plainText('\x1b[1;31mred\x1b[0m \x1b]0;title\x07ok\r\n', 100)).toEqual({ text: 'red ok\n', truncated: false });
    expect(plainText('10%\r50%\r100%\n', 100).text).toBe('100%\n');
    expect(plainText('abcdef\rXY\x1b[K\n', 100).text).toBe('XY\n');
    expect(plainText('\x1b[?1049hfull screen\x1b[?1049lback\n', 100).text).toBe('full screenback\n');
    expect(plainText('12345\n67890\n', 8)).toEqual({ text: '12345\n67', truncated: true });
    expect(plainText('ééé', 5)).toEqual({ text: 'éé', truncated: true });
  });

  it('cuts at a prompt and redacts an echoed secret, also once the text was truncated', () => {
    const text = new PlainText(100);
    for (const ch of 'out\ncg$ next\nmore\n') {
      if (ch === '\n') text.control('\n');
      else text.print(ch);
    }
    text.cutAtLineStartingWith('cg$ ');
    expect(text.text).toBe('out\n');
    text.print('Password: hunter2');
    text.control('\n');
    text.redactLastLine('Password: ');
    expect(text.text).toBe('out\nPassword: \n');
    const small = new PlainText(8);
    small.print('12345');
    small.control('\n');
    small.print('Password: x');
    expect(small.truncated).toBe(true);
    small.cutAtLineStartingWith('cg$ ');
    small.redactLastLine('Pa');
    expect(small.text).toBe('12345\nPa');
  });
});

describe('isPlainOutput', () => {
  it('accepts text, line breaks, colours and erasing in the line', () => {
    expect(isPlainOutput(Buffer.from('plain\r\n\ttabbed, héllo, 日本\r\n'))).toBe(true);
    expect(isPlainOutput(Buffer.from('\x1b[1;31mred\x1b[0m\x1b[K\x1b[m\r\n'))).toBe(true);
  });

  it('refuses what changes the terminal beyond the line: other sequences, SO/SI, C1 controls, a cut sequence', () => {
    for (const text of ['\x1b[?1049h', '\x1b[2J', '\x1b]0;title\x07', '\x1b(0', 'a\x0eb', 'a\x0fb', 'a\u009b31m', 'cut \x1b[3', 'cut \x1b']) {
      expect(isPlainOutput(Buffer.from(text)), JSON.stringify(text)).toBe(false);
    }
    expect(isPlainOutput(Buffer.from([0x61, 0xc2]))).toBe(false); // a character cut at the end
  });
});

describe('OSC 133;D exit statuses', () => {
  const marks = (text: string) => {
    const seen: Array<[string, number | null]> = [];
    new TerminalTextDecoder().feed(text, {
      print: () => undefined,
      control: () => undefined,
      eraseLine: () => undefined,
      alternateScreen: () => undefined,
      bracketedPaste: () => undefined,
      shellMark: (mark, status) => seen.push([mark, status]),
    });
    return seen;
  };

  it('reads the status a shell reports, and none when it reports none or one no process can exit with', () => {
    expect(marks('\x1b]133;D;0\x07\x1b]133;D;1\x1b\\\x1b]133;D;130\x07\x1b]133;D;-1\x07')).toEqual([
      ['D', 0],
      ['D', 1],
      ['D', 130],
      ['D', -1],
    ]);
    expect(marks('\x1b]133;D\x07\x1b]133;D;\x07\x1b]133;D;abc\x07\x1b]133;A\x07')).toEqual([
      ['D', null],
      ['D', null],
      ['D', null],
      ['A', null],
    ]);
    // Beyond a 32-bit integer the value could not be stored: unknown, and the command is kept.
    expect(marks('\x1b]133;D;99999999999999999999\x07\x1b]133;D;2147483648\x07\x1b]133;D;2147483647\x07')).toEqual([
      ['D', null],
      ['D', null],
      ['D', 2147483647],
    ]);
  });
});

describe('execCommand', () => {
  it('keeps the exact command, the exit status and the output as plain text', () => {
    const time = new Date('2026-01-02T03:04:05Z');
    expect(execCommand("uptime && echo 'a  b'", time, 0.5, '\x1b[32mup\x1b[0m 3 days\r\n', 0)).toEqual({
      seq: 1,
      time,
      offsetSeconds: 0.5,
      text: "uptime && echo 'a  b'",
      output: 'up 3 days\n',
      outputTruncated: false,
      exitStatus: 0,
    });
    const big = execCommand('cat big', time, 1, 'x'.repeat(70_000), null);
    expect(big.output).toHaveLength(64 * 1024);
    expect(big.outputTruncated).toBe(true);
  });
});

describe('CommandCapture backlog', () => {
  it('returns at once from output() however much waits, and marks itself lossy past maxBacklogBytes', async () => {
    const commands: CapturedCommand[] = [];
    const capture = new CommandCapture({ cols: 80, rows: 24, onCommand: (c) => commands.push(c), maxBacklogBytes: 4 * 1024 * 1024 });
    const chunk = Buffer.from(`${'y'.repeat(79)}\r\n`.repeat(800)); // 64 800 bytes of `yes`-like output
    for (let k = 0; k < 100; k++) capture.output(chunk, k / 100);
    expect(capture.lossy).toBe(true); // 6.4 MB offered, 4 MiB accepted
    // The calls only queued: the emulator has not analysed a byte yet, nor skipped one. (Timing
    // them would measure the machine; that no work happened in them is what makes them quick.)
    expect(capture.backlogBytes).toBe(64 * chunk.length);
    expect(capture.skippedBytes).toBe(0);
    expect(await capture.finish()).toBe(0);
    expect(commands).toEqual([]);
    // The session says from when: the 65th chunk of 64 800 bytes, the first beyond the 4 MiB, was dropped.
    expect(capture.notes).toMatchObject([{ reason: 'backlog_overflow', offsetSeconds: 0.64 }]);
  });

  it('is not lossy while the backlog stays under the limit', async () => {
    const capture = new CommandCapture({ cols: 80, rows: 24, onCommand: () => undefined });
    capture.output('cg$ ', 0);
    capture.output(Buffer.from('héllo\r\n'), 0);
    expect(capture.lossy).toBe(false);
    await capture.finish();
    expect(capture.lossy).toBe(false);
    expect(capture.notes).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Against a real bash behind a real sshd. Ground truth: the shell's own history, written by
// `history -a` before each prompt, one `#<epoch>` line before each entry (HISTTIMEFORMAT), so an
// entry spanning lines (a quoted newline) is still one entry.

const USER = 'changegate-capture';
const PS1 = 'cg$ ';

interface Device {
  readonly sshd: TestSshd;
  /** A folder of the test user's, removed at the end: history files, completion targets. */
  readonly work: string;
  readonly privateKey: Buffer;
}

let device: Device;

/** The test user's password: what sudo asks for. */
const SUDO_PASSWORD = 'sudo-secret-pw-77';

function ensureUser(): void {
  if (spawnSync('id', [USER]).status !== 0) execFileSync('useradd', ['-m', '-s', '/bin/bash', USER]);
  // A password sudo asks for (sshd refuses only accounts whose password is locked with "!").
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: SUDO_PASSWORD }).toString().trim();
  execFileSync('usermod', ['-p', hash, USER]);
  writeFileSync(`/etc/sudoers.d/${USER}`, `${USER} ALL=(ALL) ALL\n`, { mode: 0o440 });
}

beforeAll(async () => {
  ensureUser();
  const [, , uid = '', gid = '', , home = ''] = execFileSync('getent', ['passwd', USER]).toString().trim().split(':');
  const keyDir = mkdtempSync(path.join(tmpdir(), 'changegate-capture-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keyDir, 'key')]);
  const privateKey = readFileSync(path.join(keyDir, 'key'));
  const publicKey = readFileSync(path.join(keyDir, 'key.pub'), 'utf8');
  rmSync(keyDir, { recursive: true, force: true });
  const work = path.join(home, `capture-test-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const own = (file: string): void => chownSync(file, Number(uid), Number(gid));
  own(work);
  writeFileSync(path.join(work, 'authorized_keys'), publicKey);
  writeFileSync(
    path.join(home, '.bash_profile'),
    [
      '# Written by src/sessions/command-capture.test.ts: history is the ground truth of its tests.',
      'HISTFILE="${CG_HISTFILE:-$HOME/.bash_history}"',
      'HISTCONTROL=',
      'HISTSIZE=100000',
      'HISTFILESIZE=100000',
      "HISTTIMEFORMAT='%s '",
      'shopt -s histappend',
      `PS1='cg\\$ '`,
      "PS2='> '",
      '[ -n "$CG_NO_BRACKETED_PASTE" ] && bind "set enable-bracketed-paste off" # as bash < 5.1',
      'if [ "$CG_OSC133" = d-only ]; then',
      '  # Only the exit status, as the simplest shell integration does: no prompt mark.',
      `  PROMPT_COMMAND='printf "\\033]133;D;%s\\007" "$?"; history -a'`,
      'elif [ -n "$CG_OSC133" ]; then',
      `  PROMPT_COMMAND='s=$?; history -a; printf "\\033]133;D;%s\\007\\033]133;A\\007" "$s"'`,
      'else',
      "  PROMPT_COMMAND='history -a'",
      'fi',
      '',
    ].join('\n'),
  );
  own(path.join(home, '.bash_profile'));
  for (const name of ['completion-alpha-1.txt', 'completion-alpha-2.txt', 'completion-unique-target.txt']) {
    writeFileSync(path.join(work, name), `${name}\n`);
    own(path.join(work, name));
  }
  const sshd = await startSshd({
    accountHome: true,
    extraConfig: ['AcceptEnv CG_HISTFILE CG_OSC133 CG_NO_BRACKETED_PASTE', `Match User ${USER}`, `  AuthorizedKeysFile ${path.join(work, 'authorized_keys')}`],
  });
  device = { sshd, work, privateKey };
});

afterAll(async () => {
  await device?.sshd.stop();
  if (device) rmSync(device.work, { recursive: true, force: true });
});

interface Shell {
  readonly capture: CommandCapture;
  readonly commands: CapturedCommand[];
  /** Sends one keystroke (or a pasted chunk) and waits until the device answers with some output. */
  press(keys: string): Promise<void>;
  /** Sends keystrokes that the device does not echo (a password), then waits for nothing. */
  pressBlind(keys: string): void;
  /** Types text one keystroke at a time, waiting for each echo. */
  type(text: string): Promise<void>;
  /** Waits until the screen ends with the shell's prompt. */
  waitForPrompt(): Promise<void>;
  /** Waits until the device printed `text` after the last keystroke. */
  waitForOutput(text: string): Promise<void>;
  /** The shell's history entries, once there are `count` of them. */
  history(count: number): Promise<string[]>;
  /** Resizes the terminal, as a client does: the device's pty and the capture alike. */
  resize(cols: number, rows: number): Promise<void>;
  /** Closes the session and returns everything captured. */
  close(): Promise<CapturedCommand[]>;
}

const KEY = {
  enter: '\r',
  tab: '\t',
  up: '\x1b[A',
  left: '\x1b[D',
  backspace: '\x7f',
  ctrlA: '\x01',
  ctrlC: '\x03',
  ctrlE: '\x05',
  ctrlR: '\x12',
  ctrlU: '\x15',
  ctrlW: '\x17',
  escape: '\x1b',
} as const;

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function historyEntries(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const entries: string[][] = [];
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (/^#\d+$/.test(line)) entries.push([]);
    else entries[entries.length - 1]?.push(line);
  }
  return entries.map((lines) => lines.join('\n'));
}

let sessionCount = 0;

async function connect(): Promise<Client> {
  const client = new Client();
  // Keystrokes go one per packet, as from a person; Nagle's algorithm would hold each for an ACK.
  const sock = net.connect(device.sshd.port, '127.0.0.1').setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ sock, username: USER, privateKey: device.privateKey });
  });
  return client;
}

async function openShell(options: { env?: Record<string, string>; maxOutputBytes?: number } = {}): Promise<Shell> {
  const histfile = path.join(device.work, `history-${++sessionCount}`);
  const client = await connect();
  const channel = await new Promise<ClientChannel>((resolve, reject) => {
    client.shell({ term: 'xterm-256color', cols: 80, rows: 24 }, { env: { CG_HISTFILE: histfile, ...options.env } }, (error, stream) =>
      error ? reject(error) : resolve(stream),
    );
  });
  const commands: CapturedCommand[] = [];
  const capture = new CommandCapture({
    cols: 80,
    rows: 24,
    onCommand: (command) => commands.push(command),
    ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
  });
  const started = Date.now();
  const offset = (): number => (Date.now() - started) / 1000;
  let raw = '';
  let sinceKey = ''; // output since the last keystroke sent
  let received = 0;
  channel.on('data', (data: Buffer) => {
    raw += data.toString('utf8');
    sinceKey += data.toString('utf8');
    received++;
    capture.output(data, offset());
  });
  const screenTail = (): string => plainText(raw.slice(-4096), 1 << 20).text;
  const send = (keys: string): void => {
    sinceKey = '';
    channel.write(keys);
    capture.input(keys, offset());
  };
  const shell: Shell = {
    capture,
    commands,
    async press(keys) {
      const before = received;
      send(keys);
      await waitFor(`the echo of ${JSON.stringify(keys)}`, () => received > before);
    },
    pressBlind: send,
    async type(text) {
      for (const ch of text) await shell.press(ch);
    },
    async waitForPrompt() {
      await waitFor('the prompt', () => screenTail().endsWith(`\n${PS1}`));
    },
    async waitForOutput(text) {
      await waitFor(JSON.stringify(text), () => plainText(sinceKey, 1 << 20).text.includes(text));
    },
    async history(count) {
      await waitFor(`${count} history entries`, () => historyEntries(histfile).length >= count);
      return historyEntries(histfile);
    },
    async resize(cols, rows) {
      const before = received;
      channel.setWindow(rows, cols, 0, 0);
      capture.resize(cols, rows);
      await waitFor('the redraw after SIGWINCH', () => received > before);
    },
    async close() {
      client.end();
      await new Promise((resolve) => channel.once('close', resolve));
      await capture.finish();
      return commands;
    },
  };
  await shell.waitForPrompt();
  return shell;
}

/** Types a line and presses Enter, then waits for the next prompt. */
async function run(shell: Shell, line: string): Promise<void> {
  await shell.type(line);
  await shell.press(KEY.enter);
  await shell.waitForPrompt();
}

const texts = (commands: readonly CapturedCommand[]): string[] => commands.map((c) => c.text);

let endedCount = 0;
/** A shell command that runs, printing nothing, until `end()`: lines typed while it runs wait on the test, not on a time. */
function commandUntilEnded(): { readonly command: string; end(): void } {
  const file = path.join(device.work, `ended-${++endedCount}`);
  return { command: `until [ -e ${file} ]; do sleep 0.05; done`, end: () => writeFileSync(file, '') };
}

describe('CommandCapture against bash over ssh (its history as ground truth)', () => {
  it('captures a simple command with its time, recording offset and output', async () => {
    const shell = await openShell();
    const before = Date.now();
    await run(shell, 'echo hello');
    await run(shell, "printf 'a\\nb\\n'");
    const history = await shell.history(2);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(captured.map((c) => c.seq)).toEqual([1, 2]);
    expect(captured.map((c) => c.output)).toEqual(['hello\n', 'a\nb\n']);
    expect(captured[0]?.time.getTime()).toBeGreaterThanOrEqual(before);
    expect(captured[0]?.offsetSeconds).toBeGreaterThan(0);
    expect(captured[1]?.offsetSeconds).toBeGreaterThan(captured[0]?.offsetSeconds ?? 0);
    expect(captured.every((c) => c.exitStatus === null && !c.outputTruncated)).toBe(true);
    expect(shell.commands).toEqual(captured);
  });

  it('records the command a history expansion ran, keeping what was typed beside it', async () => {
    const shell = await openShell();
    await run(shell, 'echo first-arg second-arg');
    await run(shell, 'echo !!');
    await run(shell, 'echo again !$');
    await run(shell, '!-3');
    await run(shell, '!echo');
    await run(shell, '^first^1st');
    await run(shell, 'echo !ech:s/echo/ECHO/');
    // bash ran nothing for an event it cannot find: what was typed is kept, with bash's error.
    await run(shell, 'echo !no-such-event');
    const history = await shell.history(7);
    const captured = await shell.close();
    // bash's history keeps the expanded line: the ground truth of what ran.
    expect(texts(captured).slice(0, 7)).toEqual(history);
    expect(texts(captured)).toEqual([
      'echo first-arg second-arg',
      'echo echo first-arg second-arg',
      'echo again second-arg',
      'echo first-arg second-arg',
      'echo first-arg second-arg',
      'echo 1st-arg second-arg',
      'echo ECHO 1st-arg second-arg',
      'echo !no-such-event',
    ]);
    expect(captured.map((command) => command.typed ?? null)).toEqual([null, 'echo !!', 'echo again !$', '!-3', '!echo', '^first^1st', 'echo !ech:s/echo/ECHO/', null]);
    // The echo of the expanded line is the command, not its output.
    expect(captured.map((command) => command.output).slice(1, 7)).toEqual([
      'echo first-arg second-arg\n',
      'again second-arg\n',
      'first-arg second-arg\n',
      'first-arg second-arg\n',
      '1st-arg second-arg\n',
      'ECHO 1st-arg second-arg\n',
    ]);
    expect(captured[7]?.output).toMatch(/: event not found\n$/);
  });

  it('leaves a nested shell on Ctrl-D without taking its "exit" for a command, and knows the outer prompt again at once', async () => {
    const shell = await openShell();
    await shell.type('bash --norc');
    await shell.press(KEY.enter);
    await shell.waitForOutput('$ ');
    await shell.type('echo inner');
    await shell.press(KEY.enter);
    await shell.waitForOutput('inner\n');
    await shell.waitForOutput('$ ');
    await shell.press('\x04');
    await shell.waitForPrompt();
    await run(shell, 'echo outer');
    // On a typed line, Ctrl-D deletes the character under the cursor: the line goes on.
    await shell.type('echo abXcd');
    for (let k = 0; k < 3; k++) await shell.press(KEY.left);
    await shell.press('\x04');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const history = await shell.history(3);
    const captured = await shell.close();
    expect(history).toEqual(['bash --norc', 'echo outer', 'echo abcd']);
    expect(texts(captured)).toEqual(['bash --norc', 'echo inner', 'echo outer', 'echo abcd']);
    expect(captured.map((command) => command.output).slice(1)).toEqual(['inner\n', 'outer\n', 'abcd\n']);
  });

  it('rebuilds the lines typed after stty -echo from their keys, Backspace and Ctrl-U applied, and says so', async () => {
    const shell = await openShell();
    await run(shell, 'stty -echo');
    // Nothing is echoed now: each key goes alone, as a person types, with no echo to wait for.
    const typeBlind = async (keys: string, output: string): Promise<void> => {
      for (const key of keys) shell.pressBlind(key);
      await shell.waitForOutput(output);
      await shell.waitForPrompt();
    };
    await typeBlind('echo one\r', 'one\n');
    await typeBlind(`echo twx${KEY.backspace}o\r`, 'two\n');
    await typeBlind(`rm -rf /tmp/nothing-here${KEY.ctrlU}echo th${KEY.left}${KEY.left}x${KEY.ctrlE}ree\r`, 'xthree\n');
    await typeBlind('stty echo\r', '\n');
    await run(shell, 'echo visible');
    const history = await shell.history(6);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(['stty -echo', 'echo one', 'echo two', 'echo xthree', 'stty echo', 'echo visible']);
    expect(captured.map((command) => command.fromKeystrokes ?? false)).toEqual([false, true, true, true, true, false]);
    expect(captured.map((command) => command.output).slice(1, 4)).toEqual(['one\n', 'two\n', 'xthree\n']);
    expect(shell.capture.notes.map((note) => note.reason)).toEqual(['keystrokes']);
    expect(shell.capture.notes[0]?.offsetSeconds).toBe(captured[1]?.offsetSeconds);
  });

  it('never stores a sudo password typed with echo off, and says a line it cannot rebuild is missing', async () => {
    const shell = await openShell();
    await run(shell, 'stty -echo');
    for (const key of 'sudo -k id -u\r') shell.pressBlind(key);
    await shell.waitForOutput(`[sudo] password for ${USER}:`);
    for (const key of `${SUDO_PASSWORD}\r`) shell.pressBlind(key);
    await shell.waitForOutput('0\n');
    await shell.waitForPrompt();
    // Recalled with the Up arrow: the line is in the shell's history, not in the keys.
    for (const key of [KEY.up, '\r']) shell.pressBlind(key);
    await shell.waitForOutput(`[sudo] password for ${USER}:`);
    for (const key of `${SUDO_PASSWORD}\r`) shell.pressBlind(key);
    await shell.waitForOutput('0\n');
    await shell.waitForPrompt();
    for (const key of 'stty echo\r') shell.pressBlind(key);
    // With echo off the screen already ends in a prompt: the one to wait for comes after this line.
    await shell.waitForOutput(PS1);
    const history = await shell.history(4);
    const captured = await shell.close();
    expect(history).toEqual(['stty -echo', 'sudo -k id -u', 'sudo -k id -u', 'stty echo']);
    expect(texts(captured)).toEqual(['stty -echo', 'sudo -k id -u', 'stty echo']);
    expect(JSON.stringify(captured)).not.toContain(SUDO_PASSWORD);
    expect(shell.capture.notes.map((note) => note.reason)).toEqual(['keystrokes', 'echo_off']);
  });

  it('says the capture is limited from the moment tmux starts on the device, and reads the outer shell again after it', async () => {
    const shell = await openShell();
    await run(shell, 'echo before');
    await shell.type('tmux -f /dev/null -L changegate-capture new-session');
    await shell.press(KEY.enter);
    await shell.waitForOutput(PS1);
    await shell.type('echo inside-tmux');
    await shell.press(KEY.enter);
    await shell.waitForOutput('inside-tmux');
    await shell.type('exit');
    await shell.press(KEY.enter);
    await shell.waitForOutput('[exited]');
    await shell.waitForPrompt();
    await run(shell, 'echo after');
    // The shell in tmux appends its own history to the same file.
    const history = await shell.history(5);
    const captured = await shell.close();
    expect([...history].sort()).toEqual(['echo after', 'echo before', 'echo inside-tmux', 'exit', 'tmux -f /dev/null -L changegate-capture new-session']);
    expect(texts(captured)).toEqual(['echo before', 'tmux -f /dev/null -L changegate-capture new-session', 'echo after']);
    expect(shell.capture.notes).toEqual([{ reason: 'multiplexer', since: captured[1]?.time, offsetSeconds: captured[1]?.offsetSeconds }]);
  });

  it('says the capture is limited when a shell prompt shows up in a full-screen program however it was started', async () => {
    const shell = await openShell();
    await run(shell, 'alias t="tmux -f /dev/null -L changegate-capture-alias"');
    await shell.type('t');
    await shell.press(KEY.enter);
    await shell.waitForOutput(PS1);
    await shell.type('echo inside');
    const typedAt = Date.now();
    await shell.press(KEY.enter);
    await shell.waitForOutput('inside');
    await shell.type('exit');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const captured = await shell.close();
    expect(texts(captured)).toEqual(['alias t="tmux -f /dev/null -L changegate-capture-alias"', 't']);
    expect(shell.capture.notes.map((note) => note.reason)).toEqual(['multiplexer']);
    expect(shell.capture.notes[0]?.since.getTime()).toBeGreaterThanOrEqual(typedAt);
  });

  it('records what Ctrl-X Ctrl-E and fc ran once the editor closed, as the shell\'s history has it', async () => {
    const shell = await openShell();
    await run(shell, 'export EDITOR=vi');
    await shell.type('echo edited');
    shell.pressBlind('\x18');
    await shell.press('\x05'); // Ctrl-X Ctrl-E: the line opens in vi
    await shell.waitForOutput('~');
    await shell.type(':s/edited/changed/');
    await shell.press(KEY.enter);
    await shell.type(':wq');
    await shell.press(KEY.enter);
    await shell.waitForOutput('changed\n');
    await shell.waitForPrompt();
    await run(shell, 'echo first');
    await shell.type('fc');
    await shell.press(KEY.enter);
    await shell.waitForOutput('~');
    await shell.press('A');
    await shell.type('; echo second');
    shell.pressBlind(KEY.escape);
    await shell.type(':wq');
    await shell.press(KEY.enter);
    await shell.waitForOutput('second\n');
    await shell.waitForPrompt();
    await run(shell, 'echo after');
    const history = await shell.history(5);
    const captured = await shell.close();
    // bash's history also keeps the line as it was before the edit (and fc's rewriting of the list
    // repeats an entry in the file): every command that ran is in it, in order.
    expect(texts(captured)).toEqual(['export EDITOR=vi', 'echo changed', 'echo first', 'echo first; echo second', 'echo after']);
    expect(history.filter((entry) => texts(captured).includes(entry)).filter((entry, k, all) => all.indexOf(entry) === k)).toEqual(texts(captured));
    expect(captured.map((command) => command.typed ?? null)).toEqual([null, null, null, 'fc', null]);
    // The shell's echo of the edited line is the command, not its output.
    expect(captured.map((command) => command.output)).toEqual(['', 'changed\n', 'first\n', 'first\nsecond\n', 'after\n']);
    expect(shell.capture.notes).toEqual([]);
    expect(JSON.stringify(captured)).not.toContain('written');
  });

  it('says commands may be missing when lines go on being typed at a prompt it does not recognise', async () => {
    const shell = await openShell();
    await run(shell, 'echo known');
    const unknownPrompt = async (line: string): Promise<void> => {
      await shell.type(line);
      await shell.press(KEY.enter);
      await shell.waitForOutput('\nx ');
    };
    await unknownPrompt("PS1='x '");
    await unknownPrompt('echo one');
    await unknownPrompt('echo two');
    const thirdAt = Date.now();
    await unknownPrompt('echo three');
    await shell.type("PS1='cg$ '");
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await run(shell, 'echo back');
    const history = await shell.history(7);
    const captured = await shell.close();
    expect(history).toEqual(['echo known', "PS1='x '", 'echo one', 'echo two', 'echo three', "PS1='cg$ '", 'echo back']);
    // Lines at `x ` are not read as commands; the session says so from the third line typed there.
    expect(texts(captured)).toEqual(['echo known', "PS1='x '", 'echo back']);
    expect(shell.capture.notes.map((note) => note.reason)).toEqual(['unrecognised_prompt']);
    expect(shell.capture.notes[0]?.since.getTime()).toBeGreaterThanOrEqual(thirdAt);
  });

  it('tells before Enter which line the shell would run: at its prompt, at PS2, with echo off, at a password prompt, in vi', async () => {
    const shell = await openShell();
    await shell.type('echo abd');
    await shell.press(KEY.left);
    await shell.type('X');
    await shell.press(KEY.ctrlA);
    await shell.type('# ');
    expect(await shell.capture.lineAtEnter()).toEqual({ where: 'shell', text: '# echo abXd', before: [], fromKeystrokes: false, settled: true, keys: '# echo abXd', shown: '# echo abXd' });
    await shell.press(KEY.ctrlE);
    await shell.press(KEY.ctrlU);
    await shell.type('echo "first');
    await shell.press(KEY.enter);
    await shell.waitForOutput('> ');
    await shell.type('second"');
    expect(await shell.capture.lineAtEnter()).toMatchObject({ where: 'shell', text: 'second"', before: ['echo "first'], settled: true });
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    expect(await shell.capture.lineAtEnter()).toMatchObject({ where: 'shell', text: '', before: [] });

    await run(shell, 'stty -echo');
    for (const key of `echo hidx${KEY.backspace}den`) shell.pressBlind(key);
    // Nothing echoed: the keys tell, and the caller waits for quiet before trusting them.
    expect(await shell.capture.lineAtEnter()).toMatchObject({ where: 'shell', text: 'echo hidden', before: [], fromKeystrokes: true, settled: false, keys: 'echo hidden' });
    shell.pressBlind(KEY.ctrlU);
    for (const key of 'stty echo\r') shell.pressBlind(key);
    // With echo off the screen already ends in a prompt: the one to wait for comes after this line.
    await shell.waitForOutput(PS1);

    await shell.type("read -s -p 'Password: ' secret");
    await shell.press(KEY.enter);
    await shell.waitForOutput('Password: ');
    shell.pressBlind('hunter2');
    // The keys are given for a check in memory only (a prompt may be made to look like a password's); the text is not.
    expect(await shell.capture.lineAtEnter()).toEqual({ where: 'secret', text: undefined, before: [], fromKeystrokes: false, settled: true, keys: 'hunter2' });
    shell.pressBlind('\r');
    await shell.waitForOutput(PS1); // on the line of "Password: "

    await shell.type('vi -u NONE');
    await shell.press(KEY.enter);
    await shell.waitForOutput('~');
    await shell.press('i');
    await shell.type('rm -rf typed-in-vi');
    expect(await shell.capture.lineAtEnter()).toMatchObject({ where: 'screen', text: undefined });
    shell.pressBlind(KEY.escape);
    await shell.type(':q!');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const captured = await shell.close();
    expect(JSON.stringify(captured)).not.toContain('hunter2');
  });

  it('records a line typed ahead while the previous command still runs, once the shell accepts it', async () => {
    const shell = await openShell();
    await shell.type('sleep 2');
    await shell.press(KEY.enter);
    // The terminal echoes what is typed while sleep runs; bash reads it at its next prompt.
    await shell.type('echo typed-ahead');
    await shell.press(KEY.enter);
    await shell.waitForOutput('typed-ahead\n');
    await shell.waitForPrompt();
    await run(shell, 'echo after');
    const history = await shell.history(3);
    const captured = await shell.close();
    expect(history).toEqual(['sleep 2', 'echo typed-ahead', 'echo after']);
    expect(texts(captured)).toEqual(history);
  });

  it('reads each line of a block pasted into dash, a shell without readline', async () => {
    const shell = await openShell();
    await shell.type('dash');
    await shell.press(KEY.enter);
    await shell.waitForOutput('$ ');
    shell.pressBlind('echo pasted-one\recho pasted-two\r');
    // The terminal echoes both lines at once, before dash runs either: the prompt after the second
    // command's output is the one to wait for (the first `$ ` may be the one after pasted-one).
    await shell.waitForOutput('pasted-two\n$ ');
    await shell.type('exit');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const captured = await shell.close();
    expect(texts(captured)).toEqual(['dash', 'echo pasted-one', 'echo pasted-two', 'exit']);
    expect(captured.map((command) => command.output).slice(1, 3)).toEqual(['pasted-one\n', 'pasted-two\n']);
  });

  it('takes no output for an expansion when bash expanded nothing (set +H): a line printed to look like one is output', async () => {
    const shell = await openShell();
    await run(shell, 'set +H');
    await run(shell, "printf '%s\\n' 'rm -rf /srv/data' # !!");
    const captured = await shell.close();
    expect(texts(captured)).toEqual(['set +H', "printf '%s\\n' 'rm -rf /srv/data' # !!"]);
    expect(captured[1]).toMatchObject({ output: 'rm -rf /srv/data\n' });
    expect(captured[1]?.typed ?? null).toBeNull();
  });

  it('reads what tab completion made of the line, including after a list of candidates', async () => {
    const shell = await openShell();
    await shell.type(`cd ${device.work}`);
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await shell.type('ech');
    await shell.press(KEY.tab);
    await run(shell, 'hi');
    await shell.type('cat completion-u');
    await shell.press(KEY.tab);
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await shell.type('ls completion-a');
    await shell.press(KEY.tab); // completes the common part and beeps
    await shell.press(KEY.tab); // beeps
    await shell.press(KEY.tab); // lists both candidates, then draws the prompt and line again below
    await shell.waitForOutput('completion-alpha-2.txt');
    await run(shell, '1.txt');
    const history = await shell.history(4);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    // Completion leaves a space after a file name; bash keeps it, and so does the capture.
    expect(texts(captured).slice(1)).toEqual(['echo hi', 'cat completion-unique-target.txt ', 'ls completion-alpha-1.txt']);
    expect(captured[2]?.output).toBe('completion-unique-target.txt\n');
  });

  it('reads a line recalled from history with the Up arrow and with Ctrl-R search', async () => {
    const shell = await openShell();
    await run(shell, 'echo recall-me');
    await shell.press(KEY.up);
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await run(shell, 'echo other');
    await shell.press(KEY.ctrlR);
    await shell.type('recall'); // the line shows "(reverse-i-search)`recall': echo recall-me"
    await shell.press(KEY.enter); // readline redraws the prompt and the line, cursor mid-line
    await shell.waitForPrompt();
    const history = await shell.history(4);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(['echo recall-me', 'echo recall-me', 'echo other', 'echo recall-me']);
  });

  it('reads a line edited with Left, insertion, Ctrl-A, Ctrl-E and Backspace', async () => {
    const shell = await openShell();
    await shell.type('cho wrld');
    for (let k = 0; k < 3; k++) await shell.press(KEY.left);
    await shell.press('o');
    await shell.press(KEY.ctrlA);
    await shell.press('e');
    await shell.press(KEY.ctrlE);
    await shell.type('xy');
    await shell.press(KEY.backspace);
    await shell.press(KEY.backspace);
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const history = await shell.history(1);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(['echo world']);
  });

  it('reads a line after Ctrl-W and Ctrl-U', async () => {
    const shell = await openShell();
    await shell.type('echo wrong words');
    await shell.press(KEY.ctrlW);
    await shell.press(KEY.ctrlW);
    await run(shell, 'right');
    await shell.type('garbage line');
    await shell.press(KEY.ctrlU);
    await run(shell, 'echo fresh');
    const history = await shell.history(2);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(['echo right', 'echo fresh']);
  });

  it('reads root\'s shell after sudo -i, and a nested zsh, each against its own history', async () => {
    const shell = await openShell();
    const rootHistory = path.join(device.work, `root-history-${process.pid}`);
    const zshHistory = path.join(device.work, `zsh-history-${process.pid}`);
    await shell.type('sudo -i');
    await shell.press(KEY.enter);
    await shell.waitForOutput(`[sudo] password for ${USER}:`);
    shell.pressBlind(`${SUDO_PASSWORD}\r`);
    await shell.waitForOutput('# ');
    const rootLine = async (line: string, output: string): Promise<void> => {
      await shell.type(line);
      await shell.press(KEY.enter);
      await shell.waitForOutput(output);
      await shell.waitForOutput('# ');
    };
    // root's bash writes its history when it exits, to the file named here.
    await rootLine(`HISTFILE=${rootHistory}; PS1='root# '`, 'root# ');
    await rootLine('id -u', '0\n');
    await shell.type('echo wrong');
    await shell.press(KEY.ctrlW);
    await rootLine('root-edited', 'root-edited\n');
    await shell.type('exit');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await shell.type('zsh -f');
    await shell.press(KEY.enter);
    await shell.waitForOutput('% ');
    const zshLine = async (line: string, output: string): Promise<void> => {
      await shell.type(line);
      await shell.press(KEY.enter);
      await shell.waitForOutput(output);
      await shell.waitForOutput('% ');
    };
    await zshLine(`HISTFILE=${zshHistory}; SAVEHIST=100; setopt INC_APPEND_HISTORY`, '% ');
    await zshLine('echo z-one', 'z-one\n');
    await shell.type('garbage');
    await shell.press(KEY.ctrlU);
    await zshLine('echo z-two', 'z-two\n');
    await shell.type('exit');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const history = await shell.history(2);
    const captured = await shell.close();
    const lines = (file: string): string[] => readFileSync(file, 'utf8').trimEnd().split('\n');
    try {
      expect(history).toEqual(['sudo -i', 'zsh -f']);
      expect(texts(captured)).toEqual([
        'sudo -i',
        // Each history ends with the `exit` that left it.
        ...lines(rootHistory).filter((line) => !/^#\d+$/.test(line)),
        'zsh -f',
        ...lines(zshHistory),
      ]);
      expect(texts(captured)).toContain('echo root-edited');
      expect(texts(captured)).toContain('echo z-two');
      expect(JSON.stringify(captured)).not.toContain(SUDO_PASSWORD);
      expect(shell.capture.notes).toEqual([]);
    } finally {
      rmSync(rootHistory, { force: true });
      rmSync(zshHistory, { force: true });
    }
  });

  it('joins a long line that wraps past 80 columns, and past 50 after a resize', async () => {
    const shell = await openShell();
    const long = `echo ${Array.from({ length: 40 }, (_, k) => `word${k}`).join(' ')}`;
    expect(long.length + PS1.length).toBeGreaterThan(160);
    await run(shell, long);
    await shell.resize(50, 20);
    const edited = `echo ${'x'.repeat(60)} end`;
    await shell.type(`${edited}ZZ`);
    for (let k = 0; k < 30; k++) await shell.press(KEY.left); // back onto the first row
    await shell.press(KEY.enter); // readline moves to the end of the line before the line feed
    await shell.waitForPrompt();
    const history = await shell.history(2);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual([long, `${edited}ZZ`]);
  });

  it('makes one command of lines continued by a trailing backslash, an open quote or a compound command', async () => {
    const shell = await openShell();
    await shell.type('echo one \\');
    await shell.press(KEY.enter);
    await run(shell, 'two');
    await shell.type('echo "first');
    await shell.press(KEY.enter);
    await run(shell, 'second"');
    await shell.type('for i in 1 2; do');
    await shell.press(KEY.enter);
    await shell.type('echo $i');
    await shell.press(KEY.enter);
    await run(shell, 'done');
    const history = await shell.history(3);
    const captured = await shell.close();
    // bash drops a backslash-newline and keeps a newline inside quotes, as the capture does; it
    // stores a compound command with "; " for the newlines (cmdhist), the capture keeps them.
    expect(texts(captured).slice(0, 2)).toEqual(history.slice(0, 2));
    expect(history).toEqual(['echo one two', 'echo "first\nsecond"', 'for i in 1 2; do echo $i; done']);
    expect(texts(captured)[2]).toBe('for i in 1 2; do\necho $i\ndone');
    expect(captured.map((c) => c.output)).toEqual(['one two\n', 'first\nsecond\n', '1\n2\n']);
  });

  it('captures nothing for a line abandoned with Ctrl-C, at the prompt or at PS2', async () => {
    const shell = await openShell();
    await shell.type('echo never');
    await shell.press(KEY.ctrlC);
    await shell.waitForPrompt();
    await run(shell, 'echo after');
    await shell.type('echo "unfinished');
    await shell.press(KEY.enter);
    await shell.press(KEY.ctrlC);
    await shell.waitForPrompt();
    await run(shell, 'echo last');
    const history = await shell.history(3);
    const captured = await shell.close();
    // bash keeps the first line of a command abandoned at PS2 in its history; it never ran.
    expect(history).toEqual(['echo after', 'echo "unfinished', 'echo last']);
    expect(texts(captured)).toEqual(['echo after', 'echo last']);
  });

  it('captures the command that started a full-screen program and nothing typed inside it', async () => {
    const programs = ['vim', 'less'].filter((name) => spawnSync('sh', ['-c', `command -v ${name}`]).status === 0);
    if (programs.length === 0) programs.push('top');
    const shell = await openShell();
    const expected: string[] = [];
    for (const program of programs) {
      if (program === 'vim') {
        await shell.type('vim -Nu NONE -n notes.txt');
        await shell.press(KEY.enter);
        await shell.waitForOutput('notes.txt');
        await shell.press('i');
        await shell.type('typed-inside-vim');
        shell.pressBlind(KEY.escape);
        await shell.type(':q!');
        await shell.press(KEY.enter);
        await shell.waitForPrompt();
        expected.push('vim -Nu NONE -n notes.txt');
      } else if (program === 'less') {
        await shell.type('less /etc/passwd');
        await shell.press(KEY.enter);
        await shell.waitForOutput('root:');
        await shell.type('/typed-inside-less');
        await shell.press(KEY.enter);
        await shell.press('q');
        await shell.waitForPrompt();
        expected.push('less /etc/passwd');
      } else {
        await shell.type('top');
        await shell.press(KEY.enter);
        await shell.waitForOutput('load average');
        await shell.press('q');
        await shell.waitForPrompt();
        expected.push('top');
      }
      await run(shell, `echo after-${program}`);
      expected.push(`echo after-${program}`);
    }
    const history = await shell.history(expected.length);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(expected);
    expect(JSON.stringify(captured)).not.toContain('typed-inside');
    // An editor or a pager is no multiplexer: the capture is complete.
    expect(shell.capture.notes).toEqual([]);
  });

  it('never stores what is typed at a password prompt (read -s, su)', async () => {
    const shell = await openShell();
    await shell.type("read -s -p 'Password: ' secret");
    await shell.press(KEY.enter);
    await shell.waitForOutput('Password: ');
    shell.pressBlind('hunter2-read-secret\r');
    await shell.waitForOutput(PS1); // on the line of "Password: ": read -s echoes no newline either
    await run(shell, 'echo ${#secret}');
    await shell.type('su -c true');
    await shell.press(KEY.enter);
    await shell.waitForOutput('Password: ');
    shell.pressBlind('su-secret-42\r');
    await shell.waitForOutput('Authentication failure');
    await shell.waitForPrompt();
    await shell.type("read -p 'Password: ' shown"); // a program that echoes what is typed
    await shell.press(KEY.enter);
    await shell.waitForOutput('Password: ');
    await shell.type('echoed-secret');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await run(shell, 'echo done');
    const history = await shell.history(5);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(["read -s -p 'Password: ' secret", 'echo ${#secret}', 'su -c true', "read -p 'Password: ' shown", 'echo done']);
    expect(captured[1]?.output).toBe('19\n'); // the secret reached the shell
    expect(captured[2]?.output).toContain('Authentication failure');
    expect(captured[3]?.output).toBe('Password: \n');
    const stored = JSON.stringify(captured);
    expect(stored).not.toContain('hunter2');
    expect(stored).not.toContain('su-secret');
    expect(stored).not.toContain('echoed-secret');
  });

  it('caps the output it keeps and marks it truncated', async () => {
    const shell = await openShell({ maxOutputBytes: 1000 });
    await run(shell, 'seq 1 5');
    await run(shell, 'seq 1 20000');
    const history = await shell.history(2);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(captured[0]).toMatchObject({ output: '1\n2\n3\n4\n5\n', outputTruncated: false });
    expect(captured[1]?.outputTruncated).toBe(true);
    expect(Buffer.byteLength(captured[1]?.output ?? '')).toBe(1000);
    expect(captured[1]?.output.startsWith('1\n2\n3\n')).toBe(true);
  });

  it('keeps up with bulk output, plain or coloured, and reads the lines typed after it', async () => {
    const shell = await openShell();
    await run(shell, 'seq 1 300000');
    await run(shell, "seq 1 60000 | sed 's/.*/\\x1b[1;31m&\\x1b[0m ok\\x1b[K/'");
    // Edited at the prompt right after the flood: the line is read from the screen the flood left.
    await shell.type('cho after-flood');
    await shell.press(KEY.ctrlA);
    await shell.type('e');
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    const history = await shell.history(3);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(history[2]).toBe('echo after-flood');
    expect(captured[0]?.output.startsWith('1\n2\n3\n')).toBe(true);
    expect(captured[0]?.outputTruncated).toBe(true);
    expect(captured[1]?.output.startsWith('1 ok\n2 ok\n')).toBe(true);
    expect(captured[2]).toMatchObject({ output: 'after-flood\n', outputTruncated: false });
    expect(shell.capture.lossy).toBe(false);
    // Most of the 2.5 MB never went through the emulator: only what was left on the screen mattered.
    expect(shell.capture.skippedBytes).toBeGreaterThan(2_000_000);
  });

  it('reads pasted lines, bracketed or not, and lines typed ahead, as the commands the shell ran', async () => {
    const shell = await openShell();
    await shell.press('\x1b[200~echo p1\recho p2\x1b[201~');
    await shell.press(KEY.enter);
    await shell.waitForOutput('p2\n');
    await shell.waitForPrompt();
    await shell.press('echo t1\recho t2\r'); // typed ahead in one chunk, before any echo
    await shell.waitForOutput('t2\n');
    await shell.waitForPrompt();
    // A command that runs until the test lets it end, not for a time: on a busy machine, a line
    // typed during `sleep 0.5` could come in part while it runs and in part after.
    const running = commandUntilEnded();
    await shell.type(running.command);
    await shell.press(KEY.enter);
    await shell.type('echo ahead'); // typed while it runs: the terminal echoes it, bash reads it later
    await shell.press(KEY.enter);
    running.end();
    await shell.waitForOutput('ahead\n');
    await shell.waitForPrompt();
    const history = await shell.history(6);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual(['echo p1', 'echo p2', 'echo t1', 'echo t2', running.command, 'echo ahead']);
    expect(captured.map((c) => c.output)).toEqual(['', 'p1\np2\n', 't1\n', 't2\n', 'echo ahead\n', 'ahead\n']);
  });

  // The second line holds the prompt's own text after the place where bash's prompt came.
  it.for([
    { before: 'echo ah', after: 'ead', output: 'ahead\n' },
    { before: "echo x'c", after: "g$ 'y", output: 'xcg$ y\n' },
  ])('reads a line typed partly while a command runs and finished after its prompt, which came on the same row as the echo: $before|$after', async ({ before, after, output }) => {
    const shell = await openShell();
    const running = commandUntilEnded();
    await shell.type(running.command);
    await shell.press(KEY.enter);
    await shell.type(before); // echoed by the terminal while the command runs
    running.end();
    // The command printed no line end: bash's prompt follows the echo, and readline shows the line again.
    await shell.waitForOutput(`${PS1}${before}`);
    await shell.type(after);
    await shell.press(KEY.enter);
    await shell.waitForOutput(output);
    await shell.waitForPrompt();
    const history = await shell.history(2);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual([running.command, before + after]);
    expect(captured.map((c) => c.output)).toEqual([before, output]);
  });

  it('reads lines the same without bracketed paste (readline < 8.1), where a line feed accepts a line', async () => {
    const shell = await openShell({ env: { CG_NO_BRACKETED_PASTE: '1' } });
    const edited = `echo ${'x'.repeat(90)} end`;
    await shell.type(`${edited}ZZ`);
    for (let k = 0; k < 30; k++) await shell.press(KEY.left); // onto the first row: readline moves down by line feeds
    await shell.press(KEY.enter);
    await shell.waitForPrompt();
    await shell.type('echo "a');
    await shell.press(KEY.enter);
    await run(shell, 'b"');
    await shell.type('echo never');
    await shell.press(KEY.ctrlC);
    await shell.waitForPrompt();
    await shell.press('echo t1\recho t2\r'); // a paste, as keystrokes
    await shell.waitForOutput('t2\n');
    await shell.waitForPrompt();
    const history = await shell.history(4);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(texts(captured)).toEqual([`${edited}ZZ`, 'echo "a\nb"', 'echo t1', 'echo t2']);
    expect(captured.map((c) => c.output)).toEqual([`${'x'.repeat(90)} endZZ\n`, 'a\nb\n', 't1\n', 't2\n']);
  });

  it('takes the exit status from OSC 133;D shell integration, and ends output at OSC 133;A', async () => {
    const shell = await openShell({ env: { CG_OSC133: '1' } });
    await run(shell, 'true');
    await run(shell, "sh -c 'echo out; exit 7'");
    await run(shell, 'false');
    const history = await shell.history(3);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    expect(captured.map((c) => c.exitStatus)).toEqual([0, 7, 1]);
    expect(captured[1]?.output).toBe('out\n');
  });

  it('takes the exit status from a shell that prints only OSC 133;D, and gives a comment line none', async () => {
    const shell = await openShell({ env: { CG_OSC133: 'd-only' } });
    await run(shell, 'false');
    await run(shell, '# the line above failed, as planned');
    await run(shell, 'true');
    await run(shell, "sh -c 'exit 42'");
    const history = await shell.history(4);
    const captured = await shell.close();
    expect(texts(captured)).toEqual(history);
    // bash keeps $? across a comment line and reports 1 again after it: that status is not the comment's.
    expect(captured.map((c) => c.exitStatus)).toEqual([1, null, 0, 42]);
  });

  it('reports no exit status, never a made-up one, from a shell without shell integration', async () => {
    const shell = await openShell();
    await run(shell, 'false');
    await run(shell, 'true');
    const captured = await shell.close();
    expect(texts(captured)).toEqual(['false', 'true']);
    expect(captured.map((c) => c.exitStatus)).toEqual([null, null]);
  });

  it('captures an exec request exactly', async () => {
    const client = await connect();
    const text = "echo 'a  b' && exit 3";
    const time = new Date();
    const result = await new Promise<{ output: string; code: number | null }>((resolve, reject) => {
      client.exec(text, (error, stream) => {
        if (error) return reject(error);
        let output = '';
        stream.on('data', (data: Buffer) => (output += data.toString()));
        stream.on('exit', (code: number | null) => stream.once('close', () => resolve({ output, code })));
      });
    });
    client.end();
    expect(execCommand(text, time, 0, result.output, result.code)).toEqual({
      seq: 1,
      time,
      offsetSeconds: 0,
      text,
      output: 'a  b\n',
      outputTruncated: false,
      exitStatus: 3,
    });
  });
});

describe('what the capture holds, measured', () => {
  it(`keeps at most ${MAX_PENDING_ENTERS} lines typed into a running program waiting for the shell`, async () => {
    const capture = new CommandCapture({ cols: 80, rows: 24, maxBacklogBytes: 64 * 1024 * 1024, onCommand: () => undefined });
    capture.output('cg$ ', 0);
    capture.input('cat', 0);
    capture.output('cat', 0);
    capture.input('\r', 0);
    capture.output('\r\n', 0);
    capture.output(`${'y'.repeat(79)}\r\n`.repeat(600), 0); // fills the scrollback first
    await new Promise<void>((resolve) => {
      const check = () => (capture.backlogBytes === 0 ? resolve() : setTimeout(check, 10));
      check();
    });
    const before = retainedMemory();
    for (let k = 0; k < 100_000; k++) {
      capture.input('x', k);
      capture.output('x', k);
      capture.input('\r', k);
      capture.output('\r\n', k);
    }
    capture.output('x\r\n', 0); // parsed after all of the above
    await new Promise<void>((resolve) => {
      const check = () => (capture.backlogBytes === 0 ? resolve() : setTimeout(check, 10));
      check();
    });
    expect(capture.pendingEnters).toBe(MAX_PENDING_ENTERS);
    // 100 000 of them, kept, held 22 MB (measured).
    expect(retainedMemory() - before).toBeLessThan(2 * 1024 * 1024);
    await capture.finish();
  });

  it('holds at most maxBacklogBytes (8 MiB) of output waiting, however much arrives at once', async () => {
    const capture = new CommandCapture({ cols: 80, rows: 24, onCommand: () => undefined });
    const before = retainedMemory();
    // 64 MiB in fresh buffers, in one turn: the emulator parses nothing meanwhile.
    for (let k = 0; k < 64; k++) capture.output(Buffer.alloc(1024 * 1024, 0x79), k);
    expect(capture.backlogBytes).toBeLessThanOrEqual(DEFAULT_MAX_BACKLOG_BYTES);
    expect(capture.lossy).toBe(true);
    const held = retainedMemory() - before;
    // The measure sees what is queued; the margin is for memory other test files in this worker free meanwhile.
    expect(held).toBeGreaterThan(DEFAULT_MAX_BACKLOG_BYTES * 0.5);
    expect(held).toBeLessThan(DEFAULT_MAX_BACKLOG_BYTES + 2 * 1024 * 1024);
    expect(await capture.finish()).toBe(0);
  });

  it('keeps no command once it is handed over, and at most maxOutputBytes of the output of each', async () => {
    const maxOutputBytes = 4096;
    let handed = 0;
    let longest = 0;
    const capture = new CommandCapture({
      cols: 80,
      rows: 24,
      maxOutputBytes,
      maxBacklogBytes: 256 * 1024 * 1024,
      onCommand: (command) => {
        handed++;
        longest = Math.max(longest, command.output.length);
      },
    });
    const output = `${'z'.repeat(79)}\r\n`.repeat(100); // 8 KB a command, twice what is kept
    const before = retainedMemory();
    capture.output('cg$ ', 0);
    for (let k = 0; k < 2000; k++) {
      capture.input(`true ${k}`, k);
      capture.output(`true ${k}`, k);
      capture.input('\r', k);
      capture.output(`\r\n${output}cg$ `, k);
    }
    expect(await capture.finish()).toBe(2000);
    const held = retainedMemory() - before;
    expect(handed).toBe(2000);
    expect(longest).toBe(maxOutputBytes);
    // Kept, the 2000 outputs alone would hold 8 MB.
    expect(held).toBeLessThan(1024 * 1024);
  });
});
