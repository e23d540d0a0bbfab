import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, newContext, screenshot, signInThroughPage } from '../../test/browser.ts';
import { ADMIN_PASSWORD, buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { consoleWorldOfThisFile } from './console-world.ts';

/** The row of the rules table that names the rule. */
const ruleRow = (page: Page, name: string) => page.getByRole('row').filter({ has: page.getByRole('button', { name: new RegExp(`^Open audit rule .*\\.${name}$`) }) });

/** Opens a rule's context menu and returns it. */
async function ruleMenu(page: Page, name: string) {
  await page.getByRole('button', { name: `Actions for ${name}`, exact: true }).click();
  const menu = page.getByRole('menu', { name: `Actions for ${name}` });
  await menu.waitFor();
  return menu;
}

/** What the element's description says (a field's error, a menu item's reason): what a screen reader reads with it. */
async function describedBy(page: Page, element: Locator): Promise<string> {
  const ids = (await element.getAttribute('aria-describedby'))?.split(' ').filter(Boolean) ?? [];
  const texts = await Promise.all(ids.map(async (id) => ((await page.locator(`[id="${id}"]`).count()) > 0 ? await page.locator(`[id="${id}"]`).textContent() : '')));
  return texts.join(' ');
}

/** Picks an option of the Mantine select labelled `label`. */
async function choose(page: Page, label: string, option: string) {
  await page.getByRole('combobox', { name: label, exact: true }).click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

/** Auditing ➔ Audit Rules in Chromium against real servers: the editor, the context menu, filters, bundles, permalinks and promotion. */
describe('the audit rules console', { timeout: 90_000 }, () => {
  const world = consoleWorldOfThisFile({ devices: false });
  /** A second instance, listening: the world's server is its promotion target ("staging"). */
  let second: TestChangegate;
  let secondUrl: string;
  let secondProfile: BrowserContext;

  beforeAll(async () => {
    second = await startTestChangegate('pglite', { CHANGEGATE_COOKIE_SECURE: 'false', CHANGEGATE_PROMOTE_TARGETS: `staging=${world.baseUrl}` }, { clockStart: new Date() });
    secondUrl = await second.cg.app.listen({ port: 0, host: '127.0.0.1' });
    expect(new URL(secondUrl).port).toBe(String((second.cg.app.server.address() as AddressInfo).port));
    for (const t of [world.t]) {
      expect((await t.admin.post('/partitions', { name: 'Finance' })).status).toBe(201);
      expect((await t.admin.post('/applications', { partition: 'Finance', name: 'Billing' })).status).toBe(201);
    }
  });
  afterAll(async () => {
    await secondProfile?.close();
    await second?.close();
  });

  /** A page of the second instance, the admin signed in there. */
  async function onSecond(url: string): Promise<Page> {
    if (!secondProfile) {
      secondProfile = await newContext(world.browser, secondUrl);
      const page = await secondProfile.newPage();
      await page.goto(url);
      await signInThroughPage(page, 'admin', ADMIN_PASSWORD);
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      return page;
    }
    const page = await secondProfile.newPage();
    await page.goto(url);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    return page;
  }

  it('creates a rule through the editor, both tabs; a bad regular expression is refused at its field and nothing is saved', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules');
    await page.getByRole('heading', { name: 'Audit Rules' }).waitFor();
    await ruleRow(page, 'AUDIT_RULES').waitFor();
    await expectAccessible(page, 'the audit rules');

    await page.getByRole('button', { name: 'New audit rule' }).click();
    const editor = page.getByRole('dialog', { name: 'New audit rule' });
    await editor.waitFor();
    expect(new URL(page.url()).searchParams.get('new')).toBe('1');
    await editor.getByRole('textbox', { name: 'Name', exact: true }).fill('FinanceDevices');
    await editor.getByRole('textbox', { name: 'Partition', exact: true }).fill('Finance');
    await choose(page, 'Rule Object Type', 'Device');
    await choose(page, 'Level', 'Full Audit');
    await editor.getByRole('textbox', { name: 'Name Pattern', exact: true }).fill('fin-(?=db).*');
    await choose(page, 'Name Pattern Match Type', 'Regular expression, case-insensitive');
    await choose(page, 'Application Rule', 'Exact Application');
    await expect.poll(() => editor.getByText('Mandatory for Exact Application and Sub Application').isVisible()).toBe(true);
    await editor.getByRole('textbox', { name: 'Application to Match' }).fill('Finance.Billing');
    await editor.getByRole('textbox', { name: 'Partition Pattern', exact: true }).fill('Fin*');

    await editor.getByRole('tab', { name: 'Security' }).click();
    await editor.getByRole('checkbox', { name: 'Only listed users may delete the rule' }).check();
    await expect.poll(() => page.getByRole('combobox', { name: 'Users who may delete' }).isVisible()).toBe(true);
    await screenshot(page, 'audit-rule-editor-security');
    await editor.getByRole('tab', { name: 'Audit Rule' }).click();
    await expectAccessible(page, 'the audit rule editor');

    await editor.getByRole('button', { name: 'Save & Close' }).click();
    // The server's message, at the Name Pattern field.
    const namePattern = editor.getByRole('textbox', { name: 'Name Pattern', exact: true });
    await expect.poll(() => describedBy(page, namePattern)).toMatch(/is not a valid RE2 regular expression/);
    await screenshot(page, 'audit-rule-editor-refused');
    expect((await world.t.admin.get('/audit/rules/Finance.FinanceDevices')).status).toBe(404);

    await namePattern.fill('fin-.*');
    await editor.getByRole('button', { name: 'Save & Close' }).click();
    await editor.waitFor({ state: 'detached' });
    await ruleRow(page, 'FinanceDevices').waitFor();
    const saved = (await world.t.admin.get('/audit/rules/Finance.FinanceDevices')).body;
    expect(saved).toMatchObject({
      objectType: 'Device',
      level: 'full_audit',
      namePattern: 'fin-.*',
      nameMatch: 'regex_ignore_case',
      applicationRule: 'exact_application',
      matchApplication: 'Finance.Billing',
      partitionPattern: 'Fin*',
      enabled: true,
      security: { view: null, edit: null, delete: ['admin'] },
    });
  });

  it('shows the built-in rule as built-in: its forbidden actions are disabled with the reason, and the server refuses them too', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules?q=n:AUDIT_RULES');
    const row = ruleRow(page, 'AUDIT_RULES');
    await row.getByText('Built-in').waitFor();
    const menu = await ruleMenu(page, 'AUDIT_RULES');
    for (const action of ['Edit', 'Edit Security', 'Disable', 'Delete']) {
      const item = menu.getByRole('menuitem', { name: action, exact: true });
      expect(await item.getAttribute('aria-disabled'), action).toBe('true');
      // The reason is the item's description, read out with it.
      expect(await describedBy(page, item)).toMatch(/Built-in rule: .*cannot be edited, disabled or deleted/);
    }
    // The keyboard reaches them, and Enter on one does nothing.
    await menu.getByRole('menuitem', { name: 'Edit', exact: true }).focus();
    await page.keyboard.press('Enter');
    expect(await page.getByRole('dialog').count()).toBe(0);
    await expectAccessible(page, 'the built-in rule menu');
    await screenshot(page, 'audit-rule-builtin-menu');
    await page.keyboard.press('Escape');

    // Opened, it is read only and says why.
    await row.getByRole('button', { name: 'Open audit rule GLOBAL.AUDIT_RULES' }).click();
    const editor = page.getByRole('dialog', { name: 'Audit rule GLOBAL.AUDIT_RULES' });
    await editor.getByText('it audits every change to an audit rule').waitFor();
    expect(await editor.getByRole('button', { name: 'Save & Close' }).count()).toBe(0);

    const refused = await world.t.admin.patch('/audit/rules/GLOBAL.AUDIT_RULES', { level: 'diff_only' });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.body.error.message).toMatch(/cannot be edited, disabled or deleted/);
    expect((await world.t.admin.post('/audit/rules/GLOBAL.AUDIT_RULES/disable', {})).status).toBeGreaterThanOrEqual(400);
  });

  it('disables and enables a rule, edits its security, and deletes it after asking', async () => {
    expect((await world.t.admin.post('/audit/rules', { name: 'Shortlived', objectType: 'Webhook', level: 'diff_only' })).status).toBe(201);
    const dana = await buildUser(world.t, { username: 'dana' });
    expect(dana.username).toBe('dana');
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules');
    const row = ruleRow(page, 'Shortlived');

    await (await ruleMenu(page, 'Shortlived')).getByRole('menuitem', { name: 'Disable' }).click();
    await row.getByText('Disabled', { exact: true }).waitFor();
    expect((await world.t.admin.get('/audit/rules/GLOBAL.Shortlived')).body.enabled).toBe(false);
    await (await ruleMenu(page, 'Shortlived')).getByRole('menuitem', { name: 'Enable' }).click();
    await row.getByText('Enabled', { exact: true }).waitFor();
    expect((await world.t.admin.get('/audit/rules/GLOBAL.Shortlived')).body.enabled).toBe(true);

    await (await ruleMenu(page, 'Shortlived')).getByRole('menuitem', { name: 'Edit Security' }).click();
    const editor = page.getByRole('dialog', { name: 'Audit rule GLOBAL.Shortlived' });
    await editor.getByRole('tab', { name: 'Security', selected: true }).waitFor();
    expect(new URL(page.url()).searchParams.get('tab')).toBe('security');
    await editor.getByRole('checkbox', { name: 'Only listed users may view the rule' }).check();
    // The admin may list users: they are picked from the list.
    await page.getByRole('combobox', { name: 'Users who may view' }).click();
    await page.getByRole('option', { name: 'dana', exact: true }).click();
    await page.keyboard.press('Escape');
    await expectAccessible(page, 'the Security tab');
    await editor.getByRole('button', { name: 'Save & Close' }).click();
    await editor.waitFor({ state: 'detached' });
    await expect.poll(async () => (await world.t.admin.get('/audit/rules/GLOBAL.Shortlived')).body.security.view).toEqual(['admin', 'dana']);

    await (await ruleMenu(page, 'Shortlived')).getByRole('menuitem', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete audit rule Shortlived' });
    await confirm.getByRole('textbox', { name: 'Reason' }).fill('no longer needed');
    await confirm.getByRole('button', { name: 'Delete audit rule' }).click();
    await row.waitFor({ state: 'detached' });
    expect((await world.t.admin.get('/audit/rules/GLOBAL.Shortlived')).status).toBe(404);
  });

  it('exports a rule with its related objects from one instance and imports it on another', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules');
    const exportMenu = await ruleMenu(page, 'FinanceDevices');
    await exportMenu.getByRole('menuitem', { name: 'Export', exact: true }).click();
    const downloading = page.waitForEvent('download');
    await page.getByRole('menuitem', { name: 'Export with related objects' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toBe('Finance.FinanceDevices.with-related.bundle.json');
    const file = await download.path();
    const bundle = JSON.parse(readFileSync(file, 'utf8'));
    expect(bundle.objects.map((object: { type: string; businessKey: string }) => `${object.type} ${object.businessKey}`)).toEqual([
      'Partition GLOBAL.Finance',
      'Application Finance.Billing',
      'AuditRule Finance.FinanceDevices',
    ]);

    const there = await onSecond('/audit-rules');
    await there.getByRole('heading', { name: 'Audit Rules' }).waitFor();
    expect(await ruleRow(there, 'FinanceDevices').count()).toBe(0);
    await there.getByRole('button', { name: 'Import', exact: true }).click();
    const dialog = there.getByRole('dialog', { name: 'Import a bundle' });
    const choosing = there.waitForEvent('filechooser');
    await dialog.getByRole('button', { name: 'Bundle file' }).click();
    await (await choosing).setFiles(file);
    await dialog.getByRole('button', { name: 'Dry run' }).click();
    await dialog.getByText('Dry run: nothing was written').waitFor();
    expect((await second.admin.get('/audit/rules/Finance.FinanceDevices')).status).toBe(404);
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await dialog.getByText('Imported', { exact: true }).waitFor();
    expect(await dialog.getByRole('list', { name: 'Created' }).getByRole('listitem').allTextContents()).toEqual([
      'Partition GLOBAL.Finance',
      'Application Finance.Billing',
      'AuditRule Finance.FinanceDevices',
    ]);
    await expectAccessible(there, 'the import report');
    await screenshot(there, 'audit-rules-imported');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await ruleRow(there, 'FinanceDevices').getByText('Finance.Billing').waitFor();
    expect((await second.admin.get('/partitions')).body.map((partition: { name: string }) => partition.name)).toContain('Finance');
  });

  it('makes a filter of rules with Filter ▸ New Filter, chooses it, and adds it to the navigation bar', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    // Nothing chosen: what needs a filter is disabled.
    expect(await page.getByRole('menuitem', { name: 'Edit Filter' }).isDisabled()).toBe(true);
    await page.getByRole('menuitem', { name: 'New Filter' }).click();
    const dialog = page.getByRole('dialog', { name: 'New audit rule filter' });
    await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('FullAudits');
    await dialog.getByRole('textbox', { name: 'Search' }).fill('l:2 e:yes');
    await dialog.getByRole('button', { name: 'Create filter' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => new URL(page.url()).searchParams.get('filter')).toBe('GLOBAL.FullAudits');
    await ruleRow(page, 'FinanceDevices').waitFor();
    await ruleRow(page, 'AUDIT_RULES').waitFor();
    expect(await page.getByRole('row').count()).toBe(3);
    await expectAccessible(page, 'the rules with a filter chosen');

    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Add to navigation bar' }).click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: /FullAudits/ }).waitFor();
    await screenshot(page, 'audit-rules-filter-in-navigation');
    expect((await world.t.admin.get('/me/navigation')).body.map((filter: { name: string }) => filter.name)).toEqual(['FullAudits']);

    // Opened from the bar, the filter is chosen again.
    await page.goto('/audit-rules');
    await nav.getByRole('link', { name: /FullAudits/ }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('filter')).toBe('GLOBAL.FullAudits');
  });

  it('edits, duplicates, exports and deletes a filter with Filter ▸; a user who does not own it may use it but not edit or delete it', async () => {
    expect((await world.t.admin.post('/audit/filters', { name: 'DeviceRules', target: 'AuditRule', query: 'o:Device' })).status).toBe(201);
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules?filter=GLOBAL.DeviceRules');
    await page.getByRole('heading', { name: 'Audit Rules' }).waitFor();
    const filterMenu = async (item: string) => {
      await page.getByRole('button', { name: 'Filter', exact: true }).click();
      await page.getByRole('menuitem', { name: item }).click();
    };

    // Edit Filter: its search now finds the rules of audit rules, the built-in one.
    await filterMenu('Edit Filter');
    const edit = page.getByRole('dialog', { name: 'Edit filter DeviceRules' });
    await edit.getByRole('textbox', { name: 'Search' }).fill('o:AuditRule');
    await edit.getByRole('button', { name: 'Save filter' }).click();
    await edit.waitFor({ state: 'detached' });
    await ruleRow(page, 'AUDIT_RULES').waitFor();
    await expect.poll(() => page.getByRole('row').count()).toBe(2);
    expect((await world.t.admin.get('/audit/filters/GLOBAL.DeviceRules')).body.query).toBe('o:AuditRule');

    // Export Filter: a bundle file holding it.
    const [download] = await Promise.all([page.waitForEvent('download'), filterMenu('Export Filter')]);
    const bundle = JSON.parse(readFileSync(await download.path(), 'utf8')) as { objects: Array<{ type: string; businessKey: string }> };
    expect(bundle.objects.map((object) => `${object.type} ${object.businessKey}`)).toContain('Filter GLOBAL.DeviceRules');

    // Duplicate Filter: a copy, chosen.
    await filterMenu('Duplicate Filter');
    await expect.poll(() => new URL(page.url()).searchParams.get('filter')).not.toBe('GLOBAL.DeviceRules');
    const copy = new URL(page.url()).searchParams.get('filter') as string;
    expect((await world.t.admin.get(`/audit/filters/${copy}`)).body).toMatchObject({ query: 'o:AuditRule', owner: 'admin' });

    // Carol may view rules, so she may use admin's filter, but neither edit nor delete it.
    expect((await world.t.admin.post('/grants', { username: 'carol', privilege: 'AuditingRule.View', level: 'access' })).status).toBe(201);
    const carol = await world.signedIn('carol', world.carol.password, `/audit-rules?filter=${copy}`);
    await ruleRow(carol, 'AUDIT_RULES').waitFor();
    await carol.getByRole('button', { name: 'Filter', exact: true }).click();
    expect(await carol.getByRole('menuitem', { name: 'Edit Filter' }).isDisabled()).toBe(true);
    expect(await carol.getByRole('menuitem', { name: 'Delete' }).isDisabled()).toBe(true);
    expect((await world.carol.client.patch(`/audit/filters/${copy}`, { query: 'o:Device' })).status).toBe(403);
    expect((await world.carol.client.delete(`/audit/filters/${copy}`)).status).toBe(403);

    // Delete, after asking: gone.
    await filterMenu('Delete');
    const ask = page.getByRole('dialog', { name: /^Delete filter / });
    await ask.getByRole('button', { name: 'Delete filter' }).click();
    await ask.waitFor({ state: 'detached' });
    expect((await world.t.admin.get(`/audit/filters/${copy}`)).status).toBe(404);
    expect((await world.t.admin.get('/audit/filters/GLOBAL.DeviceRules')).status).toBe(200);
  });

  it('shows permalinks, and a permalink opens the rule in the console', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules');
    await (await ruleMenu(page, 'FinanceDevices')).getByRole('menuitem', { name: 'Show permalinks' }).click();
    const dialog = page.getByRole('dialog', { name: 'Permalinks of Finance.FinanceDevices' });
    const link = dialog.getByRole('link', { name: `${world.baseUrl}/permalinks/AuditRule/Finance.FinanceDevices` });
    await link.waitFor();
    await dialog.getByText('/api/v1/audit/permalinks/AuditRule/Finance.FinanceDevices', { exact: false }).first().waitFor();
    await expectAccessible(page, 'the permalinks');

    // Another user of the console, given the link.
    const other = await world.open('/permalinks/AuditRule/Finance.FinanceDevices');
    await signInThroughPage(other, 'admin', ADMIN_PASSWORD);
    await other.getByRole('dialog', { name: 'Audit rule Finance.FinanceDevices' }).waitFor();
    expect(new URL(other.url()).pathname + new URL(other.url()).search).toBe('/audit-rules?rule=Finance.FinanceDevices');
    expect(await other.getByRole('textbox', { name: 'Name Pattern', exact: true }).inputValue()).toBe('fin-.*');
  });

  it('promotes a rule to a configured system: a dry run, then the promotion; and edits the set of objects further first', async () => {
    // On the second instance, whose promotion target is the world's server.
    expect([201, 409]).toContain((await second.admin.post('/partitions', { name: 'Finance' })).status);
    expect((await second.admin.post('/audit/rules', { name: 'StagedWebhooks', objectType: 'Webhook', level: 'full_audit', partition: 'Finance' })).status).toBe(201);
    const token = (await world.t.admin.post('/tokens', { name: 'promotion from the second instance' })).body.token as string;
    const page = await onSecond('/audit-rules');
    await (await ruleMenu(page, 'StagedWebhooks')).getByRole('menuitem', { name: 'Promote', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Promote to system' }).click();
    const dialog = page.getByRole('dialog', { name: 'Promote StagedWebhooks to system' });
    await choose(page, 'Target system', `staging (${world.baseUrl})`);
    await dialog.getByLabel('API token on the target system').fill('cg_not-a-token');
    await dialog.getByRole('button', { name: 'Dry run' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Not promoted' }).waitFor();

    await dialog.getByLabel('API token on the target system').fill(token);
    await dialog.getByRole('button', { name: 'Dry run' }).click();
    await dialog.getByText(`Dry run: nothing was written on staging (${world.baseUrl})`).waitFor();
    expect((await world.t.admin.get('/audit/rules/Finance.StagedWebhooks')).status).toBe(404);
    await dialog.getByRole('button', { name: 'Promote', exact: true }).click();
    await dialog.getByText(`Imported on staging (${world.baseUrl})`).waitFor();
    await expectAccessible(page, 'the promotion report');
    await screenshot(page, 'audit-rule-promoted');
    expect((await world.t.admin.get('/audit/rules/Finance.StagedWebhooks')).body.level).toBe('full_audit');
    await page.keyboard.press('Escape');

    expect((await second.admin.post('/audit/rules', { name: 'StagedUsers', objectType: 'User', level: 'diff_only', partition: 'Finance' })).status).toBe(201);
    await page.reload();
    await (await ruleMenu(page, 'StagedUsers')).getByRole('menuitem', { name: 'Promote', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Edit further then promote' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit further then promote StagedUsers' });
    await edit.getByRole('checkbox', { name: 'Partition GLOBAL.Finance' }).uncheck();
    await choose(page, 'Target system', `staging (${world.baseUrl})`);
    await edit.getByLabel('API token on the target system').fill(token);
    await edit.getByRole('button', { name: 'Promote', exact: true }).click();
    await edit.getByText(`Imported on staging (${world.baseUrl})`).waitFor();
    expect(await edit.getByRole('list', { name: 'Created' }).getByRole('listitem').allTextContents()).toEqual(['AuditRule Finance.StagedUsers']);
  });
  it('the seed’s worked example: a Full Audit rule for JCprdFin.* devices of application Finance; the device changed, found with IntelliSearch, and restored to before the change', async () => {
    expect((await world.t.admin.post('/applications', { partition: 'GLOBAL', name: 'Finance' })).status).toBe(201);
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/audit-rules');
    await page.getByRole('heading', { name: 'Audit Rules' }).waitFor();

    // Auditing ▸ Audit Rules ▸ New audit rule: Device, Full Audit, JCprdFin.* as a regular expression, Exact Application Finance.
    await page.getByRole('button', { name: 'New audit rule' }).click();
    const editor = page.getByRole('dialog', { name: 'New audit rule' });
    await editor.getByRole('textbox', { name: 'Name', exact: true }).fill('FinanceQuarterly');
    await choose(page, 'Rule Object Type', 'Device');
    await choose(page, 'Level', 'Full Audit');
    await editor.getByRole('textbox', { name: 'Name Pattern', exact: true }).fill('JCprdFin.*');
    await choose(page, 'Name Pattern Match Type', 'Regular expression, case-sensitive');
    await choose(page, 'Application Rule', 'Exact Application');
    await editor.getByRole('textbox', { name: 'Application to Match' }).fill('GLOBAL.Finance');
    await editor.getByRole('button', { name: 'Save & Close' }).click();
    await editor.waitFor({ state: 'detached' });
    await ruleRow(page, 'FinanceQuarterly').waitFor();

    // PAM Core ➔ Devices: the device JCprdFinQtrRep in Finance, registered, then changed.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await page.getByRole('button', { name: 'New device' }).click();
    const registering = page.getByRole('dialog', { name: 'New device' });
    await registering.getByRole('textbox', { name: 'Name', exact: true }).fill('JCprdFinQtrRep');
    await registering.getByRole('textbox', { name: 'Application' }).fill('Finance');
    await registering.getByRole('textbox', { name: 'Host', exact: true }).fill('192.0.2.40');
    await registering.getByRole('textbox', { name: 'Description' }).fill('Quarterly report host');
    await expectAccessible(page, 'the new device dialog');
    await registering.getByRole('button', { name: 'Register' }).click();
    await registering.waitFor({ state: 'detached' });
    const deviceRow = page.getByRole('row', { name: /JCprdFinQtrRep/ });
    expect(await deviceRow.textContent()).toContain('Finance');
    await page.getByRole('button', { name: 'Edit JCprdFinQtrRep' }).click();
    const editing = page.getByRole('dialog', { name: 'Device GLOBAL.JCprdFinQtrRep' });
    await editing.getByRole('textbox', { name: 'Port' }).fill('2222');
    await editing.getByLabel('Tags').fill('reporting');
    await editing.getByLabel('Tags').press('Enter');
    await editing.getByRole('button', { name: 'Save' }).click();
    await editing.waitFor({ state: 'detached' });
    await deviceRow.getByText('192.0.2.40:2222').waitFor();
    expect((await world.t.admin.get('/devices/JCprdFinQtrRep')).body).toMatchObject({ application: 'Finance', port: 2222, tags: ['reporting'] });

    // Auditing ▸ Audit Trail, from the IntelliSearch box: both entries, created and modified.
    const search = page.getByRole('combobox', { name: 'Search Audit Entries' });
    await search.fill('o:Device k:GLOBAL.JCprdFinQtrRep');
    await search.press('Enter');
    await page.waitForURL((address) => address.pathname === '/audit-trail');
    const trail = page.getByRole('table', { name: 'Audit entries' });
    const entries = (await world.t.admin.get(`/audit/entries?q=${encodeURIComponent('k:GLOBAL.JCprdFinQtrRep')}`)).body.entries as Array<{ seq: number; action: string; level: number }>;
    expect(entries.map((entry) => [entry.action, entry.level])).toEqual([
      ['M', 2],
      ['C', 2],
    ]);
    const [modified, creation] = entries;
    for (const entry of [modified, creation]) await trail.getByRole('cell', { name: `#${entry?.seq}`, exact: true }).waitFor();

    // Restore to before change, on the Modified entry, with a reason.
    await page.getByRole('button', { name: `Actions for entry #${modified?.seq}` }).click();
    await page.getByRole('menuitem', { name: 'Restore to before change' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('the port change was not approved');
    await dialog.getByRole('button', { name: 'Restore to before change' }).click();
    await dialog.waitFor({ state: 'detached' });

    // The change is gone from the device, and the restore is an entry of its own.
    await expect.poll(async () => (await world.t.admin.get('/devices/JCprdFinQtrRep')).body).toMatchObject({ port: 22, tags: [] });
    await expect.poll(() => trail.getByRole('row').filter({ hasText: 'the port change was not approved' }).count()).toBe(1);
    await screenshot(page, 'audit-trail-restored');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('row', { name: /JCprdFinQtrRep/ }).getByText('192.0.2.40:22', { exact: true }).waitFor();
  });
});
