import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi, type TestContext } from 'vitest';
import { gatewayPortOf, keyPair, OutputWatcher, PROMPT, setUpExecutor, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { CastEvent } from '../sessions/index.ts';
import { newInstallation, runChangegate, startServer, type CliResult, type Installation } from './cli-process.testing.ts';
import { runCli } from './program.ts';
import { formatDuration, play, playbackSchedule } from './session.command.ts';

const runFile = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/changegate.js', import.meta.url));
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** What a command printed, for a failed expectation to show. */
const shown = (args: readonly string[], result: CliResult) => `changegate ${args.join(' ')} → ${result.code}\n${result.stdout}${result.stderr}`;

/** Runs the program in this process (no database is opened for help and usage errors) and captures its output. */
async function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const code = await runCli(args);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

/**
 * Starts `changegate <args>` through the package bin in `cwd` (the bin finds tsx itself, from any
 * directory) and keeps hold of it: for a default output file, or a signal mid-command.
 */
function startChangegate(installation: Installation, args: readonly string[], cwd: string) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHANGEGATE_') && name !== 'DATABASE_URL'));
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...inherited, ...installation.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = new OutputWatcher(`changegate ${args.join(' ')} (stdout)`);
  const stderr = new OutputWatcher(`changegate ${args.join(' ')} (stderr)`);
  child.stdout?.on('data', (chunk: Buffer) => stdout.append(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString('utf8')));
  const ended = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout: stdout.text, stderr: stderr.text })));
  return { child, stdout, stderr, ended };
}

describe('changegate session on the command line', () => {
  afterEach(() => vi.restoreAllMocks());

  const HELP: Array<[string, readonly string[]]> = [
    ['session', ['list', 'show', 'download', 'play', 'terminate']],
    ['session list', ['--user <username>', '--device <device>', '--change <id>', '--live', '--from <time>', '--to <time>', '--command <text>', '--limit <n>', '--json']],
    ['session show', ['<number>', 'exit status and output', '--json']],
    ['session download', ['<number>', '--output <file>', 'session-<number>.cast', 'SHA-256']],
    ['session play', ['<number>', '--speed <n>', '--idle-limit <seconds>', 'Ctrl+C']],
    ['session terminate', ['<number>', 'Session.Terminate']],
  ];

  it.each(HELP)('changegate %s --help exits 0 and names its options', async (command, mentions) => {
    const { code, stdout } = await run([...command.split(' '), '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: changegate ${command} `));
    for (const mention of [...mentions, '--as <username>']) expect(stdout.replace(/\s+/g, ' ')).toContain(mention);
  });

  it('answers a wrong command line with exit code 2 before opening any database', async () => {
    const cases: Array<[readonly string[], string]> = [
      [['session', 'show', 'latest'], 'expected a session number'],
      [['session', 'show', '0'], 'expected a session number from 1'],
      [['session', 'list', '--from', 'yesterday'], 'expected an ISO 8601 time with a time zone'],
      [['session', 'list', '--limit', '5000'], 'expected a number of sessions from 1 to 1000'],
      [['session', 'play', '7', '--speed', '0'], 'expected a speed above 0'],
      [['session', 'play', '7', '--idle-limit', '-1'], 'expected a number of seconds above 0'],
      [['session', 'download'], "missing required argument 'number'"],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr, args.join(' ')).toContain(message);
    }
  });

  it('schedules playback like asciinema play: each pause cut to the idle limit, then all divided by the speed', () => {
    const events: CastEvent[] = [
      [0.5, 'o', 'a'],
      [0.6, 'r', '100x30'],
      [10.6, 'o', 'b'],
      [10.7, 'm', 'marker'],
      [11, 'o', 'c'],
    ];
    const at = (options: Parameters<typeof playbackSchedule>[1]) => playbackSchedule(events, options).map((step) => [Math.round(step.atMs), step.data]);
    expect(at({ speed: 1 })).toEqual([
      [500, 'a'],
      [10_600, 'b'],
      [11_000, 'c'],
    ]);
    expect(at({ speed: 1, idleLimit: 2 })).toEqual([
      [500, 'a'],
      [2600, 'b'],
      [3000, 'c'],
    ]);
    expect(at({ speed: 2, idleLimit: 2 })).toEqual([
      [250, 'a'],
      [1300, 'b'],
      [1500, 'c'],
    ]);
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(7620)).toBe('2h07m');
  });

  it('plays each step no earlier than its time, and stops at once when asked', async () => {
    const out = new PassThrough();
    const written: Array<[number, string]> = [];
    const started = performance.now();
    out.on('data', (chunk: Buffer) => written.push([performance.now() - started, chunk.toString()]));
    expect(await play([{ atMs: 0, data: 'a' }, { atMs: 150, data: 'b' }], out, new Promise(() => {}))).toBe(true);
    expect(written.map(([, data]) => data).join('')).toBe('ab');
    expect(written.at(-1)?.[0]).toBeGreaterThanOrEqual(149);

    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const playing = play([{ atMs: 0, data: 'first' }, { atMs: 60_000, data: 'never' }], out, stopped);
    await waitUntil(async () => (written.some(([, data]) => data === 'first') ? true : undefined), 'the first step');
    stop();
    expect(await playing).toBe(false);
    expect(written.map(([, data]) => data)).not.toContain('never');
  });
});

describe('changegate session beside a server and its gateway', () => {
  let dir: string;
  let sshd: TestSshd;
  let deviceKey: ReturnType<typeof keyPair>;
  let aliceKey: ReturnType<typeof keyPair>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-session-cli-'));
    deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
  });

  afterAll(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A server on a fresh installation where alice ran a shell session (two commands) and an exec
   * session, and has a third one open: the number of each.
   */
  async function serverWithSessions(kind: Installation['kind'], onTestFinished: TestContext['onTestFinished']) {
    const installation = await newInstallation(kind, { CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD });
    onTestFinished(() => installation.remove());
    const server = await startServer(installation);
    onTestFinished(async () => void (await server.stop('SIGKILL')));
    const cast = await setUpExecutor(server.url, { adminPassword: ADMIN_PASSWORD, sshd, rootKey: deviceKey.privateKey, aliceKey: aliceKey.publicKey, change: 'CHG-CLI' });
    const port = gatewayPortOf(server.stdout());

    const shell = new Terminal(port, 'alice@web01', aliceKey.file);
    onTestFinished(() => void shell.close());
    await shell.waitFor(PROMPT);
    shell.type('echo cli-marker-$((2+3))\r');
    await shell.waitFor(/cli-marker-5\r\n.*[#$] $/s);
    shell.type('exit\r');
    expect(await shell.exited).toBe(0);
    expect(await ssh(port, 'alice@web01', 'echo exec-marker', { key: aliceKey.file })).toMatchObject({ code: 0, stdout: 'exec-marker\n' });
    const open = new Terminal(port, 'alice@web01', aliceKey.file);
    onTestFinished(() => void open.close());
    await open.waitFor(PROMPT);

    const sessions = await waitUntil(async () => {
      const listed = (await cast.admin.get('/sessions?device=web01')).body as Array<{ number: number; live: boolean; execCommand: string | null }>;
      return listed.length === 3 && listed.filter((session) => session.live).length === 1 ? listed : undefined;
    }, 'the two ended sessions and the open one');
    const [live, exec, shellSession] = sessions.map((session) => session.number) as [number, number, number];
    return { installation, server, open, numbers: { shell: shellSession, exec, live } };
  }

  it(
    'on postgres lists, shows, downloads, plays and terminates sessions while the server runs and after it stopped',
    { timeout: 120_000 },
    async ({ onTestFinished }) => {
      const { installation, server, open, numbers } = await serverWithSessions('postgres', onTestFinished);
      const changegate = async (args: readonly string[], expectedCode = 0) => {
        const result = await runChangegate(installation, args);
        expect(result.code, shown(args, result)).toBe(expectedCode);
        return result;
      };
      const json = async <T>(args: readonly string[]): Promise<T> => JSON.parse((await changegate(args)).stdout) as T;

      // Beside the running server (PostgreSQL is shared): the open session is live, and only the server can end it.
      const [live, refused] = await Promise.all([
        json<Array<{ number: number }>>(['session', 'list', '--live', '--json']),
        changegate(['session', 'terminate', String(numbers.live)], 1),
      ]);
      expect(live.map((session) => session.number)).toEqual([numbers.live]);
      expect(refused.stderr).toBe(
        `error: Session ${numbers.live} runs in a Changegate server, which this command cannot reach into: end it through that server's API ` +
          `(POST /api/v1/sessions/${numbers.live}/terminate, with Session.Terminate) or its web interface.\n`,
      );

      // Stopping the server ends the open session.
      expect((await server.stop('SIGTERM')).code).toBe(0);
      await open.exited;

      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const [table, filtered, byCommand, details, detailsJson, ended] = await Promise.all([
        changegate(['session', 'list']),
        json<Array<{ number: number }>>(['session', 'list', '--user', 'alice', '--device', 'web01', '--change', 'CHG-CLI', '--from', from, '--to', to, '--limit', '2', '--json']),
        json<Array<{ number: number }>>(['session', 'list', '--command', 'cli-marker', '--json']),
        changegate(['session', 'show', `#${numbers.shell}`]),
        json<Record<string, unknown>>(['session', 'show', String(numbers.shell), '--json']),
        changegate(['session', 'terminate', String(numbers.shell)], 1),
      ]);

      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NUMBER +USER +DEVICE +ACCOUNT +CHANGE +START +DURATION +END REASON +COMMANDS$/);
      expect(lines.slice(1).map((line) => line.split(/ {2,}/))).toEqual([
        [String(numbers.live), 'alice', 'web01', 'root', 'CHG-CLI', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\dZ$/), expect.stringMatching(/^\d+s$/), 'gateway stopped', '0'],
        [String(numbers.exec), 'alice', 'web01', 'root', 'CHG-CLI', expect.any(String), expect.any(String), 'client closed', '1'],
        [String(numbers.shell), 'alice', 'web01', 'root', 'CHG-CLI', expect.any(String), expect.any(String), 'client closed', '2'],
      ]);
      expect(filtered.map((session) => session.number)).toEqual([numbers.live, numbers.exec]);
      expect(byCommand.map((session) => session.number)).toEqual([numbers.shell]);
      expect(ended.stderr).toBe(`error: Session ${numbers.shell} already ended (client_closed).\n`);

      const recordingFile = detailsJson.recordingFile as string;
      expect(detailsJson).toMatchObject({
        number: numbers.shell,
        kind: 'shell',
        user: 'alice',
        sourceIp: '127.0.0.1',
        sourcePort: expect.any(Number),
        device: 'web01',
        account: 'root',
        change: 'CHG-CLI',
        request: 1,
        live: false,
        endReason: 'client_closed',
        exitStatus: 0,
        bytesIn: expect.any(Number),
        bytesOut: expect.any(Number),
        recordingSha256: sha256Of(recordingFile),
        recordingFile: expect.stringContaining(path.join(installation.dataDir, 'recordings')),
        commands: [
          expect.objectContaining({ seq: 1, text: 'echo cli-marker-$((2+3))', output: 'cli-marker-5\n', offsetSeconds: expect.any(Number) }),
          expect.objectContaining({ seq: 2, text: 'exit' }),
        ],
      });
      expect(details.stdout).toContain(`Session:      ${numbers.shell}\n`);
      expect(details.stdout).toMatch(/^Source: +127\.0\.0\.1 port \d+$/m);
      expect(details.stdout).toMatch(/^Request: +#1$/m);
      expect(details.stdout).toMatch(/^End reason: +client closed$/m);
      expect(details.stdout).toContain(`SHA-256:      ${detailsJson.recordingSha256 as string}\n`);
      expect(details.stdout).toMatch(/^Commands \(2\):\n {2}1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}\+\d+\.\ds {2}exit \? {2}echo cli-marker-\$\(\(2\+3\)\)\n {6}cli-marker-5\n {2}2 .* exit$/m);

      // Downloads: to a named file, and to session-<n>.cast in the current directory; each checked against the recorded hash.
      const target = path.join(dir, 'shell.cast');
      const downloads = mkdtempSync(path.join(dir, 'downloads-'));
      const [named, byDefault] = await Promise.all([
        changegate(['session', 'download', String(numbers.shell), '--output', target]),
        startChangegate(installation, ['session', 'download', String(numbers.shell)], downloads).ended,
      ]);
      expect(named.stdout).toBe(
        `Saved the recording of session ${numbers.shell} to ${target} (${readFileSync(target).length} bytes).\n` +
          `SHA-256: ${detailsJson.recordingSha256 as string}\nIt matches the hash recorded when the session ended.\n`,
      );
      expect(byDefault.code, byDefault.stderr).toBe(0);
      expect(sha256Of(path.join(downloads, `session-${numbers.shell}.cast`))).toBe(detailsJson.recordingSha256);
      expect((await runFile('asciinema', ['play', '-i', '0.05', target], { timeout: 30_000 })).stdout).toContain('cli-marker-5');

      // Playing: with its timing cut short, the whole recording; slowed down, Ctrl+C stops it.
      const played = await changegate(['session', 'play', String(numbers.shell), '--speed', '4', '--idle-limit', '0.05']);
      expect(played.stdout).toContain('cli-marker-5');
      expect(played.stderr).toMatch(new RegExp(`^Playing the recording of session ${numbers.shell} \\(\\d+\\.\\d s\\); Ctrl\\+C stops\\.\n$`));
      const slow = startChangegate(installation, ['session', 'play', String(numbers.shell), '--speed', '0.001'], dir);
      await slow.stderr.waitFor('Ctrl+C stops.');
      slow.child.kill('SIGINT');
      const interrupted = await slow.ended;
      expect(interrupted.code).toBe(130);
      expect(interrupted.stdout).not.toContain('cli-marker-5');
      expect(interrupted.stderr).toContain(`Stopped playing session ${numbers.shell}.`);

      // A recording changed after its session ended is caught.
      appendFileSync(recordingFile, '[99, "o", "forged"]\n');
      const forged = await changegate(['session', 'download', String(numbers.shell), '--output', path.join(dir, 'forged.cast')], 1);
      expect(forged.stderr).toBe(
        `error: The recording of session ${numbers.shell} does not match the SHA-256 recorded when the session ended (${detailsJson.recordingSha256 as string}): ` +
          `the file was changed since. The copy in ${path.join(dir, 'forged.cast')} is kept for inspection.\n`,
      );
    },
  );

  it('on pglite reads sessions once the server has stopped, and plays without holding the embedded database', { timeout: 120_000 }, async ({ onTestFinished }) => {
    const { installation, server, open, numbers } = await serverWithSessions('pglite', onTestFinished);
    expect((await server.stop('SIGTERM')).code).toBe(0);
    await open.exited;

    const listed = await runChangegate(installation, ['session', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ number: numbers.live, endReason: 'gateway_stopped', live: false, commandCount: 0 }),
      expect.objectContaining({ number: numbers.exec, kind: 'exec', execCommand: 'echo exec-marker', endReason: 'client_closed', commandCount: 1 }),
      expect.objectContaining({ number: numbers.shell, kind: 'shell', endReason: 'client_closed', commandCount: 2 }),
    ]);

    const target = path.join(dir, 'pglite-exec.cast');
    const download = await runChangegate(installation, ['session', 'download', String(numbers.exec), '--output', target]);
    expect(download.code, download.stderr).toBe(0);
    expect(download.stdout).toContain('It matches the hash recorded when the session ended.');
    expect(readFileSync(target, 'utf8')).toContain('exec-marker');

    // While a slow playback runs, another command opens the embedded database: play released it.
    const slow = startChangegate(installation, ['session', 'play', String(numbers.shell), '--speed', '0.001'], dir);
    onTestFinished(() => void slow.child.kill('SIGKILL'));
    await slow.stderr.waitFor('Ctrl+C stops.');
    const beside = await runChangegate(installation, ['session', 'show', String(numbers.shell)]);
    expect(beside.code, beside.stderr).toBe(0);
    expect(beside.stdout).toMatch(/^ {6}cli-marker-5$/m);
    slow.child.kill('SIGINT');
    expect((await slow.ended).code).toBe(130);
    expect(existsSync(path.join(installation.dataDir, 'changegate.pid'))).toBe(false);
  });
});
