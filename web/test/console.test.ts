import { describe, expect, it } from 'vitest';
import { totpCode } from '../../src/identity/totp.ts';
import { expectAccessible, newContext, pickDateTime, screenshot, signInThroughPage } from '../../test/browser.ts';
import { keyPair, must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser } from '../../test/harness.ts';
import type { TestSshd } from '../../test/sshd.ts';
import { consoleWorldOfThisFile } from './console-world.ts';

/** The console in Chromium against a real server: signing in, the menus, PAM Core, changes, the user's account. */
// A browser waits on pages and their refreshes: a test may take a minute on a busy machine.
describe('the web console', { timeout: 60_000 }, () => {
  const world = consoleWorldOfThisFile();

  it('sends a visitor to sign-in and back to the page asked for; asks for the TOTP code when the account has it; says plainly what was wrong', async () => {
    const bob = await buildUser(world.t, { username: 'bob' });
    const enrolment = await must(bob.client.post('/me/totp'), 200, 'starting TOTP enrolment');
    await must(bob.client.post('/me/totp/confirm', { code: totpCode(enrolment.body.secret, world.t.clock.now()) }), 204, 'confirming TOTP');
    // The confirmation spent this period's code.
    world.t.clock.advance(30_000);

    const page = await world.open('/approvals?status=pending');
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
    await page.keyboard.type(totpCode(enrolment.body.secret, world.t.clock.now()));
    await page.getByRole('button', { name: 'Verify and sign in' }).click();

    await page.getByRole('heading', { name: 'My approvals' }).waitFor();
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/approvals?status=pending');
    await page.getByRole('button', { name: 'Account of User' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL((address) => address.pathname === '/signin');
    expect((await world.t.admin.get('/events?action=auth.logout&subject=user:bob')).body).toHaveLength(1);

    // The accessibility check itself fails on a page with a button no one can name (axe-core stays in the page across runs).
    await page.evaluate(() => {
      const { document } = globalThis as unknown as { document: { body: { append(node: unknown): void }; createElement(tag: string): unknown } };
      document.body.append(document.createElement('button'));
    });
    await expect(expectAccessible(page, 'a page with an unnamed button')).rejects.toMatchObject({
      message: expect.stringContaining('accessibility of a page with an unnamed button'),
      actual: [expect.stringMatching(/^button-name: Buttons must have discernible text \(/)],
    });
  });

  it('after sign-in goes only to a page of the console, never to another site a link names', async () => {
    for (const next of ['//evil.example/', '/\\evil.example/', 'https://evil.example/']) {
      const page = await world.open(`/signin?next=${encodeURIComponent(next)}`);
      await signInThroughPage(page, 'carol', world.carol.password);
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      expect(new URL(page.url()).origin, next).toBe(world.baseUrl);
      await page.context().close();
    }
  });

  it('shows each user the menus their privileges allow', async () => {
    const executor = await world.signedIn('alice', world.alice.password, '/requests');
    const menu = executor.getByRole('navigation', { name: 'Main' });
    await menu.getByRole('link', { name: 'My requests' }).waitFor();
    expect(await menu.getByRole('link').allTextContents()).toEqual(['My requests', 'My approvals', 'Credentials ➔ All']);
    // IntelliSearch searches the audit trail: only for those who may see it.
    expect(await executor.getByRole('combobox', { name: 'Search Audit Entries' }).count()).toBe(0);

    const admin = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
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
      'Audit Rules',
      'Audit Trail',
      'Trash Can',
      'Event log',
      'Users',
      'Grants',
      'Partitions and applications',
      'Webhooks',
    ]);
    expect(await admin.getByRole('combobox', { name: 'Search Audit Entries' }).count()).toBe(1);
  });

  it('PAM Core lists the devices with their pinned host keys and the access groups, filtered from the address', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    for (const [index, name] of ['web01', 'web02'].entries()) {
      const row = page.getByRole('row', { name: new RegExp(name) });
      await row.waitFor();
      expect(await row.textContent()).toContain((world.devices[index] as TestSshd).fingerprint);
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
    await must(world.t.admin.patch('/me', { timeZone: 'Asia/Tokyo' }), 200, 'setting admin’s time zone');
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
    const row = page.getByRole('row', { name: /CHG-1/ });
    await row.waitFor();
    expect(await row.getByText('open', { exact: true }).count()).toBe(1);
    const change = (await world.t.admin.get('/changes/CHG-1')).body as { startAt: string };
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
    await must(world.t.admin.patch('/me', { timeZone: 'Asia/Tokyo' }), 200, 'setting admin’s time zone');
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
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
    expect((await world.t.admin.get('/changes/CHG-2')).status).toBe(404);

    await page.getByRole('button', { name: 'Add devices' }).click();
    await page.getByLabel('Search devices').fill('web0');
    await page.getByRole('checkbox', { name: /web01/ }).check();
    await page.getByRole('checkbox', { name: /web02/ }).check();
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await screenshot(page, 'change-devices');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL((address) => address.pathname === '/changes/CHG-2');
    const saved = (await world.t.admin.get('/changes/CHG-2')).body as { devices: string[]; startAt: string; dueAt: string; script: string; accessGroup: string };
    // The admin's time zone is how the times were meant.
    expect(saved).toMatchObject({ devices: ['web01', 'web02'], startAt: '2030-01-15T00:00:00.000Z', dueAt: '2030-01-15T02:30:00.000Z', accessGroup: 'chg-1-team' });
    expect(saved.script).toBe('systemctl stop nginx\n# optional\necho {{name}}\nsystemctl start nginx');
    await page.getByRole('button', { name: 'Back to Changes' }).click();
    await page.getByRole('row', { name: /CHG-2/ }).getByText('scheduled').waitFor();
  });

  it('the user menu: a user sets their time zone, turns on two-factor sign-in from the QR code, and after proving it is them adds an SSH key and creates an API token', async () => {
    const dave = await buildUser(world.t, { username: 'dave' });
    const page = await world.signedIn('dave', dave.password, '/requests');
    await page.getByRole('button', { name: /Account of/ }).click();
    await page.getByRole('menuitem', { name: 'Profile and time zone' }).click();
    await page.getByRole('combobox', { name: 'Time zone' }).fill('Pacific/Auckland');
    await page.getByRole('option', { name: 'Pacific/Auckland' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: /Account of/ }).getByText('Pacific/Auckland').waitFor();
    expect(((await world.t.admin.get('/users/dave')).body as { timeZone: string }).timeZone).toBe('Pacific/Auckland');

    await page.getByRole('tab', { name: 'Two-factor sign-in' }).click();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    await page.getByRole('img', { name: 'QR code of the two-factor sign-in key' }).waitFor();
    const secret = (await page.getByText(/^Key:/).locator('code').textContent()) as string;
    await expectAccessible(page, 'two-factor enrolment');
    await screenshot(page, 'account-two-factor');
    await page.getByLabel('Code from the app').fill(totpCode(secret, world.t.clock.now()));
    await page.getByRole('button', { name: 'Turn it on' }).click();
    await page.getByText(/^Two-factor sign-in is on: signing in asks/).waitFor();
    expect(((await world.t.admin.get('/users/dave')).body as { totpEnabled: boolean }).totpEnabled).toBe(true);

    // Past the ten minutes a sign-in counts as recent: adding a key asks for the password and a code.
    world.t.clock.advance(11 * 60 * 1000);
    await page.getByRole('tab', { name: 'SSH keys' }).click();
    const key = keyPair(world.dir, 'dave');
    await page.getByLabel('Key name').fill('laptop');
    await page.getByLabel('Public key').fill(key.publicKey);
    await page.getByRole('button', { name: 'Add the key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
    await dialog.getByRole('textbox', { name: 'Password' }).fill(dave.password);
    await dialog.getByLabel('Authentication code').fill(totpCode(secret, world.t.clock.now()));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('row', { name: /laptop/ }).waitFor();
    expect(((await world.t.admin.get('/users/dave/ssh-keys')).body as Array<{ name: string }>).map((row) => row.name)).toEqual(['laptop']);

    await page.getByRole('tab', { name: 'API tokens' }).click();
    await page.getByLabel('Token name').fill('deploy script');
    await page.getByRole('button', { name: 'Create a token' }).click();
    const shown = (await page.getByRole('alert').filter({ hasText: 'Token deploy script' }).locator('code').textContent()) as string;
    await expectAccessible(page, 'API tokens');
    await screenshot(page, 'account-tokens');
    const me = await fetch(`${world.baseUrl}/api/v1/me`, { headers: { authorization: `Bearer ${shown}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { username: string } }).user.username).toBe('dave');
    await page.getByRole('button', { name: 'Hide the token' }).click();
    expect(await page.getByText(shown).count()).toBe(0);
  }, 60_000);

  it('an expired web session returns to sign-in, then to the page the user was going to', async () => {
    // The page's clock is the test's: its refreshes (the bell, the list) wait while the user moves
    // on, so that opening the next page is the call the server refuses first, however slow the machine.
    const context = await newContext(world.browser, world.baseUrl);
    await context.clock.install();
    const page = await context.newPage();
    await page.goto('/approvals?status=approved');
    await signInThroughPage(page, 'carol', world.carol.password);
    await page.getByRole('heading', { name: 'My approvals' }).waitFor();
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
    // A refresh the pause let fire is answered before the session expires.
    await page.waitForLoadState('networkidle');
    // Past any web session's lifetime: the next call is refused (here, opening another page).
    world.t.clock.advance(25 * 60 * 60 * 1000);
    await page.getByRole('link', { name: 'My requests' }).click();
    await page.waitForURL((address) => address.pathname === '/signin', { timeout: 15_000 });
    await page.getByText('Your session ended').waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/requests');
    await page.clock.resume();
    await signInThroughPage(page, 'carol', world.carol.password);
    await page.getByRole('heading', { name: 'My requests' }).waitFor();
    await context.close();
  });
});
