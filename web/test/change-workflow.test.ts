import { describe, expect, it } from 'vitest';
import { expectAccessible, pickDateTime, screenshot } from '../../test/browser.ts';
import { must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser } from '../../test/harness.ts';
import { consoleWorldOfThisFile } from './console-world.ts';

/** The seed's workflow in Chromium against a real server and real devices: requests, approvals, a session, its audit. */
// A browser waits on pages and their refreshes: a test may take a minute on a busy machine.
describe('the change workflow in the web console', { timeout: 60_000 }, () => {
  const world = consoleWorldOfThisFile();

  it('an approver sees the request at the bell and approves it with a comment; the executor’s open page shows it approved', async () => {
    const executor = await world.signedIn('alice', world.alice.password, '/requests');
    const asked = await must(world.alice.client.post('/requests', { device: 'web01', justification: 'Rotate the logs' }), 201, 'asking for web01');
    const number = asked.body.request.number as number;

    const approver = await world.signedIn('carol', world.carol.password, '/approvals');
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
    expect(((await world.t.admin.get(`/requests/${number}`)).body as { status: string }).status).toBe('approved');

    // alice's My requests, open all along, shows the decision without a reload.
    await executor.getByRole('row', { name: new RegExp(`#${number}`) }).getByText('approved').waitFor({ timeout: 15_000 });
    const askedAt = new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(asked.body.request.createdAt));
    expect(await executor.getByRole('row', { name: new RegExp(`#${number}`) }).textContent()).toContain(askedAt);
  });

  it('a denied request shows the approver’s comment to the executor, who can no longer withdraw it', async () => {
    const asked = await must(world.alice.client.post('/requests', { device: 'web02' }), 201, 'asking for web02');
    const number = asked.body.request.number as number;
    const approver = await world.signedIn('carol', world.carol.password, `/requests/${number}`);
    await approver.getByLabel('Comment').fill('Not during the freeze');
    await approver.getByRole('button', { name: 'Deny' }).click();
    await approver.getByText(/carol denied .*: “Not during the freeze”/).waitFor();
    expect(await approver.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(((await world.t.admin.get(`/requests/${number}`)).body as { status: string }).status).toBe('denied');

    const executor = await world.signedIn('alice', world.alice.password, `/requests/${number}`);
    await executor.getByText(/carol denied .*: “Not during the freeze”/).waitFor();
    expect(await executor.getByText('denied', { exact: true }).count()).toBe(1);
    expect(await executor.getByRole('button', { name: 'Withdraw my request' }).count()).toBe(0);

    // Starting a session again shows the denial and offers to ask again, as the gateway does.
    await executor.goto('/credentials?device=web02&change=CHG-1');
    await executor.getByRole('row', { name: /web02.*CHG-1/ }).getByRole('link', { name: /Start session/ }).click();
    await executor.getByText('Denied by carol: “Not during the freeze” You may ask again.').waitFor();
    await executor.getByRole('button', { name: 'Ask again' }).click();
    await executor.getByText(/Waiting for approval by carol/).waitFor();
    const again = (await world.t.admin.get('/requests?scope=all&device=web02')).body as Array<{ number: number; status: string }>;
    expect(again.map((request) => request.status).sort()).toEqual(['denied', 'pending']);
  });

  it('the seed’s whole flow: a planner registers a change, the executor starts a session from Credentials ➔ All and waits, the approver approves from the bell, the terminal connects by itself, and the auditor reviews it', async () => {
    const planner = await buildUser(world.t, { username: 'pat', grants: ['Change.Create', 'Change.View', 'Device.View', 'AccessGroup.View'].map((privilege) => ({ privilege })) });
    await must(planner.client.patch('/me', { timeZone: 'Asia/Kolkata' }), 200, 'setting pat’s time zone');
    await must(world.t.admin.post('/access-groups', { name: 'night-shift', executors: ['alice'], approvers: ['carol'], requiresJustification: true }), 201, 'adding the access group');

    // The planner: Change Audit ➔ Change, More actions ▸ New; Details, Devices, Script; Save.
    const plan = await world.signedIn('pat', planner.password, '/changes');
    await plan.getByRole('button', { name: 'More actions' }).click();
    await plan.getByRole('menuitem', { name: 'New' }).click();
    await plan.getByRole('heading', { name: 'New change' }).waitFor();
    await plan.getByLabel('ID').fill('CHG-SEED');
    await plan.getByLabel('Title').fill('Rotate the web logs');
    const now = world.t.clock.now().getTime();
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
    expect((await world.t.admin.get('/changes/CHG-SEED')).body).toMatchObject({ status: 'open', devices: ['web01', 'web02'], accessGroup: 'night-shift' });

    // The executor: PAM Core ➔ Credentials ➔ All, Start session, the justification, and the wait.
    const executor = await world.signedIn('alice', world.alice.password, '/credentials');
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
    const number = ((await world.t.admin.get('/requests?scope=all&change=CHG-SEED')).body as Array<{ number: number }>)[0]?.number;
    expect(number).toBeGreaterThan(0);
    await executor.getByRole('link', { name: `Request #${number}` }).waitFor();
    await expectAccessible(executor, 'waiting for an approval');
    await screenshot(executor, 'start-session-waiting');

    // The approver: the bell shows the request; My approvals; Approve.
    const approver = await world.signedIn('carol', world.carol.password, '/requests');
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
    const sessions = (await world.t.admin.get('/sessions?change=CHG-SEED')).body as Array<{ number: number; device: string; user: string; kind: string }>;
    expect(sessions).toMatchObject([{ device: 'web01', user: 'alice', kind: 'web' }]);
    const session = (sessions[0] as { number: number }).number;

    // The auditor: Change Audit ➔ Audited sessions, the change's score, its board, the logs, the video.
    const auditor = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
    await auditor.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audited sessions' }).click();
    await auditor.getByRole('heading', { name: 'Audited sessions' }).waitFor();
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
    const commands = (await world.t.admin.get(`/sessions/${session}/commands`)).body as Array<{ text: string; offsetSeconds: number }>;
    const listing = commands.find((command) => command.text === 'ls /') as { offsetSeconds: number };
    expect(listing.offsetSeconds).toBeGreaterThanOrEqual(3);
    // Played to the end, then a click on a command: the player goes back to two seconds before it.
    const end = commands.find((command) => command.text === 'exit') as { offsetSeconds: number };
    await auditor.getByLabel('Speed').selectOption('8');
    await expect.poll(position, { timeout: 15_000 }).toBeGreaterThanOrEqual(Math.floor(end.offsetSeconds));
    await auditor.getByLabel('Speed').selectOption('1');
    await auditor.getByRole('button', { name: /^\d\d:\d\d\s*ls \/$/ }).click();
    // The player jumps to two seconds before the command.
    expect(new URL(auditor.url()).hash).toMatch(/^#t=\d\d:\d\d$/);
    await expect.poll(position).toBeGreaterThanOrEqual(Math.floor(Math.max(0, listing.offsetSeconds - 2)));
    expect(await position()).toBeLessThanOrEqual(Math.ceil(listing.offsetSeconds) + 1);
    await screenshot(auditor, 'seed-video');
  }, 120_000);
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
