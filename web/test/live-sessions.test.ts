import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, launchBrowser, releaseBrowser, newContext, screenshot, signInThroughPage } from '../../test/browser.ts';
import { addDevice, addOpenChange, approvedRequest, keyPair, must, PROMPT, Terminal } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';

/**
 * PAM Core ➔ Live sessions in Chromium against a real server: alice runs a shell on web01 (a real
 * sshd) through the SSH gateway with OpenSSH's client; an administrator sees it listed, watches it
 * live and terminates it with a reason that alice reads.
 */
describe('live sessions in the web console', () => {
  let t: TestChangegate;
  let baseUrl: string;
  let browser: Browser;
  let dir: string;
  let sshd: TestSshd;
  let terminal: Terminal;
  let sessionNumber: number;
  let startedAt: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-live-'));
    const rootKey = keyPair(dir, 'device_root');
    const aliceKey = keyPair(dir, 'alice');
    let sshPort: number;
    [browser, sshd, t] = await Promise.all([
      launchBrowser(),
      startSshd({ authorizedKeys: [rootKey.publicKey] }),
      // Over plain HTTP on loopback; on the real day, as the browser's cookies are.
      startTestChangegate('pglite', { CHANGEGATE_COOKIE_SECURE: 'false', CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' }, { clockStart: new Date() }),
    ]);
    [baseUrl, { sshPort }] = await Promise.all([t.cg.app.listen({ port: 0, host: '127.0.0.1' }), t.cg.startBackground()]);
    const [alice, carol] = await Promise.all([buildUser(t, { username: 'alice' }), buildUser(t, { username: 'carol' }), addDevice(t.admin, 'web01', sshd, rootKey.privateKey)]);
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, "registering alice's key");
    // The administrator reads times in New York; the browser runs in Paris: the page follows the profile.
    await must(t.admin.patch('/me', { timeZone: 'America/New_York' }), 200, "setting admin's time zone");
    await addOpenChange(t.admin, { name: 'CHG-LIVE', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, 'web01');

    terminal = new Terminal(sshPort, 'alice@web01', aliceKey.file);
    await terminal.waitFor(PROMPT);
    terminal.type('echo before-$((40+2))\r');
    await terminal.waitFor(/before-42\r?\n/);
    const live = (await must(t.admin.get('/sessions?live=true'), 200, 'listing live sessions')).body as Array<{ number: number; startedAt: string }>;
    expect(live).toHaveLength(1);
    [{ number: sessionNumber, startedAt }] = live as [{ number: number; startedAt: string }];
  });

  afterAll(async () => {
    terminal?.close();
    await releaseBrowser(browser);
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(url: string, cookie?: string): Promise<Page> {
    const context = await newContext(browser, baseUrl);
    if (cookie) await context.addCookies([{ name: 'changegate_session', value: cookie, url: baseUrl }]);
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

  /** What the page's xterm shows, as text (the DOM renderer draws spaces as no-break spaces). */
  const screenText = (page: Page) => async () => ((await page.locator('.xterm-rows').textContent()) ?? '').replace(/\u00a0/g, ' ');

  it('lists the running session, watches it live, and terminates it with a reason the user reads', { timeout: 60_000 }, async () => {
    // Someone who may watch but not terminate (signed in already, as the sign-in page is tested elsewhere) sees Watch only.
    const wendy = await buildUser(t, { username: 'wendy', grants: [{ privilege: 'Session.View' }, { privilege: 'Session.Watch' }] });
    const [watcher, page] = await Promise.all([open('/live-sessions', (wendy.client.credentials as { cookie: string }).cookie), signedIn('admin', ADMIN_PASSWORD, '/live-sessions')]);
    await watcher.getByRole('link', { name: `Watch session #${sessionNumber} of alice on web01` }).waitFor();
    expect(await watcher.getByRole('button', { name: /^Terminate/ }).count()).toBe(0);
    await watcher.context().close();

    const row = page.getByRole('row', { name: new RegExp(`#${sessionNumber} alice web01 root CHG-LIVE`) });
    await row.waitFor();
    const started = new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(startedAt));
    expect(await row.textContent()).toContain(started);
    expect(await row.textContent()).toContain('127.0.0.1');

    // The filters live in the address.
    await page.getByLabel('Device').fill('db01');
    await page.getByText('No running session matches these filters.').waitFor();
    expect(new URL(page.url()).searchParams.get('device')).toBe('db01');
    await page.getByLabel('Device').fill('');
    await row.waitFor();
    await expectAccessible(page, 'Live sessions');
    await screenshot(page, 'live-sessions');

    // Terminate asks first; Escape keeps the session running.
    await row.getByRole('button', { name: `Terminate session #${sessionNumber} of alice on web01` }).click();
    const dialog = page.getByRole('dialog', { name: `Terminate session #${sessionNumber}` });
    // The reason field has the focus: the keyboard goes straight to it.
    const reasonId = await dialog.getByLabel('Reason').getAttribute('id');
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe(reasonId);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // Watch: what alice did before, then what she does now, as it happens.
    await row.getByRole('link', { name: /^Watch/ }).click();
    await page.waitForURL((address) => address.pathname === `/live-sessions/${sessionNumber}`);
    await page.getByRole('heading', { name: `Session #${sessionNumber}` }).waitFor();
    await page.getByText('Live: what alice sees, as it happens.').waitFor();
    await expect.poll(screenText(page)).toContain('before-42');
    terminal.type('echo during-$((6*7))\r');
    await expect.poll(screenText(page)).toContain('during-42');
    await expectAccessible(page, 'watching a session');
    await screenshot(page, 'live-session-watch');

    // Terminate from the watch page: an empty reason is refused, and nothing ends.
    await page.getByRole('button', { name: 'Terminate', exact: true }).click();
    await dialog.getByRole('button', { name: 'Terminate session' }).click();
    await dialog.getByText('Give a reason: the user reads it.').waitFor();
    expect((await t.admin.get(`/sessions/${sessionNumber}`)).body).toMatchObject({ live: true });
    await expectAccessible(page, 'the termination dialog');
    await screenshot(page, 'live-session-terminate');

    const reason = 'the vendor recalled the patch';
    await dialog.getByLabel('Reason').fill(reason);
    await dialog.getByRole('button', { name: 'Terminate session' }).click();
    await dialog.waitFor({ state: 'detached' });
    await terminal.waitFor(`the session was terminated by admin: ${reason}.`);
    // The watch page says it ended, who ended it and why.
    await page.getByText(/^The session ended \d/).waitFor();
    await page.getByText(`Terminated by admin: ${reason}.`, { exact: true }).waitFor();
    await expect.poll(screenText(page)).toContain(`terminated by admin: ${reason}`);
    expect(await page.getByRole('button', { name: 'Terminate', exact: true }).count()).toBe(0);
    await screenshot(page, 'live-session-ended');
    expect((await t.admin.get(`/sessions/${sessionNumber}`)).body).toMatchObject({ live: false, endReason: 'terminated', endedBy: 'admin', terminationReason: reason });

    // The list no longer shows it.
    await page.getByRole('link', { name: 'Back to Live sessions' }).click();
    await page.getByText('No session is running now.').waitFor();
    expect(await page.getByRole('row', { name: new RegExp(`#${sessionNumber}`) }).count()).toBe(0);
  });
});
