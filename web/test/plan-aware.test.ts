import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, launchBrowser, releaseBrowser, newContext, screenshot, signInThroughPage } from '../../test/browser.ts';
import { addDevice, approvedRequest, keyPair, must, PROMPT, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';

/**
 * Sessions that know the plan, in Chromium against a real server: alice runs CHG-PLAN on web01 (a
 * real sshd) through the SSH gateway with OpenSSH's client. The administrator watches her progress
 * against the script live; carol, the group's approver (who may also watch sessions), follows a
 * deviation alert to the moment it began, and allows and refuses the lines the group's review rule
 * holds, from My approvals.
 */
describe('plan-aware sessions in the web console', () => {
  let t: TestChangegate;
  let baseUrl: string;
  let browser: Browser;
  let dir: string;
  let sshd: TestSshd;
  let terminal: Terminal;
  let sessionNumber: number;
  let carolPassword: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-plan-'));
    const rootKey = keyPair(dir, 'device_root');
    const aliceKey = keyPair(dir, 'alice');
    let sshPort: number;
    [browser, sshd, t] = await Promise.all([
      launchBrowser(),
      startSshd({ authorizedKeys: [rootKey.publicKey] }),
      // Over plain HTTP on loopback; on the real day, as the browser's cookies are. A burst of deviations is one alert after a second.
      startTestChangegate(
        'pglite',
        { CHANGEGATE_COOKIE_SECURE: 'false', CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' },
        { clockStart: new Date(), sessionTiming: { deviationWindowMs: 1_000 } },
      ),
    ]);
    [baseUrl, { sshPort }] = await Promise.all([t.cg.app.listen({ port: 0, host: '127.0.0.1' }), t.cg.startBackground()]);
    const [alice, carol] = await Promise.all([
      buildUser(t, { username: 'alice' }),
      buildUser(t, { username: 'carol', grants: [{ privilege: 'Session.View' }, { privilege: 'Session.Watch' }] }),
      addDevice(t.admin, 'web01', sshd, rootKey.privateKey),
    ]);
    carolPassword = carol.password;
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, "registering alice's key");
    await must(
      t.admin.post('/access-groups', {
        name: 'plan-team',
        executors: ['alice'],
        approvers: ['carol'],
        commandPolicy: { rules: [{ kind: 'review', syntax: 'glob', pattern: 'touch *', name: 'Files' }], strict: false },
        deviationAlerts: 'extra',
      }),
      201,
      'adding the access group',
    );
    const now = t.clock.now().getTime();
    await must(
      t.admin.post('/changes', {
        name: 'CHG-PLAN',
        title: 'Three steps on web01',
        startAt: new Date(now - 60_000).toISOString(),
        dueAt: new Date(now + 3_600_000).toISOString(),
        accessGroup: 'plan-team',
        devices: ['web01'],
        script: 'echo step-one\necho step-two\necho step-three',
      }),
      201,
      'adding CHG-PLAN',
    );
    await approvedRequest(alice.client, carol.client, 'web01');

    terminal = new Terminal(sshPort, 'alice@web01', aliceKey.file);
    await terminal.waitFor(PROMPT);
    sessionNumber = await waitUntil(async () => ((await t.admin.get('/sessions?live=true')).body as Array<{ number: number }>)[0]?.number, 'the live session');
  });

  afterAll(async () => {
    terminal?.close();
    await releaseBrowser(browser);
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function signedIn(username: string, password: string, url: string): Promise<Page> {
    const context = await newContext(browser, baseUrl);
    const page = await context.newPage();
    await page.goto(url);
    await signInThroughPage(page, username, password);
    await page.waitForURL((address) => address.pathname === url.split('?')[0]);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return page;
  }

  /** Types a line in alice's terminal and waits for what it should print. */
  async function run(line: string, printed: RegExp | string): Promise<void> {
    const from = terminal.output.length;
    await terminal.enter(line);
    await waitUntil(async () => {
      const since = terminal.output.slice(from);
      return (typeof printed === 'string' ? since.includes(printed) : printed.test(since)) && PROMPT.test(since) ? true : undefined;
    }, `the output of ${line}`).catch((error: unknown) => {
      throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(from)}`);
    });
  }

  /** The review the terminal names after `from`, once the line is held. */
  async function heldAs(from: number): Promise<number> {
    const waiting = /waits for an approver \(review #(\d+); asked: carol\)/;
    await waitUntil(async () => (waiting.test(terminal.output.slice(from)) ? true : undefined), 'the line to be held for review').catch((error: unknown) => {
      throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(from)}`);
    });
    return Number(waiting.exec(terminal.output.slice(from))?.[1]);
  }

  /** The text of the panel's "Next:" line. */
  const nextLine = (page: Page) => async () => (await page.getByRole('region', { name: 'Progress against the script' }).getByText(/^Next:/).textContent())?.replace(/\s+/g, ' ');

  it('shows the watcher the progress against the script as the commands run, and the list its progress column', { timeout: 90_000 }, async () => {
    const page = await signedIn('admin', ADMIN_PASSWORD, '/live-sessions');
    const row = page.getByRole('row', { name: new RegExp(`#${sessionNumber} alice web01 root CHG-PLAN`) });
    await expect.poll(async () => row.getByRole('cell').nth(5).textContent(), { timeout: 10_000 }).toContain('0 of 3 steps');
    expect(await row.getByRole('cell').nth(5).textContent()).toContain('next: echo step-one');
    expect(await page.getByRole('columnheader', { name: 'Progress' }).count()).toBe(1);

    await row.getByRole('link', { name: /^Watch/ }).click();
    await page.waitForURL((address) => address.pathname === `/live-sessions/${sessionNumber}`);
    const panel = page.getByRole('region', { name: 'Progress against the script' });
    await expect.poll(nextLine(page), { timeout: 10_000 }).toBe('Next: echo step-one');
    const steps = panel.getByRole('list', { name: 'Script of CHG-PLAN on web01, and what ran' });
    expect((await steps.getByRole('listitem').allTextContents()).map((text) => text.replace(/\s+/g, ' '))).toEqual([
      '1nextecho step-one',
      '2to doecho step-two',
      '3to doecho step-three',
    ]);
    await panel.getByText('0 of 3 steps').waitFor();

    // The first step runs: the next one is expected now.
    await run('echo step-one', /step-one\r?\n/);
    await expect.poll(nextLine(page), { timeout: 10_000 }).toBe('Next: echo step-two');
    await steps.getByRole('listitem').filter({ hasText: 'echo step-one' }).getByText('matched', { exact: true }).waitFor();
    await panel.getByText('1 of 3 steps', { exact: true }).waitFor();

    // A command off the script: an extra line, in the board's extra style, said politely to a screen reader.
    await run('hostname', PROMPT);
    const extra = steps.getByRole('listitem').filter({ hasText: 'hostname' });
    await extra.getByText('extra', { exact: true }).waitFor();
    expect(await extra.getAttribute('style')).toContain('var(--mantine-color-green-1)');
    await panel.getByRole('status').getByText('Latest deviation: hostname is not in the script').waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'Latest deviation' }).getAttribute('aria-live')).toBe('polite');
    await panel.getByText('1 of 3 steps · 1 extra', { exact: true }).waitFor();
    await expect.poll(nextLine(page), { timeout: 10_000 }).toBe('Next: echo step-two');
    // In the order things happened: the extra command ran before the steps still to do.
    const lines = (await steps.getByRole('listitem').allTextContents()).map((text) => text.replace(/\s+/g, ' '));
    expect(lines).toHaveLength(4);
    [/^1matchedecho step-oneat \d\d:\d\d$/, /^2extrahostnameat \d\d:\d\d$/, /^3nextecho step-two$/, /^4to doecho step-three$/].forEach((pattern, k) => expect(lines[k]).toMatch(pattern));
    // The steps list scrolls by itself, and so with the keyboard too.
    await steps.focus();
    expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('Script of CHG-PLAN on web01, and what ran');
    await expectAccessible(page, 'watching a session with its progress');
    await screenshot(page, 'plan-watch-progress');

    // The list says it too, refreshed as it polls.
    await page.getByRole('link', { name: 'Back to Live sessions' }).click();
    await expect.poll(async () => row.getByRole('cell').nth(5).textContent(), { timeout: 10_000 }).toContain('1 of 3 steps · 1 extra');
    expect(await row.getByRole('cell').nth(5).textContent()).toContain('next: echo step-two');
    await expectAccessible(page, 'Live sessions with the progress column');
    await screenshot(page, 'plan-live-sessions');
  });

  it('leads the approver from a deviation alert to the moment it began, and from there to the video', { timeout: 60_000 }, async () => {
    const page = await signedIn('carol', carolPassword, '/approvals');
    // The alert of `hostname`, a command off the script, is carol's: she approves the group's changes.
    await page.getByRole('button', { name: /^Notifications: \d+ unread/ }).click({ timeout: 15_000 });
    await page.getByRole('button', { name: `Unread: CHG-PLAN: a command off the script on web01 (session #${sessionNumber} of alice)` }).click();
    await page.waitForURL((address) => address.pathname === `/live-sessions/${sessionNumber}` && /^#t=\d+:\d\d$/.test(address.hash));
    const moment = new URL(page.url()).hash.replace('#t=', '');
    const notice = page.getByRole('alert').filter({ hasText: `Alert at ${moment}` });
    await notice.waitFor();
    const replay = notice.getByRole('link', { name: `Replay from ${moment}` });
    expect(await replay.getAttribute('href')).toBe(`/audited-sessions/${sessionNumber}?tab=video#t=${moment}`);
    await page.getByRole('region', { name: 'Progress against the script' }).getByText('hostname').waitFor();
    await expectAccessible(page, 'the watch page opened from an alert');
    await screenshot(page, 'plan-watch-alert');

    await replay.click();
    await page.waitForURL((address) => address.pathname === `/audited-sessions/${sessionNumber}` && address.search === '?tab=video' && address.hash === `#t=${moment}`);
    await page.getByRole('tab', { name: 'Video of Session', selected: true }).waitFor();
  });

  it('lets the approver allow a held line, which then runs, and refuse another, which never does', { timeout: 90_000 }, async () => {
    const page = await signedIn('carol', carolPassword, '/approvals');
    // Nothing waits yet: no section of commands.
    await page.getByRole('heading', { name: 'My approvals' }).waitFor();
    await page.getByRole('table').waitFor();
    expect(await page.getByRole('heading', { name: 'Commands waiting' }).count()).toBe(0);

    const allowedFile = path.join(dir, 'allowed-file');
    let from = terminal.output.length;
    terminal.type(`touch ${allowedFile}; echo touched-$((40+2))\r`);
    const allowed = await heldAs(from);
    expect(existsSync(allowedFile)).toBe(false);

    // The notice's link: the review scrolled to, highlighted and focused.
    await page.goto(`/approvals?review=${allowed}`);
    const card = page.getByRole('article', { name: `Review #${allowed}: alice on web01` });
    await card.waitFor();
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe(`review-${allowed}`);
    expect(await card.getByText(`touch ${allowedFile}; echo touched-$((40+2))`, { exact: true }).count()).toBe(1);
    expect(await card.getByRole('listitem').allTextContents()).toEqual([`review: rule "Files" matches \`touch ${allowedFile}\``]);
    expect(await card.textContent()).toContain(`#${sessionNumber}`);
    expect(await card.textContent()).toContain('CHG-PLAN');
    expect(await card.textContent()).toContain('Asked: carol');
    await page.getByRole('heading', { name: 'Requests' }).waitFor();
    await expectAccessible(page, 'My approvals with a command waiting');
    await screenshot(page, 'plan-approvals-waiting');

    await card.getByRole('button', { name: `Allow review #${allowed}` }).click();
    await terminal.waitFor(/touched-42\r?\n/);
    expect(existsSync(allowedFile)).toBe(true);
    // Decided, it is listed below, with who decided.
    const decidedRow = page.getByRole('table', { name: 'Decided' }).getByRole('row', { name: new RegExp(`^#${allowed} `) });
    await decidedRow.waitFor();
    expect(await decidedRow.textContent()).toContain('allowed');
    expect(await decidedRow.textContent()).toContain('carol');
    await page.getByText('No command waits for your decision now.').waitFor();

    // Another held line, refused: a comment the server refuses is shown at its field, then the refusal with a comment alice reads.
    const refusedFile = path.join(dir, 'refused-file');
    from = terminal.output.length;
    terminal.type(`touch ${refusedFile}; echo refused-$((6*7))\r`);
    const refused = await heldAs(from);
    // Polling brings it in, without a reload.
    const second = page.getByRole('article', { name: `Review #${refused}: alice on web01` });
    await second.waitFor({ timeout: 15_000 });
    await second.getByLabel('Comment').fill('not\u0007now');
    await second.getByRole('button', { name: `Refuse review #${refused}` }).click();
    await second.getByText('must not contain control characters').waitFor();
    expect(await second.getByLabel('Comment').getAttribute('aria-invalid')).toBe('true');
    expect((await t.admin.get(`/command-reviews/${refused}`)).body).toMatchObject({ status: 'pending' });
    await second.getByLabel('Comment').fill('not now');
    await second.getByRole('button', { name: `Refuse review #${refused}` }).click();
    await terminal.waitFor(`carol refused the line (review #${refused}): not now; it did not run.`);
    await page.getByRole('table', { name: 'Decided' }).getByRole('row', { name: new RegExp(`^#${refused} `) }).getByText('refused', { exact: true }).waitFor();
    expect(existsSync(refusedFile)).toBe(false);
    expect(terminal.output.slice(from)).not.toMatch(/refused-42\r?\n/);
    await screenshot(page, 'plan-approvals-decided');

    // The session goes on.
    await run('echo step-two', /step-two\r?\n/);
  });

  it('shows each decision of the command policy on the change audit board, and subscribes a user to the change\'s deviation alerts', { timeout: 60_000 }, async () => {
    const page = await signedIn('admin', ADMIN_PASSWORD, `/audited-sessions/${sessionNumber}`);
    await page.goto(`/audited-sessions/${sessionNumber}?tab=audit`);
    const decisions = page.getByRole('region', { name: 'Command policy on web01: 2 decisions' });
    await decisions.waitFor({ timeout: 15_000 });
    const items = (await decisions.getByRole('listitem').allTextContents()).map((text) => text.replace(/\s+/g, ' '));
    expect(items).toHaveLength(2);
    expect(items[0]).toMatch(/^allowed by an approvertouch .*allowed-file; echo touched-\$\(\(40\+2\)\)review: rule "Files" matches `touch .*allowed-file` — by carol#\d+, .*, alice · Watch at \d\d:\d\d$/);
    expect(items[1]).toMatch(/^refused by an approvertouch .*refused-file; .* — by carol: not now#\d+/);
    const watch = decisions.getByRole('link', { name: /^Watch at / }).first();
    expect(await watch.getAttribute('href')).toMatch(new RegExp(`^/audited-sessions/${sessionNumber}\\?tab=video#t=\\d+:\\d\\d$`));
    await expectAccessible(page, 'the change audit board with the policy decisions');
    await screenshot(page, 'plan-board-decisions');

    // The change's page: the administrator subscribes with the keyboard, and the API says so.
    await page.goto('/changes/CHG-PLAN');
    const subscribe = page.getByRole('switch', { name: 'Alert me when a session of this change leaves its script' });
    await subscribe.waitFor();
    expect(await subscribe.isChecked()).toBe(false);
    await subscribe.focus();
    await page.keyboard.press('Space');
    await expect.poll(async () => (await t.admin.get('/changes/CHG-PLAN/deviation-alerts')).body, { timeout: 10_000 }).toEqual({ subscribed: true });
    // The answer reaches the page just after the server stored it.
    await expect.poll(() => subscribe.isChecked()).toBe(true);
    await page.reload();
    await page.getByRole('switch', { name: 'Alert me when a session of this change leaves its script', checked: true }).waitFor();
    await expectAccessible(page, 'the change with its deviation alert switch');
    await screenshot(page, 'plan-change-alerts');
  });
});
