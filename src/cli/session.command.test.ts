import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { runCliInProcess, signedInOperator, startCliServer, type CliOperator } from '../../test/cli-kit.ts';
import { keyPair, OutputWatcher, PROMPT, setUpExecutor, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { DatabaseKind } from '../platform/database.ts';
import type { CastEvent } from '../sessions/index.ts';
import { formatDuration, play, playbackSchedule } from './session.command.ts';

const runFile = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/changegate.js', import.meta.url));
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Runs the program in this process, signed in nowhere: help and usage errors need no server. */
const run = (args: readonly string[]) => runCliInProcess(args, { env: {} });

/**
 * Starts `changegate <args>` through the package bin in `cwd` (the bin finds its compiled program
 * itself, from any directory), signed in as `operator`, and keeps hold of it: for a default output
 * file, or a signal mid-command. Only these need a process of their own.
 */
function startChangegate(operator: CliOperator, args: readonly string[], cwd: string) {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHANGEGATE_') && name !== 'DATABASE_URL'));
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...inherited, ...operator.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = new OutputWatcher(`changegate ${args.join(' ')} (stdout)`);
  const stderr = new OutputWatcher(`changegate ${args.join(' ')} (stderr)`);
  child.stdout?.on('data', (chunk: Buffer) => stdout.append(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk.toString('utf8')));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout: stdout.text, stderr: stderr.text })),
  );
  return { child, stdout, stderr, ended };
}

describe('changegate session on the command line', () => {
  const HELP: Array<[string, readonly string[]]> = [
    ['session', ['list', 'show', 'download', 'play', 'terminate']],
    ['session list', ['--user <username>', '--device <device>', '--change <id>', '--live', '--from <time>', '--to <time>', '--command <text>', '--limit <n>', '--json']],
    ['session show', ['<number>', 'exit status and output', '--json']],
    ['session download', ['<number>', '--output <file>', 'session-<number>.cast', 'SHA-256']],
    ['session play', ['<number>', '--speed <n>', '--idle-limit <seconds>', 'Ctrl+C']],
    ['session terminate', ['<number>', 'Session.Terminate', '--reason <text>']],
  ];

  it.each(HELP)('changegate %s --help exits 0 and names its options', async (command, mentions) => {
    const { code, stdout } = await run([...command.split(' '), '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: changegate ${command} `));
    for (const mention of mentions) expect(stdout.replace(/\s+/g, ' ')).toContain(mention);
    expect(stdout).not.toContain('--as');
  });

  it('answers a wrong command line with exit code 2 before asking any server', async () => {
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

describe('changegate session against a server and its gateway', () => {
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
   * A server with its gateway on a fresh installation where alice ran a shell session (two
   * commands) and an exec session, and has a third one open: the number of each, and the
   * administrator signed in with `changegate login`.
   */
  async function serverWithSessions(kind: DatabaseKind, onTestFinished: TestContext['onTestFinished']) {
    // Recordings as files on both databases: the test changes one by hand (the database store is tested in crash.test.ts and recording-store.test.ts).
    const server = await startCliServer(kind, { CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_RECORDING_STORE: 'files' }, { realTime: true });
    onTestFinished(() => server.remove());
    const { sshPort: port } = await server.cg.startBackground();
    const cast = await setUpExecutor(server.url, { adminPassword: ADMIN_PASSWORD, sshd, rootKey: deviceKey.privateKey, aliceKey: aliceKey.publicKey, change: 'CHG-CLI' });

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
    const admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
    onTestFinished(() => admin.remove());
    return { server, admin, open, numbers: { shell: shellSession, exec, live } };
  }

  /** Where the gateway wrote a session's recording: under the data directory, by day. */
  const recordingFileOf = (dataDir: string, session: { id: string; startedAt: string }) => path.join(dataDir, 'recordings', session.startedAt.slice(0, 10), `${session.id}.cast`);

  it('on postgres lists, shows, downloads, plays and terminates sessions while the server runs', { timeout: 120_000 }, async ({ onTestFinished }) => {
    const { server, admin, open, numbers } = await serverWithSessions('postgres', onTestFinished);
    const { changegate } = admin;
    const json = async <T>(args: readonly string[]): Promise<T> => JSON.parse((await changegate(args)).stdout) as T;

    // The open session is live; terminating it through the API ends it at once, and alice is told.
    expect((await json<Array<{ number: number }>>(['session', 'list', '--live', '--json'])).map((session) => session.number)).toEqual([numbers.live]);
    expect((await changegate(['session', 'terminate', String(numbers.live), '--reason', 'the window moved'])).stdout).toBe(`Terminated session ${numbers.live} of alice on web01; alice was told: the window moved.\n`);
    await open.exited;
    expect(open.output).toContain('terminated by admin: the window moved');

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
      [String(numbers.live), 'alice', 'web01', 'root', 'CHG-CLI', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\dZ$/), expect.stringMatching(/^\d+s$/), 'terminated by admin', '0'],
      [String(numbers.exec), 'alice', 'web01', 'root', 'CHG-CLI', expect.any(String), expect.any(String), 'client closed', '1'],
      [String(numbers.shell), 'alice', 'web01', 'root', 'CHG-CLI', expect.any(String), expect.any(String), 'client closed', '2'],
    ]);
    expect(filtered.map((session) => session.number)).toEqual([numbers.live, numbers.exec]);
    expect(byCommand.map((session) => session.number)).toEqual([numbers.shell]);
    expect(ended.stderr).toBe(`error: Session ${numbers.shell} already ended (client_closed).\n`);

    const recordingFile = recordingFileOf(server.dataDir, detailsJson as { id: string; startedAt: string });
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
      recordingUrl: `${server.url}/api/v1/sessions/${numbers.shell}/recording`,
      commands: [
        expect.objectContaining({ seq: 1, text: 'echo cli-marker-$((2+3))', output: 'cli-marker-5\n', offsetSeconds: expect.any(Number) }),
        expect.objectContaining({ seq: 2, text: 'exit' }),
      ],
    });
    expect(details.stdout).toContain(`Session:      ${numbers.shell}\n`);
    expect(details.stdout).toMatch(/^Source: +127\.0\.0\.1 port \d+$/m);
    expect(details.stdout).toMatch(/^Request: +#1$/m);
    expect(details.stdout).toMatch(/^End reason: +client closed$/m);
    // Bash echoes every line: nothing was rebuilt or missed.
    expect(details.stdout).toMatch(/^Capture: +complete$/m);
    expect(detailsJson).toMatchObject({ capture: { status: 'complete', reasons: [] } });
    expect(details.stdout).toContain(`Recording:    ${server.url}/api/v1/sessions/${numbers.shell}/recording\n`);
    expect(details.stdout).toContain(`SHA-256:      ${detailsJson.recordingSha256 as string}\n`);
    expect(details.stdout).toMatch(/^Commands \(2\):\n {2}1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}\+\d+\.\ds {2}exit unknown {2}echo cli-marker-\$\(\(2\+3\)\)\n {6}cli-marker-5\n {2}2 .* exit$/m);

    // Downloads: to a named file, and to session-<n>.cast in the current directory; each checked against the recorded hash.
    const target = path.join(dir, 'shell.cast');
    const downloads = mkdtempSync(path.join(dir, 'downloads-'));
    const [named, byDefault] = await Promise.all([
      changegate(['session', 'download', String(numbers.shell), '--output', target]),
      startChangegate(admin, ['session', 'download', String(numbers.shell)], downloads).ended,
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
    const slow = startChangegate(admin, ['session', 'play', String(numbers.shell), '--speed', '0.001'], dir);
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
  });

  it('on pglite reads sessions while the server runs on the embedded database, plays beside another command, and says when the server is gone', { timeout: 120_000 }, async ({ onTestFinished }) => {
    const { server, admin, open, numbers } = await serverWithSessions('pglite', onTestFinished);

    const listed = await admin.json<unknown[]>(['session', 'list', '--json']);
    expect(listed).toEqual([
      expect.objectContaining({ number: numbers.live, endReason: null, live: true, commandCount: 0 }),
      expect.objectContaining({ number: numbers.exec, kind: 'exec', execCommand: 'echo exec-marker', endReason: 'client_closed', commandCount: 1 }),
      expect.objectContaining({ number: numbers.shell, kind: 'shell', endReason: 'client_closed', commandCount: 2 }),
    ]);

    const target = path.join(dir, 'pglite-exec.cast');
    const download = await admin.changegate(['session', 'download', String(numbers.exec), '--output', target]);
    expect(download.stdout).toContain('It matches the hash recorded when the session ended.');
    expect(readFileSync(target, 'utf8')).toContain('exec-marker');

    // While a slow playback runs in its own process, another command runs beside it.
    const slow = startChangegate(admin, ['session', 'play', String(numbers.shell), '--speed', '0.001'], dir);
    onTestFinished(() => void slow.child.kill('SIGKILL'));
    await slow.stderr.waitFor('Ctrl+C stops.');
    const beside = await admin.changegate(['session', 'show', String(numbers.shell)]);
    expect(beside.stdout).toMatch(/^ {6}cli-marker-5$/m);
    slow.child.kill('SIGINT');
    expect((await slow.ended).code).toBe(130);

    // Stopping the server ends the open session; the commands then say they cannot reach it.
    await server.stop();
    await open.exited;
    expect((await admin.changegate(['session', 'list'], 1)).stderr).toBe(
      `error: Cannot reach Changegate at ${server.url} (ECONNREFUSED): is the server running there, and is the address right?\n`,
    );
  });
});
