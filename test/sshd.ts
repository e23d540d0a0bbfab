import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestSshd {
  readonly port: number;
  /** The daemon's host key as an OpenSSH public key line (`ssh-ed25519 AAAA…`). */
  readonly hostKey: string;
  /** The host key's fingerprint as `ssh-keygen -l` prints it: `SHA256:…`. */
  readonly fingerprint: string;
  readonly dir: string;
  /** What sshd logged so far (with `logAuthentication`: `Failed password for root …` is a password it was sent). */
  log(): string;
  stop(): Promise<void>;
}

/** A free TCP port on loopback, as the kernel hands it out. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface StartSshdOptions {
  /** Public key lines that let `ssh` clients in, as any user. */
  readonly authorizedKeys?: readonly string[];
  /**
   * Lines appended to `sshd_config`, e.g. `AcceptEnv NAME` or a `Match User …` block. sshd keeps
   * the first value it reads for most keywords, so these add settings rather than override the
   * ones above; a `Match` block can override them for some users.
   */
  readonly extraConfig?: readonly string[];
  /**
   * Password authentication on, and every authentication attempt logged (VERBOSE) to a file that
   * `log()` reads: root's password is locked on this machine, so a password sent always fails, and
   * sshd logs that it was sent.
   */
  readonly logAuthentication?: boolean;
  /** Sessions keep their account's own home and dotfiles (a test user's shell profile), instead of an empty home. */
  readonly accountHome?: boolean;
}

/**
 * Starts a real OpenSSH `sshd` on a loopback high port with its own fresh host key, in the
 * foreground so it dies with the test. `authorizedKeys` (public key lines) let `ssh` clients in.
 */
export async function startSshd(options: StartSshdOptions = {}): Promise<TestSshd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-sshd-'));
  const hostKeyFile = path.join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKeyFile]);
  writeFileSync(path.join(dir, 'authorized_keys'), (options.authorizedKeys ?? []).join('\n'), { mode: 0o600 });
  const logFile = path.join(dir, 'sshd.log');
  writeFileSync(logFile, '');
  const logging = options.logAuthentication === true;
  // Sessions get a home of their own, with no dotfiles: the shell starts and exits at once, as on a
  // lean server, instead of running this machine's root dotfiles (on some machines they start
  // version managers: most of a second of CPU for every session).
  const home = path.join(dir, 'home');
  mkdirSync(home);
  const port = await freePort();
  mkdirSync('/run/sshd', { recursive: true });
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      ...(options.accountHome ? [] : [`SetEnv HOME=${home}`]),
      ...(logging ? ['PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'LogLevel VERBOSE'] : ['PasswordAuthentication no', 'LogLevel ERROR']),
      ...(options.extraConfig ?? []),
    ].join('\n'),
  );
  const config = path.join(dir, 'sshd_config');
  const child: ChildProcess = spawn('/usr/sbin/sshd', logging ? ['-D', '-E', logFile, '-f', config] : ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const log = () => stderr + readFileSync(logFile, 'utf8');
  await waitForBanner(port, child, log);
  const hostKey = readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyFile}.pub`]).toString().split(/\s+/)[1] ?? '';
  return {
    port,
    hostKey,
    fingerprint,
    dir,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForBanner(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString());
      });
      socket.once('error', () => resolve(''));
    });
    if (banner.startsWith('SSH-2.0')) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not answer on port ${port}: ${stderr()}`);
}
