import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, addOpenChange, approvedRequest, keyPair, ssh } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';

describe('the session runner, with a real sshd', () => {
  let dir: string;
  let t: TestChangegate;
  let sshd: TestSshd;
  let port: number;
  let aliceKey: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-runner-'));
    const deviceKey = keyPair(dir, 'device_root');
    const alice = keyPair(dir, 'alice');
    aliceKey = alice.file;
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey], extraConfig: ['MaxStartups 100'] });
    t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' });
    port = (await t.cg.startBackground()).sshPort;
    const executor = await buildUser(t, { username: 'alice' });
    const approver = await buildUser(t, { username: 'carol' });
    expect((await executor.client.post('/me/ssh-keys', { name: 'laptop', publicKey: alice.publicKey })).status).toBe(201);
    await addDevice(t.admin, 'web01', sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(executor.client, approver.client, 'web01');
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the exit status of a command that ends before its session is wired up, for the user and the record', async () => {
    // Under load the device's exit status can arrive in the same read as the exec reply.
    const results = await Promise.all(Array.from({ length: 20 }, () => ssh(port, 'alice@web01', 'exit 3', { key: aliceKey })));
    // A failure shows what the user's ssh printed.
    expect(results.map((result) => (result.code === 3 ? 3 : `${result.code}: ${result.stderr}`))).toEqual(Array.from({ length: 20 }, () => 3));
    const sessions = await t.admin.get('/sessions?device=web01&limit=100');
    expect(sessions.body.map((session: { exitStatus: number | null }) => session.exitStatus)).toEqual(Array.from({ length: 20 }, () => 3));
  });
});
