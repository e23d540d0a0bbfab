/**
 * Test support for sessions through the gateway: real OpenSSH clients (`ssh` and an interactive
 * `ssh -tt`), key pairs, waiting for conditions, a fetch client for a `changegate serve` child
 * process, and the API calls that give an executor a device to reach.
 */
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import ssh2 from 'ssh2';
import { WebSocket } from 'ws';
import type { Answer, TestClient } from './harness.ts';

const run = promisify(execFile);

/** A key pair made by ssh-keygen: the private key file for `ssh -i`, the public line to register. */
export function keyPair(dir: string, name: string): { file: string; publicKey: string; privateKey: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return { file, publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), privateKey: readFileSync(file, 'utf8') };
}

/** A fresh ed25519 public key line, for a key that is registered but never used to sign in. */
export function newPublicKey(comment: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-key-'));
  try {
    return keyPair(dir, comment).publicKey;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SshResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const CLIENT_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];

/** Runs the real OpenSSH client through the gateway: `ssh [options] login@127.0.0.1 command`. */
export async function ssh(
  port: number,
  login: string,
  command: string,
  options: { key?: string; env?: Record<string, string>; sshOptions?: readonly string[] } = {},
): Promise<SshResult> {
  const base = ['-p', String(port), ...CLIENT_OPTIONS, '-o', 'BatchMode=' + (options.env ? 'no' : 'yes')];
  const identity = options.key ? ['-i', options.key, '-o', 'IdentitiesOnly=yes'] : ['-o', 'PubkeyAuthentication=no'];
  try {
    const args = [...base, ...identity, ...(options.sshOptions ?? []), `${login}@127.0.0.1`, command];
    const { stdout, stderr } = await run('ssh', args, { env: { ...process.env, ...options.env }, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : null, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

/** Text that arrives in pieces, such as a terminal's output, and waits for what it should come to hold. */
export class OutputWatcher {
  text = '';
  private waiters = new Set<() => void>();

  constructor(private readonly what = 'the terminal') {}

  append(chunk: string): void {
    this.text += chunk;
    for (const waiter of this.waiters) waiter();
  }

  /** Resolves once the text matches (or the test holds), failing with what was seen after the timeout. */
  waitFor(pattern: RegExp | string | ((text: string) => boolean), timeoutMs = 15_000): Promise<void> {
    const matches = () => (typeof pattern === 'string' ? this.text.includes(pattern) : typeof pattern === 'function' ? pattern(this.text) : pattern.test(this.text));
    if (matches()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!matches()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${String(pattern)}; ${this.what} shows:\n${this.text}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }
}

/** An interactive `ssh -tt` session: keystrokes in, terminal output collected, conditions awaited. */
export class Terminal {
  readonly exited: Promise<number | null>;
  private readonly screen = new OutputWatcher();
  private readonly child: ChildProcessWithoutNullStreams;

  constructor(port: number, login: string, key: string, extra: readonly string[] = []) {
    this.child = spawn('ssh', ['-tt', '-p', String(port), '-i', key, '-o', 'IdentitiesOnly=yes', ...CLIENT_OPTIONS, ...extra, `${login}@127.0.0.1`]);
    const collect = (chunk: Buffer) => this.screen.append(chunk.toString('utf8'));
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get output(): string {
    return this.screen.text;
  }

  type(text: string): void {
    this.child.stdin.write(text);
  }

  waitFor(pattern: RegExp | string, timeoutMs = 15_000): Promise<void> {
    return this.screen.waitFor(pattern, timeoutMs);
  }

  /**
   * Types a line as a person does: its text, then Enter once the shell has echoed it (at least as
   * many characters have come back as were typed). Typed in one go, the Enter can reach the
   * gateway before any echo on a busy machine, and the line is then judged from the keystrokes.
   */
  async enter(line: string, timeoutMs = 15_000): Promise<void> {
    const before = this.output.length;
    this.type(line);
    await this.screen.waitFor((text) => text.length - before >= line.length, timeoutMs);
    this.type('\r');
  }

  /** Ends the client if it still runs: what a failed test leaves behind. */
  close(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** A shell prompt at the end of the output (root's `#` or a user's `$`). */
export const PROMPT = /[#$] $/m;

/** Polls until `probe` returns a value, failing after the timeout with what was awaited. */
export async function waitUntil<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The API calls the setup helpers make: a `TestClient` in-process, or a `RemoteClient` over HTTP. */
export type ApiCaller = Pick<TestClient, 'get' | 'post'>;

/** Calls a running server's API over HTTP the way a browser would: session cookie and CSRF header. */
export class RemoteClient implements ApiCaller {
  constructor(
    readonly baseUrl: string,
    readonly credentials: { readonly cookie: string; readonly csrf: string } | undefined,
  ) {}

  get = (url: string) => this.request('GET', url);
  post = (url: string, body?: unknown) => this.request('POST', url, body);

  async request(method: 'GET' | 'POST', url: string, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.credentials) {
      headers.cookie = `changegate_session=${this.credentials.cookie}`;
      if (method !== 'GET') headers['x-csrf-token'] = this.credentials.csrf;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${url.startsWith('/api/') ? url : `/api/v1${url}`}`, {
      method,
      headers,
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (a recording): the text itself.
    }
    return { status: response.status, body: parsed, headers: Object.fromEntries(response.headers) };
  }
}

/** Signs in to a running server and returns a client holding the session cookie and CSRF token. */
export async function signInOver(baseUrl: string, username: string, password: string): Promise<RemoteClient> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { csrfToken?: string };
  const cookie = response.headers
    .getSetCookie()
    .map((line) => /^changegate_session=([^;]+)/.exec(line)?.[1])
    .find(Boolean);
  if (response.status !== 200 || !cookie || !body.csrfToken) throw new Error(`sign-in as ${username} failed: ${response.status} ${JSON.stringify(body)}`);
  return new RemoteClient(baseUrl, { cookie, csrf: body.csrfToken });
}

/** The SSH gateway's port from the banner `changegate serve` prints: `SSH gateway: port 40123: …`. */
export function gatewayPortOf(banner: string): number {
  const port = /^\s*SSH gateway:\s+port (\d+):/m.exec(banner)?.[1];
  if (!port) throw new Error(`the banner names no SSH gateway port:\n${banner}`);
  return Number(port);
}

/** Makes a call that must answer with `status`, failing with the answer otherwise. */
export async function must(call: Promise<Answer>, status: number, what: string): Promise<Answer> {
  const answer = await call;
  if (answer.status !== status) throw new Error(`${what}: expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer;
}

/** A device reached at a test sshd, with its host key pinned and root's private key in the vault. */
export async function addDevice(admin: ApiCaller, name: string, sshd: { port: number; hostKey: string }, rootKey: string): Promise<void> {
  await must(admin.post('/devices', { name, hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey }), 201, `adding device ${name}`);
  await must(admin.post('/credentials', { device: name, account: 'root', secret: { privateKey: rootKey } }), 201, `vaulting root@${name}`);
}

/**
 * An access group of executors and approvers, and a change on the devices, open from a minute ago
 * for an hour, that the group's executors may run. `now` is the server's time (a test clock's).
 */
export async function addOpenChange(
  admin: ApiCaller,
  change: { name: string; devices: readonly string[]; executors: readonly string[]; approvers: readonly string[] },
  now = Date.now(),
): Promise<void> {
  const group = `${change.name.toLowerCase()}-team`;
  await must(admin.post('/access-groups', { name: group, executors: change.executors, approvers: change.approvers }), 201, `adding access group ${group}`);
  await must(
    admin.post('/changes', {
      name: change.name,
      title: `Work on ${change.devices.join(', ')}`,
      startAt: new Date(now - 60_000).toISOString(),
      dueAt: new Date(now + 3_600_000).toISOString(),
      accessGroup: group,
      devices: change.devices,
      script: 'echo one\nuptime',
    }),
    201,
    `adding change ${change.name}`,
  );
}

/** The executor asks to run the open change on the device and the approver approves: the number of the request. */
export async function approvedRequest(executor: ApiCaller, approver: ApiCaller, device: string): Promise<number> {
  const asked = await must(executor.post('/requests', { device }), 201, `asking for ${device}`);
  const number = asked.body.request.number as number;
  await must(approver.post(`/requests/${number}/approve`, { comment: 'go' }), 200, `approving request #${number}`);
  return number;
}

/** The people of a gateway test, signed in to a running server. */
export interface GatewayCast {
  readonly admin: RemoteClient;
  readonly alice: RemoteClient;
  readonly carol: RemoteClient;
}

/**
 * On a running server (signed in as the first administrator with `adminPassword`): alice, an
 * executor whose SSH key is registered, and carol, her approver; device web01 at the test sshd in
 * the open change `change`; and alice's request for web01, approved.
 */
export async function setUpExecutor(
  baseUrl: string,
  setting: { adminPassword: string; sshd: { port: number; hostKey: string }; rootKey: string; aliceKey: string; change: string },
): Promise<GatewayCast> {
  const admin = await signInOver(baseUrl, 'admin', setting.adminPassword);
  for (const username of ['alice', 'carol']) {
    await must(admin.post('/users', { username, password: `password-of-${username}`, displayName: username }), 201, `adding ${username}`);
  }
  await must(admin.post('/users/alice/ssh-keys', { name: 'laptop', publicKey: setting.aliceKey }), 201, "registering alice's key");
  await addDevice(admin, 'web01', setting.sshd, setting.rootKey);
  await addOpenChange(admin, { name: setting.change, devices: ['web01'], executors: ['alice'], approvers: ['carol'] });
  const alice = await signInOver(baseUrl, 'alice', 'password-of-alice');
  const carol = await signInOver(baseUrl, 'carol', 'password-of-carol');
  await approvedRequest(alice, carol, 'web01');
  return { admin, alice, carol };
}

/**
 * Measures the test process's memory while something runs: resident memory (`rss`, what the issue's
 * 0.5 GB → 5 GB was) sampled every few milliseconds, so a short-lived peak is seen too. `stop()`
 * returns the highest growth over the start, in bytes; `samples` counts the samples taken.
 *
 * A measure that takes long (a full collection of a large heap on a busy machine) must not take
 * the process from what it measures: samples are spaced so that at most `measuringShare` of the
 * time goes to measuring.
 */
export function sampleMemory(everyMs = 10, measure: () => number = () => process.memoryUsage.rss(), measuringShare = 1 / 5): { stop(): number; readonly samples: number } {
  const start = measure();
  let peak = start;
  let samples = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const sample = () => {
    const began = performance.now();
    peak = Math.max(peak, measure());
    samples += 1;
    const took = performance.now() - began;
    if (!stopped) timer = setTimeout(sample, Math.max(everyMs, took * (1 / measuringShare - 1)));
  };
  timer = setTimeout(sample, everyMs);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      sample();
      return peak - start;
    },
    get samples() {
      return samples;
    },
  };
}

/**
 * Like `sampleMemory`, but what is still reachable at each sample (`retainedMemory`, after a full
 * collection): what the process keeps, without the garbage a busy session leaves for a while.
 */
export function sampleRetainedMemory(everyMs = 200): { stop(): number } {
  return sampleMemory(everyMs, retainedMemory);
}

let gc: (() => void) | undefined;

/**
 * What the process holds after a full garbage collection: the JavaScript heap and the memory of
 * Buffers and other ArrayBuffers, in bytes. What a structure keeps is the difference of two calls.
 * Two collections: V8 frees the memory of dead ArrayBuffers on a background thread after a
 * collection, which on a busy machine has not yet run when it returns (up to 15 MiB of an evidence
 * export's read chunks still counted); the second collection first waits for it.
 */
export function retainedMemory(): number {
  if (!gc) {
    // The test runner starts workers without --expose-gc; the flag can be set at run time.
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** An in-process ssh2 client signed in at the gateway as `login` with a private key. */
export async function connectSsh2(port: number, login: string, privateKey: string): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: login, privateKey });
  });
  return client;
}

/**
 * The raw requests of an ssh2 client's protocol, to send what no well-behaved client sends (a
 * request repeated a thousand times, a second shell on one channel). ssh2 keeps it private
 * (`_protocol`); `chan` is the gateway's id of the channel (`channel.outgoing.id`).
 */
export interface RawSshRequests {
  shell(chan: number, wantReply: boolean): void;
  exec(chan: number, command: string, wantReply: boolean): void;
  openssh_agentForward(chan: number, wantReply: boolean): void;
  x11Forward(chan: number, cfg: { single: boolean; protocol: string; cookie: string; screen: number }, wantReply: boolean): void;
}

export function rawRequests(client: ssh2.Client): RawSshRequests {
  return (client as unknown as { _protocol: RawSshRequests })._protocol;
}

/** Runs a command on an ssh2 client's new channel: its output and exit status, once it closes. */
export function execOver(client: ssh2.Client, command: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) =>
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      channel.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
      channel.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
      channel.on('exit', (status: number | null) => (code = status));
      channel.on('close', () => resolve({ stdout, stderr, code }));
    }),
  );
}

/** One `GET /sessions/{n}/watch` WebSocket: the messages it received, and how it closed. */
export class WatchSocket {
  readonly messages: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly socket: WebSocket;

  constructor(baseUrl: string, session: number | string, cookie: string) {
    this.socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/v1/sessions/${session}/watch`, { headers: { cookie: `changegate_session=${cookie}` } });
    this.socket.on('message', (data: Buffer) => this.messages.push(JSON.parse(String(data))));
    this.closed = new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** The asciicast events received so far (`[time, code, data]`). */
  get events(): Array<[number, string, string]> {
    return this.messages.filter((message): message is [number, string, string] => Array.isArray(message));
  }

  /** Resolves once an event has arrived: the watch was admitted and replays or follows the session. */
  admitted(): Promise<void> {
    return waitUntil(async () => (this.events.length > 0 ? true : undefined), 'the first event of the watch').then(() => undefined);
  }

  close(): void {
    this.socket.close();
  }
}
