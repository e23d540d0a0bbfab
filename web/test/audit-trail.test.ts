import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, screenshot } from '../../test/browser.ts';
import { must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser } from '../../test/harness.ts';
import { consoleWorldOfThisFile } from './console-world.ts';

type Entry = { seq: number; time: string; action: 'C' | 'M' | 'D'; businessKey: string; reason: string | null; restore: { before: boolean; after: boolean } };

/** Auditing ➔ Audit Trail, IntelliSearch, restore and the Trash Can in Chromium against a real server. */
describe('the audit trail in the console', { timeout: 90_000 }, () => {
  const world = consoleWorldOfThisFile({ devices: false });
  let counter = 0;
  /** A name no other test here uses. */
  const unique = (prefix: string) => `${prefix}${(counter += 1)}`;

  beforeAll(async () => {
    // Devices named trail-* audited in full, diff-* at Diff only; every credential in full.
    for (const rule of [
      { name: 'TrailDevicesFull', objectType: 'Device', level: 'full_audit', namePattern: 'trail-*' },
      { name: 'TrailDevicesDiff', objectType: 'Device', level: 'diff_only', namePattern: 'diff-*' },
      { name: 'TrailCredentials', objectType: 'Credential', level: 'full_audit', namePattern: '*' },
    ]) {
      await must(world.t.admin.post('/audit/rules', rule), 201, `creating audit rule ${rule.name}`);
    }
  });

  const device = async (name: string, fields: Record<string, unknown> = {}) =>
    must(world.t.admin.post('/devices', { name, hostname: '192.0.2.10', description: 'first', ...fields }), 201, `creating device ${name}`);
  const edit = async (name: string, fields: Record<string, unknown>) => must(world.t.admin.patch(`/devices/${name}`, fields), 200, `editing device ${name}`);
  /** The entries of a search, newest first, through the API. */
  const entries = async (q: string): Promise<Entry[]> => (await must(world.t.admin.get(`/audit/entries?q=${encodeURIComponent(q)}`), 200, `searching ${q}`)).body.entries;

  const trail = (page: Page) => page.getByRole('table', { name: 'Audit entries' });
  const row = (page: Page, seq: number) => trail(page).getByRole('row').filter({ has: page.getByRole('cell', { name: `#${seq}`, exact: true }) });
  const searchBox = (page: Page) => page.getByRole('combobox', { name: 'Search Audit Entries' });

  /** Opens an entry's context menu and chooses `item`. */
  async function fromMenu(page: Page, seq: number, item: string) {
    await page.getByRole('button', { name: `Actions for entry #${seq}` }).click();
    await page.getByRole('menuitem', { name: item }).click();
  }

  /** Fills in the reason of the restore dialog open and confirms it. */
  async function confirmRestore(page: Page, action: string, reason: string) {
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill(reason);
    await dialog.getByRole('button', { name: action }).click();
  }

  it('searches from the IntelliSearch box at the top right, completing prefixes and values from the keyboard; its help lists every prefix and time form', async () => {
    const name = unique('trail-search');
    await device(name);
    await edit(name, { port: 2022 });
    await device(unique('trail-other'));

    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
    const box = searchBox(page);
    await box.click();
    // "o", then the first completion (o:), then "Dev" and its completion (o:Device).
    await page.keyboard.type('o');
    await page.getByRole('option', { name: /^o: Object type/ }).waitFor();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect.poll(() => box.inputValue()).toBe('o:');
    await page.getByRole('option', { name: /^o:Device/ }).waitFor();
    await page.keyboard.type('Dev');
    await expect.poll(() => page.getByRole('option').allTextContents()).toEqual(['o:DeviceObject type']);
    await expectAccessible(page, 'IntelliSearch completing a value');
    await screenshot(page, 'intellisearch-completion');
    await page.keyboard.press('ArrowDown');
    // A screen reader hears the option the arrows chose.
    const chosen = await page.getByRole('option', { name: /^o:Device/ }).getAttribute('id');
    await expect.poll(() => box.getAttribute('aria-activedescendant')).toBe(chosen);
    await page.keyboard.press('Enter');
    await expect.poll(() => box.inputValue()).toBe('o:Device ');
    await page.keyboard.type(`k:GLOBAL.${name}`);
    await page.keyboard.press('Enter');

    await page.waitForURL((address) => address.pathname === '/audit-trail');
    expect(new URL(page.url()).searchParams.get('q')).toBe(`o:Device k:GLOBAL.${name}`);
    await page.getByRole('heading', { name: 'Audit Trail' }).waitFor();
    await expect.poll(() => trail(page).getByRole('row').count()).toBe(3);
    const keys = await trail(page).getByRole('row').locator('td:nth-child(5)').allTextContents();
    expect(keys).toEqual([`GLOBAL.${name}`, `GLOBAL.${name}`]);
    expect(await trail(page).getByRole('row').nth(1).getByText('Modified').count()).toBe(1);
    // The box keeps the search shown, to be corrected in place.
    expect(await box.inputValue()).toBe(`o:Device k:GLOBAL.${name}`);
    // Users and levels complete too.
    await box.fill('u:ad');
    await page.getByRole('option', { name: /^u:admin/ }).waitFor();
    await box.fill('l:');
    await expect.poll(() => page.getByRole('option').allTextContents()).toEqual(['l:1Diff only', 'l:2Full audit']);
    await box.press('Escape');

    await page.getByRole('button', { name: 'Search help' }).click();
    const help = page.getByRole('dialog', { name: 'Search help' });
    for (const prefix of ['t, time', 'o, object, objecttype', 'k, key, businesskey', 'a, action', 'r, reason', 'u, user', 'l, level', 'cb, changedbefore']) {
      await help.getByRole('cell', { name: prefix, exact: true }).waitFor();
    }
    for (const form of ['hh:mm', 'hh:mm:ss', 'hh:mm-hh:mm', 'hh:mm:ss-hh:mm:ss']) await help.getByRole('cell', { name: form, exact: true }).waitFor();
    expect(await help.textContent()).toContain('15 minutes either side');
    await expectAccessible(page, 'the trail with the search help open');
    await screenshot(page, 'audit-trail-search-help');
  });

  it('underlines a query it cannot read at the column the server names, with its message, and lists nothing', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-trail');
    await trail(page).waitFor();
    const box = searchBox(page);
    await box.fill('o:Device x:web');
    await box.press('Escape');
    await box.press('Enter');
    await page.waitForURL((address) => address.searchParams.get('q') === 'o:Device x:web');
    const alert = page.getByRole('alert').filter({ hasText: 'The search cannot be read' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The search cannot be read at column 10');
    expect(await alert.locator('mark').textContent()).toBe('x:web');
    expect(await alert.textContent()).toContain('Unknown prefix "x"');
    expect(await trail(page).count()).toBe(0);
    expect(await page.getByText(/entries shown|No entry matches/).count()).toBe(0);
    await expectAccessible(page, 'a search that cannot be read');
    await screenshot(page, 'audit-trail-bad-query');

    // A value the server cannot read: only the value is underlined.
    await page.goto(`/audit-trail?q=${encodeURIComponent('u:admin a:X')}`);
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The search cannot be read at column 11');
    expect(await alert.locator('mark').textContent()).toBe('X');
    expect(await alert.textContent()).toContain('"X" is not an action');
    expect(await trail(page).count()).toBe(0);
  });

  it('expands one entry to its field-level diff, a Full one to the object before and after side by side, and Expand All every entry', async () => {
    const stem = unique('exp');
    const full = `trail-${stem}`;
    const diff = `diff-${stem}`;
    await device(full);
    await edit(full, { port: 2022, description: 'second' });
    await device(diff);
    await edit(diff, { port: 2200 });
    const [diffModified, , fullModified] = await entries(stem);
    if (!fullModified || !diffModified) throw new Error('the edits were not audited');
    expect([fullModified.businessKey, diffModified.businessKey]).toEqual([`GLOBAL.${full}`, `GLOBAL.${diff}`]);

    const page = await world.signedIn('admin', ADMIN_PASSWORD, `/audit-trail?q=${stem}`);
    await expect.poll(() => trail(page).getByRole('row').count()).toBe(5);
    await page.getByRole('button', { name: `Expand entry #${fullModified.seq}` }).click();
    const changed = page.getByRole('table', { name: `Changed fields of entry #${fullModified.seq}` });
    await changed.waitFor();
    expect(await changed.getByRole('row').allInnerTexts()).toEqual(['Field\tBefore\tAfter', 'port\t22\t2022', 'description\tfirst\tsecond']);
    const sides = page.getByRole('table', { name: `The object before and after entry #${fullModified.seq}` });
    await sides.waitFor();
    expect(await sides.getByRole('row').filter({ hasText: 'hostname' }).innerText()).toBe('hostname\t192.0.2.10\t192.0.2.10');
    expect(await sides.getByRole('row').filter({ hasText: 'port' }).innerText()).toMatch(/^port\s+changed\s+22\t2022$/i);
    expect(await page.getByRole('button', { name: `Expand entry #${diffModified.seq}` }).getAttribute('aria-expanded')).toBe('false');

    await page.getByRole('button', { name: 'Expand All' }).click();
    await expect.poll(() => page.getByRole('button', { name: /^Collapse entry #/ }).count()).toBe(4);
    await page.getByRole('table', { name: `Changed fields of entry #${diffModified.seq}` }).waitFor();
    expect(await page.getByRole('table', { name: `Changed fields of entry #${diffModified.seq}` }).getByRole('row').nth(1).innerText()).toBe('port\t22\t2200');
    // A Diff only entry keeps the changed fields, not the object.
    expect(await page.getByRole('table', { name: `The object before and after entry #${diffModified.seq}` }).count()).toBe(0);
    await page.getByRole('table', { name: `The object before and after entry #${fullModified.seq}` }).waitFor();
    await expectAccessible(page, 'the trail with every entry expanded');
    await screenshot(page, 'audit-trail-expanded');

    await page.getByRole('button', { name: 'Collapse All' }).click();
    await expect.poll(() => page.getByRole('button', { name: /^Collapse entry #/ }).count()).toBe(0);
  });

  it('pages through a long trail with the API\'s cursor, newest first, and Refresh shows what was written since', async () => {
    const stem = unique('pg');
    for (let index = 1; index <= 51; index += 1) await device(`diff-${stem}-${index}`);
    const page = await world.signedIn('admin', ADMIN_PASSWORD, `/audit-trail?q=${stem}`);
    await page.getByRole('status').filter({ hasText: '50 entries shown, newest first.' }).waitFor();
    expect(await trail(page).getByRole('row').nth(1).locator('td:nth-child(5)').textContent()).toBe(`GLOBAL.diff-${stem}-51`);
    await page.getByRole('button', { name: 'Show older entries' }).click();
    await page.getByRole('status').filter({ hasText: '51 entries shown.' }).waitFor();
    expect(await trail(page).getByRole('row').last().locator('td:nth-child(5)').textContent()).toBe(`GLOBAL.diff-${stem}-1`);
    expect(await page.getByRole('button', { name: 'Show older entries' }).count()).toBe(0);

    await device(`diff-${stem}-52`);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('status').filter({ hasText: '52 entries shown.' }).waitFor();
    expect(await trail(page).getByRole('row').nth(1).locator('td:nth-child(5)').textContent()).toBe(`GLOBAL.diff-${stem}-52`);
  });

  it('restores a Modified entry to before the change with a reason, then restores that restore back, offering only what the seed allows', async () => {
    const name = unique('trail-rs');
    await device(name);
    await edit(name, { description: 'second', port: 2022 });
    const [modified, created] = await entries(`k:GLOBAL.${name}`);
    if (!modified || !created) throw new Error('the edits were not audited');

    const page = await world.signedIn('admin', ADMIN_PASSWORD, `/audit-trail?q=${encodeURIComponent(`k:GLOBAL.${name}`)}`);
    await row(page, created.seq).waitFor();
    // Created: only to after.
    await page.getByRole('button', { name: `Actions for entry #${created.seq}` }).click();
    await page.getByRole('menuitem', { name: 'Restore to after change' }).waitFor();
    expect(await page.getByRole('menuitem', { name: 'Restore to before change' }).count()).toBe(0);
    await page.keyboard.press('Escape');

    await fromMenu(page, modified.seq, 'Restore to before change');
    await expectAccessible(page, 'the restore dialog');
    await confirmRestore(page, 'Restore to before change', 'undo the port change');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect((await world.t.admin.get(`/devices/${name}`)).body).toMatchObject({ description: 'first', port: 22 });

    // The trail shows the restore's own entry, which names what it restored.
    await expect.poll(() => trail(page).getByRole('row').count()).toBe(4);
    const [restore] = await entries(`k:GLOBAL.${name}`);
    expect(restore).toMatchObject({ action: 'M', reason: `restore to before entry #${modified.seq}: undo the port change` });
    await row(page, restore?.seq as number).getByText(`restore to before entry #${modified.seq}: undo the port change`).waitFor();

    // A restore is audited in full: restoring to before it brings the change back.
    await fromMenu(page, restore?.seq as number, 'Restore to before change');
    await confirmRestore(page, 'Restore to before change', 'the port change was right after all');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect((await world.t.admin.get(`/devices/${name}`)).body).toMatchObject({ description: 'second', port: 2022 });
    await expect.poll(() => trail(page).getByRole('row').count()).toBe(5);
    const [again] = await entries(`k:GLOBAL.${name}`);
    expect(again?.reason).toBe(`restore to before entry #${restore?.seq}: the port change was right after all`);
    await page.getByRole('button', { name: `Expand entry #${again?.seq}` }).click();
    expect(await page.getByRole('table', { name: `Changed fields of entry #${again?.seq}` }).innerText()).toContain('description\tfirst\tsecond');
    await screenshot(page, 'audit-trail-restored');
  });

  it('shows what blocks a restore, naming the objects by business key; the deleted device comes back from the Trash Can, and then the restore goes through', async () => {
    const name = unique('trail-blk');
    await device(name);
    const credential = await must(world.t.admin.post('/credentials', { device: name, account: 'deploy', secret: { password: 'correct horse battery' } }), 201, 'creating a credential');
    await must(world.t.admin.delete(`/credentials/${credential.body.id}`), 204, 'deleting the credential');
    await must(world.t.admin.delete(`/devices/${name}`), 204, 'deleting the device');
    const [credentialDeleted] = await entries(`o:Credential k:GLOBAL.deploy@${name} a:D`);
    if (!credentialDeleted) throw new Error('the deletion was not audited');

    const page = await world.signedIn('admin', ADMIN_PASSWORD, `/audit-trail?q=${encodeURIComponent(`k:GLOBAL.deploy@${name}`)}`);
    await row(page, credentialDeleted.seq).waitFor();
    // Deleted: only to before.
    await page.getByRole('button', { name: `Actions for entry #${credentialDeleted.seq}` }).click();
    expect(await page.getByRole('menuitem', { name: 'Restore to after change' }).count()).toBe(0);
    await page.getByRole('menuitem', { name: 'Restore to before change' }).click();
    await confirmRestore(page, 'Restore to before change', 'bring the account back');
    const blockers = page.getByRole('dialog').getByRole('list', { name: 'What blocks the restore' });
    await blockers.waitFor();
    expect(await blockers.getByRole('listitem').allTextContents()).toEqual([`its device (Device GLOBAL.${name}) is gone: restore it first, from the Trash Can`]);
    await expectAccessible(page, 'a blocked restore');
    await screenshot(page, 'audit-trail-restore-blocked');
    expect((await world.t.admin.get(`/credentials/${credential.body.id}`)).status).toBe(404);
    await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Trash Can' }).click();
    await page.getByRole('heading', { name: 'Trash Can' }).waitFor();
    const restoreDevice = page.getByRole('button', { name: `Restore Device GLOBAL.${name}` });
    await restoreDevice.waitFor();
    await expectAccessible(page, 'the Trash Can');
    await screenshot(page, 'trash-can');
    await restoreDevice.click();
    await confirmRestore(page, 'Restore', 'the account needs its device');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await restoreDevice.waitFor({ state: 'detached' });
    expect((await world.t.admin.get(`/devices/${name}`)).body).toMatchObject({ name, hostname: '192.0.2.10', description: 'first' });

    await page.goBack();
    await fromMenu(page, credentialDeleted.seq, 'Restore to before change');
    await confirmRestore(page, 'Restore to before change', 'bring the account back');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect((await world.t.admin.get(`/credentials/${credential.body.id}`)).body).toMatchObject({ account: 'deploy', device: name });
  });

  it('creates a filter from the search, adds it to the navigation bar, and the link there opens the trail with it', async () => {
    const stem = unique('flt');
    await device(`trail-${stem}`);
    await device(`diff-${stem}`);
    const page = await world.signedIn('admin', ADMIN_PASSWORD, `/audit-trail?q=${stem}`);
    await expect.poll(() => trail(page).getByRole('row').count()).toBe(3);

    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Create filter from search' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create filter from search' });
    await dialog.getByLabel('Name').fill(`Trail_${stem}`);
    await dialog.getByRole('button', { name: 'Create filter' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.waitForURL((address) => address.searchParams.get('filter') === `GLOBAL.Trail_${stem}`);

    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Add to navigation bar' }).click();
    const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: new RegExp(`Trail_${stem}`) });
    await link.waitFor();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Trash Can' }).click();
    await page.getByRole('heading', { name: 'Trash Can' }).waitFor();
    await link.click();
    await page.waitForURL((address) => address.pathname === '/audit-trail' && address.searchParams.get('filter') === `GLOBAL.Trail_${stem}` && !address.searchParams.has('q'));
    await expect.poll(() => trail(page).getByRole('row').count()).toBe(3);
    expect(await trail(page).getByRole('row').locator('td:nth-child(5)').allTextContents()).toEqual([`GLOBAL.diff-${stem}`, `GLOBAL.trail-${stem}`]);
    await screenshot(page, 'audit-trail-filter');
  });

  it('offers no restore to a user without AuditTrail.Restore, and the server refuses it anyway', async () => {
    const name = unique('trail-ro');
    await device(name);
    await edit(name, { description: 'second' });
    await must(world.t.admin.delete(`/devices/${name}`), 204, 'deleting the device');
    const [deleted, modified] = await entries(`k:GLOBAL.${name}`);
    if (!deleted || !modified) throw new Error('the edits were not audited');
    const viewer = await buildUser(world.t, { username: 'viewer', grants: [{ privilege: 'AuditTrail.View' }, { privilege: 'Device.View' }] });
    await must(viewer.client.patch('/me', { timeZone: 'Asia/Tokyo' }), 200, 'setting the viewer’s time zone');

    const page = await world.signedIn('viewer', viewer.password, `/audit-trail?q=${encodeURIComponent(`k:GLOBAL.${name}`)}`);
    await row(page, modified.seq).waitFor();
    // Times in the viewer's own time zone, whatever the browser's.
    const tokyo = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(modified.time));
    expect(await row(page, modified.seq).locator('td:nth-child(3)').textContent()).toBe(tokyo);
    await page.getByRole('button', { name: `Actions for entry #${modified.seq}` }).click();
    await page.getByRole('menuitem', { name: 'Entries of this object' }).waitFor();
    expect(await page.getByRole('menuitem', { name: /^Restore/ }).count()).toBe(0);
    await page.keyboard.press('Escape');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Trash Can' }).click();
    await page.getByRole('heading', { name: 'Trash Can' }).waitFor();
    await trail(page).getByRole('cell', { name: `GLOBAL.${name}`, exact: true }).waitFor();
    expect(await page.getByRole('button', { name: /^Restore/ }).count()).toBe(0);

    for (const path of [`/audit/entries/${modified.seq}/restore-before`, `/audit/trash/${deleted.seq}/restore`]) {
      expect((await viewer.client.post(path, { reason: 'just trying' })).status, path).toBe(403);
    }
    expect((await world.t.admin.get(`/devices/${name}`)).status).toBe(404);
  });
});
