import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import ssh2 from 'ssh2';
import { addDevice, addOpenChange, approvedRequest, keyPair, must } from '../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../test/harness.ts';
import { startSshd, type TestSshd } from '../test/sshd.ts';
import { parseCast } from '../src/sessions/index.ts';
import type { Benchmark, BenchFigure } from './run.ts';

/**
 * The SSH gateway beside a direct OpenSSH session to the same sshd, both measured in the same run:
 * bulk output, keystroke echo, connect and run `true`, and 200 recorded sessions at once. The
 * gateway runs in this process (Changegate on PGlite); the clients are the real `ssh` binary, or
 * for the 200 sessions ssh2 clients on a worker thread. Both sides use the same cipher and key
 * exchange, so the figures compare the gateway, not algorithms. Bulk output is also measured
 * through a plain ssh2 relay in this process (no broker, recording or capture): what the SSH
 * library alone costs, the ceiling for any gateway built on it.
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
const CONNECTS = 30;
const CONCURRENT = 200;
/** Bytes of zeros each of the concurrent sessions prints as base64 (54 kB of output each). */
const CONCURRENT_BYTES = 57 * 700;
/** Unique in the output and absent from the echo of the command that prints it (`DO%sNE`). */
const END_MARK = 'DOXNE';

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
  const t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_LOG_LEVEL: 'silent' });
  const started = await t.cg.startBackground();
  const alice = await buildUser(t, { username: 'alice' });
  const carol = await buildUser(t, { username: 'carol' });
  await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'registering alice’s key');
  // Each device in a change of its own: the change audit rereads a change's sessions as each
  // ends, so the 200 at once should not carry the sessions measured before them.
  for (const [device, change] of [['web01', 'CHG-BENCH'], ['fleet01', 'CHG-FLEET']] as const) {
    await addDevice(t.admin, device, sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: change, devices: [device], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, device);
  }
  const through = (login: string): Endpoint => ({ name: 'gateway', port: started.sshPort, login, keyFile: aliceKey.file, privateKey: aliceKey.privateKey });
  const relay = await startPlainRelay(keyPair(dir, 'relay_host').privateKey, sshd.port, deviceKey.privateKey);
  return {
    dir,
    sshd,
    t,
    direct: { name: 'direct', port: sshd.port, login: 'root', keyFile: deviceKey.file, privateKey: deviceKey.privateKey },
    gateway: through('alice@web01'),
    fleet: through('alice@fleet01'),
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
  await waitForNoLiveSessions(rig);
  await rm(rig.recordingsDir, { recursive: true, force: true });
}

async function waitForNoLiveSessions(rig: Rig): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await rig.t.admin.get('/sessions?live=true')).body.length > 0) {
    if (Date.now() > deadline) throw new Error('sessions are still live a minute after their clients left');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Keystroke echo: an `ssh -tt` shell, one character at a time, timed from writing it to ssh's
 * stdin until bash's readline echo of it comes out of ssh's stdout. Ctrl-U clears the line every
 * 50 characters, unmeasured; a short pause after each echo lets the gateway's capture catch up.
 */
async function echoLatency(endpoint: Endpoint): Promise<number[]> {
  const child = spawn('ssh', sshArgs(endpoint, ['-tt']), { stdio: ['pipe', 'pipe', 'inherit'] });
  const done = exited(child);
  let output = '';
  let waiter: (() => void) | undefined;
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('latin1');
    waiter?.();
  });
  const until = async (pattern: RegExp) => {
    while (!pattern.test(output)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no echo from ${endpoint.name}; the terminal shows ${JSON.stringify(output.slice(-200))}`)), 10_000);
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const type = (text: string) => child.stdin?.write(text);
  const pause = () => new Promise((resolve) => setTimeout(resolve, 2));
  const times: number[] = [];
  try {
    await until(/[#$] $/);
    for (let k = 0; k < KEYSTROKES; k++) {
      if (k % 50 === 0 && k > 0) {
        output = '';
        type('\x15');
        await until(/./s);
        await pause();
      }
      output = '';
      const start = performance.now();
      type('x');
      await until(/x/);
      times.push(performance.now() - start);
      await pause();
    }
    type('\x15exit\r');
    await done;
  } finally {
    child.kill();
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
 * gateway's event loop: all connect at once, run their command, and report status and output.
 */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads');
const { Client } = require(workerData.ssh2);
const { port, username, privateKey, commands } = workerData;
const run = (command) => new Promise((resolve) => {
  const client = new Client();
  const chunks = [];
  let settled = false;
  const done = (result) => { if (!settled) { settled = true; client.end(); resolve(result); } };
  client.on('error', (error) => done({ error: error.message }));
  client.on('ready', () => client.exec(command, (error, channel) => {
    if (error) return done({ error: error.message });
    let code = null;
    channel.on('data', (data) => chunks.push(data));
    channel.stderr.on('data', (data) => chunks.push(data));
    channel.on('exit', (status) => { code = status; });
    channel.on('close', () => done({ code, output: Buffer.concat(chunks).toString('utf8') }));
  }));
  client.connect({ host: '127.0.0.1', port, username, privateKey, readyTimeout: 120000, algorithms: { cipher: ['${CIPHER}'], kex: ['${KEX}'] } });
});
const start = performance.now();
Promise.all(commands.map(run)).then((results) => parentPort.postMessage({ ms: performance.now() - start, results }));
`;

interface ConcurrentRun {
  readonly ms: number;
  readonly results: ReadonlyArray<{ code?: number | null; output?: string; error?: string }>;
}

function concurrentSessions(endpoint: Endpoint): Promise<ConcurrentRun> {
  const commands = Array.from({ length: CONCURRENT }, (_, k) => `echo BEGIN-${k}; head -c ${CONCURRENT_BYTES} /dev/zero | base64; echo END-${k}`);
  const ssh2 = createRequire(import.meta.url).resolve('ssh2');
  const worker = new Worker(CLIENTS, { eval: true, workerData: { ssh2, port: endpoint.port, username: endpoint.login, privateKey: endpoint.privateKey, commands } });
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
    if (result.code !== 0) return [`session ${k}: exit status ${result.code}`];
    if (result.output !== expectedOutput(k)) return [`session ${k}: ${result.output?.length} characters of output, not ${expectedOutput(k).length}`];
    return [];
  });
}

/**
 * Sessions on fleet01 whose record or recording falls short: not ended with status 0, recording
 * missing, unparsable, not holding exactly the session's output, or not the file whose SHA-256
 * the session end stored; and any of the `CONCURRENT` sessions without a recording.
 */
async function recordingFailures(rig: Rig): Promise<string[]> {
  await waitForNoLiveSessions(rig);
  const sessions: Array<{ id: string; exitStatus: number | null; recordingSha256: string | null }> = (await rig.t.admin.get('/sessions?device=fleet01&limit=1000')).body;
  const files = new Map<string, string>();
  for (const day of await readdir(rig.recordingsDir)) {
    for (const file of await readdir(path.join(rig.recordingsDir, day))) files.set(file.replace(/\.cast$/, ''), path.join(rig.recordingsDir, day, file));
  }
  const failures: string[] = [];
  const recorded = new Set<number>();
  for (const session of sessions) {
    const file = files.get(session.id);
    if (session.exitStatus !== 0) failures.push(`session ${session.id}: exit status ${session.exitStatus}`);
    if (file === undefined) {
      failures.push(`session ${session.id}: no recording`);
      continue;
    }
    const content = await readFile(file);
    const { header, events } = parseCast(content.toString('utf8'));
    const output = events.filter((event) => event[1] === 'o').map((event) => event[2]).join('');
    const k = Number(/^BEGIN-(\d+)\n/.exec(output)?.[1]);
    if (createHash('sha256').update(content).digest('hex') !== session.recordingSha256) failures.push(`session ${session.id}: the recording is not the one whose SHA-256 was stored`);
    if (header === undefined || Number.isNaN(k)) failures.push(`session ${session.id}: the recording has no header or no BEGIN mark`);
    else if (output !== expectedOutput(k)) failures.push(`session ${session.id}: the recording holds ${output.length} characters, not ${expectedOutput(k).length}`);
    else recorded.add(k);
  }
  for (let k = 0; k < CONCURRENT; k++) if (!recorded.has(k)) failures.push(`concurrent session ${k}: no complete recording`);
  return failures;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'ssh gateway',
    async run() {
      const rig = await setUp();
      try {
        const figures: BenchFigure[] = [];
        const direct = (value: number) => ({ name: 'direct', value });

        // The issue's figure: an interactive session, recorded and captured. Without a pty (exec)
        // nothing is captured, and ssh2 alone stays far below OpenSSH (see docs/gateway.md).
        const shell = await bulk(rig, 'shell');
        figures.push({ name: 'bulk output, shell on a pty (recorded, captured)', value: shell.gateway, unit: 'MB/s', baseline: direct(shell.direct), target: { of: 'ratio', atLeast: 0.8 } });
        figures.push({ name: 'bulk output, shell on a pty, plain ssh2 relay', value: shell.relay, unit: 'MB/s', baseline: direct(shell.direct) });
        const exec = await bulk(rig, 'exec');
        figures.push({ name: 'bulk output, exec, no pty (recorded)', value: exec.gateway, unit: 'MB/s', baseline: direct(exec.direct) });
        figures.push({ name: 'bulk output, exec, no pty, plain ssh2 relay', value: exec.relay, unit: 'MB/s', baseline: direct(exec.direct) });
        figures.push({ name: 'bulk output, exec, no pty (recorded), against the relay', value: exec.gateway, unit: 'MB/s', baseline: { name: 'ssh2 relay', value: exec.relay } });

        const directEcho = await echoLatency(rig.direct);
        const gatewayEcho = await echoLatency(rig.gateway);
        await removeRecordings(rig);
        figures.push({ name: `keystroke echo, p50 of ${KEYSTROKES}`, value: median(gatewayEcho), unit: 'ms', baseline: direct(median(directEcho)), target: { of: 'added', atMost: 1 } });
        figures.push({ name: `keystroke echo, p95 of ${KEYSTROKES}`, value: percentile(gatewayEcho, 0.95), unit: 'ms', baseline: direct(percentile(directEcho, 0.95)) });

        const connects = await connectTimes(rig);
        await removeRecordings(rig);
        figures.push({ name: `connect and run true, median of ${CONNECTS}`, value: median(connects.gateway), unit: 'ms', baseline: direct(median(connects.direct)), target: { of: 'ratio', atMost: 1.5 } });

        const plain = await concurrentSessions(rig.direct);
        for (const failure of clientFailures(plain).slice(0, 5)) console.log(`direct ${failure}`);
        const brokered = await concurrentSessions(rig.fleet);
        const failures = [...clientFailures(brokered), ...(await recordingFailures(rig))];
        for (const failure of failures.slice(0, 10)) console.log(`gateway ${failure}`);
        figures.push({ name: `${CONCURRENT} sessions at once, all done`, value: brokered.ms, unit: 'ms', baseline: direct(plain.ms) });
        figures.push({ name: `${CONCURRENT} sessions at once, failed or incompletely recorded`, value: failures.length, unit: 'sessions', target: { of: 'value', atMost: 0 } });
        return figures;
      } finally {
        await tearDown(rig);
      }
    },
  },
];
