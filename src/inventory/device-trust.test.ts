/**
 * Issue 10, item 1: a device's identity guards its credentials. Each attack runs against a running
 * Changegate with its SSH gateway, real OpenSSH devices (the real web01, a reinstalled web01 with a
 * new host key, and the attacker's own sshd) and the real ssh client, on both databases.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { addOpenChange, approvedRequest, keyPair, PROMPT, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { Started } from '../changegate.ts';
import { sshUpstream, type UpstreamConnector } from '../sessions/index.ts';

type Event = { seq: number; actor: string; action: string; subject: string; data: Record<string, unknown> };

/** What the gateway handed the upstream connector: where it went and whether a password was in it. */
interface Handed {
  readonly port: number;
  readonly password: string | undefined;
}

describe.each(DATABASE_KINDS)("a device's identity guards its credentials, on %s", (kind) => {
  const PASSWORD = `vaulted-root-password-${kind}`;
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let real: TestSshd;
  let reinstalled: TestSshd;
  let rogue: TestSshd;
  let aliceKey: { file: string };
  let alice: TestClient;
  let carol: TestClient;
  /** Device.View and Device.Edit, no Credential.*: the attacker. */
  let mallory: { username: string; client: TestClient };
  /** Device.View, Edit and Pin, still no Credential.*: a device administrator gone rogue. */
  let pinner: { username: string; client: TestClient };
  /** Credential.View and Credential.Edit: who confirms a credential for a new key. */
  let keeper: { username: string; client: TestClient };
  let credentialId: string;
  const handed: Handed[] = [];

  /** Hands the gateway's upstream connection to the real ssh2 connector, noting what it was given. */
  let rootPrivateKey: string;
  const recordingUpstream: UpstreamConnector = {
    connect(target, credential) {
      handed.push({ port: target.port, password: credential.password });
      // root's password is locked on the test devices: its key logs in, after the password was sent
      // (ssh2 tries the password first), so the device's sshd logs each password it receives.
      return sshUpstream.connect(target, { ...credential, privateKey: rootPrivateKey });
    },
  };

  async function events(query: Record<string, string>): Promise<Event[]> {
    const answer = await t.admin.get(`/events?${new URLSearchParams({ ...query, limit: '1000' })}`);
    expect(answer.status).toBe(200);
    return answer.body;
  }

  /** Everything an attack could have changed: the device and credential rows, the requests on the device, the event log. */
  async function state() {
    const db = t.cg.database.db;
    const device = await db.selectFrom('device').selectAll().where('name', '=', 'web01').executeTakeFirstOrThrow();
    const credential = await db.selectFrom('credential').selectAll().where('id', '=', credentialId).executeTakeFirstOrThrow();
    const requests = await db.selectFrom('access_request').select(['number', 'status']).where('device_id', '=', device.id).orderBy('number').execute();
    const lastEvent = await db.selectFrom('event').select((eb) => eb.fn.max('seq').as('seq')).where('action', 'not in', BACKGROUND).executeTakeFirstOrThrow();
    return { device, credential, requests, lastEvent: Number(lastEvent.seq) };
  }

  /**
   * What earlier sessions log in the background once they have ended (their recordings' progress,
   * their change's new audit result) is not what an attack wrote: left out of both.
   */
  const BACKGROUND = ['recording.chunks', 'review.result'];

  async function eventsSince(seq: number): Promise<Event[]> {
    return (await events({})).filter((event) => event.seq > seq && !BACKGROUND.includes(event.action));
  }

  /** alice asks again after her request was cancelled, and carol approves: the request's number. */
  async function askAgainApproved(): Promise<number> {
    const asked = await alice.post('/requests', { device: 'web01', again: true });
    expect(asked.status).toBe(201);
    expect((await carol.post(`/requests/${asked.body.request.number}/approve`, { comment: 'go' })).status).toBe(200);
    return asked.body.request.number;
  }

  async function connectAsAlice(command: string) {
    return ssh(started.sshPort, 'alice@web01', command, { key: aliceKey.file });
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-trust-'));
    const root = keyPair(dir, 'device_root');
    rootPrivateKey = root.privateKey;
    real = await startSshd({ authorizedKeys: [root.publicKey], logAuthentication: true });
    reinstalled = await startSshd({ authorizedKeys: [root.publicKey], logAuthentication: true });
    rogue = await startSshd({ logAuthentication: true });
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' }, { upstream: recordingUpstream, sessionTiming: { decisionPollMs: 200 } });
    started = await t.cg.startBackground();

    const aliceUser = await buildUser(t, { username: 'alice' });
    alice = aliceUser.client;
    carol = (await buildUser(t, { username: 'carol' })).client;
    aliceKey = keyPair(dir, 'alice');
    expect((await alice.post('/me/ssh-keys', { name: 'laptop', publicKey: readFileSync(`${aliceKey.file}.pub`, 'utf8').trim() })).status).toBe(201);
    mallory = await buildUser(t, { username: 'mallory', grants: [{ privilege: 'Device.View' }, { privilege: 'Device.Edit' }] });
    pinner = await buildUser(t, { username: 'pinner', grants: [{ privilege: 'Device.View' }, { privilege: 'Device.Edit' }, { privilege: 'Device.Pin' }] });
    keeper = await buildUser(t, { username: 'keeper', grants: [{ privilege: 'Credential.View' }, { privilege: 'Credential.Edit' }] });

    expect((await t.admin.post('/devices', { name: 'web01', hostname: '127.0.0.1', port: real.port, hostKey: real.hostKey })).status).toBe(201);
    const credential = await t.admin.post('/credentials', { device: 'web01', account: 'root', secret: { password: PASSWORD } });
    expect(credential.status).toBe(201);
    expect(credential.body).toMatchObject({ hostKeyFingerprint: real.fingerprint, hostKeyConfirmed: true });
    credentialId = credential.body.id;
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice, carol, 'web01');
  });

  afterAll(async () => {
    await t?.close();
    await Promise.all([real?.stop(), reinstalled?.stop(), rogue?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends the vaulted password to the real device before any attack (the logs below can tell)", async () => {
    const session = await connectAsAlice('echo on-the-real-web01');
    expect(session.stdout).toBe('on-the-real-web01\n');
    expect(handed.at(-1)).toEqual({ port: real.port, password: PASSWORD });
    await waitUntil(async () => (/Failed password for root/.test(real.log()) ? true : undefined), "the real device's log of the password it was sent");
  });

  it('refuses to let a Device.Edit-only user change the address or host key: 403 naming Device.Pin, nothing changed', async () => {
    const before = await state();
    for (const patch of [{ port: rogue.port, hostKey: null }, { port: rogue.port }, { hostname: 'localhost' }, { hostKey: rogue.hostKey }, { hostKey: null }, { hostKey: 'ssh-ed25519 garbage!' }]) {
      const answer = await mallory.client.patch('/devices/web01', patch);
      expect({ patch, status: answer.status, code: answer.body.error?.code }).toEqual({ patch, status: 403, code: 'forbidden' });
      expect(answer.body.error.message).toContain('Device.Pin');
    }
    expect(await state()).toEqual(before);

    // Other fields still need only Device.Edit, and so does sending the address it already has.
    const described = await mallory.client.patch('/devices/web01', { description: 'front web server', port: real.port });
    expect(described.status).toBe(200);
    expect(described.body).toMatchObject({ description: 'front web server', port: real.port, hostKeyFingerprint: real.fingerprint, version: before.device.version + 1 });
    const after = await state();
    expect(after.requests).toEqual(before.requests);
    expect((await eventsSince(before.lastEvent)).map((event) => event.action)).toEqual(['device.update']);
  });

  it('lets a test connection by a Device.Edit-only user check the pinned key, never pin one', async () => {
    expect((await t.admin.post('/partitions', { name: 'Plant-X' })).status).toBe(201);
    const elsewhere = await buildUser(t, { grants: [{ privilege: 'Device.View' }, { privilege: 'Device.Edit' }, { privilege: 'Device.Pin', partition: 'Plant-X' }] });
    const before = await state();
    const checked = await mallory.client.post('/devices/web01/test-connection');
    expect(checked.status).toBe(200);
    expect(checked.body).toMatchObject({ hostKeyStatus: 'matched', hostKeyFingerprint: real.fingerprint });
    const pinning = await mallory.client.post('/devices/web01/test-connection', { expectedFingerprint: rogue.fingerprint });
    expect(pinning.status).toBe(403);
    expect(pinning.body.error.message).toContain('Device.Pin');
    // Device.Pin in another partition is not Device.Pin in this one.
    const patched = await elsewhere.client.patch('/devices/web01', { port: rogue.port });
    expect(patched.status).toBe(403);
    expect(patched.body.error.message).toContain('Device.Pin');
    expect(await state()).toEqual(before);
  });

  it("fails the issue's attack at every step: the executor's next session still reaches the real device, the rogue sshd gets nothing", async () => {
    const before = await state();
    const redirected = await mallory.client.patch('/devices/web01', { port: rogue.port, hostKey: null });
    expect(redirected.status).toBe(403);
    const tested = await mallory.client.post('/devices/web01/test-connection');
    expect(tested.body.hostKeyStatus).toBe('matched');
    expect(await state()).toEqual(before);

    const session = await connectAsAlice('echo still-the-real-web01');
    expect(session.stdout).toBe('still-the-real-web01\n');
    expect(handed.at(-1)).toEqual({ port: real.port, password: PASSWORD });
    expect(handed.some((call) => call.port === rogue.port)).toBe(false);
    expect(rogue.log()).not.toMatch(/password|Accepted|Failed/);
  });

  it("ends the device's live sessions, cancels its open requests (telling the requester) and logs old and new values when a Device.Pin holder moves it", async () => {
    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      const live = await waitUntil(async () => (await t.admin.get('/sessions?live=true&device=web01')).body[0], 'the live session');
      const before = await state();
      const approved = before.requests.filter((request) => request.status === 'approved').map((request) => request.number);
      expect(approved).toHaveLength(1);

      const moved = await pinner.client.patch('/devices/web01', { port: rogue.port, hostKey: null });
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({ port: rogue.port, hostKey: null, hostKeyFingerprint: null });

      const reason = 'the address and host key of device web01 changed';
      await terminal.waitFor(`terminated by pinner: ${reason}`);
      await terminal.exited;
      const ended = await waitUntil(async () => {
        const answer = await t.admin.get(`/sessions/${live.number}`);
        return answer.body.live === false ? answer.body : undefined;
      }, 'the session record to end');
      expect(ended).toMatchObject({ endReason: 'terminated', endedBy: 'pinner' });

      const after = await state();
      expect(after.requests.filter((request) => approved.includes(request.number)).map((request) => request.status)).toEqual(['cancelled']);
      const request = await alice.get(`/requests/${approved[0]}`);
      expect(request.body.status).toBe('cancelled');
      const told = (await alice.get('/notifications')).body.find((notice: { kind: string; data: { request?: number } }) => notice.kind === 'request.cancelled' && notice.data.request === approved[0]);
      expect(told.title).toContain(reason);

      const logged = await events({ action: 'device.identity.change', subject: 'device:GLOBAL.web01' });
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        actor: 'pinner',
        data: {
          changed: ['port', 'hostKeyFingerprint'],
          before: { hostname: '127.0.0.1', port: real.port, hostKeyFingerprint: real.fingerprint },
          after: { hostname: '127.0.0.1', port: rogue.port, hostKeyFingerprint: null },
          cancelledRequests: approved,
          reason,
        },
      });
      const cancelEvents = await events({ action: 'request.cancel', subject: `request:${approved[0]}` });
      expect(cancelEvents[0]).toMatchObject({ actor: 'pinner', data: { reason } });
      expect(JSON.stringify(await eventsSince(before.lastEvent))).not.toContain(PASSWORD);
    } finally {
      terminal.close();
    }
  });

  it('pins no key on first use on a device that holds a credential, and a new key only with the fingerprint verified out of band', async () => {
    const before = await state();
    const unverified = await pinner.client.post('/devices/web01/test-connection');
    expect(unverified.status).toBe(409);
    expect(unverified.body.error.code).toBe('host_key_unverified');
    expect(unverified.body.error.message).toContain(rogue.fingerprint);
    expect(unverified.body.error.message).toContain('expectedFingerprint');
    expect(unverified.body.error.details).toEqual({ pinned: null, offered: rogue.fingerprint, credentials: ['root@web01'] });

    const unexpected = await pinner.client.post('/devices/web01/test-connection', { expectedFingerprint: real.fingerprint });
    expect(unexpected.status).toBe(409);
    expect(unexpected.body.error.code).toBe('host_key_not_expected');
    expect(unexpected.body.error.details).toEqual({ pinned: null, expected: real.fingerprint, offered: rogue.fingerprint });

    const unreadable = await pinner.client.post('/devices/web01/test-connection', { expectedFingerprint: 'SHA256:short' });
    expect(unreadable.status).toBe(400);
    expect(unreadable.body.error.details.problems[0].path).toBe('/expectedFingerprint');

    const after = await state();
    expect({ ...after, lastEvent: 0 }).toEqual({ ...before, lastEvent: 0 });
    expect((await eventsSince(before.lastEvent)).map((event) => [event.action, event.actor])).toEqual([
      ['device.hostkey.unverified', 'pinner'],
      ['device.hostkey.unexpected', 'pinner'],
    ]);

    // The attacker knows their own sshd's fingerprint, and holds Device.Pin: the key is pinned.
    const pinned = await pinner.client.post('/devices/web01/test-connection', { expectedFingerprint: rogue.fingerprint });
    expect(pinned.status).toBe(200);
    expect(pinned.body).toMatchObject({ hostKeyStatus: 'pinned', hostKeyFingerprint: rogue.fingerprint });
    const logged = await events({ action: 'device.identity.change', subject: 'device:GLOBAL.web01' });
    expect(logged.at(-1)?.data).toMatchObject({ changed: ['hostKeyFingerprint'], before: { hostKeyFingerprint: null }, after: { port: rogue.port, hostKeyFingerprint: rogue.fingerprint } });
  });

  it("never sends the password to a key pinned after it was stored: the executor is told, an event is written, the rogue sshd receives nothing", async () => {
    const credential = await t.admin.get(`/credentials/${credentialId}`);
    expect(credential.body).toMatchObject({ hostKeyFingerprint: real.fingerprint, hostKeyConfirmed: false });
    const number = await askAgainApproved();
    const handedBefore = handed.length;
    const before = await state();

    const session = await connectAsAlice('echo must-not-run');
    expect(session.code).toBe(1);
    expect(session.stdout).toBe('');
    expect(session.stderr).toContain(`the password of root@web01 awaits confirmation for the device's new host key ${rogue.fingerprint}`);
    expect(session.stderr).toContain('Changegate sent nothing to the device');

    expect(handed.length).toBe(handedBefore);
    expect(rogue.log()).not.toMatch(/password|Accepted|Failed/);
    const refusals = (await eventsSince(before.lastEvent)).filter((event) => event.action === 'credential.hostkey.unconfirmed');
    expect(refusals).toEqual([
      expect.objectContaining({
        actor: 'alice',
        subject: 'credential:GLOBAL.root@web01',
        data: { device: 'web01', account: 'root', pinned: rogue.fingerprint, confirmedFor: real.fingerprint, request: number },
      }),
    ]);
    expect((await t.admin.get('/sessions?device=web01&live=true')).body).toEqual([]);
  });

  it('lets only Credential.Edit confirm a credential for the new key, and only for the pinned fingerprint', async () => {
    const viewer = await buildUser(t, { grants: [{ privilege: 'Credential.View' }] });
    const before = await state();
    const hidden = await pinner.client.post(`/credentials/${credentialId}/confirm-host-key`, { fingerprint: rogue.fingerprint });
    expect(hidden.status).toBe(404);
    const viewOnly = await viewer.client.post(`/credentials/${credentialId}/confirm-host-key`, { fingerprint: rogue.fingerprint });
    expect(viewOnly.status).toBe(403);
    expect(viewOnly.body.error.message).toContain('Credential.Edit');
    const notPinned = await keeper.client.post(`/credentials/${credentialId}/confirm-host-key`, { fingerprint: real.fingerprint });
    expect(notPinned.status).toBe(409);
    expect(notPinned.body.error.code).toBe('host_key_not_pinned');
    expect(notPinned.body.error.details).toEqual({ pinned: rogue.fingerprint, given: real.fingerprint });
    expect(await state()).toEqual(before);
  });

  it('works for the legitimate path: an administrator re-pins the reinstalled server with its verified fingerprint, confirms the credential, and the session runs', async () => {
    const moved = await t.admin.patch('/devices/web01', { port: reinstalled.port, hostKey: null });
    expect(moved.status).toBe(200);
    const pinned = await t.admin.post('/devices/web01/test-connection', { expectedFingerprint: reinstalled.fingerprint });
    expect(pinned.status).toBe(200);
    expect(pinned.body).toMatchObject({ hostKeyStatus: 'pinned', hostKeyFingerprint: reinstalled.fingerprint });

    // Still unconfirmed: the executor is refused, and the reinstalled server gets no password yet.
    await askAgainApproved();
    const early = await connectAsAlice('echo too-early');
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`awaits confirmation for the device's new host key ${reinstalled.fingerprint}`);
    expect(handed.some((call) => call.port === reinstalled.port)).toBe(false);

    const confirmed = await keeper.client.post(`/credentials/${credentialId}/confirm-host-key`, { fingerprint: reinstalled.fingerprint });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ hostKeyFingerprint: reinstalled.fingerprint, hostKeyConfirmed: true });
    const again = await keeper.client.post(`/credentials/${credentialId}/confirm-host-key`, { fingerprint: reinstalled.fingerprint });
    expect(again.body.version).toBe(confirmed.body.version);
    const confirmations = await events({ action: 'credential.hostkey.confirm', subject: 'credential:GLOBAL.root@web01' });
    expect(confirmations).toHaveLength(1);
    expect(confirmations[0]).toMatchObject({
      actor: 'keeper',
      data: { changes: { hostKeyFingerprint: { before: real.fingerprint, after: reinstalled.fingerprint } }, reason: `confirmed for the host key ${reinstalled.fingerprint} of device web01` },
    });

    const session = await connectAsAlice('echo on-the-reinstalled-web01');
    expect(session.stdout).toBe('on-the-reinstalled-web01\n');
    expect(handed.at(-1)).toEqual({ port: reinstalled.port, password: PASSWORD });
    await waitUntil(async () => (/Failed password for root/.test(reinstalled.log()) ? true : undefined), 'the reinstalled device to receive the password');
    expect(rogue.log()).not.toMatch(/password|Accepted|Failed/);
  });

  it('pins a credential-less device on first use for a Device.Pin holder only; a credential stored then is confirmed for that key', async () => {
    expect((await t.admin.post('/devices', { name: 'web02', hostname: '127.0.0.1', port: real.port })).status).toBe(201);
    const before = await t.admin.get('/devices/web02');
    const refused = await mallory.client.post('/devices/web02/test-connection');
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('Device.Pin');
    expect((await t.admin.get('/devices/web02')).body).toEqual(before.body);

    const firstUse = await pinner.client.post('/devices/web02/test-connection');
    expect(firstUse.status).toBe(200);
    expect(firstUse.body).toMatchObject({ hostKeyStatus: 'pinned', hostKeyFingerprint: real.fingerprint });
    const vaulted = await t.admin.post('/credentials', { device: 'web02', account: 'root', secret: { password: 'another-one' } });
    expect(vaulted.body).toMatchObject({ hostKeyFingerprint: real.fingerprint, hostKeyConfirmed: true });

    // A key given at creation is pinned at creation: Device.Create alone does not do it.
    const creator = await buildUser(t, { grants: [{ privilege: 'Device.Create' }] });
    const withKey = await creator.client.post('/devices', { name: 'web03', hostname: '127.0.0.1', port: rogue.port, hostKey: rogue.hostKey });
    expect(withKey.status).toBe(403);
    expect(withKey.body.error.message).toContain('Device.Pin');
    expect((await t.admin.get('/devices/web03')).status).toBe(404);
    expect((await creator.client.post('/devices', { name: 'web03', hostname: '127.0.0.1', port: rogue.port })).status).toBe(201);
  });

  it('confirms a credential only by confirm-host-key: neither a new secret nor a new description confirms it for a re-pinned key', async () => {
    expect((await t.admin.post('/devices', { name: 'web04', hostname: '127.0.0.1', port: real.port })).status).toBe(201);
    const stored = await t.admin.post('/credentials', { device: 'web04', account: 'root', secret: { password: 'before-any-key' } });
    expect(stored.body).toMatchObject({ hostKeyFingerprint: null, hostKeyConfirmed: false });
    const unverified = await t.admin.post('/devices/web04/test-connection');
    expect(unverified.body.error.code).toBe('host_key_unverified');
    expect((await t.admin.post('/devices/web04/test-connection', { expectedFingerprint: real.fingerprint })).body.hostKeyStatus).toBe('pinned');
    const described = await t.admin.patch(`/credentials/${stored.body.id}`, { description: 'not a confirmation' });
    expect(described.body).toMatchObject({ hostKeyFingerprint: null, hostKeyConfirmed: false });
    // A routine rotation of the password is not a check of the key it will be sent to.
    const rotated = await t.admin.patch(`/credentials/${stored.body.id}`, { secret: { password: 'rotated-as-every-month' } });
    expect(rotated.body).toMatchObject({ hostKeyFingerprint: null, hostKeyConfirmed: false });
    const confirmed = await t.admin.post(`/credentials/${stored.body.id}/confirm-host-key`, { fingerprint: real.fingerprint });
    expect(confirmed.body).toMatchObject({ hostKeyFingerprint: real.fingerprint, hostKeyConfirmed: true });
  });

  it('leaves an event log that verifies', async () => {
    const verified = await t.admin.post('/events/verify');
    expect(verified.body).toMatchObject({ ok: true });
  });
});
