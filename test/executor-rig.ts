import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Started } from '../src/changegate.ts';
import { addDevice, addOpenChange, approvedRequest, keyPair, must } from './gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from './harness.ts';
import { startSshd, type TestSshd } from './sshd.ts';

/** An in-process Changegate with its gateway, a real sshd as device web01, and alice cleared to use it. */
export interface ExecutorRig {
  /** A temporary directory for the test's files (keys, progress files), removed by `close`. */
  readonly dir: string;
  readonly sshd: TestSshd;
  readonly t: TestChangegate;
  readonly started: Started;
  /** alice's SSH key pair, registered to her. */
  readonly aliceKey: ReturnType<typeof keyPair>;
  close(): Promise<void>;
}

/**
 * On PGlite, with the gateway on a free port: alice (an executor with her key registered) and
 * carol (her approver), device web01 at a fresh sshd, the open change `change`, and alice's
 * request for web01 approved by carol.
 */
export async function startExecutorRig(setting: {
  readonly change: string;
  /** The temporary directory's name starts with it. */
  readonly name: string;
  readonly env?: Record<string, string>;
  readonly options?: Parameters<typeof startTestChangegate>[2];
}): Promise<ExecutorRig> {
  const dir = mkdtempSync(path.join(tmpdir(), `changegate-${setting.name}-`));
  const deviceKey = keyPair(dir, 'device_root');
  const aliceKey = keyPair(dir, 'alice');
  const sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
  const t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1', ...setting.env }, setting.options);
  const started = await t.cg.startBackground();
  const alice = await buildUser(t, { username: 'alice' });
  const carol = await buildUser(t, { username: 'carol' });
  await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'registering alice’s key');
  await addDevice(t.admin, 'web01', sshd, deviceKey.privateKey);
  await addOpenChange(t.admin, { name: setting.change, devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
  await approvedRequest(alice.client, carol.client, 'web01');
  return {
    dir,
    sshd,
    t,
    started,
    aliceKey,
    close: async () => {
      await t.close();
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

