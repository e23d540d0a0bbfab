import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import canonicalizeModule from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { keyPair, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { buildRule, history } from '../auditing/auditing.test-kit.ts';
import { buildChange, buildDevice, buildGroup, changeId, eventsWhere, fromNow, HOUR, MINUTE } from './changes.test-kit.ts';

const canonicalize = canonicalizeModule as unknown as (input: unknown) => string;

type User = Awaited<ReturnType<typeof buildUser>>;
type Notification = { kind: string; title: string; body: string; data: Record<string, unknown> };

/**
 * Item 6 ("an approval is for exactly what was approved") and item 9 ("nothing leaks to the
 * unprivileged") of the trust issue: each attack against a running Changegate, refused for the
 * right reason with nothing changed, and the legitimate path beside it. Sessions go through the
 * real gateway to a real OpenSSH device with a real ssh client.
 */
describe.each(DATABASE_KINDS)('approvals and what requests reveal, on %s', (kind) => {
  let dir: string;
  let t: TestChangegate;
  let sshd: TestSshd;
  let sshPort: number;
  let rootKey: { privateKey: string };
  let aliceKey: { file: string; publicKey: string };
  // alice and erin execute; bob and carol approve; mallory holds nothing; viewer holds Request.View;
  // revoker holds Request.Revoke system-wide; elsewhere holds Request.Revoke in another partition.
  let alice: User;
  let erin: User;
  let bob: User;
  let carol: User;
  let mallory: User;
  let viewer: User;
  let revoker: User;
  let elsewhere: User;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-approvals-'));
    const deviceKey = keyPair(dir, 'device_root');
    rootKey = deviceKey;
    sshd = await startSshd({ authorizedKeys: [deviceKey.publicKey] });
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1', CHANGEGATE_SESSION_IDLE_MINUTES: '1440' });
    sshPort = (await t.cg.startBackground()).sshPort;
    expect((await t.admin.post('/partitions', { name: 'OTHER' })).status).toBe(201);
    [alice, erin, bob, carol, mallory] = [await buildUser(t), await buildUser(t), await buildUser(t), await buildUser(t), await buildUser(t)];
    viewer = await buildUser(t, { grants: [{ privilege: 'Request.View' }] });
    revoker = await buildUser(t, { grants: [{ privilege: 'Request.Revoke' }] });
    elsewhere = await buildUser(t, { grants: [{ privilege: 'Request.Revoke', partition: 'OTHER' }, { privilege: 'Request.View', partition: 'OTHER' }] });
    aliceKey = keyPair(dir, 'alice');
    expect((await alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey })).status).toBe(201);
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A device (at the test sshd with root's key vaulted when `reachable`) in an open change run by alice and erin, approved by bob and carol. */
  async function openChange(options: { reachable?: boolean; group?: Parameters<typeof buildGroup>[1] } = {}) {
    const device = options.reachable
      ? await buildDevice(t, { hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey })
      : await buildDevice(t);
    if (options.reachable) expect((await t.admin.post('/credentials', { device: device.name, account: 'root', secret: { privateKey: rootKey.privateKey } })).status).toBe(201);
    const group = await buildGroup(t, { executors: [alice.username, erin.username], approvers: [bob.username, carol.username], ...options.group });
    const change = await buildChange(t, { accessGroup: group.name, devices: [device.name], script: 'echo one\nuptime\n' });
    return { device: device.name, group: group.name, change: change.name };
  }

  async function approved(executor: User, device: string, approver: User = bob): Promise<number> {
    const asked = await executor.client.post('/requests', { device, again: true });
    expect(asked.status).toBe(201);
    const number = asked.body.request.number as number;
    expect((await approver.client.post(`/requests/${number}/approve`, { comment: 'go' })).body.status).toBe('approved');
    return number;
  }

  const notificationsOf = async (user: User): Promise<Notification[]> => (await user.client.get('/notifications?limit=200')).body;

  /** Everything a refused call must leave as it was: requests, decisions, changes and groups with their versions, and the event log. */
  async function state(): Promise<unknown> {
    const db = t.cg.database.db;
    return {
      requests: await db.selectFrom('access_request').selectAll().orderBy('number').execute(),
      decisions: await db.selectFrom('request_decision').selectAll().orderBy('request_id').orderBy('approver_id').execute(),
      changes: await db.selectFrom('change').select(['id', 'version', 'start_at', 'due_at', 'script', 'devices', 'access_group_id']).orderBy('id').execute(),
      groups: await db.selectFrom('access_group').select(['id', 'version']).orderBy('id').execute(),
      events: (await db.selectFrom('event').select((eb) => eb.fn.max('seq').as('last')).executeTakeFirstOrThrow()).last,
    };
  }

  /** The answer as it leaves the server: status, content type and the body's bytes. */
  async function raw(client: TestClient, url: string, body: unknown): Promise<{ status: number; type: unknown; text: string }> {
    const credentials = client.credentials as { cookie: string; csrf: string };
    const response = await t.cg.app.inject({
      method: 'POST',
      url: `/api/v1${url}`,
      headers: { cookie: `changegate_session=${credentials.cookie}`, 'x-csrf-token': credentials.csrf },
      payload: body as object,
    });
    return { status: response.statusCode, type: response.headers['content-type'], text: response.body };
  }

  /** The digest the server must record, computed here from the API's own view of the change. */
  async function expectedDigest(change: string): Promise<string> {
    const view = (await t.admin.get(`/changes/${change}`)).body;
    const group = (await t.admin.get(`/access-groups/${encodeURIComponent(view.accessGroup)}`)).body;
    const devices = await Promise.all(view.devices.map(async (name: string) => (await t.admin.get(`/devices/${name}`)).body.id as string));
    const canonical = canonicalize({ accessGroup: group.id, devices: [...devices].sort(), dueAt: view.dueAt, script: view.script, startAt: view.startAt });
    return createHash('sha256').update(canonical).digest('hex');
  }

  describe('an approval is for exactly what was approved', () => {
    it('records with each decision the SHA-256 of the canonical plan (window, devices, script, access group)', async () => {
      const { device, change } = await openChange({ group: { approvalsRequired: 2 } });
      const number = (await alice.client.post('/requests', { device })).body.request.number as number;
      expect((await bob.client.post(`/requests/${number}/approve`)).status).toBe(200);
      const done = await carol.client.post(`/requests/${number}/approve`);
      expect(done.body.status).toBe('approved');
      const digest = await expectedDigest(change);
      expect((await t.admin.get(`/changes/${change}`)).body.planDigest).toBe(digest);
      expect(done.body.decisions.map((decision: { digest: string }) => decision.digest)).toEqual([digest, digest]);
      const events = await eventsWhere(t, { action: 'request.approve', subject: `request:${number}` });
      expect(events.map((event) => event.data.digest)).toEqual([digest, digest]);
      // Rewording the change is not a new plan: the approval holds.
      expect((await t.admin.patch(`/changes/${change}`, { title: 'Reworded', description: 'more words' })).status).toBe(200);
      expect((await alice.client.post('/requests', { device })).body.request).toMatchObject({ number, status: 'approved' });
    });

    const edits: Array<[string, (ctx: { device: string; change: string }) => Promise<Record<string, unknown>>, string]> = [
      ['the start time', async () => ({ startAt: fromNow(t, -2 * MINUTE) }), 'the start time'],
      ['the due date', async () => ({ dueAt: fromNow(t, 2 * HOUR) }), 'the due date'],
      ['the devices', async ({ device }) => ({ devices: [device, (await buildDevice(t)).name] }), 'the devices'],
      ['the script', async () => ({ script: 'echo one\nuptime\nrm -rf /srv/cache\n' }), 'the script'],
      [
        'the access group',
        async () => ({ accessGroup: (await buildGroup(t, { executors: [alice.username, erin.username], approvers: [bob.username, carol.username] })).name }),
        'the access group',
      ],
    ];

    it.each(edits)('editing %s cancels the pending and approved requests, tells requesters and approvers why, and needs a new approval', async (_what, patchOf, part) => {
      const ctx = await openChange();
      const approvedNumber = await approved(alice, ctx.device);
      const pendingNumber = (await erin.client.post('/requests', { device: ctx.device })).body.request.number as number;
      const digestBefore = await expectedDigest(ctx.change);

      const edited = await t.admin.patch(`/changes/${ctx.change}`, await patchOf(ctx));
      expect(edited.status).toBe(200);
      expect(await expectedDigest(ctx.change)).not.toBe(digestBefore);

      for (const [number, was] of [[approvedNumber, 'approved'], [pendingNumber, 'pending']] as const) {
        const request = (await t.admin.get(`/requests/${number}`)).body;
        expect(request.status).toBe('cancelled');
        expect(request.closeReason).toBe(`change ${ctx.change} was edited by admin (${part}): an approval is for the plan as it was approved`);
        const events = await eventsWhere(t, { action: 'request.cancel', subject: `request:${number}` });
        expect(events).toEqual([expect.objectContaining({ actor: 'admin', data: expect.objectContaining({ change: ctx.change, reason: request.closeReason, was }) })]);
      }
      for (const [user, number] of [[alice, approvedNumber], [erin, pendingNumber], [bob, approvedNumber], [carol, pendingNumber]] as const) {
        const notice = (await notificationsOf(user)).find((candidate) => candidate.kind === 'request.cancelled' && candidate.data.request === number);
        expect(notice?.title).toBe(`Request #${number} cancelled: change ${ctx.change} was edited by admin (${part}): an approval is for the plan as it was approved`);
      }

      // The old approval admits nothing; asking again makes a new request that needs a new approval.
      const stale = await alice.client.post('/requests', { device: ctx.device });
      expect(stale.body.request).toMatchObject({ number: approvedNumber, status: 'cancelled' });
      const fresh = await alice.client.post('/requests', { device: ctx.device, again: true });
      expect(fresh.status).toBe(201);
      expect(fresh.body.request.status).toBe('pending');
      expect((await bob.client.post(`/requests/${fresh.body.request.number}/approve`)).body.status).toBe('approved');
      expect((await alice.client.post('/requests', { device: ctx.device })).body.request).toMatchObject({ number: fresh.body.request.number, status: 'approved' });
    });

    it('refuses an approval whose plan changed behind the change service (a restore from the audit trail), changing nothing, until asked again', async () => {
      await buildRule(t, { objectType: 'Change', namePattern: 'CHG-DD-*', level: 'full_audit' });
      const device = await buildDevice(t, { hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey });
      expect((await t.admin.post('/credentials', { device: device.name, account: 'root', secret: { privateKey: rootKey.privateKey } })).status).toBe(201);
      const group = await buildGroup(t, { executors: [alice.username], approvers: [bob.username] });
      const change = await buildChange(t, { name: `CHG-DD-${changeId().slice(4)}`, accessGroup: group.name, devices: [device.name], script: 'echo one\n' });
      expect((await t.admin.patch(`/changes/${change.name}`, { dueAt: fromNow(t, 2 * HOUR) })).status).toBe(200);
      const number = await approved(alice, device.name);

      // The restore writes the change's old window through the object store, not through the
      // change service, so no request is cancelled: the approval's digest no longer matches.
      const [, edit] = await history(t, 'Change', `GLOBAL.${change.name}`);
      expect(edit?.action).toBe('M');
      expect((await t.admin.post(`/audit/entries/${edit?.seq}/restore-before`)).status).toBe(200);
      expect((await t.admin.get(`/changes/${change.name}`)).body.dueAt).toBe(change.dueAt);
      expect((await t.admin.get(`/requests/${number}`)).body.status).toBe('approved');

      const before = await state();
      const refused = await alice.client.post('/requests', { device: device.name });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('approval_outdated');
      expect(refused.body.error.message).toContain(`Request #${number} was approved for ${change.name} as it was planned then`);
      expect(refused.body.error.details).toEqual({ request: number, change: change.name });
      expect(await state()).toEqual(before);
      const gateway = await ssh(sshPort, `${alice.username}@${device.name}`, 'echo should-not-run', { key: aliceKey.file });
      expect(gateway.code).toBe(1);
      expect(gateway.stderr).toContain('the approval no longer holds');
      expect(gateway.stdout).toBe('');
      // The gateway logs her sign-in, and nothing else: no request, no session.
      const { events: lastBefore, ...rowsBefore } = before as { events: number };
      const { events: lastAfter, ...rowsAfter } = (await state()) as { events: number };
      expect(rowsAfter).toEqual(rowsBefore);
      const since = (await eventsWhere(t)).filter((event) => event.seq > Number(lastBefore) && event.seq <= Number(lastAfter));
      expect(since.length).toBeGreaterThan(0);
      expect(since.map((event) => event.action).filter((action) => !action.startsWith('auth.'))).toEqual([]);
      expect((await t.admin.get(`/sessions?device=${device.name}`)).body).toEqual([]);

      // Asking again retires the stale approval and starts a new request; approved, it connects.
      const again = await alice.client.post('/requests', { device: device.name, again: true });
      expect(again.status).toBe(201);
      expect((await t.admin.get(`/requests/${number}`)).body).toMatchObject({ status: 'cancelled', closeReason: 'the change was edited after its approval' });
      expect((await bob.client.post(`/requests/${again.body.request.number}/approve`)).body.status).toBe('approved');
      const ran = await ssh(sshPort, `${alice.username}@${device.name}`, 'echo ran', { key: aliceKey.file });
      expect(ran.stdout).toBe('ran\n');
    });

    it('does not admit an approval recorded before approvals kept a digest', async () => {
      const { device } = await openChange();
      const number = await approved(alice, device);
      const id = (await t.cg.database.db.selectFrom('access_request').select('id').where('number', '=', number).executeTakeFirstOrThrow()).id;
      await t.cg.database.db.updateTable('request_decision').set({ digest: null }).where('request_id', '=', id).execute();
      const refused = await alice.client.post('/requests', { device });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'approval_outdated']);
    });

    /**
     * alice runs a live ssh session on a new device of an open change; `end` does something to the
     * change; she must read `told`, and the session record must say admin terminated it.
     */
    async function endedByAdmin(end: (change: string) => Promise<void>, told: (change: string) => string): Promise<{ request: number }> {
      const { device, change } = await openChange({ reachable: true });
      const request = await approved(alice, device);
      const terminal = new Terminal(sshPort, `${alice.username}@${device}`, aliceKey.file);
      try {
        await terminal.waitFor(/[#$] $/m);
        await waitUntil(async () => (await t.admin.get(`/sessions?live=true&device=${device}`)).body[0], 'the live session');
        await end(change);
        await terminal.waitFor(`the session was terminated by admin: ${told(change)}`);
        await terminal.exited;
        const session = await waitUntil(async () => {
          const rows = (await t.admin.get(`/sessions?device=${device}`)).body;
          return rows[0]?.live === false ? rows[0] : undefined;
        }, 'the session to end');
        expect(session).toMatchObject({ endReason: 'terminated', endedBy: 'admin' });
      } finally {
        terminal.close();
      }
      return { request };
    }

    it('ends the live session when the plan of its change is edited, telling the user why', async () => {
      await endedByAdmin(
        async (change) => expect((await t.admin.patch(`/changes/${change}`, { dueAt: fromNow(t, 3 * HOUR) })).status).toBe(200),
        (change) => `change ${change} was edited by admin (the due date)`,
      );
    });

    it('ends the live session when its change is cancelled, and the request with it', async () => {
      const { request } = await endedByAdmin(
        async (change) => expect((await t.admin.post(`/changes/${change}/cancel`, { reason: 'postponed' })).status).toBe(200),
        () => 'the change was cancelled',
      );
      expect((await alice.client.get(`/requests/${request}`)).body).toMatchObject({ status: 'cancelled', closeReason: 'the change was cancelled' });
    });

    it('a new access group keeps planner and executor apart unless it says otherwise', async () => {
      const planner = await buildUser(t, { grants: [{ privilege: 'Change.Create' }, { privilege: 'Change.View' }, { privilege: 'AccessGroup.View' }, { privilege: 'Device.View' }] });
      const device = await buildDevice(t);
      const group = await t.admin.post('/access-groups', { name: `sod ${changeId()}`, executors: [planner.username, alice.username], approvers: [bob.username] });
      expect(group.body.plannerMayExecute).toBe(false);
      const change = await buildChange(t, { accessGroup: group.body.name, devices: [device.name] }, planner.client);
      const refused = await planner.client.post('/requests', { device: device.name });
      expect([refused.status, refused.body.error.code]).toEqual([403, 'planner_may_not_execute']);
      expect(refused.body.error.message).toContain(change.name);
      expect((await alice.client.post('/requests', { device: device.name })).status).toBe(201);
    });
  });

  describe('revoking an approved request', () => {
    it('by an approver of the group: the live session ends at once, the user sees why, the requester is told, the log says who', async () => {
      const { device, change } = await openChange({ reachable: true });
      const number = await approved(alice, device);
      const terminal = new Terminal(sshPort, `${alice.username}@${device}`, aliceKey.file);
      try {
        await terminal.waitFor(/[#$] $/m);
        terminal.type('echo still-here\r');
        await terminal.waitFor(/still-here\r?\n/);
        await waitUntil(async () => (await t.admin.get(`/sessions?live=true&device=${device}`)).body[0], 'the live session');

        // An escape sequence in the reason (here, clear the screen) reaches the user's terminal as a visible character, never as a command.
        const revoked = await carol.client.post(`/requests/${number}/revoke`, { reason: 'the vendor found a bug in the package\u001b[2J' });
        expect(revoked.status).toBe(200);
        expect(revoked.body).toMatchObject({ number, status: 'cancelled', closeReason: `revoked by ${carol.username}: the vendor found a bug in the package\u001b[2J` });
        await terminal.waitFor(`the session was terminated by ${carol.username}: the vendor found a bug in the package\uFFFD[2J`);
        expect(terminal.output).not.toContain('\u001b[2J');
        await terminal.exited;
        const session = await waitUntil(async () => {
          const rows = (await t.admin.get(`/sessions?device=${device}`)).body;
          return rows[0]?.live === false ? rows[0] : undefined;
        }, 'the session to end');
        // Kept as a terminate's reason is: one line of printable text.
        expect(session).toMatchObject({ endReason: 'terminated', endedBy: carol.username, change, terminationReason: 'the vendor found a bug in the package [2J' });
      } finally {
        terminal.close();
      }
      const notice = (await notificationsOf(alice)).find((candidate) => candidate.kind === 'request.revoked' && candidate.data.request === number);
      expect(notice).toMatchObject({ title: `Request #${number} revoked by ${carol.username}: ${change}`, data: { by: carol.username, reason: 'the vendor found a bug in the package\u001b[2J' } });
      expect(await eventsWhere(t, { action: 'request.revoke', subject: `request:${number}` })).toEqual([
        expect.objectContaining({ actor: carol.username, data: { change, device, reason: 'the vendor found a bug in the package\u001b[2J' } }),
      ]);
      // The gateway no longer admits her on it.
      const after = await ssh(sshPort, `${alice.username}@${device}`, 'echo should-not-run', { key: aliceKey.file });
      expect(after.code).toBe(1);
      expect(after.stderr).toContain(`request #${number} was cancelled`);
    });

    it('while the executor sits in the account menu: choosing an account afterwards opens nothing', async () => {
      const { device } = await openChange({ reachable: true });
      // A second account on the device makes the gateway ask which one, and wait for the answer.
      expect((await t.admin.post('/credentials', { device, account: 'deploy', secret: { privateKey: rootKey.privateKey } })).status).toBe(201);
      const number = await approved(alice, device);
      const terminal = new Terminal(sshPort, `${alice.username}@${device}`, aliceKey.file);
      try {
        await terminal.waitFor('Which one [1-2]? ');
        expect((await carol.client.post(`/requests/${number}/revoke`, { reason: 'incident freeze' })).status).toBe(200);
        terminal.type('1\r');
        await terminal.waitFor(`request #${number} is cancelled (revoked by ${carol.username}: incident freeze): nothing was opened.`);
        await terminal.exited;
      } finally {
        terminal.close();
      }
      expect((await t.admin.get(`/sessions?device=${device}`)).body).toEqual([]);
    });

    it('by a holder of Request.Revoke in the change\'s partition', async () => {
      const { device } = await openChange();
      const number = await approved(alice, device);
      const revoked = await revoker.client.post(`/requests/${number}/revoke`, { reason: 'incident freeze' });
      expect(revoked.status).toBe(200);
      expect(revoked.body).toMatchObject({ status: 'cancelled', closeReason: `revoked by ${revoker.username}: incident freeze` });
      expect(await eventsWhere(t, { action: 'request.revoke', subject: `request:${number}` })).toHaveLength(1);
    });

    it('by anyone else: 404 for those who may not see it, 403 for those who may, 409 for a request not approved; nothing changes', async () => {
      const { device, group } = await openChange();
      const number = await approved(alice, device);
      const pending = (await erin.client.post('/requests', { device })).body.request.number as number;
      const before = await state();
      const tries: Array<[string, TestClient, number, unknown, number, string]> = [
        ['a stranger', mallory.client, number, { reason: 'x' }, 404, 'not_found'],
        ['Request.Revoke in another partition', elsewhere.client, number, { reason: 'x' }, 404, 'not_found'],
        ['an unknown request', bob.client, 999_999, { reason: 'x' }, 404, 'not_found'],
        ['the requester', alice.client, number, { reason: 'x' }, 403, 'forbidden'],
        ['a co-executor', erin.client, number, { reason: 'x' }, 404, 'not_found'],
        ['a holder of Request.View', viewer.client, number, { reason: 'x' }, 403, 'forbidden'],
        ['an approver, on a pending request', bob.client, pending, { reason: 'x' }, 409, 'request_not_approved'],
        ['an approver, without a reason', bob.client, number, { reason: '  ' }, 400, 'validation_failed'],
        ['an approver, with no body', bob.client, number, undefined, 400, 'validation_failed'],
      ];
      for (const [who, client, target, body, status, code] of tries) {
        const answer = await client.post(`/requests/${target}/revoke`, body);
        expect([who, answer.status, answer.body.error.code]).toEqual([who, status, code]);
      }
      // Those who may see the request but not revoke it learn the group only if they may see it.
      expect((await alice.client.post(`/requests/${number}/revoke`, { reason: 'x' })).body.error.message).toContain(`access group ${group}`);
      expect((await viewer.client.post(`/requests/${number}/revoke`, { reason: 'x' })).body.error.message).not.toContain(group);
      const hidden = JSON.stringify((await mallory.client.post(`/requests/${number}/revoke`, { reason: 'x' })).body);
      const unknown = JSON.stringify((await mallory.client.post('/requests/999999/revoke', { reason: 'x' })).body);
      expect(hidden.replace(String(number), 'N')).toBe(unknown.replace('999999', 'N'));
      expect(await state()).toEqual(before);
      expect((await bob.client.post(`/requests/${number}/revoke`, { reason: 'legitimate' })).status).toBe(200);
    });
  });

  describe('nothing leaks to the unprivileged', () => {
    it('asking for a device one may not see answers byte for byte as for a device that does not exist', async () => {
      const device = await buildDevice(t);
      const group = await buildGroup(t, { executors: [alice.username], approvers: [bob.username] });
      const change = await buildChange(t, { accessGroup: group.name, devices: [device.name] });
      const before = await state();
      const hidden = await raw(mallory.client, '/requests', { device: device.name });
      const hiddenWithChange = await raw(mallory.client, '/requests', { device: device.name, change: change.name });
      expect(await state()).toEqual(before);
      expect(hidden.status).toBe(403);
      expect(JSON.parse(hidden.text).error.code).toBe('no_change');
      expect(hidden.text).not.toContain(group.name);
      expect(hiddenWithChange.status).toBe(404);

      // Now make them not exist, and ask the same again.
      expect((await t.admin.delete(`/changes/${change.name}`)).status).toBe(204);
      expect((await t.admin.delete(`/devices/${device.name}`)).status).toBe(204);
      expect(await raw(mallory.client, '/requests', { device: device.name })).toEqual(hidden);
      expect(await raw(mallory.client, '/requests', { device: device.name, change: change.name })).toEqual(hiddenWithChange);
    });

    it('names an access group only to those who may see it', async () => {
      const { device, group } = await openChange();
      const deviceViewer = await buildUser(t, { grants: [{ privilege: 'Device.View' }] });
      const groupViewer = await buildUser(t, { grants: [{ privilege: 'Device.View' }, { privilege: 'AccessGroup.View' }] });
      const before = await state();
      const blind = await deviceViewer.client.post('/requests', { device });
      expect([blind.status, blind.body.error.code]).toEqual([403, 'not_executor']);
      expect(blind.body.error.message).toBe(`You are not an executor of the access group that runs the changes on ${device}.`);
      expect(blind.body.error.details).toEqual({ groups: [] });
      const seeing = await groupViewer.client.post('/requests', { device });
      expect(seeing.body.error.message).toBe(`You are not an executor of access group ${group}, which runs the changes on ${device}.`);
      expect(seeing.body.error.details).toEqual({ groups: [group] });
      // An approver may see their own group.
      expect((await bob.client.post('/requests', { device })).body.error.details).toEqual({ groups: [group] });

      // Deciding: a Request.View holder who is not an approver is told so without the group's name.
      const number = (await alice.client.post('/requests', { device })).body.request.number as number;
      const afterAsk = await state();
      const decided = await viewer.client.post(`/requests/${number}/approve`);
      expect([decided.status, decided.body.error.code]).toEqual([403, 'forbidden']);
      expect(decided.body.error.message).toBe("You are not an approver of this request's access group.");
      expect(await state()).toEqual(afterAsk);
      expect(before).not.toEqual(afterAsk);
    });

    it('a change that does not exist is "not found" with its name, not "does not include the device"', async () => {
      const { device } = await openChange();
      const other = await openChange();
      const before = await state();
      const missing = await alice.client.post('/requests', { device, change: 'CHG-NO-SUCH' });
      expect([missing.status, missing.body.error.code]).toEqual([404, 'not_found']);
      expect(missing.body.error.message).toBe('No change "CHG-NO-SUCH" exists, or you may not see it.');
      // A change alice may see that does not include the device still says so.
      const elsewhereChange = await alice.client.post('/requests', { device, change: other.change });
      expect([elsewhereChange.status, elsewhereChange.body.error.code]).toEqual([403, 'no_change']);
      expect(elsewhereChange.body.error.message).toBe(`Change ${other.change} does not include device ${device}.`);
      expect(await state()).toEqual(before);
      expect((await alice.client.post('/requests', { device })).status).toBe(201);
    });
  });
});
