import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { Actor } from '../access/index.ts';
import type { AuthService } from '../identity/index.ts';
import { isAppError } from '../platform/errors.ts';
import { sourceOf } from '../platform/source-address.ts';
import type { Logger } from '../platform/logger.ts';
import type { LiveSessions } from './live.ts';
import { parseSessionTarget, type SessionKind } from './session.ts';
import type { SessionRunner } from './session-runner.ts';
import { TerminalClient } from './terminal-client.ts';

export interface GatewayDeps {
  readonly auth: AuthService;
  readonly runner: SessionRunner;
  readonly live: LiveSessions;
  /** The gateway's own host key (OpenSSH private key). */
  readonly hostKey: string;
  readonly logger?: Logger;
  /** A connection that has not signed in within this many seconds is closed; 30 unless set. */
  readonly authTimeoutSeconds?: number;
  /** Connections not signed in yet, open at once; while full, new ones are closed at once. 128 unless set. */
  readonly maxUnauthenticated?: number;
  /** The same from one source (`sourceOf`), so that one source cannot fill the gateway. `MAX_UNAUTHENTICATED_PER_SOURCE` unless set. */
  readonly maxUnauthenticatedPerSource?: number;
}

const DEFAULT_AUTH_TIMEOUT_SECONDS = 30;
const DEFAULT_MAX_UNAUTHENTICATED = 128;
/** Connections not signed in yet from one source, as OpenSSH's PerSourceMaxStartups. */
export const MAX_UNAUTHENTICATED_PER_SOURCE = 32;
/** Session channels open at once on one connection, as OpenSSH's MaxSessions; further opens are refused. */
export const MAX_SESSIONS_PER_CONNECTION = 10;
/**
 * Sign-in attempts per connection, as OpenSSH's MaxAuthTries: a signed public key, a password, a
 * keyboard-interactive exchange. Neither the first `none` request (how a client learns the methods)
 * nor asking whether a key would do counts, but a client asking more often than this is closed too.
 */
export const MAX_AUTH_TRIES = 6;
/** How long a signed-in connection is given to close by itself after the gateway ends it at a stop. */
const CLOSE_GRACE_MS = 2000;

/** One TCP connection to the gateway, from accept to close. */
interface Admission {
  readonly socket: net.Socket;
  /** Where it comes from, as the per-source cap counts (`sourceOf`). */
  readonly source: string;
  /** The SSH connection on the socket, once its client has sent its version line. */
  connection: ssh2.Connection | undefined;
  signedIn: boolean;
  /** Counted among the connections signing in (globally and for its source): until it signs in or closes. */
  counted: boolean;
  readonly deadline: NodeJS.Timeout;
}

/**
 * A new Ed25519 host key (OpenSSH private key text). ssh2's generator writes a key its own parser
 * refuses about once in 300 tries ("Malformed OpenSSH private key"): such a key is made again.
 */
export function generateGatewayHostKey(): string {
  for (let attempt = 1; ; attempt++) {
    const key = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'changegate-gateway' }).private;
    const parsed = ssh2.utils.parseKey(key);
    if (!(parsed instanceof Error) && !Array.isArray(parsed)) return key;
    if (attempt >= 20) throw new Error(`generating the gateway's host key failed 20 times: ${parsed instanceof Error ? parsed.message : 'several keys'}`);
  }
}

/**
 * Loads the gateway's host key from the data directory, generating an Ed25519 key on the first
 * start (mode 0600). Returns the private key and its public fingerprint, as users will see it.
 */
export async function loadGatewayHostKey(file: string): Promise<{ privateKey: string; fingerprint: string; created: boolean }> {
  let privateKey: string;
  let created = false;
  try {
    privateKey = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    privateKey = generateGatewayHostKey();
    await writeFile(file, privateKey, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error(`${file} does not hold an SSH private key`);
  const fingerprint = `SHA256:${createHash('sha256').update(parsed.getPublicSSH()).digest('base64').replace(/=+$/, '')}`;
  return { privateKey, fingerprint, created };
}

const METHODS: Array<'publickey' | 'keyboard-interactive' | 'password'> = ['publickey', 'keyboard-interactive', 'password'];

/**
 * The SSH gateway: users connect with `ssh -p 2222 alice@web01@gateway`, sign in with one of
 * their registered public keys or with password and TOTP, and get a brokered, recorded session on
 * the device. Agent forwarding, port forwarding, X11 and subsystems (sftp) are refused.
 */
export class Gateway {
  /** Accepts TCP connections and hands those it admits to the SSH server. */
  private server: net.Server | undefined;
  /** Open connections by the client's `address:port` (what ssh2 tells about a connection). */
  private readonly admissions = new Map<string, Admission>();
  private unauthenticated = 0;
  private refusing = false;
  /**
   * Connections not signed in yet, by source; a source leaves when it has none, so this holds at
   * most as many entries as such connections. `refusing` logs a refused source once per episode.
   */
  private readonly bySource = new Map<string, { open: number; refusing: boolean }>();

  constructor(private readonly deps: GatewayDeps) {}

  /** Connections open now that have not signed in. */
  get unauthenticatedConnections(): number {
    return this.unauthenticated;
  }

  async listen(port: number, host: string): Promise<number> {
    const ssh = new ssh2.Server({ hostKeys: [this.deps.hostKey], ident: 'Changegate' }, (connection, info) => this.accept(connection, info));
    // ssh2 listens on its own net server, which admits everyone; the gateway's decides first, so a
    // connection refused costs a socket and nothing more: no version line, no key exchange.
    const server = net.createServer((socket) => this.admit(socket, ssh));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /**
   * Stops accepting connections, ends the running sessions (telling their users), and ends every
   * other connection: one still signing in at once, a signed-in one (at a prompt of the broker, or
   * with nothing open) with a disconnect, destroyed if it does not close within a grace period.
   */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const admission of this.admissions.values()) if (!admission.signedIn) admission.socket.destroy();
    await Promise.all(this.deps.live.all().map((session) => session.stop()));
    for (const admission of this.admissions.values()) this.end(admission);
    await closed;
  }

  /**
   * Admits a TCP connection while fewer than the maximum are signing in, from everywhere and from
   * its source, and gives it a deadline.
   */
  private admit(socket: net.Socket, ssh: ssh2.Server): void {
    const max = this.deps.maxUnauthenticated ?? DEFAULT_MAX_UNAUTHENTICATED;
    const maxPerSource = this.deps.maxUnauthenticatedPerSource ?? MAX_UNAUTHENTICATED_PER_SOURCE;
    const ip = socket.remoteAddress;
    if (!this.server || this.unauthenticated >= max || ip === undefined) {
      if (this.server && !this.refusing) {
        // Once per episode: a flood must not flood the log too.
        this.refusing = true;
        this.deps.logger?.warn({ max, from: ip }, 'gateway full: connections that have not signed in are refused');
      }
      socket.destroy();
      return;
    }
    const source = sourceOf(ip);
    const fromSource = this.bySource.get(source) ?? { open: 0, refusing: false };
    if (fromSource.open >= maxPerSource) {
      if (!fromSource.refusing) {
        fromSource.refusing = true;
        this.deps.logger?.warn({ max: maxPerSource, source }, 'gateway full for one source: its connections that have not signed in are refused');
      }
      socket.destroy();
      return;
    }
    this.refusing = false;
    fromSource.open++;
    fromSource.refusing = false;
    this.bySource.set(source, fromSource);
    const key = `${ip}:${socket.remotePort}`;
    const seconds = this.deps.authTimeoutSeconds ?? DEFAULT_AUTH_TIMEOUT_SECONDS;
    const admission: Admission = {
      socket,
      source,
      connection: undefined,
      signedIn: false,
      counted: true,
      deadline: setTimeout(() => {
        this.deps.logger?.info({ from: key, seconds }, 'gateway connection closed: not signed in in time');
        socket.destroy();
      }, seconds * 1000),
    };
    this.unauthenticated++;
    this.admissions.set(key, admission);
    socket.once('close', () => {
      this.uncount(admission);
      this.admissions.delete(key);
    });
    ssh.injectSocket(socket);
  }

  /** A connection leaves the counts of those signing in: it signed in, or it closed before. */
  private uncount(admission: Admission): void {
    clearTimeout(admission.deadline);
    if (!admission.counted) return;
    admission.counted = false;
    this.unauthenticated--;
    const fromSource = this.bySource.get(admission.source);
    if (fromSource && --fromSource.open <= 0) this.bySource.delete(admission.source);
  }

  /** Ends a connection politely (SSH disconnect), and surely after a grace period. */
  private end(admission: Admission): void {
    if (admission.connection) admission.connection.end();
    else admission.socket.end();
    setTimeout(() => admission.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private accept(connection: ssh2.Connection, info: ssh2.ClientInfo): void {
    const admission = this.admissions.get(`${info.ip}:${info.port}`);
    if (!admission) {
      // Its socket closed between its version line and here.
      connection.end();
      return;
    }
    admission.connection = connection;
    let actor: Actor | undefined;
    let login = '';
    let attempts = 0;
    let queries = 0;
    let asked = false;
    // Keystrokes are tiny packets: without this, Nagle's algorithm holds each echo ~40 ms.
    // ssh2's server-side Connection has setNoDelay, but its type declarations omit it.
    (connection as ssh2.Connection & { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    connection.on('error', (error) => this.deps.logger?.debug({ err: error }, 'gateway connection error'));
    connection.on('authentication', (context) => {
      if (context.method === 'publickey' && !context.signature) queries++;
      else if (context.method !== 'none' || asked) attempts++;
      asked = true;
      if (queries > MAX_AUTH_TRIES) return this.tooManyAttempts(admission, info);
      login = context.username;
      const { username } = parseSessionTarget(context.username);
      void this.authenticate(context, username, info.ip).then((signedIn) => {
        if (!signedIn) {
          if (attempts >= MAX_AUTH_TRIES) this.tooManyAttempts(admission, info);
          return;
        }
        // Known before accepting: 'ready' may follow at once.
        actor = signedIn;
        context.accept();
      });
    });
    connection.on('ready', () => {
      admission.signedIn = true;
      this.uncount(admission);
      const signedIn = actor as Actor;
      const target = parseSessionTarget(login);
      let sessions = 0;
      connection.on('session', (acceptSession, rejectSession) => {
        // The client reports "open failed: administratively prohibited".
        if (sessions >= MAX_SESSIONS_PER_CONNECTION) return rejectSession();
        sessions++;
        const session = acceptSession();
        session.once('close', () => sessions--);
        this.session(session, signedIn, target, info);
      });
      // Port forwarding either way is refused; the client reports "administratively prohibited".
      connection.on('tcpip', (_accept, reject) => reject());
      connection.on('request', (_accept, reject) => reject?.());
      connection.on('openssh.streamlocal', (_accept, reject) => reject());
    });
  }

  private tooManyAttempts(admission: Admission, info: ssh2.ClientInfo): void {
    this.deps.logger?.info({ from: info.ip, max: MAX_AUTH_TRIES }, 'gateway connection closed: too many sign-in attempts');
    this.end(admission);
  }

  /** Checks one sign-in attempt; the caller accepts when it returns the user, the method has rejected otherwise. */
  private async authenticate(context: ssh2.AuthContext, username: string, sourceIp: string): Promise<Actor | undefined> {
    try {
      switch (context.method) {
        case 'publickey': {
          if (!context.signature || !context.blob) {
            // The client asks whether a key would do before signing with it; the signature decides.
            context.accept();
            return undefined;
          }
          const blob = context.key.data;
          const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
          const key = ssh2.utils.parseKey(`${type} ${blob.toString('base64')}`);
          if (key instanceof Error || Array.isArray(key) || key.verify(context.blob, context.signature, context.hashAlgo) !== true) {
            context.reject(METHODS);
            return undefined;
          }
          const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
          const actor = await this.deps.auth.authenticatePublicKey({ username, fingerprint, sourceIp });
          if (!actor) context.reject(METHODS);
          return actor;
        }
        case 'keyboard-interactive': {
          const password = await promptOnce(context, 'Password: ', false, username);
          if (password === undefined) return reject(context);
          try {
            return await this.deps.auth.authenticatePassword({ username, password, sourceIp });
          } catch (error) {
            // A code is asked for after a right password, and at an address where the account is
            // locked, whatever the password and whether or not the account has TOTP: there,
            // password and code together still sign in, and the prompts tell nothing.
            const askCode = isAppError(error, 'totp_required', 'account_locked');
            if (!askCode) throw error;
          }
          const totp = await promptOnce(context, 'Verification code: ', true, username);
          if (totp === undefined) return reject(context);
          return await this.deps.auth.authenticatePassword({ username, password, totp, sourceIp });
        }
        case 'password':
          return await this.deps.auth.authenticatePassword({ username, password: context.password, sourceIp });
        default:
          context.reject(METHODS);
          return undefined;
      }
    } catch (error) {
      if (!isAppError(error)) this.deps.logger?.error({ err: error }, 'gateway sign-in failed');
      // Keyboard-interactive can tell the user why: OpenSSH prints the instruction of a request
      // without prompts (at its default log level), then goes on to its next method.
      if (isAppError(error, 'too_many_requests', 'account_locked')) return refuse(context, error.message);
      // A password that needs a code: offer keyboard-interactive, which can ask for it.
      context.reject(isAppError(error, 'totp_required') ? ['publickey', 'keyboard-interactive'] : METHODS);
      return undefined;
    }
  }

  private session(session: ssh2.Session, actor: Actor, target: ReturnType<typeof parseSessionTarget>, info: ssh2.ClientInfo): void {
    let pty: ssh2.PseudoTtyInfo | undefined;
    // Each once, however often the client asks: it may ask without end.
    const notices: string[] = [];
    const notice = (text: string) => {
      if (!notices.includes(text)) notices.push(text);
    };
    let started = false;
    session.on('pty', (accept, _reject, requested) => {
      pty = requested;
      accept?.();
    });
    session.on('env', (accept) => accept?.());
    session.on('auth-agent', (_accept, reject) => {
      notice('agent forwarding is refused: the device is reached with a vaulted credential.');
      reject?.();
    });
    session.on('x11', (_accept, reject) => {
      notice('X11 forwarding is refused.');
      reject?.();
    });
    session.on('subsystem', (_accept, reject, requested) => {
      this.deps.logger?.info({ subsystem: requested.name, user: actor.username }, 'subsystem refused');
      reject?.();
    });
    const start = (kind: SessionKind, acceptChannel: () => ssh2.ServerChannel | undefined, reject: (() => void) | undefined, command?: string) => {
      // A channel runs one program. ssh2 gives no channel for a second shell or exec (and, once
      // the first has started, answers nothing to the request: neither reject nor accept replies).
      const channel = started ? undefined : acceptChannel();
      if (!channel) {
        this.deps.logger?.debug({ kind, user: actor.username }, 'second shell or exec on a session channel refused');
        reject?.();
        return;
      }
      started = true;
      const client = new SshClientSide(channel, kind, pty, info, notices, command);
      session.on('window-change', (accept, _reject, size) => {
        accept?.();
        client.resize(size.cols, size.rows);
      });
      session.on('signal', (accept, _reject, signal) => {
        accept?.();
        client.signal(signal.name);
      });
      // One connection can open many sessions: after a security change to the account, no new one.
      this.deps.auth
        .stillSignedIn(actor)
        .then((valid) => {
          if (valid) return this.deps.runner.run(client, actor, target);
          client.writeError('\r\nChangegate: your sign-in is no longer valid (the account was disabled or its credentials changed): connect again.\r\n');
          client.exit(1);
          return undefined;
        })
        .catch((error: unknown) => {
          this.deps.logger?.error({ err: error, user: actor.username }, 'session failed');
          if (!client.closed) {
            client.writeError('\r\nChangegate: the session failed on the gateway; the administrators can see why in its log.\r\n');
            client.exit(255);
          }
        });
    };
    session.on('shell', (accept, reject) => start('shell', accept, reject));
    session.on('exec', (accept, reject, requested) => start('exec', accept, reject, requested.command));
  }
}

function reject(context: ssh2.AuthContext): undefined {
  context.reject(METHODS);
  return undefined;
}

function promptOnce(context: ssh2.AuthContext, prompt: string, echo: boolean, username: string): Promise<string | undefined> {
  if (context.method !== 'keyboard-interactive') return Promise.resolve(undefined);
  return new Promise((resolve) => context.prompt([{ prompt, echo }], 'Changegate', `Sign in as ${username}`, (answers) => resolve(answers[0])));
}

/** Rejects a refused attempt, telling a keyboard-interactive user why first (other methods have no way to). */
function refuse(context: ssh2.AuthContext, message: string): undefined {
  if (context.method !== 'keyboard-interactive') return reject(context);
  context.prompt([], '', `Changegate: ${message}`, () => context.reject(METHODS));
  return undefined;
}

/** The user's end of a session at the SSH gateway: an SSH session channel. */
class SshClientSide extends TerminalClient {
  constructor(
    private readonly channel: ssh2.ServerChannel,
    kind: SessionKind,
    pty: ssh2.PseudoTtyInfo | undefined,
    info: ssh2.ClientInfo,
    notices: readonly string[],
    command?: string,
  ) {
    super({
      kind,
      interactive: pty !== undefined,
      term: pty?.term ?? 'xterm-256color',
      cols: pty?.cols || 80,
      rows: pty?.rows || 24,
      sourceIp: info.ip,
      sourcePort: info.port ?? null,
      notices,
      ...(command !== undefined && { command }),
    });
    channel.on('data', (data: Buffer) => this.received(data));
    channel.on('end', () => this.ended());
    channel.on('close', () => this.gone());
  }

  write(data: Buffer | string): void {
    if (!this.closed) this.channel.write(data);
  }

  writeError(data: Buffer | string): void {
    if (this.closed) return;
    // Without a terminal, stderr is a separate stream; with one, the terminal shows both alike.
    if (this.interactive) this.channel.write(data);
    else this.channel.stderr.write(typeof data === 'string' ? data.replace(/\r\n/g, '\n') : data);
  }

  backlogged(): Promise<void> | undefined {
    if (this.closed || !this.channel.writableNeedDrain) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        this.channel.off('drain', done);
        this.channel.off('close', done);
        resolve();
      };
      this.channel.on('drain', done);
      this.channel.on('close', done);
    });
  }

  pauseInput(): void {
    this.channel.pause();
  }

  resumeInput(): void {
    this.channel.resume();
  }

  resize(cols: number, rows: number): void {
    this.resized(cols, rows);
  }

  signal(name: string): void {
    this.signalled(name);
  }

  protected end(status: number | null, signal?: string): void {
    if (signal) this.channel.exit(signal, false, '');
    else this.channel.exit(status ?? 0);
    this.channel.end();
  }
}
