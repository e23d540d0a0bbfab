import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSmtpServer, startWebhookReceiver, type SmtpSink, type WebhookReceiver } from '../notifications/notifications.test-kit.ts';
import { buildChange, buildDevice, buildGroup, eventsWhere, fromNow, HOUR, MINUTE } from './changes.test-kit.ts';

type User = Awaited<ReturnType<typeof buildUser>>;
type Notification = { kind: string; title: string; body: string; link: string | null; data: Record<string, unknown> };

describe.each(DATABASE_KINDS)('requests and approvals on %s', (kind) => {
  let t: TestChangegate;
  let smtp: SmtpSink;
  let hook: WebhookReceiver;
  // alice and erin execute; bob and carol approve; dave is in no group.
  let alice: User;
  let bob: User;
  let carol: User;
  let dave: User;
  let erin: User;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    hook = await startWebhookReceiver();
    // The clock moves hours ahead here; sessions must outlive that.
    t = await startTestChangegate(kind, { CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32', CHANGEGATE_SMTP_URL: smtp.url, CHANGEGATE_SESSION_IDLE_MINUTES: '1440', CHANGEGATE_PUBLIC_URL: 'https://changegate.example.test' });
    [alice, bob, carol, dave, erin] = [await buildUser(t), await buildUser(t), await buildUser(t), await buildUser(t), await buildUser(t)];
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
    await hook.close();
  });

  /** A fresh device and an open change on it, run by `executors` and approved by `approvers`. */
  async function openChange(group: Parameters<typeof buildGroup>[1] = {}, window: { startAt?: string; dueAt?: string } = {}) {
    const device = await buildDevice(t);
    const accessGroup = await buildGroup(t, { executors: [alice.username], approvers: [bob.username], ...group });
    const change = await buildChange(t, { accessGroup: accessGroup.name, devices: [device.name], ...window });
    return { device: device.name, group: accessGroup.name, change: change.name, dueAt: change.dueAt, startAt: change.startAt };
  }

  const notificationsOf = async (user: User): Promise<Notification[]> => (await user.client.get('/notifications?limit=200')).body;

  describe('requestAccess says exactly why not', () => {
    it('no_change: the device is in no change, and an unknown device reads the same', async () => {
      const device = await buildDevice(t);
      const answer = await alice.client.post('/requests', { device: device.name });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('no_change');
      expect(answer.body.error.message).toBe(`No change lets you onto device ${device.name}: ask a planner to register one that includes it.`);
      const unknown = await alice.client.post('/requests', { device: 'no-such-device' });
      expect(unknown.status).toBe(403);
      expect(unknown.body.error.code).toBe('no_change');
      expect(unknown.body.error.message.replace('no-such-device', 'X')).toBe(answer.body.error.message.replace(device.name, 'X'));
      expect((await alice.client.get(`/requests?device=${device.name}`)).body).toEqual([]);
    });

    it('no_change: a named change that does not include the device', async () => {
      const first = await openChange();
      const second = await openChange();
      const answer = await alice.client.post('/requests', { device: first.device, change: second.change });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('no_change');
      expect(answer.body.error.message).toContain(second.change);
    });

    it('window_not_open: gives the time the window opens', async () => {
      const { device, change, startAt } = await openChange({}, { startAt: fromNow(t, 2 * HOUR), dueAt: fromNow(t, 3 * HOUR) });
      const answer = await alice.client.post('/requests', { device });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('window_not_open');
      expect(answer.body.error.message).toContain(change);
      expect(answer.body.error.message).toContain(`opens at ${startAt}`);
      expect(answer.body.error.details).toEqual({ change, opensAt: startAt });
    });

    it('window_closed: gives the time the window closed', async () => {
      const { device, change, dueAt } = await openChange({}, { startAt: fromNow(t, -3 * HOUR), dueAt: fromNow(t, -HOUR) });
      const answer = await alice.client.post('/requests', { device });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('window_closed');
      expect(answer.body.error.message).toContain(`closed at ${dueAt}`);
      expect(answer.body.error.details).toEqual({ change, closedAt: dueAt });
    });

    it('not_executor: names the access group to one of its members (an approver)', async () => {
      const { device, group } = await openChange();
      const answer = await bob.client.post('/requests', { device });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('not_executor');
      expect(answer.body.error.message).toContain(`access group ${group}`);
      expect(answer.body.error.details).toEqual({ groups: [group] });
      // dave may not see the device at all: he is told what a missing device tells (see approvals.test.ts).
      expect((await dave.client.post('/requests', { device })).body.error.code).toBe('no_change');
    });

    it('planner_may_not_execute: the planner of a change whose group forbids it, while another executor may', async () => {
      const planner = await buildUser(t, {
        grants: [{ privilege: 'Change.Create' }, { privilege: 'Change.View' }, { privilege: 'AccessGroup.View' }, { privilege: 'Device.View' }],
      });
      const device = await buildDevice(t);
      const group = await buildGroup(t, { executors: [planner.username, alice.username], approvers: [bob.username], plannerMayExecute: false });
      const change = await buildChange(t, { accessGroup: group.name, devices: [device.name] }, planner.client);
      const answer = await planner.client.post('/requests', { device: device.name });
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe('planner_may_not_execute');
      expect(answer.body.error.message).toContain(change.name);
      expect((await alice.client.post('/requests', { device: device.name })).status).toBe(201);
    });

    it('change_ambiguous: lists the open changes to pick from; naming one picks it', async () => {
      const device = await buildDevice(t);
      const group = await buildGroup(t, { executors: [alice.username], approvers: [bob.username] });
      const first = await buildChange(t, { accessGroup: group.name, devices: [device.name], title: 'Rotate logs' });
      const second = await buildChange(t, { accessGroup: group.name, devices: [device.name], title: 'Renew certificate' });
      const answer = await alice.client.post('/requests', { device: device.name });
      expect(answer.status).toBe(409);
      expect(answer.body.error.code).toBe('change_ambiguous');
      expect(answer.body.error.details.choices.map((choice: { change: string }) => choice.change).sort()).toEqual([first.name, second.name].sort());
      expect(answer.body.error.details.choices).toContainEqual({ change: second.name, title: 'Renew certificate', dueAt: second.dueAt });
      expect(answer.body.error.message).toContain(first.name);
      expect(answer.body.error.message).toContain(second.name);

      const picked = await alice.client.post('/requests', { device: device.name, change: second.name });
      expect(picked.status).toBe(201);
      expect(picked.body.request).toMatchObject({ change: second.name, changeTitle: 'Renew certificate', device: device.name, status: 'pending' });
    });

    it('justification_required: the group asks for one; with it the request is created and keeps it', async () => {
      const { device, group } = await openChange({ requiresJustification: true });
      for (const justification of [undefined, '   ']) {
        const answer = await alice.client.post('/requests', { device, ...(justification !== undefined && { justification }) });
        expect(answer.status).toBe(400);
        expect(answer.body.error.code).toBe('justification_required');
        expect(answer.body.error.message).toContain(group);
        expect(answer.body.error.details.problems).toEqual([{ path: '/justification', message: 'required by the access group' }]);
      }
      expect((await alice.client.get(`/requests?device=${device}`)).body).toEqual([]);
      const answer = await alice.client.post('/requests', { device, justification: ' INC-4711: site down ' });
      expect(answer.status).toBe(201);
      expect(answer.body.request.justification).toBe('INC-4711: site down');
    });
  });

  describe('requests', () => {
    it('creates a pending request once (201), then answers the same one (200)', async () => {
      const { device, change, dueAt } = await openChange();
      const first = await alice.client.post('/requests', { device });
      expect(first.status).toBe(201);
      expect(first.body.created).toBe(true);
      expect(first.body.request).toMatchObject({
        status: 'pending',
        change,
        device,
        requester: alice.username,
        approvers: [bob.username],
        approvalsRequired: 1,
        decisions: [],
        decidedAt: null,
        expiresAt: dueAt,
      });
      const second = await alice.client.post('/requests', { device });
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ created: false, request: first.body.request });

      // Approved, it is still the one answered.
      expect((await bob.client.post(`/requests/${first.body.request.number}/approve`)).body.status).toBe('approved');
      const third = await alice.client.post('/requests', { device });
      expect(third.status).toBe(200);
      expect(third.body.request).toMatchObject({ number: first.body.request.number, status: 'approved' });
      expect(await eventsWhere(t, { action: 'request.create', subject: `request:${first.body.request.number}` })).toHaveLength(1);
    });

    it('notifies the approvers when a request is created, and the requester when it is decided', async () => {
      const { device, change } = await openChange({ approvers: [bob.username, carol.username] });
      const { body } = await alice.client.post('/requests', { device, justification: 'patch Tuesday' });
      const number: number = body.request.number;
      for (const approver of [bob, carol]) {
        const notice = (await notificationsOf(approver)).find((candidate) => candidate.data.request === number);
        expect(notice).toMatchObject({ kind: 'request.created', link: `/requests/${number}`, data: { change, device, requester: alice.username } });
        expect(notice?.title).toContain(`Request #${number}`);
        expect(notice?.body).toContain('Justification: patch Tuesday');
      }
      expect((await notificationsOf(alice)).some((candidate) => candidate.data.request === number)).toBe(false);

      expect((await carol.client.post(`/requests/${number}/approve`, { comment: 'go ahead' })).status).toBe(200);
      const decided = (await notificationsOf(alice)).find((candidate) => candidate.data.request === number);
      expect(decided).toMatchObject({ kind: 'request.decided', data: { request: number, change, status: 'approved' } });
      expect(decided?.title).toBe(`Request #${number} approved: ${change}`);
      expect(decided?.body).toContain('Comment: go ahead');
    });

    it('approves N of M: with two approvals required, one leaves it pending and the second approves', async () => {
      const { device } = await openChange({ approvers: [bob.username, carol.username], approvalsRequired: 2 });
      const { body } = await alice.client.post('/requests', { device });
      const number: number = body.request.number;
      expect(body.request.approvalsRequired).toBe(2);

      const once = await bob.client.post(`/requests/${number}/approve`, { comment: 'looks fine' });
      expect(once.status).toBe(200);
      expect(once.body).toMatchObject({ status: 'pending', decidedAt: null, decisions: [{ approver: bob.username, decision: 'approve', comment: 'looks fine' }] });
      expect((await notificationsOf(alice)).some((notice) => notice.data.request === number)).toBe(false);

      const twice = await bob.client.post(`/requests/${number}/approve`);
      expect(twice.status).toBe(409);
      expect(twice.body.error.message).toContain('already decided');

      const done = await carol.client.post(`/requests/${number}/approve`);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ status: 'approved', decidedAt: t.clock.now().toISOString() });
      expect(done.body.decisions.map((decision: { approver: string }) => decision.approver)).toEqual([bob.username, carol.username]);
      expect((await alice.client.get(`/requests/${number}`)).body.status).toBe('approved');

      const events = await eventsWhere(t, { action: 'request.approve', subject: `request:${number}` });
      expect(events.map((event) => [event.actor, event.data.status])).toEqual([
        [bob.username, 'pending'],
        [carol.username, 'approved'],
      ]);
    });

    it('denies on one denial, with the comment, and tells the requester', async () => {
      const { device, change } = await openChange({ approvers: [bob.username, carol.username], approvalsRequired: 2 });
      const { body } = await alice.client.post('/requests', { device });
      const number: number = body.request.number;
      const denied = await bob.client.post(`/requests/${number}/deny`, { comment: 'not during the sale' });
      expect(denied.status).toBe(200);
      expect(denied.body).toMatchObject({ status: 'denied', decisions: [{ approver: bob.username, decision: 'deny', comment: 'not during the sale' }] });
      const notice = (await notificationsOf(alice)).find((candidate) => candidate.data.request === number);
      expect(notice).toMatchObject({ kind: 'request.decided', title: `Request #${number} denied by ${bob.username}: ${change}`, data: { status: 'denied' } });
      expect(notice?.body).toContain('not during the sale');

      const late = await carol.client.post(`/requests/${number}/approve`);
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('request_not_pending');
      expect(late.body.error.message).toContain('denied');
      // Asking again answers the denial, until the requester asks again on purpose.
      expect((await alice.client.post('/requests', { device })).body.request).toMatchObject({ number, status: 'denied' });
      const again = await alice.client.post('/requests', { device, again: true });
      expect(again.status).toBe(201);
      expect(again.body.request.number).toBeGreaterThan(number);
    });

    it('refuses self-approval: a requester who is also an approver cannot decide their own request', async () => {
      const { device } = await openChange({ executors: [erin.username], approvers: [erin.username, bob.username] });
      const { body } = await erin.client.post('/requests', { device });
      const number: number = body.request.number;
      // The requester is not notified of their own request.
      expect((await notificationsOf(erin)).some((notice) => notice.data.request === number)).toBe(false);
      for (const action of ['approve', 'deny']) {
        const answer = await erin.client.post(`/requests/${number}/${action}`);
        expect(answer.status).toBe(403);
        expect(answer.body.error.code).toBe('self_approval');
        expect(answer.body.error.message).toContain('your own request');
      }
      expect((await erin.client.get(`/requests/${number}`)).body).toMatchObject({ status: 'pending', decisions: [] });
      expect((await bob.client.post(`/requests/${number}/approve`)).body.status).toBe('approved');
    });

    it('lets no one else decide: a stranger reads "not found", the requester is not an approver, deciding twice is 409', async () => {
      const { device, group } = await openChange();
      const { body } = await alice.client.post('/requests', { device });
      const number: number = body.request.number;

      const stranger = await dave.client.post(`/requests/${number}/approve`);
      expect(stranger.status).toBe(404);
      expect(stranger.body.error.code).toBe('not_found');
      expect((await dave.client.get(`/requests/${number}`)).status).toBe(404);

      const requester = await alice.client.post(`/requests/${number}/approve`);
      expect(requester.status).toBe(403);
      expect(requester.body.error.message).toContain(`not an approver of access group ${group}`);
      expect((await alice.client.get(`/requests/${number}`)).body.status).toBe('pending');

      expect((await bob.client.post(`/requests/${number}/approve`)).status).toBe(200);
      const again = await bob.client.post(`/requests/${number}/deny`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('request_not_pending');
      expect((await alice.client.get(`/requests/${number}`)).body.status).toBe('approved');
      expect((await bob.client.post('/requests/999999/approve')).status).toBe(404);
    });

    it('lets the requester cancel, and only the requester', async () => {
      const { device } = await openChange();
      const { body } = await alice.client.post('/requests', { device });
      const number: number = body.request.number;
      expect((await bob.client.post(`/requests/${number}/cancel`)).status).toBe(404);
      const cancelled = await alice.client.post(`/requests/${number}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', closeReason: `cancelled by ${alice.username}`, closedAt: t.clock.now().toISOString() });
      const twice = await alice.client.post(`/requests/${number}/cancel`);
      expect(twice.status).toBe(409);
      expect(twice.body.error.code).toBe('request_not_pending');
      expect((await bob.client.post(`/requests/${number}/approve`)).status).toBe(409);
      expect(await eventsWhere(t, { action: 'request.cancel', subject: `request:${number}` })).toEqual([expect.objectContaining({ actor: alice.username })]);
    });
  });

  describe('lists', () => {
    it('shows "my requests" and "my approvals" (pending first), filtered by status, change and device', async () => {
      const approver = await buildUser(t);
      const a = await openChange({ executors: [alice.username, erin.username], approvers: [approver.username] });
      const b = await openChange({ executors: [alice.username], approvers: [approver.username] });
      const fromAlice = (await alice.client.post('/requests', { device: a.device })).body.request.number as number;
      const fromErin = (await erin.client.post('/requests', { device: a.device })).body.request.number as number;
      const onB = (await alice.client.post('/requests', { device: b.device })).body.request.number as number;
      // Erin's request is approved: "pending first" puts it after both of alice's, though it is newer than one.
      expect((await approver.client.post(`/requests/${fromErin}/approve`)).status).toBe(200);

      const numbers = (answer: { body: Array<{ number: number }> }) => answer.body.map((request) => request.number);
      const mine = await alice.client.get('/requests?scope=mine');
      expect(mine.status).toBe(200);
      expect(numbers(mine)).toEqual(expect.arrayContaining([fromAlice, onB]));
      expect(numbers(mine)).not.toContain(fromErin);
      expect(mine.body.every((request: { requester: string }) => request.requester === alice.username)).toBe(true);
      expect(numbers(await alice.client.get('/requests'))).toEqual(numbers(mine));
      expect(numbers(await alice.client.get(`/requests?scope=mine&change=${b.change}`))).toEqual([onB]);
      expect(numbers(await alice.client.get(`/requests?scope=mine&device=${a.device}`))).toEqual([fromAlice]);
      expect(numbers(await erin.client.get(`/requests?scope=mine&status=approved&device=${a.device}`))).toEqual([fromErin]);
      expect(numbers(await erin.client.get('/requests?scope=mine&status=pending'))).not.toContain(fromErin);

      const approvals = await approver.client.get('/requests?scope=approvals');
      expect(approvals.body.map((request: { number: number; status: string }) => [request.number, request.status])).toEqual([
        [onB, 'pending'],
        [fromAlice, 'pending'],
        [fromErin, 'approved'],
      ]);
      expect(numbers(await approver.client.get('/requests?scope=approvals&status=pending'))).toEqual([onB, fromAlice]);
      expect(numbers(await approver.client.get(`/requests?scope=approvals&change=${a.change}`))).toEqual([fromAlice, fromErin]);
      expect(numbers(await approver.client.get(`/requests?scope=approvals&device=${b.device}`))).toEqual([onB]);
      expect(numbers(await approver.client.get('/requests?scope=approvals&change=CHG-NONE'))).toEqual([]);
      // Others' approvals are not mine.
      expect(numbers(await bob.client.get('/requests?scope=approvals'))).not.toContain(onB);
      const all = await dave.client.get('/requests?scope=all');
      expect(all.status).toBe(403);
      expect(numbers(await t.admin.get(`/requests?scope=all&change=${a.change}`))).toEqual([fromErin, fromAlice]);
    });
  });

  describe('expiry', () => {
    it('expires the requests whose window closed, and tells the requester in-app, by e-mail and by webhook', async () => {
      const created = await t.admin.post('/webhooks', { name: 'expiry relay', url: hook.url, kinds: ['request.expired'] });
      expect(created.status).toBe(201);
      hook.secret = created.body.secret;
      expect((await t.admin.patch(`/users/${alice.username}`, { email: 'alice@example.test' })).status).toBe(200);

      const { device, change, dueAt } = await openChange({ approvers: [bob.username, carol.username] }, { startAt: fromNow(t, -MINUTE), dueAt: fromNow(t, 30 * MINUTE) });
      const pending = (await alice.client.post('/requests', { device })).body.request.number as number;
      const other = await openChange({}, { startAt: fromNow(t, -MINUTE), dueAt: fromNow(t, 30 * MINUTE) });
      const approved = (await alice.client.post('/requests', { device: other.device })).body.request.number as number;
      expect((await bob.client.post(`/requests/${approved}/approve`)).status).toBe(200);
      // Deliver what is queued so far (the creation and decision notices), so the expiry's stand alone.
      await t.cg.dispatcher.runOnce();
      while (smtp.mail.size > 0) await smtp.mail.next();

      expect(await t.cg.services.requests.expireDue()).toBe(0);
      t.clock.advance(30 * MINUTE + 1000);
      expect((await alice.client.get(`/requests/${pending}`)).body.status).toBe('pending');
      expect(await t.cg.services.requests.expireDue()).toBeGreaterThanOrEqual(2);

      for (const number of [pending, approved]) {
        const request = await alice.client.get(`/requests/${number}`);
        expect(request.body).toMatchObject({ status: 'expired', closeReason: 'the change window closed', closedAt: t.clock.now().toISOString() });
      }
      const notice = (await notificationsOf(alice)).find((candidate) => candidate.kind === 'request.expired' && candidate.data.request === pending);
      expect(notice).toMatchObject({ title: `Request #${pending} expired: the window of ${change} closed`, link: `/requests/${pending}` });
      expect(notice?.body).toContain(dueAt);
      expect((await alice.client.get(`/requests?scope=mine&status=expired&device=${device}`)).body.map((request: { number: number }) => request.number)).toEqual([pending]);

      const attempts = await t.cg.dispatcher.runOnce();
      expect(attempts.filter((attempt) => attempt.result !== 'delivered')).toEqual([]);
      const subjects: string[] = [];
      const mails = [await smtp.mail.next(), await smtp.mail.next()];
      for (const mail of mails) {
        expect(mail.to).toEqual(['alice@example.test']);
        subjects.push(/^Subject: (.*)$/m.exec(mail.raw)?.[1] ?? '');
      }
      expect(subjects.sort()).toEqual([`Request #${approved} expired: the window of ${other.change} closed`, `Request #${pending} expired: the window of ${change} closed`].sort());
      // The body is quoted-printable: join its soft line breaks before reading the link.
      const pendingMail = mails.map((mail) => mail.raw.replace(/=\r?\n/g, '')).find((raw) => raw.includes(`Request #${pending} expired`));
      expect(pendingMail).toContain(`https://changegate.example.test/requests/${pending}`);

      const calls = [await hook.received.next(), await hook.received.next()];
      for (const call of calls) {
        expect(call.signatureValid).toBe(true);
        expect(call.headers['x-changegate-event']).toBe('request.expired');
      }
      expect(calls.map((call) => JSON.parse(call.rawBody.toString('utf8')).data.request).sort()).toEqual([pending, approved].sort());

      // Deciding after the window is refused, and a new ask is told the window closed.
      const late = await bob.client.post(`/requests/${pending}/approve`);
      expect(late.status).toBe(409);
      const ask = await alice.client.post('/requests', { device });
      expect(ask.body.error.code).toBe('window_closed');
      expect(await eventsWhere(t, { action: 'request.expire', subject: `request:${pending}` })).toEqual([expect.objectContaining({ actor: 'system', data: { change } })]);
    });

    it('expires a pending request on a late decision when the expiry job has not run yet', async () => {
      const { device, change } = await openChange({}, { startAt: fromNow(t, -MINUTE), dueAt: fromNow(t, 10 * MINUTE) });
      const number = (await alice.client.post('/requests', { device })).body.request.number as number;
      t.clock.advance(11 * MINUTE);
      const late = await bob.client.post(`/requests/${number}/approve`);
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('request_not_pending');
      expect(late.body.error.message).toContain(`the window of ${change} is no longer open`);
      expect((await alice.client.get(`/requests/${number}`)).body.status).toBe('expired');
    });
  });

  it('leaves an event log that verifies, with every request action in it', async () => {
    const verified = await t.admin.post('/events/verify');
    expect(verified.body).toMatchObject({ ok: true });
    const actions = new Set((await eventsWhere(t)).map((event) => event.action));
    for (const action of ['change.create', 'access_group.create', 'request.create', 'request.approve', 'request.deny', 'request.cancel', 'request.expire']) {
      expect(actions).toContain(action);
    }
  });
});
