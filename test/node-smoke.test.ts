import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newInstallation, startServer, type Installation, type RunningServer } from '../src/cli/cli-process.testing.ts';
import { gatewayPortOf, keyPair, must, PROMPT, setUpExecutor, Terminal, waitUntil } from './gateway-kit.ts';
import { ADMIN_PASSWORD } from './harness.ts';
import { startSshd, type TestSshd } from './sshd.ts';

/**
 * The smoke test of a Node.js release: the compiled program started by that Node.js
 * (`CHANGEGATE_SMOKE_NODE`, the one running the suite unless set), an administrator and an
 * executor signed in, one session through the SSH gateway with OpenSSH's client to a real sshd,
 * recorded, and the server stopped by SIGTERM. `.ci/run` runs it on Node 24 LTS too.
 */
const NODE = process.env.CHANGEGATE_SMOKE_NODE ?? process.execPath;
const VERSION = execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim();

describe(`Changegate on Node.js ${VERSION}`, () => {
  let dir: string;
  let sshd: TestSshd;
  let installation: Installation;
  let server: RunningServer | undefined;
  let deviceKey: ReturnType<typeof keyPair>;
  let aliceKey: ReturnType<typeof keyPair>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-smoke-'));
    deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    [sshd, installation] = await Promise.all([
      startSshd({ authorizedKeys: [deviceKey.publicKey] }),
      newInstallation('pglite', { CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD }, { migrated: true }),
    ]);
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await sshd?.stop();
    await installation?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, signs users in, records a session through the gateway, and stops', { timeout: 120_000 }, async () => {
    server = await startServer(installation, [], NODE);
    const { admin } = await setUpExecutor(server.url, { adminPassword: ADMIN_PASSWORD, sshd, rootKey: deviceKey.privateKey, aliceKey: aliceKey.publicKey, change: 'CHG-SMOKE' });

    const terminal = new Terminal(gatewayPortOf(server.stdout()), 'alice@web01', aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      terminal.type('echo smoke-$((6*7))\r');
      await terminal.waitFor(/smoke-42\r\n/);
      terminal.type('exit\r');
      expect(await terminal.exited).toBe(0);
    } finally {
      terminal.close();
    }
    const session = await waitUntil(async () => {
      const [ended] = (await must(admin.get('/sessions'), 200, 'listing sessions')).body as Array<{ number: number; live: boolean; user: string }>;
      return ended && !ended.live ? ended : undefined;
    }, 'the session to end');
    expect(session.user).toBe('alice');
    const recording = await admin.get(`/sessions/${session.number}/recording`);
    expect(recording.status).toBe(200);
    expect(String(recording.body)).toContain('smoke-42');

    const stopped = await server.stop('SIGTERM');
    server = undefined;
    expect(stopped.code).toBe(0);
  });
});
