import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import ssh2 from 'ssh2';
import { WebSocket } from 'ws';
import { addDevice, addOpenChange, approvedRequest, keyPair, must } from '../test/gateway-kit.ts';
import { createMigratedPostgresDatabase } from '../test/databases.ts';
import { ADMIN_PASSWORD, buildUser, signIn, startTestChangegate, TEST_MASTER_KEY, type TestChangegate, type TestClient } from '../test/harness.ts';
import { startSshd, type TestSshd } from '../test/sshd.ts';
import { createChangegate, type Changegate } from '../src/changegate.ts';
import { loadConfig } from '../src/platform/config.ts';
import { parseCast, verifyRecordingAgainstLog } from '../src/sessions/index.ts';
import type { Benchmark, BenchFigure, BenchTarget } from './run.ts';

/**
 * The SSH gateway beside a direct OpenSSH session to the same sshd, both measured in the same run:
 * bulk output, keystroke echo, connect and run `true`, and 200 recorded sessions at once. The
 * gateway runs in this process (Changegate on PGlite); the clients are the real `ssh` binary, or
 * for the 200 sessions ssh2 clients on a worker thread. Both sides use the same cipher and key
 * exchange, so the figures compare the gateway, not algorithms. Bulk output is also measured
 * through a plain ssh2 relay in this process (no broker, recording or capture): what the SSH
 * library alone costs, the ceiling for any gateway built on it.
 *
 * Sizing: what a live session costs this process, idle at its prompt and printing steadily (CPU
 * time by `process.cpuUsage()`, memory by `process.memoryUsage()` after a full collection), beside
 * the same shells through the plain relay; the shells are held by a child process, whose CPU is
 * not counted. Two instances: two Changegates in this process on one PostgreSQL database, the
 * clients spread over both gateways, 200 and then 1,000 sessions at once beside the same load
 * direct, every output and recording checked (recordings read through the API, verified against
 * the event log). `CHANGEGATE_BENCH_PARTS` picks parts (see `PARTS`).
 */

/** One way in: straight to sshd as root, or through the gateway as alice@<device>. */
interface Endpoint {
  readonly name: string;
  readonly port: number;
  readonly login: string;
  readonly keyFile: string;
  readonly privateKey: string;
}

interface Rig {
  readonly dir: string;
  readonly sshd: TestSshd;
  readonly t: TestChangegate;
  readonly direct: Endpoint;
  /** Through the gateway to web01, in change CHG-BENCH. */
  readonly gateway: Endpoint;
  /** Through the gateway to fleet01, in a change of its own: the 200 sessions at once. */
  readonly fleet: Endpoint;
  /** Through the gateway to guarded01, whose change's access group has a command policy (`GUARD_RULES`). */
  readonly guarded: Endpoint;
  /** Through a plain ssh2 relay to the same sshd. */
  readonly relay: Endpoint;
  readonly recordingsDir: string;
  readonly stopRelay: () => Promise<void>;
}

/** AES-GCM is OpenSSL's on both sides (ssh2 without its optional native binding does Poly1305 in wasm). */
const CIPHER = 'aes128-gcm@openssh.com';
/** OpenSSH 9's default, sntrup761x25519, is slower and ssh2 lacks it: both sides use this. */
const KEX = 'curve25519-sha256';
/** Bulk output is base64 of zeros, 57 bytes to a 76-character line, so its size is exact. A pty is slower. */
const BULK_LINES = { exec: 1_500_000, shell: 400_000 };
const BULK_RUNS = 5;
const KEYSTROKES = 500;
/** Lines run at the shell to time Enter, with and without a command policy. */
const ENTERS = 200;
/** A realistic policy: a score of rules, globs and expressions, none of which `true` matches. */
const GUARD_RULES = [
  ...['rm -rf /*', 'mkfs*', 'dd if=* of=/dev/*', 'shutdown*', 'reboot*', 'halt*', 'poweroff*', 'init 0', 'systemctl stop *', 'iptables -F*'].map((pattern) => ({ kind: 'deny', syntax: 'glob', pattern })),
  ...['^userdel ', '^passwd( |$)', 'chmod -R 777 ', '>\\s*/etc/(passwd|shadow)', '^crontab -r'].map((pattern) => ({ kind: 'deny', syntax: 'regex', pattern })),
  ...['sudo *', 'su *', 'apt-get *'].map((pattern) => ({ kind: 'warn', syntax: 'glob', pattern })),
  ...['^systemctl (restart|reload) ', '^kill -9 '].map((pattern) => ({ kind: 'review', syntax: 'regex', pattern })),
];
const CONNECTS = 30;
const CONCURRENT = 200;
/** The loads the issue asks of two instances on PostgreSQL: 200 within 2× of direct, and 1,000 all complete. */
const LOADS_ON_TWO = [CONCURRENT, 1000] as const;
const MOST_AT_ONCE = Math.max(...LOADS_ON_TWO);
/** Bytes of zeros each of the concurrent sessions prints as base64 (54 kB of output each). */
const CONCURRENT_BYTES = 57 * 700;
/** Unique in the output and absent from the echo of the command that prints it (`DO%sNE`). */
const END_MARK = 'DOXNE';
/**
 * Which parts run: all unless CHANGEGATE_BENCH_PARTS names some, e.g. `concurrent,sizing`. `two`
 * is the 1,000 sessions through two instances on PostgreSQL (a database made for it and dropped).
 */
const PARTS = new Set((process.env.CHANGEGATE_BENCH_PARTS ?? 'bulk,echo,policy,progress,connect,concurrent,sizing,two').split(',').map((part) => part.trim()));
/** Shells held open for the sizing figures, and how long each figure is measured: one heartbeat interval. */
const SIZING_SESSIONS = 200;
const SIZING_WINDOW_MS = 15_000;
/** What each streaming shell runs: a 77-byte line every 100 ms (770 B/s), a busy `tail -f`. */
const STREAM_COMMAND = `perl -e '$|=1; while (1) { print "x" x 76, "\\n"; select(undef, undef, undef, 0.1) }'`;
/** Unauthenticated connections the gateway admits at once, from one address too: all the concurrent clients. */
const ADMISSION = 2000;

/** A real sshd, a Changegate with its gateway, alice as executor with a key, and approved requests on two devices. */
async function setUp(): Promise<Rig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-bench-'));
  const deviceKey = keyPair(dir, 'device_root');
  const aliceKey = keyPair(dir, 'alice');
  // The device's shell starts without the login user's dotfiles (root's may run pyenv here: 100 ms
  // a session, and a lock that 200 sessions queue on for a minute): the bench measures the gateway.
  const home = path.join(dir, 'home');
  mkdirSync(home);
  const sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey], extraConfig: ['MaxStartups 300', 'MaxSessions 300', `SetEnv HOME=${home}`] });
  // The clients all come from 127.0.0.1 at once: the gateway's admission limits (32 unauthenticated
  // connections from one address) would turn most of them away.
  const t = await startTestChangegate('pglite', {
    CHANGEGATE_SSH_PORT: '0',
    CHANGEGATE_HTTP_HOST: '127.0.0.1',
    CHANGEGATE_LOG_LEVEL: 'silent',
    CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED: String(ADMISSION),
    CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED_PER_SOURCE: String(ADMISSION),
  });
  const started = await t.cg.startBackground();
  const alice = await buildUser(t, { username: 'alice' });
  const carol = await buildUser(t, { username: 'carol' });
  await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'registering alice’s key');
  // Each device in a change of its own: the change audit rereads a change's sessions as each
  // ends, so the 200 at once should not carry the sessions measured before them.
  for (const [device, change] of [['web01', 'CHG-BENCH'], ['fleet01', 'CHG-FLEET'], ['guarded01', 'CHG-GUARDED']] as const) {
    await addDevice(t.admin, device, sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: change, devices: [device], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, device);
  }
  await must(t.admin.patch('/access-groups/chg-guarded-team', { commandPolicy: { rules: GUARD_RULES } }), 200, 'setting the command policy');
  const through = (login: string): Endpoint => ({ name: 'gateway', port: started.sshPort, login, keyFile: aliceKey.file, privateKey: aliceKey.privateKey });
  const relay = await startPlainRelay(keyPair(dir, 'relay_host').privateKey, sshd.port, deviceKey.privateKey);
  return {
    dir,
    sshd,
    t,
    direct: { name: 'direct', port: sshd.port, login: 'root', keyFile: deviceKey.file, privateKey: deviceKey.privateKey },
    gateway: through('alice@web01'),
    fleet: through('alice@fleet01'),
    guarded: through('alice@guarded01'),
    relay: { name: 'ssh2 relay', port: relay.port, login: 'root', keyFile: aliceKey.file, privateKey: aliceKey.privateKey },
    recordingsDir: path.join(t.cg.config.dataDir, 'recordings'),
    stopRelay: relay.stop,
  };
}

/**
 * An SSH server that lets anyone in and relays each shell or exec request to the device as root,
 * with ssh2 on both sides and nothing else: the data path of a gateway without its work.
 */
async function startPlainRelay(hostKey: string, devicePort: number, deviceKey: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (connection) => {
    (connection as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
    connection.on('authentication', (context) => context.accept());
    connection.on('ready', () => {
      connection.on('session', (acceptSession) => {
        const session = acceptSession();
        let pty: ssh2.PseudoTtyOptions | undefined;
        session.on('pty', (accept, _reject, info) => {
          pty = { term: info.term, cols: info.cols, rows: info.rows, width: 0, height: 0 };
          accept();
        });
        const relay = (down: ssh2.ServerChannel, command: string | undefined) => {
          const upstream = new ssh2.Client();
          upstream.once('connect', () => upstream.setNoDelay(true));
          upstream.on('error', () => down.close());
          upstream.on('ready', () => {
            const opened = (error: Error | undefined, up: ssh2.ClientChannel) => {
              if (error) return down.close();
              up.on('data', (data: Buffer) => down.write(data));
              up.stderr.on('data', (data: Buffer) => down.stderr.write(data));
              down.on('data', (data: Buffer) => up.write(data));
              up.on('exit', (code: number | null) => down.exit(code ?? 0));
              up.on('close', () => {
                down.end();
                upstream.end();
              });
            };
            if (command === undefined) upstream.shell(pty ?? false, opened);
            else upstream.exec(command, pty ? { pty } : {}, opened);
          });
          upstream.connect({ host: '127.0.0.1', port: devicePort, username: 'root', privateKey: deviceKey });
        };
        session.on('shell', (accept) => relay(accept(), undefined));
        session.on('exec', (accept, _reject, info) => relay(accept(), info.command));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { port, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

async function tearDown(rig: Rig): Promise<void> {
  await rig.stopRelay();
  await rig.t.close();
  await rig.sshd.stop();
  rmSync(rig.dir, { recursive: true, force: true });
}

/** The `ssh` arguments to reach an endpoint, ignoring any user configuration. */
function sshArgs(endpoint: Endpoint, extra: readonly string[] = []): string[] {
  const options = ['IdentitiesOnly=yes', 'StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR', 'BatchMode=yes', `KexAlgorithms=${KEX}`];
  return ['-F', '/dev/null', '-p', String(endpoint.port), '-i', endpoint.keyFile, '-c', CIPHER, ...options.flatMap((option) => ['-o', option]), ...extra, `${endpoint.login}@127.0.0.1`];
}

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

const median = (values: readonly number[]) => percentile(values, 0.5);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/**
 * Output rate, in MB/s of output, from the device starting to print to the client's last byte.
 * Both ends are stamped with `date +%s%N` on this machine (sshd runs here): the start on the
 * device, the end by `grep` finding the end mark in ssh's stdout, so the bytes never pass through
 * this process (the gateway's). `shell` types the command into an interactive shell (a pty: the
 * gateway captures commands) once its prompt is up; `exec` runs it without a pty. Also returns
 * this process's CPU time per MB, which says what the gateway spends whatever the machine.
 */
async function bulkRate(rig: Rig, endpoint: Endpoint, mode: 'exec' | 'shell'): Promise<{ rate: number; cpuMsPerMB: number }> {
  const started = path.join(rig.dir, 'started');
  const received = path.join(rig.dir, 'received');
  await Promise.all([rm(started, { force: true }), rm(received, { force: true })]);
  const lines = BULK_LINES[mode];
  const command = `date +%s%N > ${started}; head -c ${lines * 57} /dev/zero | base64; printf '${END_MARK.slice(0, 2)}%sNE\\n' X`;
  const ssh = ['ssh', ...sshArgs(endpoint, mode === 'shell' ? ['-tt'] : ['-T']), ...(mode === 'exec' ? [command] : [])].map(quote).join(' ');
  // The shell's prompt becomes `READY⏎# `, written at once: the command is typed once READY is
  // seen, after the prompt, as a person would (the capture reads a command after its prompt).
  const ready = mode === 'shell' ? 'grep -F -m1 -q READY && echo ready >&2; ' : '';
  const script = `${ssh} | { ${ready}grep -F -m1 -q ${END_MARK} && date +%s%N > ${received}; cat > /dev/null; }`;
  const cpu = process.cpuUsage();
  const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'pipe'] });
  const done = exited(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.includes('ready\n')) {
      stderr = stderr.replace('ready\n', '');
      // stdin stays open until the shell exits: an early EOF could end the session first.
      child.stdin?.write(`${command}; exit\n`);
    }
  });
  if (mode === 'shell') child.stdin?.write(`PS1='RE''ADY\\n# '\n`);
  await done;
  child.stdin?.end();
  const used = process.cpuUsage(cpu);
  const [from, to] = await Promise.all([readFile(started, 'utf8'), readFile(received, 'utf8')]).catch(() => {
    throw new Error(`the bulk output (${mode}, ${endpoint.name}) did not arrive whole: ${stderr}`);
  });
  const seconds = Number(BigInt(to.trim()) - BigInt(from.trim())) / 1e9;
  // A pty turns each \n into \r\n.
  const megabytes = (lines * (mode === 'shell' ? 78 : 77)) / 1e6;
  return { rate: megabytes / seconds, cpuMsPerMB: (used.user + used.system) / 1000 / megabytes };
}

/** The median of a few runs each way, taken in turns so that all sides see the same machine. */
async function bulk(rig: Rig, mode: 'exec' | 'shell'): Promise<{ direct: number; gateway: number; relay: number }> {
  const direct: number[] = [];
  const gateway: number[] = [];
  const relay: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < BULK_RUNS; run++) {
    direct.push((await bulkRate(rig, rig.direct, mode)).rate);
    const through = await bulkRate(rig, rig.gateway, mode);
    gateway.push(through.rate);
    cpu.push(through.cpuMsPerMB);
    await removeRecordings(rig);
    relay.push((await bulkRate(rig, rig.relay, mode)).rate);
  }
  const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(', ');
  console.log(`bulk ${mode}: direct ${list(direct)} MB/s; gateway ${list(gateway)} MB/s, its CPU ${list(cpu)} ms/MB; plain ssh2 relay ${list(relay)} MB/s`);
  if (mode === 'shell') {
    const sessions: Array<{ kind: string; captureLossy: boolean; commandCount: number }> = (await rig.t.admin.get('/sessions?device=web01&limit=1000')).body;
    const shells = sessions.filter((session) => session.kind === 'shell');
    const captured = shells.filter((session) => session.commandCount > 0).length;
    const lossy = shells.filter((session) => session.captureLossy).length;
    console.log(`bulk shell: of ${shells.length} sessions, ${captured} had the command captured, ${lossy} left output unanalysed (capture backlog full)`);
  }
  return { direct: median(direct), gateway: median(gateway), relay: median(relay) };
}

async function removeRecordings(rig: Rig): Promise<void> {
  await waitForNoLiveSessions(rig.t.admin);
  await rm(rig.recordingsDir, { recursive: true, force: true });
}

async function waitForNoLiveSessions(admin: TestClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await admin.get('/sessions?live=true')).body.length > 0) {
    if (Date.now() > deadline) throw new Error('sessions are still live a minute after their clients left');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An interactive `ssh -tt` shell to `endpoint`: keys in, and a wait for what its output (since `clear`) comes to hold. */
function interactiveShell(endpoint: Endpoint) {
  const child = spawn('ssh', sshArgs(endpoint, ['-tt']), { stdio: ['pipe', 'pipe', 'inherit'] });
  const done = exited(child);
  let output = '';
  let waiter: (() => void) | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('latin1');
    waiter?.();
  });
  return {
    type: (text: string) => child.stdin?.write(text),
    clear: () => {
      output = '';
    },
    async until(pattern: RegExp): Promise<void> {
      while (!pattern.test(output)) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer from ${endpoint.name}; the terminal shows ${JSON.stringify(output.slice(-200))}`)), 10_000);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    /** Types `exit` after `keys` and waits for ssh to end (killed if it has not). */
    async exit(keys = ''): Promise<void> {
      child.stdin?.write(`${keys}exit\r`);
      await done;
    },
    kill: () => child.kill(),
  };
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 2));

/**
 * Enter: an `ssh -tt` shell, `true` typed and then Enter, timed from writing the Enter to ssh's
 * stdin until the next prompt comes out of ssh's stdout. With a command policy, the Enter waits
 * for the line to be read and checked; without, it goes on at once.
 */
async function enterLatency(endpoint: Endpoint): Promise<number[]> {
  const shell = interactiveShell(endpoint);
  const times: number[] = [];
  try {
    await shell.until(/[#$] $/);
    for (let k = 0; k < ENTERS; k++) {
      shell.clear();
      shell.type('true');
      await shell.until(/true$/);
      shell.clear();
      const start = performance.now();
      shell.type('\r');
      await shell.until(/[#$] $/);
      times.push(performance.now() - start);
      await pause();
    }
    await shell.exit();
  } finally {
    shell.kill();
  }
  return times;
}

/** Commands whose board a watcher is sent, timed. */
const PUSHES = 40;

/**
 * The live board: a watcher on the watch socket of a session through the gateway, and `echo`
 * typed PUSHES times. For each, from the Enter until the prompt is back (the baseline: the command
 * itself) and until the watcher has the board with it (a command is taken as done once the device
 * has been quiet 100 ms at its prompt; the issue's target: within a second of the command).
 */
async function progressLatency(rig: Rig): Promise<{ prompt: number[]; board: number[] }> {
  const address = await rig.t.cg.app.listen({ port: 0, host: '127.0.0.1' });
  const shell = interactiveShell(rig.gateway);
  const prompt: number[] = [];
  const board: number[] = [];
  let socket: WebSocket | undefined;
  try {
    await shell.until(/[#$] $/);
    const live = await rig.t.admin.get('/sessions?live=true&limit=1');
    const number = (live.body as Array<{ number: number }>)[0]?.number;
    const cookie = (rig.t.admin.credentials as { cookie: string }).cookie;
    socket = new WebSocket(`${address.replace(/^http/, 'ws')}/api/v1/sessions/${number}/watch`, { headers: { cookie: `changegate_session=${cookie}` } });
    // When the board first held each count of this session's commands.
    const seen = new Map<number, number>();
    let wake: (() => void) | undefined;
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(String(data)) as { type?: string; progress?: { rows: Array<{ command: { session: number } | null }> } };
      if (message.type !== 'progress' || !message.progress) return;
      const own = message.progress.rows.filter((row) => row.command?.session === number).length;
      if (!seen.has(own)) seen.set(own, performance.now());
      wake?.();
    });
    const boardWith = async (count: number) => {
      while (!seen.has(count)) await new Promise<void>((resolve) => (wake = resolve));
      return seen.get(count) as number;
    };
    await boardWith(0);
    for (let k = 1; k <= PUSHES; k++) {
      shell.clear();
      shell.type(`echo p${k}`);
      await shell.until(new RegExp(`echo p${k}$`));
      shell.clear();
      const start = performance.now();
      shell.type('\r');
      await shell.until(/[#$] $/);
      prompt.push(performance.now() - start);
      board.push((await boardWith(k)) - start);
    }
    await shell.exit();
  } finally {
    socket?.close();
    shell.kill();
  }
  return { prompt, board };
}

/**
 * Keystroke echo: an `ssh -tt` shell, one character at a time, timed from writing it to ssh's
 * stdin until bash's readline echo of it comes out of ssh's stdout. Ctrl-U clears the line every
 * 50 characters, unmeasured; a short pause after each echo lets the gateway's capture catch up.
 */
async function echoLatency(endpoint: Endpoint): Promise<number[]> {
  const shell = interactiveShell(endpoint);
  const times: number[] = [];
  try {
    await shell.until(/[#$] $/);
    for (let k = 0; k < KEYSTROKES; k++) {
      if (k % 50 === 0 && k > 0) {
        shell.clear();
        shell.type('\x15');
        await shell.until(/./s);
        await pause();
      }
      shell.clear();
      const start = performance.now();
      shell.type('x');
      await shell.until(/x/);
      times.push(performance.now() - start);
      await pause();
    }
    await shell.exit('\x15');
  } finally {
    shell.kill();
  }
  return times;
}

/** `ssh … true`, end to end, `CONNECTS` times each way, in turns, after one unmeasured each. */
async function connectTimes(rig: Rig): Promise<{ direct: number[]; gateway: number[] }> {
  const once = async (endpoint: Endpoint) => {
    const start = performance.now();
    const code = await exited(spawn('ssh', [...sshArgs(endpoint, ['-T']), 'true'], { stdio: ['ignore', 'ignore', 'inherit'] }));
    if (code !== 0) throw new Error(`ssh ${endpoint.name} true exited with ${code}`);
    return performance.now() - start;
  };
  await once(rig.direct);
  await once(rig.gateway);
  const direct: number[] = [];
  const gateway: number[] = [];
  for (let k = 0; k < CONNECTS; k++) {
    direct.push(await once(rig.direct));
    gateway.push(await once(rig.gateway));
  }
  return { direct, gateway };
}

/** What concurrent session `k` prints: its own marks around base64 of zeros, wrapped as `base64` does. */
function expectedOutput(k: number): string {
  const body = Buffer.alloc(CONCURRENT_BYTES).toString('base64').replace(/.{76}/g, '$&\n');
  return `BEGIN-${k}\n${body.endsWith('\n') ? body : `${body}\n`}END-${k}\n`;
}

/**
 * The clients of the concurrent sessions, on a worker thread so that they do not share the
 * gateway's event loop. Session `k` connects to `ports[k % ports.length]` (spreading them over the
 * instances), at most `HANDSHAKES` handshakes at a time: sshd accepts from a queue of 128, and
 * beyond it a connection is reset (the direct side lost sessions so at 1,000). Each command first
 * reads a line: once every session is open, all are told to go at once, so all are live together.
 * Each reports its status and output.
 */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const { Client } = require(workerData.ssh2);
const { ports, username, privateKey, commands, handshakes } = workerData;
let handshaking = 0;
const waitingToConnect = [];
const slot = () => handshaking < handshakes ? (handshaking++, Promise.resolve()) : new Promise((resolve) => waitingToConnect.push(resolve));
const release = () => { const next = waitingToConnect.shift(); if (next) next(); else handshaking--; };
const open = [];
let settled = 0;
const opened = () => { if (++settled === commands.length) for (const channel of open) channel.write('go\\n'); };
const run = (command, k) => new Promise(async (resolve) => {
  await slot();
  const client = new Client();
  const chunks = [];
  let released = false;
  let counted = false;
  let done = false;
  const free = () => { if (!released) { released = true; release(); } };
  const count = () => { if (!counted) { counted = true; opened(); } };
  const finish = (result) => {
    if (done) return;
    done = true;
    free();
    count();
    client.end();
    resolve(result);
  };
  client.on('error', (error) => finish({ error: error.message }));
  client.on('ready', () => {
    free();
    client.exec(command, (error, channel) => {
      if (error) return finish({ error: error.message });
      let code = null;
      channel.on('data', (data) => chunks.push(data));
      channel.stderr.on('data', (data) => chunks.push(data));
      channel.on('exit', (status) => { code = status; });
      channel.on('close', () => finish({ code, output: Buffer.concat(chunks).toString('utf8') }));
      open.push(channel);
      count();
    });
  });
  client.connect({ host: '127.0.0.1', port: ports[k % ports.length], username, privateKey, readyTimeout: 300000, algorithms: { cipher: ['${CIPHER}'], kex: ['${KEX}'] } });
});
const start = performance.now();
Promise.all(commands.map(run)).then((results) => parentPort.postMessage({ ms: performance.now() - start, results }));
`;
/** Handshakes under way at once from the clients of the concurrent sessions. */
const HANDSHAKES = 64;

interface ConcurrentRun {
  readonly ms: number;
  readonly results: ReadonlyArray<{ code?: number | null; output?: string; error?: string }>;
}

/** `count` sessions at once, each printing `expectedOutput(k)`, through the endpoints' ports in turn. */
function concurrentSessions(endpoints: readonly Endpoint[], count: number): Promise<ConcurrentRun> {
  const [first] = endpoints;
  if (!first) throw new Error('no endpoint to connect to');
  const commands = Array.from({ length: count }, (_, k) => `read go; echo BEGIN-${k}; head -c ${CONCURRENT_BYTES} /dev/zero | base64; echo END-${k}`);
  const ssh2 = createRequire(import.meta.url).resolve('ssh2');
  const ports = endpoints.map((endpoint) => endpoint.port);
  const worker = new Worker(CLIENTS, { eval: true, workerData: { ssh2, ports, username: first.login, privateKey: first.privateKey, commands, handshakes: HANDSHAKES } });
  return new Promise((resolve, reject) => {
    worker.once('message', (run: ConcurrentRun) => {
      void worker.terminate();
      resolve(run);
    });
    worker.once('error', reject);
  });
}

/** Clients that did not get exit status 0 and exactly their output. */
function clientFailures(run: ConcurrentRun): string[] {
  return run.results.flatMap((result, k) => {
    if (result.error !== undefined) return [`session ${k}: ${result.error}`];
    if (result.code !== 0) return [`session ${k}: exit status ${result.code}: ${JSON.stringify(result.output?.slice(-160))}`];
    if (result.output !== expectedOutput(k)) return [`session ${k}: ${result.output?.length} characters of output, not ${expectedOutput(k).length}`];
    return [];
  });
}

/** Where the recordings are read: through the API of an instance, as an auditor would. */
interface RecordingReader {
  readonly cg: Changegate;
  readonly admin: TestClient;
}

/** A session's recording as `GET /sessions/:id/recording` answers it, byte for byte. */
async function recordingOf(reader: RecordingReader, sessionId: string): Promise<Buffer | undefined> {
  const credentials = reader.admin.credentials;
  const cookie = credentials && 'cookie' in credentials ? `changegate_session=${credentials.cookie}` : '';
  const answer = await reader.cg.app.inject({ method: 'GET', url: `/api/v1/sessions/${sessionId}/recording`, headers: { cookie } });
  return answer.statusCode === 200 ? answer.rawPayload : undefined;
}

/**
 * Sessions on `device` whose record or recording falls short: not ended with status 0, recording
 * missing (as the API serves it), unparsable, not holding exactly the session's output, not the
 * bytes whose SHA-256 the session end stored, or not verified whole against the event log
 * (`verifyRecordingAgainstLog`); and any of the `count` sessions without a recording.
 */
async function recordingFailures(reader: RecordingReader, device: string, count: number): Promise<string[]> {
  await waitForNoLiveSessions(reader.admin);
  const sessions: Array<{ id: string; endReason: string; exitStatus: number | null; recordingSha256: string | null }> = (await reader.admin.get(`/sessions?device=${device}&limit=1000`)).body;
  const failures: string[] = [];
  const recorded = new Set<number>();
  for (const session of sessions) {
    if (session.exitStatus !== 0) failures.push(`session ${session.id}: ended ${session.endReason}, exit status ${session.exitStatus}`);
    const content = await recordingOf(reader, session.id);
    if (content === undefined) {
      failures.push(`session ${session.id}: no recording`);
      continue;
    }
    const { header, events } = parseCast(content.toString('utf8'));
    const output = events.filter((event) => event[1] === 'o').map((event) => event[2]).join('');
    const k = Number(/^BEGIN-(\d+)\n/.exec(output)?.[1]);
    if (createHash('sha256').update(content).digest('hex') !== session.recordingSha256) failures.push(`session ${session.id}: the recording is not the one whose SHA-256 was stored`);
    const check = await verifyRecordingAgainstLog(reader.cg.database.db, session.id, (async function* () {
      yield content;
    })());
    if (!check.complete || check.firstMismatchOffset !== undefined) failures.push(`session ${session.id}: the event log does not vouch for the whole recording: ${check.message}`);
    if (header === undefined || Number.isNaN(k)) failures.push(`session ${session.id}: the recording has no header or no BEGIN mark`);
    else if (output !== expectedOutput(k)) failures.push(`session ${session.id}: the recording holds ${output.length} characters, not ${expectedOutput(k).length}`);
    else recorded.add(k);
  }
  for (let k = 0; k < count; k++) if (!recorded.has(k)) failures.push(`concurrent session ${k}: no complete recording`);
  return failures;
}

/** `count` sessions at once direct, then through the gateway(s): the time of each, and what failed. */
async function concurrentFigures(
  direct: Endpoint,
  gateways: readonly Endpoint[],
  reader: RecordingReader,
  load: { readonly device: string; readonly count: number; readonly label: string; readonly target?: BenchTarget },
): Promise<BenchFigure[]> {
  const { device, count, label } = load;
  const plain = await concurrentSessions([direct], count);
  for (const failure of clientFailures(plain).slice(0, 5)) console.log(`direct ${failure}`);
  const cpu = process.cpuUsage();
  const brokered = await concurrentSessions(gateways, count);
  const used = process.cpuUsage(cpu);
  const failures = [...clientFailures(brokered), ...(await recordingFailures(reader, device, count))];
  for (const failure of failures.slice(0, 10)) console.log(`gateway ${failure}`);
  console.log(`${label}: this process's CPU while they ran, ${((used.user + used.system) / 1000).toFixed(0)} ms (user ${(used.user / 1000).toFixed(0)}, system ${(used.system / 1000).toFixed(0)})`);
  return [
    { name: `${label}, all done`, value: brokered.ms, unit: 'ms', baseline: { name: 'direct', value: plain.ms }, ...(load.target && { target: load.target }) },
    { name: `${label}, failed or incompletely recorded`, value: failures.length, unit: 'sessions', target: { of: 'value', atMost: 0 } },
  ];
}

/**
 * Holds `count` interactive shells open from a child process (its CPU is not this process's), and
 * on command makes each print at a steady rate. Speaks by lines: it prints `open` once every shell
 * shows its prompt, reads `stream` and prints `streaming` once every shell has printed a streamed
 * line, reads `quit` and exits once every shell has closed.
 */
const HOLDER = `
const { Client } = require(process.env.SSH2);
const { port, username, privateKey, count, command, cipher, kex } = JSON.parse(process.env.HOLD);
const shells = [];
const say = (word) => process.stdout.write(word + '\\n');
const waitAll = (flag, word) => { if (shells.length === count && shells.every((shell) => shell[flag])) { say(word); return true; } return false; };
let waiting = 'prompted';
const check = () => { if (waiting === 'prompted' && waitAll('prompted', 'open')) waiting = ''; if (waiting === 'streaming' && waitAll('streaming', 'streaming')) waiting = ''; };
const open = () => new Promise((resolve) => {
  const client = new Client();
  client.on('error', (error) => { console.error(error.message); process.exit(2); });
  client.on('ready', () => client.shell({ term: 'xterm', cols: 80, rows: 24 }, (error, channel) => {
    if (error) { console.error(error.message); process.exit(2); }
    const shell = { client, channel, prompted: false, streaming: false, closed: false };
    shells.push(shell);
    let tail = '';
    channel.on('data', (data) => {
      tail = (tail + data.toString('latin1')).slice(-200);
      if (!shell.prompted && /[#$] $/.test(tail)) shell.prompted = true;
      if (!shell.streaming && /x{76}\\r?\\n/.test(tail)) shell.streaming = true;
      check();
    });
    channel.on('close', () => { shell.closed = true; client.end(); if (shells.every((each) => each.closed)) process.exit(0); });
    resolve();
  }));
  client.connect({ host: '127.0.0.1', port, username, privateKey, readyTimeout: 300000, algorithms: { cipher: [cipher], kex: [kex] } });
});
let lines = '';
process.stdin.on('data', (data) => {
  lines += data.toString();
  for (let end = lines.indexOf('\\n'); end >= 0; end = lines.indexOf('\\n')) {
    const line = lines.slice(0, end);
    lines = lines.slice(end + 1);
    if (line === 'stream') { waiting = 'streaming'; for (const shell of shells) shell.channel.write(command + '\\n'); }
    if (line === 'quit') for (const shell of shells) shell.channel.write('\\x03exit\\n');
  }
});
Promise.all(Array.from({ length: count }, open)).then(check);
`;

/** The shells of `HOLDER`, as this process drives them. */
class HeldShells {
  private readonly child: ChildProcess;
  private output = '';
  private readonly exit: Promise<number | null>;

  constructor(endpoint: Endpoint, count: number) {
    const hold = { port: endpoint.port, username: endpoint.login, privateKey: endpoint.privateKey, count, command: STREAM_COMMAND, cipher: CIPHER, kex: KEX };
    this.child = spawn(process.execPath, ['-e', HOLDER], { env: { ...process.env, SSH2: createRequire(import.meta.url).resolve('ssh2'), HOLD: JSON.stringify(hold) }, stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdout?.on('data', (data: Buffer) => (this.output += data.toString()));
    this.exit = exited(this.child);
  }

  /** Resolves once the holder has said `word` (each word once). */
  async said(word: string): Promise<void> {
    const deadline = Date.now() + 300_000;
    while (!this.output.split('\n').includes(word)) {
      if (this.child.exitCode !== null) throw new Error(`the shell holder exited with ${this.child.exitCode} before saying ${word}`);
      if (Date.now() > deadline) throw new Error(`the shell holder did not say ${word} in 5 minutes`);
      await delay(50);
    }
  }

  tell(word: 'stream' | 'quit'): void {
    this.child.stdin?.write(`${word}\n`);
  }

  async closed(): Promise<void> {
    const code = await this.exit;
    if (code !== 0) throw new Error(`the shell holder exited with ${code}`);
  }
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A heap figure means something only after a full collection.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/** This process's memory once garbage is collected. */
function memory(): NodeJS.MemoryUsage {
  collectGarbage();
  return process.memoryUsage();
}

/** This process's CPU time over `ms`, in milliseconds. */
async function cpuOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await delay(ms);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

interface SessionCost {
  /** CPU milliseconds per second of wall time, per session, beyond what the process spent with none. */
  readonly idleCpu: number;
  readonly streamingCpu: number;
  /**
   * Bytes per session of JavaScript heap and of the buffers outside it, once garbage is collected,
   * beyond what the process held before they opened. (Resident memory moves by megabytes with what
   * the allocator keeps, whatever the sessions hold: it is no measure of one session.)
   */
  readonly idleMemory: number;
  readonly streamingMemory: number;
}

/**
 * What `count` live sessions cost this process, idle at their prompt and then each printing 770 B/s:
 * its CPU time over `SIZING_WINDOW_MS` (a heartbeat interval: the heartbeat's statement is in it),
 * and its memory beyond what it held before they opened.
 */
async function sessionCost(endpoint: Endpoint, count: number, untilLive: () => Promise<void>): Promise<SessionCost> {
  const emptyCpu = await cpuOver(SIZING_WINDOW_MS);
  const before = memory();
  const shells = new HeldShells(endpoint, count);
  await shells.said('open');
  await untilLive();
  await delay(2000);
  const idleMemory = memory();
  const idleCpu = await cpuOver(SIZING_WINDOW_MS);
  shells.tell('stream');
  await shells.said('streaming');
  await delay(2000);
  const streamingCpu = await cpuOver(SIZING_WINDOW_MS);
  const streamingMemory = memory();
  shells.tell('quit');
  await shells.closed();
  const perSecond = (ms: number) => (ms - emptyCpu) / (SIZING_WINDOW_MS / 1000) / count;
  const held = (usage: NodeJS.MemoryUsage) => usage.heapUsed + usage.external;
  return {
    idleCpu: perSecond(idleCpu),
    streamingCpu: perSecond(streamingCpu),
    idleMemory: (held(idleMemory) - held(before)) / count,
    streamingMemory: (held(streamingMemory) - held(before)) / count,
  };
}

/** The sizing figures: a live session's CPU and memory through the gateway, beside the plain ssh2 relay's. */
async function sizingFigures(rig: Rig): Promise<BenchFigure[]> {
  const relay = await sessionCost(rig.relay, SIZING_SESSIONS, () => Promise.resolve());
  const gateway = await sessionCost(rig.gateway, SIZING_SESSIONS, () => waitForLiveSessions(rig.t.admin, SIZING_SESSIONS));
  await waitForNoLiveSessions(rig.t.admin);
  await removeRecordings(rig);
  const against = (value: number) => ({ name: 'ssh2 relay', value });
  const n = SIZING_SESSIONS;
  const kB = (bytes: number) => bytes / 1024;
  return [
    { name: `${n} idle shells, CPU per session`, value: gateway.idleCpu, unit: 'ms/s', baseline: against(relay.idleCpu) },
    // Memory is not set beside the relay's: measured first, the relay's start also frees what setting up left, and comes out below zero.
    { name: `${n} idle shells, memory per session`, value: kB(gateway.idleMemory), unit: 'kB' },
    { name: `${n} shells printing 770 B/s each, CPU per session`, value: gateway.streamingCpu, unit: 'ms/s', baseline: against(relay.streamingCpu) },
    { name: `${n} shells printing 770 B/s each, memory per session`, value: kB(gateway.streamingMemory), unit: 'kB' },
  ];
}

async function waitForLiveSessions(admin: TestClient, count: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while ((await admin.get('/sessions?live=true&limit=1000')).body.length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} sessions live after 5 minutes`);
    await delay(200);
  }
}

/**
 * Two Changegate instances in this process sharing one PostgreSQL database (made for the run and
 * dropped after), each with its own gateway, as two servers behind a load balancer would be: the
 * same gateway host key, log signing key and master key, their own data directories and instance
 * ids. Recordings go where Changegate keeps them on PostgreSQL by default (the database).
 */
interface TwoInstances {
  readonly dir: string;
  readonly sshd: TestSshd;
  readonly instances: ReadonlyArray<{ readonly cg: Changegate; readonly admin: TestClient }>;
  readonly direct: Endpoint;
  /** Alice to `device` through each instance's gateway. */
  readonly gateways: (device: string) => Endpoint[];
  close(): Promise<void>;
}

async function setUpTwoInstances(): Promise<TwoInstances> {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-bench-two-'));
  const deviceKey = keyPair(dir, 'device_root');
  const aliceKey = keyPair(dir, 'alice');
  const home = path.join(dir, 'home');
  mkdirSync(home);
  // A connection waits unauthenticated while sshd forks for the ones before it: let them all wait.
  const sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey], extraConfig: [`MaxStartups ${2 * MOST_AT_ONCE}`, `MaxSessions ${2 * MOST_AT_ONCE}`, `SetEnv HOME=${home}`] });
  const database = await createMigratedPostgresDatabase();
  const started: Array<{ cg: Changegate; admin: TestClient; sshPort: number }> = [];
  const close = async () => {
    for (const instance of started.reverse()) await instance.cg.close();
    await database.drop();
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const name of ['a', 'b']) {
      const dataDir = path.join(dir, name);
      mkdirSync(dataDir);
      // The second instance gets the first one's keys (the gateway's host key, the log's signing key), not its instance id.
      const first = started[0];
      if (first) {
        for (const file of await readdir(first.cg.config.dataDir, { withFileTypes: true })) {
          if (file.isFile() && file.name !== 'instance-id') copyFileSync(path.join(first.cg.config.dataDir, file.name), path.join(dataDir, file.name));
        }
      }
      const config = loadConfig({
        env: {
          CHANGEGATE_DATA_DIR: dataDir,
          DATABASE_URL: database.url,
          CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY,
          CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD,
          CHANGEGATE_LOG_LEVEL: 'silent',
          CHANGEGATE_SSH_PORT: '0',
          CHANGEGATE_HTTP_HOST: '127.0.0.1',
          CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED: String(ADMISSION),
          CHANGEGATE_GATEWAY_MAX_UNAUTHENTICATED_PER_SOURCE: String(ADMISSION),
        },
      });
      const cg = await createChangegate({ config });
      const { sshPort } = await cg.startBackground();
      started.push({ cg, admin: await signIn(cg, 'admin', ADMIN_PASSWORD), sshPort });
    }
    const [a] = started;
    if (!a) throw new Error('no instance started');
    const person = async (username: string) => {
      await must(a.admin.post('/users', { username, password: `password-of-${username}`, displayName: username }), 201, `adding ${username}`);
      return signIn(a.cg, username, `password-of-${username}`);
    };
    const alice = await person('alice');
    const carol = await person('carol');
    await must(alice.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'registering alice’s key');
    // A device and a change for each load: its recordings are checked alone, and the change audit of one does not carry the other's sessions.
    for (const count of LOADS_ON_TWO) {
      await addDevice(a.admin, `fleet${count}`, sshd, deviceKey.privateKey);
      await addOpenChange(a.admin, { name: `CHG-FLEET-${count}`, devices: [`fleet${count}`], executors: ['alice'], approvers: ['carol'] });
      await approvedRequest(alice, carol, `fleet${count}`);
    }
    return {
      dir,
      sshd,
      instances: started,
      direct: { name: 'direct', port: sshd.port, login: 'root', keyFile: deviceKey.file, privateKey: deviceKey.privateKey },
      gateways: (device) => started.map((instance) => ({ name: 'gateway', port: instance.sshPort, login: `alice@${device}`, keyFile: aliceKey.file, privateKey: aliceKey.privateKey })),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The issue's figures on PostgreSQL: 200 and then 1,000 sessions at once, spread over two instances, beside the same load direct. */
async function twoInstanceFigures(): Promise<BenchFigure[]> {
  const two = await setUpTwoInstances();
  try {
    const [a] = two.instances;
    if (!a) throw new Error('no instance');
    const figures: BenchFigure[] = [];
    for (const count of LOADS_ON_TWO) {
      const label = `two instances on PostgreSQL, ${count} sessions at once`;
      // The issue's bound: 200 at once within twice the time direct; 1,000 must all complete.
      const target = count === CONCURRENT ? ({ of: 'ratio', atMost: 2 } as const) : undefined;
      figures.push(...(await concurrentFigures(two.direct, two.gateways(`fleet${count}`), a, { device: `fleet${count}`, count, label, target })));
    }
    return figures;
  } finally {
    await two.close();
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'ssh gateway',
    async run() {
      const figures: BenchFigure[] = [];
      if (['bulk', 'echo', 'policy', 'progress', 'connect', 'concurrent', 'sizing'].some((part) => PARTS.has(part))) {
        const rig = await setUp();
        try {
          figures.push(...(await pgliteFigures(rig)));
        } finally {
          await tearDown(rig);
        }
      }
      if (PARTS.has('two')) figures.push(...(await twoInstanceFigures()));
      return figures;
    },
  },
];

/** The figures of one instance on PGlite, the gateway beside direct OpenSSH and the plain ssh2 relay. */
async function pgliteFigures(rig: Rig): Promise<BenchFigure[]> {
  const figures: BenchFigure[] = [];
  const direct = (value: number) => ({ name: 'direct', value });
  if (PARTS.has('bulk')) {
    // The issue's figure: an interactive session, recorded and captured. Without a pty (exec)
    // nothing is captured, and ssh2 alone stays far below OpenSSH (see docs/gateway.md).
    const shell = await bulk(rig, 'shell');
    figures.push({ name: 'bulk output, shell on a pty (recorded, captured)', value: shell.gateway, unit: 'MB/s', baseline: direct(shell.direct), target: { of: 'ratio', atLeast: 0.8 } });
    figures.push({ name: 'bulk output, shell on a pty, plain ssh2 relay', value: shell.relay, unit: 'MB/s', baseline: direct(shell.direct) });
    const exec = await bulk(rig, 'exec');
    figures.push({ name: 'bulk output, exec, no pty (recorded)', value: exec.gateway, unit: 'MB/s', baseline: direct(exec.direct) });
    figures.push({ name: 'bulk output, exec, no pty, plain ssh2 relay', value: exec.relay, unit: 'MB/s', baseline: direct(exec.direct) });
    figures.push({ name: 'bulk output, exec, no pty (recorded), against the relay', value: exec.gateway, unit: 'MB/s', baseline: { name: 'ssh2 relay', value: exec.relay } });
  }
  if (PARTS.has('echo')) {
    const directEcho = await echoLatency(rig.direct);
    const gatewayEcho = await echoLatency(rig.gateway);
    await removeRecordings(rig);
    figures.push({ name: `keystroke echo, p50 of ${KEYSTROKES}`, value: median(gatewayEcho), unit: 'ms', baseline: direct(median(directEcho)), target: { of: 'added', atMost: 1 } });
    figures.push({ name: `keystroke echo, p95 of ${KEYSTROKES}`, value: percentile(gatewayEcho, 0.95), unit: 'ms', baseline: direct(percentile(directEcho, 0.95)) });
  }
  if (PARTS.has('policy')) {
    const plain = await enterLatency(rig.gateway);
    const guarded = await enterLatency(rig.guarded);
    const plainEcho = await echoLatency(rig.gateway);
    const guardedEcho = await echoLatency(rig.guarded);
    await removeRecordings(rig);
    const unguarded = (value: number) => ({ name: 'no policy', value });
    figures.push({ name: `Enter on an allowed line under a ${GUARD_RULES.length}-rule policy, p50 of ${ENTERS}`, value: median(guarded), unit: 'ms', baseline: unguarded(median(plain)), target: { of: 'added', atMost: 5 } });
    figures.push({ name: `Enter on an allowed line under a ${GUARD_RULES.length}-rule policy, p95 of ${ENTERS}`, value: percentile(guarded, 0.95), unit: 'ms', baseline: unguarded(percentile(plain, 0.95)) });
    figures.push({ name: `keystroke echo under a command policy, p50 of ${KEYSTROKES}`, value: median(guardedEcho), unit: 'ms', baseline: unguarded(median(plainEcho)), target: { of: 'added', atMost: 1 } });
  }
  if (PARTS.has('progress')) {
    const { prompt, board } = await progressLatency(rig);
    await removeRecordings(rig);
    const command = (value: number) => ({ name: 'prompt back', value });
    figures.push({ name: `live board at a watcher, from Enter, p50 of ${PUSHES}`, value: median(board), unit: 'ms', baseline: command(median(prompt)), target: { of: 'added', atMost: 1000 } });
    figures.push({ name: `live board at a watcher, from Enter, p95 of ${PUSHES}`, value: percentile(board, 0.95), unit: 'ms', baseline: command(percentile(prompt, 0.95)) });
  }
  if (PARTS.has('connect')) {
    const connects = await connectTimes(rig);
    await removeRecordings(rig);
    figures.push({ name: `connect and run true, median of ${CONNECTS}`, value: median(connects.gateway), unit: 'ms', baseline: direct(median(connects.direct)), target: { of: 'ratio', atMost: 1.5 } });
  }
  if (PARTS.has('sizing')) figures.push(...(await sizingFigures(rig)));
  if (PARTS.has('concurrent')) figures.push(...(await concurrentFigures(rig.direct, [rig.fleet], rig.t, { device: 'fleet01', count: CONCURRENT, label: `${CONCURRENT} sessions at once` })));
  return figures;
}
