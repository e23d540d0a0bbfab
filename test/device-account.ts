/**
 * Device accounts for tests that run a change through the gateway into a real bash: a user of
 * this machine whose login shell reads a profile the test writes, reached by the test sshd with a
 * key of the test's, and the executor, approver, device, credential, group and change that lead
 * there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { approvedRequest, keyPair, must } from './gateway-kit.ts';
import type { Started } from '../src/changegate.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from './harness.ts';
import { startSshd, type TestSshd } from './sshd.ts';

/** The file each device account's key is in: sshd is told of it with `deviceAccountSshdConfig`. */
const KEYS_FILE = path.join('.ssh', 'authorized_keys_changegate_test');

/** sshd settings that let the device accounts in with their test key. */
export const deviceAccountSshdConfig = (users: readonly string[]): string[] => [`Match User ${users.join(',')}`, `  AuthorizedKeysFile ${KEYS_FILE}`];

/**
 * Makes (or reuses) `user`, whose bash reads `profile` (lines of `.bash_profile`) at login and
 * lets in the holder of `publicKey`. Returns its home and a function giving it a file.
 */
export function ensureDeviceAccount(user: string, profile: readonly string[], publicKey: string, writtenBy: string): { home: string; own(file: string): void } {
  if (spawnSync('id', [user]).status !== 0) execFileSync('useradd', ['-m', '-s', '/bin/bash', user]);
  // sshd without PAM refuses accounts whose password is locked ("!"); "*" is no password at all.
  execFileSync('usermod', ['-p', '*', user]);
  const [, , uid = '', gid = '', , home = ''] = execFileSync('getent', ['passwd', user]).toString().trim().split(':');
  const own = (file: string) => chownSync(file, Number(uid), Number(gid));
  const profileFile = path.join(home, '.bash_profile');
  writeFileSync(profileFile, [`# Written by ${writtenBy}.`, ...profile, ''].join('\n'));
  own(profileFile);
  // sshd reads the keys as the user: a file of theirs, not the test sshd's own (root's, mode 0600).
  mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  own(path.join(home, '.ssh'));
  writeFileSync(path.join(home, KEYS_FILE), `${publicKey}\n`, { mode: 0o600 });
  own(path.join(home, KEYS_FILE));
  return { home, own };
}

export interface ChangeOnDevice {
  readonly alice: { client: TestClient };
  readonly carol: { client: TestClient };
  /** Alice's key, registered: `ssh -i` it to the gateway as `alice@<device>`. */
  readonly aliceKey: { file: string; publicKey: string };
}

/**
 * Alice (executor) and Carol (approver); `device` on `sshd`, reached as `account` with
 * `deviceKey`; a group of the two (with `group` fields, such as a command policy); a change open
 * now on the device with `script`; and Alice's request for it, approved.
 */
export async function changeOnDevice(
  t: TestChangegate,
  options: { dir: string; sshd: TestSshd; device: string; account: string; deviceKey: string; change: string; script: string; group?: Record<string, unknown> },
): Promise<ChangeOnDevice> {
  const aliceKey = keyPair(options.dir, 'alice');
  const alice = await buildUser(t, { username: 'alice' });
  const carol = await buildUser(t, { username: 'carol' });
  await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'adding alice’s key');
  const { device, sshd } = options;
  await must(t.admin.post('/devices', { name: device, hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey }), 201, `adding ${device}`);
  await must(t.admin.post('/credentials', { device, account: options.account, secret: { privateKey: options.deviceKey } }), 201, 'vaulting the account');
  await must(t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['carol'], ...options.group }), 201, 'adding the group');
  const now = t.clock.now().getTime();
  await must(
    t.admin.post('/changes', {
      name: options.change,
      title: `Work on ${device}`,
      startAt: new Date(now - 60_000).toISOString(),
      dueAt: new Date(now + 3_600_000).toISOString(),
      accessGroup: 'ops',
      devices: [device],
      script: options.script,
    }),
    201,
    'adding the change',
  );
  await approvedRequest(alice.client, carol.client, device);
  return { alice, carol, aliceKey };
}

/** A change run through the gateway: the test sshd, Changegate on PGlite serving SSH, and `changeOnDevice`. */
export interface GatewayChange extends ChangeOnDevice {
  readonly sshd: TestSshd;
  readonly t: TestChangegate;
  readonly started: Started;
  /** Stops Changegate, then the sshd. */
  close(): Promise<void>;
}

/**
 * Starts the test sshd letting `account` in with its key, Changegate on PGlite with the gateway on
 * any free port (and `env`, `changegate` options), and sets up `changeOnDevice`. The device account
 * (`ensureDeviceAccount`) is the caller's: its profile is the test's own.
 */
export async function startGatewayChange(
  options: Omit<Parameters<typeof changeOnDevice>[1], 'sshd'> & { env?: Record<string, string>; changegate?: Parameters<typeof startTestChangegate>[2] },
): Promise<GatewayChange> {
  const { env = {}, changegate, ...change } = options;
  const sshd = await startSshd({ accountHome: true, extraConfig: deviceAccountSshdConfig([change.account]) });
  let t: TestChangegate | undefined;
  try {
    t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1', ...env }, changegate);
    const started = await t.cg.startBackground();
    const people = await changeOnDevice(t, { ...change, sshd });
    const running = t;
    return {
      ...people,
      sshd,
      t: running,
      started,
      close: async () => {
        await running.close();
        await sshd.stop();
      },
    };
  } catch (error) {
    await t?.close();
    await sshd.stop();
    throw error;
  }
}
