import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/totp.ts';
import { expectAccessible, launchBrowser, newContext, pickDateTime, screenshot, signInThroughPage } from '../../test/browser.ts';
import { addDevice, addOpenChange, keyPair, must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';

/** The console in Chromium against a real server: devices web01 and web02 at real sshd, change CHG-1 on both. */
describe('the web console', () => {
  let t: TestChangegate;
  let baseUrl: string;
  let browser: Browser;
  let dir: string;
  const devices: TestSshd[] = [];
  let alice: { username: string; password: string; client: TestClient };
  let carol: { username: string; password: string; client: TestClient };
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-console-'));
    const rootKey = keyPair(dir, 'device_root');
    // Over plain HTTP on loopback; on the real day, as the browser's cookies are.
    t = await startTestChangegate('pglite', { CHANGEGATE_COOKIE_SECURE: 'false' }, { clockStart: new Date() });
    [browser, baseUrl] = await Promise.all([launchBrowser(), t.cg.app.listen({ port: 0, host: '127.0.0.1' })]);
    for (const name of ['web01', 'web02']) {
      const sshd = await startSshd({ authorizedKeys: [rootKey.publicKey] });
      devices.push(sshd);
      await addDevice(t.admin, name, sshd, rootKey.privateKey);
    }
    alice = await buildUser(t, { username: 'alice' });
    carol = await buildUser(t, { username: 'carol' });
    await must(alice.client.patch('/me', { timeZone: 'America/New_York' }), 200, 'setting alice’s time zone');
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01', 'web02'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
  });
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await t?.close();
    for (const sshd of devices) await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(url: string, timeZone?: string): Promise<Page> {
    const context = await newContext(browser, baseUrl, timeZone);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url);
    return page;
  }

  async function signedIn(username: string, password: string, url: string): Promise<Page> {
    const page = await open(url);
    await signInThroughPage(page, username, password);
    await page.waitForURL((address) => address.pathname === url.split('?')[0]);
    return page;
  }

  it('sends a visitor to sign-in and back to the page asked for; asks for the TOTP code when the account has it; says plainly what was wrong', async () => {
    const bob = await buildUser(t, { username: 'bob' });
    const enrolment = await must(bob.client.post('/me/totp'), 200, 'starting TOTP enrolment');
    await must(bob.client.post('/me/totp/confirm', { code: totpCode(enrolment.body.secret, t.clock.now()) }), 204, 'confirming TOTP');
    // The confirmation spent this period's code.
    t.clock.advance(30_000);

    const page = await open('/approvals?status=pending');
    await page.waitForURL((address) => address.pathname === '/signin');
    expect(new URL(page.url()).searchParams.get('next')).toBe('/approvals?status=pending');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    // A visitor never signed in is not told a session ended.
    expect(await page.getByText('Your session ended').count()).toBe(0);
    await expectAccessible(page, 'the sign-in page');
    await screenshot(page, 'sign-in');

    await signInThroughPage(page, 'bob', 'not-his-password');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('The username, password or code is not correct.');

    await signInThroughPage(page, 'bob', bob.password);
    await page.getByText('Authentication code', { exact: true }).waitFor();
    await expectAccessible(page, 'the TOTP step');
    await screenshot(page, 'sign-in-totp');
    await page.keyboard.type(totpCode(enrolment.body.secret, t.clock.now()));
    await page.getByRole('button', { name: 'Verify and sign in' }).click();

    await page.getByRole('heading', { name: 'My approvals' }).waitFor();
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/approvals?status=pending');
    await page.getByRole('button', { name: 'Account of User' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL((address) => address.pathname === '/signin');
    expect((await t.admin.get('/events?action=auth.logout&subject=user:bob')).body).toHaveLength(1);
  });

  it('after sign-in goes only to a page of the console, never to another site a link names', async () => {
    for (const next of ['//evil.example/', '/\\evil.example/', 'https://evil.example/']) {
      const page = await open(`/signin?next=${encodeURIComponent(next)}`);
      await signInThroughPage(page, 'carol', carol.password);
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      expect(new URL(page.url()).origin, next).toBe(baseUrl);
      await page.context().close();
    }
  });

  it('shows each user the menus their privileges allow', async () => {
    const executor = await signedIn('alice', alice.password, '/requests');
    const menu = executor.getByRole('navigation', { name: 'Main' });
    await menu.getByRole('link', { name: 'My requests' }).waitFor();
    expect(await menu.getByRole('link').allTextContents()).toEqual(['My requests', 'My approvals', 'Credentials ➔ All']);

    const admin = await signedIn('admin', ADMIN_PASSWORD, '/changes');
    await admin.getByRole('heading', { name: 'Changes' }).waitFor();
    expect(await admin.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual([
      'Changes',
      'My requests',
      'My approvals',
      'Audited sessions',
      'Credentials ➔ All',
      'Devices',
      'Access groups',
      'Live sessions',
    ]);
  });

  it('PAM Core lists the devices with their pinned host keys and the access groups, filtered from the address', async () => {
    const page = await signedIn('admin', ADMIN_PASSWORD, '/changes');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    for (const [index, name] of ['web01', 'web02'].entries()) {
      const row = page.getByRole('row', { name: new RegExp(name) });
      await row.waitFor();
      expect(await row.textContent()).toContain((devices[index] as TestSshd).fingerprint);
    }
    await expectAccessible(page, 'Devices');
    await page.getByLabel('Name or host contains').fill('web02');
    await page.getByRole('row', { name: /web01/ }).waitFor({ state: 'detached' });
    await page.getByRole('row', { name: /web02/ }).waitFor();
    expect(new URL(page.url()).searchParams.get('search')).toBe('web02');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access groups' }).click();
    const group = page.getByRole('row', { name: /chg-1-team/ });
    await group.waitFor();
    expect(await group.textContent()).toMatch(/alice.*carol/);
    await expectAccessible(page, 'Access groups');
  });

  it('lists changes with their status, keeps the filter in the address, and shows times in the user’s time zone', async () => {
    await must(t.admin.patch('/me', { timeZone: 'Asia/Tokyo' }), 200, 'setting admin’s time zone');
    const page = await signedIn('admin', ADMIN_PASSWORD, '/changes');
    const row = page.getByRole('row', { name: /CHG-1/ });
    await row.waitFor();
    expect(await row.getByText('open', { exact: true }).count()).toBe(1);
    const change = (await t.admin.get('/changes/CHG-1')).body as { startAt: string };
    const tokyo = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(change.startAt));
    expect(await row.textContent()).toContain(tokyo);
    await expectAccessible(page, 'Changes');
    await screenshot(page, 'changes');

    await page.getByRole('combobox', { name: 'Status' }).click();
    await page.getByRole('option', { name: 'closed' }).click();
    await page.getByText('Nothing matches.').waitFor();
    expect(new URL(page.url()).searchParams.get('status')).toBe('closed');
    // A link to the view reproduces it.
    await page.reload();
    await page.getByText('Nothing matches.').waitFor();
    expect(await page.getByRole('combobox', { name: 'Status' }).inputValue()).toBe('closed');
  });

  it('a planner registers a change: the form refuses it without devices as the product says, marks a script error at its line as it is typed, then saves it', async () => {
    await must(t.admin.patch('/me', { timeZone: 'Asia/Tokyo' }), 200, 'setting admin’s time zone');
    const page = await signedIn('admin', ADMIN_PASSWORD, '/changes');
    await page.getByRole('button', { name: 'More actions' }).click();
    await page.getByRole('menuitem', { name: 'New' }).click();
    await page.getByRole('heading', { name: 'New change' }).waitFor();
    await page.getByLabel('ID').fill('CHG-2');
    await page.getByLabel('Title').fill('Restart the web tier');
    await pickDateTime(page, 'Start time', '2030-01-15T09:00');
    await pickDateTime(page, 'Due date', '2030-01-15T11:30');
    await page.getByRole('combobox', { name: 'Access group' }).click();
    await page.getByRole('option', { name: 'chg-1-team' }).click();
    await page.getByRole('button', { name: 'Start time', exact: true }).getByText('15 Jan 2030, 09:00').waitFor();
    await page.getByRole('button', { name: 'Due date', exact: true }).click();
    await page.getByRole('button', { name: '15 January 2030', exact: true }).waitFor();
    await expectAccessible(page, 'the date-time picker');
    await screenshot(page, 'change-details');
    await page.keyboard.press('Escape');
    await page.getByRole('tab', { name: /Script/ }).click();
    await page.getByRole('textbox', { name: 'Script' }).fill('systemctl stop nginx\necho {{bad name}}\nsystemctl start nginx');
    // The server's check, a moment after typing stops: the error at its line and column, and the line marked.
    await page.getByText(/Line 2, column 6: /).waitFor();
    await expectAccessible(page, 'the change editor');
    await screenshot(page, 'change-script-error');
    await page.getByRole('textbox', { name: 'Script' }).fill('systemctl stop nginx\n# optional\necho {{name}}\nsystemctl start nginx');
    await page.getByText('3 steps, no errors.').waitFor();

    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('a change needs at least one device: add the devices it will change').waitFor();
    expect(await page.getByRole('tab', { name: /Devices/ }).getAttribute('aria-selected')).toBe('true');
    expect((await t.admin.get('/changes/CHG-2')).status).toBe(404);

    await page.getByRole('button', { name: 'Add devices' }).click();
    await page.getByLabel('Search devices').fill('web0');
    await page.getByRole('checkbox', { name: /web01/ }).check();
    await page.getByRole('checkbox', { name: /web02/ }).check();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await screenshot(page, 'change-devices');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL((address) => address.pathname === '/changes/CHG-2');
    const saved = (await t.admin.get('/changes/CHG-2')).body as { devices: string[]; startAt: string; dueAt: string; script: string; accessGroup: string };
    // The admin's time zone is how the times were meant.
    expect(saved).toMatchObject({ devices: ['web01', 'web02'], startAt: '2030-01-15T00:00:00.000Z', dueAt: '2030-01-15T02:30:00.000Z', accessGroup: 'chg-1-team' });
    expect(saved.script).toBe('systemctl stop nginx\n# optional\necho {{name}}\nsystemctl start nginx');
    await page.getByRole('button', { name: 'Back to Changes' }).click();
    await page.getByRole('row', { name: /CHG-2/ }).getByText('scheduled').waitFor();
  });

  it('an approver sees the request at the bell and approves it with a comment; the executor’s open page shows it approved', async () => {
    const executor = await signedIn('alice', alice.password, '/requests');
    const asked = await must(alice.client.post('/requests', { device: 'web01', justification: 'Rotate the logs' }), 201, 'asking for web01');
    const number = asked.body.request.number as number;

    const approver = await signedIn('carol', carol.password, '/approvals');
    await approver.getByRole('button', { name: 'Notifications: 1 unread' }).waitFor();
    const row = approver.getByRole('row', { name: new RegExp(`#${number}`) });
    await row.getByText('pending').waitFor();
    await expectAccessible(approver, 'My approvals');
    await screenshot(approver, 'my-approvals');
    await row.getByRole('link', { name: `#${number}` }).click();
    await approver.getByRole('heading', { name: `Request #${number}` }).waitFor();
    expect(await approver.getByText('Justification: Rotate the logs').count()).toBe(1);
    expect(await approver.getByText('Approvals: 0 of 1 needed').count()).toBe(1);
    await approver.getByLabel('Comment').fill('Go ahead, within the window');
    await expectAccessible(approver, 'a request');
    await screenshot(approver, 'request');
    await approver.getByRole('button', { name: 'Approve' }).click();
    await approver.getByText('Approvals: 1 of 1 needed').waitFor();
    expect(await approver.getByText(/carol approved .*: “Go ahead, within the window”/).count()).toBe(1);
    expect(((await t.admin.get(`/requests/${number}`)).body as { status: string }).status).toBe('approved');

    // alice's My requests, open all along, shows the decision without a reload.
    await executor.getByRole('row', { name: new RegExp(`#${number}`) }).getByText('approved').waitFor({ timeout: 15_000 });
    const askedAt = new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(asked.body.request.createdAt));
    expect(await executor.getByRole('row', { name: new RegExp(`#${number}`) }).textContent()).toContain(askedAt);
  });

  it('a denied request shows the approver’s comment to the executor, who can no longer withdraw it', async () => {
    const asked = await must(alice.client.post('/requests', { device: 'web02' }), 201, 'asking for web02');
    const number = asked.body.request.number as number;
    const approver = await signedIn('carol', carol.password, `/requests/${number}`);
    await approver.getByLabel('Comment').fill('Not during the freeze');
    await approver.getByRole('button', { name: 'Deny' }).click();
    await approver.getByText(/carol denied .*: “Not during the freeze”/).waitFor();
    expect(await approver.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(((await t.admin.get(`/requests/${number}`)).body as { status: string }).status).toBe('denied');

    const executor = await signedIn('alice', alice.password, `/requests/${number}`);
    await executor.getByText(/carol denied .*: “Not during the freeze”/).waitFor();
    expect(await executor.getByText('denied', { exact: true }).count()).toBe(1);
    expect(await executor.getByRole('button', { name: 'Withdraw my request' }).count()).toBe(0);

    // Starting a session again shows the denial and offers to ask again, as the gateway does.
    await executor.goto('/credentials?device=web02&change=CHG-1');
    await executor.getByRole('row', { name: /web02.*CHG-1/ }).getByRole('link', { name: /Start session/ }).click();
    await executor.getByText('Denied by carol: “Not during the freeze” You may ask again.').waitFor();
    await executor.getByRole('button', { name: 'Ask again' }).click();
    await executor.getByText(/Waiting for approval by carol/).waitFor();
    const again = (await t.admin.get('/requests?scope=all&device=web02')).body as Array<{ number: number; status: string }>;
    expect(again.map((request) => request.status).sort()).toEqual(['denied', 'pending']);
  });

  it('the seed’s whole flow: a planner registers a change, the executor starts a session from Credentials ➔ All and waits, the approver approves from the bell, the terminal connects by itself, and the auditor reviews it', async () => {
    const planner = await buildUser(t, { username: 'pat', grants: ['Change.Create', 'Change.View', 'Device.View', 'AccessGroup.View'].map((privilege) => ({ privilege })) });
    await must(planner.client.patch('/me', { timeZone: 'Asia/Kolkata' }), 200, 'setting pat’s time zone');
    await must(t.admin.post('/access-groups', { name: 'night-shift', executors: ['alice'], approvers: ['carol'], requiresJustification: true }), 201, 'adding the access group');

    // The planner: Change Audit ➔ Change, More actions ▸ New; Details, Devices, Script; Save.
    const plan = await signedIn('pat', planner.password, '/changes');
    await plan.getByRole('button', { name: 'More actions' }).click();
    await plan.getByRole('menuitem', { name: 'New' }).click();
    await plan.getByRole('heading', { name: 'New change' }).waitFor();
    await plan.getByLabel('ID').fill('CHG-SEED');
    await plan.getByLabel('Title').fill('Rotate the web logs');
    const now = t.clock.now().getTime();
    await pickDateTime(plan, 'Start time', wallTime(now - 2 * 60_000, 'Asia/Kolkata'));
    await pickDateTime(plan, 'Due date', wallTime(now + 2 * 60 * 60_000, 'Asia/Kolkata'));
    await plan.getByRole('combobox', { name: 'Access group' }).click();
    await plan.getByRole('option', { name: 'night-shift' }).click();
    await plan.getByRole('tab', { name: /Devices/ }).click();
    await plan.getByRole('button', { name: 'Add devices' }).click();
    await plan.getByRole('checkbox', { name: /web01/ }).check();
    await plan.getByRole('checkbox', { name: /web02/ }).check();
    await plan.getByRole('button', { name: 'Add', exact: true }).click();
    await plan.getByRole('tab', { name: /Script/ }).click();
    await plan.getByRole('textbox', { name: 'Script' }).fill('cat /etc/hostname\necho rotate-the-logs\nsleep 3\nls /\n');
    await plan.getByText('4 steps, no errors.').waitFor();
    await plan.getByRole('button', { name: 'Save' }).click();
    await plan.waitForURL((address) => address.pathname === '/changes/CHG-SEED');
    expect((await t.admin.get('/changes/CHG-SEED')).body).toMatchObject({ status: 'open', devices: ['web01', 'web02'], accessGroup: 'night-shift' });

    // The executor: PAM Core ➔ Credentials ➔ All, Start session, the justification, and the wait.
    const executor = await signedIn('alice', alice.password, '/credentials');
    await executor.getByLabel('Change').fill('CHG-SEED');
    const row = executor.getByRole('row', { name: /web01.*CHG-SEED/ });
    await row.waitFor();
    await expectAccessible(executor, 'Credentials ➔ All');
    await screenshot(executor, 'credentials');
    await row.getByRole('link', { name: /Start session/ }).click();
    await executor.getByRole('heading', { name: 'Start session on web01' }).waitFor();
    await executor.getByRole('button', { name: 'Request access' }).click();
    // The group asks why: the server's refusal shows at the field.
    await executor.getByText('Access group night-shift requires a justification: say why you need to run CHG-SEED now.').waitFor();
    await executor.getByLabel(/Justification/).fill('The disk holding the web logs is 95% full');
    await executor.getByRole('button', { name: 'Request access' }).click();
    const waiting = executor.getByText(/Waiting for approval by carol: 0 of 1 so far/);
    await waiting.waitFor();
    const number = ((await t.admin.get('/requests?scope=all&change=CHG-SEED')).body as Array<{ number: number }>)[0]?.number;
    expect(number).toBeGreaterThan(0);
    await executor.getByRole('link', { name: `Request #${number}` }).waitFor();
    await expectAccessible(executor, 'waiting for an approval');
    await screenshot(executor, 'start-session-waiting');

    // The approver: the bell shows the request; My approvals; Approve.
    const approver = await signedIn('carol', carol.password, '/requests');
    await approver.getByRole('button', { name: /Notifications: [1-9]\d* unread/ }).click();
    const notice = approver.getByRole('dialog', { name: 'Notifications' }).getByRole('button', { name: `Unread: Request #${number}: alice asks to run CHG-SEED on web01` });
    await notice.waitFor();
    await expectAccessible(approver, 'the notifications under the bell');
    await screenshot(approver, 'notifications');
    await notice.click();
    await approver.getByRole('heading', { name: `Request #${number}` }).waitFor();
    await approver.getByText('Justification: The disk holding the web logs is 95% full').waitFor();
    await approver.getByRole('button', { name: 'Approve' }).click();
    await approver.getByText('Approvals: 1 of 1 needed').waitFor();

    // The executor's page connects by itself; they run part of the script, skip a step, and run one more command.
    const screen = executor.locator('.xterm-rows');
    await expect.poll(() => screen.innerText(), { timeout: 20_000 }).toMatch(/[#$] ?\s*$/m);
    await executor.getByRole('group', { name: 'Terminal of root@web01' }).click();
    for (const command of ['cat /etc/hostname', 'sleep 3', 'ls /', 'id -un']) {
      await executor.keyboard.type(command);
      await executor.keyboard.press('Enter');
      // The next command once the shell prompts again, as a person would.
      await expect.poll(async () => (await screen.innerText()).trimEnd(), { timeout: 10_000 }).toMatch(new RegExp(`${command.replace(/[/.]/g, '\\$&')}[\\s\\S]*[#$]$`));
    }
    await expect.poll(() => screen.innerText(), { timeout: 10_000 }).toMatch(/^root\s*$/m);
    await expectAccessible(executor, 'the terminal');
    await screenshot(executor, 'terminal');
    await executor.keyboard.type('exit');
    await executor.keyboard.press('Enter');
    await executor.getByText('The session ended with exit status 0.').waitFor();
    const sessions = (await t.admin.get('/sessions?change=CHG-SEED')).body as Array<{ number: number; device: string; user: string; kind: string }>;
    expect(sessions).toMatchObject([{ device: 'web01', user: 'alice', kind: 'web' }]);
    const session = (sessions[0] as { number: number }).number;

    // The auditor: Change Audit ➔ Audited sessions, the change's score, its board, the logs, the video.
    const auditor = await signedIn('admin', ADMIN_PASSWORD, '/changes');
    await auditor.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audited sessions' }).click();
    await auditor.getByLabel('Change', { exact: true }).fill('CHG-SEED');
    const audited = auditor.getByRole('row', { name: new RegExp(`#${session}\\b`) });
    // web02 was never reached, so the change scores below full marks as soon as the session is scored.
    await expect.poll(() => audited.textContent(), { timeout: 15_000 }).toMatch(/\d+ \/ 100/);
    await audited.getByRole('button', { name: `Actions for session #${session}` }).click();
    await auditor.getByRole('menuitem', { name: 'Change Audit' }).click();
    const board = auditor.getByRole('table', { name: 'Board of web01' });
    await board.getByRole('row').filter({ hasText: 'echo rotate-the-logs' }).getByText('missing', { exact: true }).waitFor();
    await board.getByRole('row').filter({ hasText: 'id -un' }).getByText('extra', { exact: true }).waitFor();
    expect(await board.getByRole('row').filter({ hasText: 'cat /etc/hostname' }).getByText('matched', { exact: true }).count()).toBe(1);
    await screenshot(auditor, 'seed-board');

    await auditor.getByRole('tab', { name: 'Session Logs' }).click();
    await auditor.getByRole('button', { name: /cat \/etc\/hostname/ }).click();
    await expect.poll(() => auditor.getByRole('region', { name: 'Output of cat /etc/hostname' }).textContent()).toMatch(/\S/);

    await auditor.getByRole('tab', { name: 'Video of Session' }).click();
    const position = async () => {
      const [minutes = 0, seconds = 0] = (/^Position (\d+):(\d+)/.exec((await auditor.getByText(/^Position /).textContent()) ?? '') ?? []).slice(1).map(Number);
      return minutes * 60 + seconds;
    };
    // The video starts by itself.
    await expect.poll(async () => (await auditor.getByText(/^Position \d/).count()) > 0 && (await auditor.getByText(/^Position \d+:\d+ of \d/).count()) > 0, { timeout: 10_000 }).toBe(true);
    const commands = (await t.admin.get(`/sessions/${session}/commands`)).body as Array<{ text: string; offsetSeconds: number }>;
    const listing = commands.find((command) => command.text === 'ls /') as { offsetSeconds: number };
    expect(listing.offsetSeconds).toBeGreaterThanOrEqual(3);
    // Played to the end, then a click on a command: the player goes back to two seconds before it.
    const end = commands.find((command) => command.text === 'exit') as { offsetSeconds: number };
    await expect.poll(position, { timeout: 15_000 }).toBeGreaterThanOrEqual(Math.floor(end.offsetSeconds));
    await auditor.getByRole('button', { name: /^\d\d:\d\d\s*ls \/$/ }).click();
    // The player jumps to two seconds before the command.
    expect(new URL(auditor.url()).hash).toMatch(/^#t=\d\d:\d\d$/);
    await expect.poll(position).toBeGreaterThanOrEqual(Math.floor(Math.max(0, listing.offsetSeconds - 2)));
    expect(await position()).toBeLessThanOrEqual(Math.ceil(listing.offsetSeconds) + 1);
    await screenshot(auditor, 'seed-video');
  }, 120_000);

  it('the user menu: a user sets their time zone, turns on two-factor sign-in from the QR code, and after proving it is them adds an SSH key and creates an API token', async () => {
    const dave = await buildUser(t, { username: 'dave' });
    const page = await signedIn('dave', dave.password, '/requests');
    await page.getByRole('button', { name: /Account of/ }).click();
    await page.getByRole('menuitem', { name: 'Profile and time zone' }).click();
    await page.getByRole('combobox', { name: 'Time zone' }).fill('Pacific/Auckland');
    await page.getByRole('option', { name: 'Pacific/Auckland' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: /Account of/ }).getByText('Pacific/Auckland').waitFor();
    expect(((await t.admin.get('/users/dave')).body as { timeZone: string }).timeZone).toBe('Pacific/Auckland');

    await page.getByRole('tab', { name: 'Two-factor sign-in' }).click();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    await page.getByRole('img', { name: 'QR code of the two-factor sign-in key' }).waitFor();
    const secret = (await page.getByText(/^Key:/).locator('code').textContent()) as string;
    await expectAccessible(page, 'two-factor enrolment');
    await screenshot(page, 'account-two-factor');
    await page.getByLabel('Code from the app').fill(totpCode(secret, t.clock.now()));
    await page.getByRole('button', { name: 'Turn it on' }).click();
    await page.getByText(/^Two-factor sign-in is on: signing in asks/).waitFor();
    expect(((await t.admin.get('/users/dave')).body as { totpEnabled: boolean }).totpEnabled).toBe(true);

    // Past the ten minutes a sign-in counts as recent: adding a key asks for the password and a code.
    t.clock.advance(11 * 60 * 1000);
    await page.getByRole('tab', { name: 'SSH keys' }).click();
    const key = keyPair(dir, 'dave');
    await page.getByLabel('Key name').fill('laptop');
    await page.getByLabel('Public key').fill(key.publicKey);
    await page.getByRole('button', { name: 'Add the key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.getByRole('textbox', { name: 'Password' }).fill(dave.password);
    await dialog.getByLabel('Authentication code').fill(totpCode(secret, t.clock.now()));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('row', { name: /laptop/ }).waitFor();
    expect(((await t.admin.get('/users/dave/ssh-keys')).body as Array<{ name: string }>).map((row) => row.name)).toEqual(['laptop']);

    await page.getByRole('tab', { name: 'API tokens' }).click();
    await page.getByLabel('Token name').fill('deploy script');
    await page.getByRole('button', { name: 'Create a token' }).click();
    const shown = (await page.getByRole('alert').filter({ hasText: 'Token deploy script' }).locator('code').textContent()) as string;
    await expectAccessible(page, 'API tokens');
    await screenshot(page, 'account-tokens');
    const me = await fetch(`${baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${shown}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { username: string } }).user.username).toBe('dave');
    await page.getByRole('button', { name: 'Hide the token' }).click();
    expect(await page.getByText(shown).count()).toBe(0);
  });

  it('an expired web session returns to sign-in, then to the page the user was going to', async () => {
    const page = await signedIn('carol', carol.password, '/approvals?status=approved');
    await page.getByRole('heading', { name: 'My approvals' }).waitFor();
    // Past any web session's lifetime: the next call is refused (here, opening another page).
    t.clock.advance(25 * 60 * 60 * 1000);
    await page.getByRole('link', { name: 'My requests' }).click();
    await page.waitForURL((address) => address.pathname === '/signin', { timeout: 15_000 });
    await page.getByText('Your session ended').waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/requests');
    await signInThroughPage(page, 'carol', carol.password);
    await page.getByRole('heading', { name: 'My requests' }).waitFor();
  });
});

/** The wall time of the instant `ms` in `timeZone`: 2026-12-02T14:05. */
function wallTime(ms: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(ms))
      .map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}
