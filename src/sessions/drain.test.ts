/**
 * The drain on SIGTERM, in process (`drain(graceMs)` is what `serve` runs on the first signal): a
 * live session through the gateway (real sshd, real OpenSSH client) goes on, its user is told once,
 * a new session is refused, readiness answers 503, and the session ends as `gateway_stopped` only
 * when the grace runs out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDevice, addOpenChange, approvedRequest, keyPair, PROMPT, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { Started } from '../changegate.ts';

/** Long enough for the steps under the drain on a busy machine; the session must outlive it. */
const GRACE_MS = 8000;

describe('draining an instance that is stopping', () => {
  let dir: string;
  let t: TestChangegate;
  let sshd: TestSshd;
  let started: Started;
  let aliceKey: { file: string; publicKey: string };
  let terminal: Terminal | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-drain-'));
    const deviceKey = keyPair(dir, 'device_root');
    aliceKey = keyPair(dir, 'alice');
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    t = await startTestChangegate('pglite', { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' });
    started = await t.cg.startBackground();
    const alice = await buildUser(t, { username: 'alice' });
    const carol = await buildUser(t, { username: 'carol' });
    expect((await alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey })).status).toBe(201);
    await addDevice(t.admin, 'web01', sshd, deviceKey.privateKey);
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, 'web01');
  });

  afterAll(async () => {
    terminal?.close();
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the live session until the grace runs out, tells its user once, refuses new ones, and ends it as gateway_stopped', async () => {
    const live = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    terminal = live;
    await live.waitFor(PROMPT);
    const session = await waitUntil(async () => (await t.admin.get('/sessions?live=true')).body[0] as { number: number } | undefined, 'the session to be live');
    expect((await t.admin.get('/health/ready')).status).toBe(200);

    const began = performance.now();
    let drainedAt: number | undefined;
    const drained = t.cg.drain(GRACE_MS).then(() => {
      drainedAt = performance.now();
    });

    await live.waitFor('Changegate on this server is stopping: your session ends in 8 s; connect again to continue on another instance.');
    // The instance says so to the load balancer and in its row.
    await waitUntil(async () => ((await t.admin.get('/health/ready')).status === 503 ? true : undefined), 'readiness to fail');
    const ready = await t.admin.get('/health/ready');
    expect(ready.body.error.code).toBe('instance_draining');
    expect((await t.admin.get('/health/live')).status).toBe(200);
    const [self] = (await t.admin.get('/instances')).body as Array<{ status: string; drainingSince: string | null }>;
    expect(self).toMatchObject({ status: 'draining', drainingSince: expect.any(String) });

    // A new session is refused with the reason; the live one works on.
    const refused = await ssh(started.sshPort, 'alice@web01', 'echo never', { key: aliceKey.file });
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toContain('never');
    expect(refused.stderr).toContain('Changegate on this server is stopping and starts no new sessions: connect again to continue on another instance.');
    live.type('echo still-here\r');
    await live.waitFor(/still-here\r?\n.*[#$] /s);

    // Here, before the grace ran out (checked, not assumed), the session is still live and the drain waits.
    expect(performance.now() - began).toBeLessThan(GRACE_MS);
    expect(drainedAt).toBeUndefined();
    expect((await t.admin.get(`/sessions/${session.number}`)).body).toMatchObject({ live: true, endedAt: null });

    await drained;
    expect((drainedAt as number) - began).toBeGreaterThanOrEqual(GRACE_MS - 50);
    await live.exited;
    expect(live.output.match(/your session ends in/g)).toHaveLength(1);
    expect(live.output).toContain('Changegate is stopping: the session ends now.');
    expect((await t.admin.get(`/sessions/${session.number}`)).body).toMatchObject({ live: false, endReason: 'gateway_stopped' });
  });
});
