import { afterAll, describe, expect, it } from 'vitest';
import { expectAccessible, screenshot } from '../../test/browser.ts';
import { keyPair, must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, signIn } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { consoleWorldOfThisFile } from './console-world.ts';

/** Whether the user signs in over the API with this password. */
async function signsIn(world: ReturnType<typeof consoleWorldOfThisFile>, username: string, password: string): Promise<boolean> {
  return signIn(world.t.cg, username, password).then(
    () => true,
    () => false,
  );
}

/** Administration in Chromium against a real server: users, grants, partitions, webhooks; devices and access groups of PAM Core. */
describe('the console’s administration', { timeout: 90_000 }, () => {
  const world = consoleWorldOfThisFile({ devices: false });
  const sshds: TestSshd[] = [];
  afterAll(async () => {
    for (const sshd of sshds) await sshd.stop();
  });

  it('creates a user with a generated password shown once, disables and enables them, and resets their password: they sign in with the new one only', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/users');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.getByLabel('User name').fill('erin');
    await dialog.getByLabel('Display name').fill('Erin Example');
    await dialog.getByRole('button', { name: 'Generate' }).click();
    await expectAccessible(page, 'the new user form');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    const shown = page.getByRole('dialog', { name: 'Initial password of erin' });
    const initial = ((await shown.locator('code').textContent()) ?? '').trim();
    expect(initial).toMatch(/^[A-Za-z0-9_-]{24}$/);
    await screenshot(page, 'admin-user-initial-password');
    await shown.getByRole('button', { name: 'Done' }).click();
    await shown.waitFor({ state: 'detached' });
    expect(await page.getByText(initial).count()).toBe(0);
    expect(await signsIn(world, 'erin', initial)).toBe(true);

    // The search is kept in the address.
    await page.getByLabel('Search users').fill('eri');
    await page.getByRole('row', { name: /alice/ }).waitFor({ state: 'detached' });
    expect(new URL(page.url()).searchParams.get('search')).toBe('eri');
    await expectAccessible(page, 'the users list');
    await screenshot(page, 'admin-users');
    await page.getByRole('link', { name: 'erin' }).click();
    await page.getByRole('heading', { name: 'User erin' }).waitFor();
    const signInSection = page.getByRole('region', { name: 'Sign-in' });

    await signInSection.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog', { name: 'Disable erin' }).getByRole('button', { name: 'Disable' }).click();
    await signInSection.getByRole('button', { name: 'Enable' }).waitFor();
    expect(await page.getByText('disabled', { exact: true }).count()).toBe(1);
    expect((await world.t.admin.get('/users/erin')).body.disabled).toBe(true);
    expect(await signsIn(world, 'erin', initial)).toBe(false);

    await signInSection.getByRole('button', { name: 'Enable' }).click();
    const enabling = page.getByRole('dialog', { name: 'Enable erin' });
    await expectAccessible(page, 'the confirmation of enabling a user');
    await enabling.getByRole('button', { name: 'Enable' }).click();
    await signInSection.getByRole('button', { name: 'Disable' }).waitFor();
    expect((await world.t.admin.get('/users/erin')).body.disabled).toBe(false);

    await signInSection.getByLabel('New password').fill('erin-second-password');
    await signInSection.getByRole('button', { name: 'Reset password' }).click();
    await page.getByText('Reset the password of erin').waitFor();
    expect(await signsIn(world, 'erin', 'erin-second-password')).toBe(true);
    expect(await signsIn(world, 'erin', initial)).toBe(false);
    await expectAccessible(page, 'a user’s page');
    await screenshot(page, 'admin-user');
  });

  it('a user administrator at Access level is refused resetting the password of a full administrator: the refusal shows, and the old password still works', async () => {
    const helpdesk = await buildUser(world.t, { username: 'helpdesk', grants: [{ privilege: 'User.Admin', level: 'access' }] });
    const boss = await buildUser(world.t, { username: 'boss', grants: [{ privilege: 'User.Admin', level: 'admin' }] });
    const page = await world.signedIn('helpdesk', helpdesk.password, '/users/boss');
    await page.getByRole('heading', { name: 'User boss' }).waitFor();
    const signInSection = page.getByRole('region', { name: 'Sign-in' });
    await signInSection.getByLabel('New password').fill('taken-over-password');
    await signInSection.getByRole('button', { name: 'Reset password' }).click();
    const refusal = signInSection.getByRole('alert');
    await expect.poll(() => refusal.textContent()).toContain('You cannot reset the password of boss: they hold User.Admin at Admin level system-wide, which you do not.');
    expect(await refusal.textContent()).toContain('Password not reset');
    await expectAccessible(page, 'a refused password reset');
    await screenshot(page, 'admin-user-reset-refused');
    expect(await signsIn(world, 'boss', boss.password)).toBe(true);
    expect(await signsIn(world, 'boss', 'taken-over-password')).toBe(false);
  });

  it('a grant at Admin level for a partition lets the grantee grant that privilege in that partition only, the refusal elsewhere shown at the field', async () => {
    for (const name of ['FIN', 'OPS']) await must(world.t.admin.post('/partitions', { name }), 201, `creating partition ${name}`);
    const fiona = await buildUser(world.t, { username: 'fiona', grants: [{ privilege: 'Partition.View' }] });
    await buildUser(world.t, { username: 'gus' });

    const admin = await world.signedIn('admin', ADMIN_PASSWORD, '/grants');
    await admin.getByRole('heading', { name: 'Grants', exact: true }).waitFor();
    await admin.getByRole('combobox', { name: 'User', exact: true }).click();
    await admin.getByRole('option', { name: /^fiona/ }).click();
    await admin.getByRole('combobox', { name: 'Privilege', exact: true }).click();
    await admin.getByRole('option', { name: 'Device.View', exact: true }).click();
    await admin.getByRole('radio', { name: /^Admin/ }).check();
    await admin.getByRole('combobox', { name: 'Scope', exact: true }).click();
    await admin.getByRole('option', { name: 'FIN', exact: true }).click();
    await admin.getByRole('button', { name: 'Grant', exact: true }).click();
    await admin.getByText('Granted Device.View at Admin level in partition FIN to fiona.').waitFor();
    expect((await world.t.admin.get('/grants?username=fiona&privilege=Device.View')).body).toEqual([expect.objectContaining({ level: 'admin', partition: 'FIN' })]);
    await expectAccessible(admin, 'Grants');
    await screenshot(admin, 'admin-grants');

    const page = await world.signedIn('fiona', fiona.password, '/grants');
    await page.getByRole('list', { name: 'What you may grant' }).getByText('In partition FIN:').waitFor();
    expect(await page.getByRole('list', { name: 'What you may grant' }).textContent()).toBe('In partition FIN: Device.View');
    await page.getByRole('textbox', { name: 'User', exact: true }).fill('gus');
    await page.getByRole('combobox', { name: 'Privilege', exact: true }).click();
    expect(await page.getByRole('option').allTextContents()).toEqual(['Device.View']);
    await page.getByRole('option', { name: 'Device.View' }).click();
    const scope = page.getByRole('combobox', { name: 'Scope', exact: true });
    for (const elsewhere of ['OPS', 'System-wide']) {
      await scope.click();
      await page.getByRole('option', { name: elsewhere, exact: true }).click();
      await page.getByRole('button', { name: 'Grant', exact: true }).click();
      // What the field names as its description, once the server's refusal of this scope is there
      // (after OPS, the field was already invalid: its state alone does not say this answer came).
      const describedAs = async () => {
        const describedBy = ((await scope.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
        return (await Promise.all(describedBy.map((id) => page.locator(`[id="${id}"]`).textContent()))).join(' ');
      };
      await expect.poll(describedAs).toContain(`You need the Device.View privilege at Admin level ${elsewhere === 'OPS' ? 'for this partition' : 'system-wide'}`);
      expect(await scope.getAttribute('aria-invalid')).toBe('true');
    }
    await expectAccessible(page, 'a refused grant');
    await screenshot(page, 'admin-grant-refused');
    expect((await world.t.admin.get('/grants?username=gus')).body).toEqual([]);

    await scope.click();
    await page.getByRole('option', { name: 'FIN', exact: true }).click();
    await page.getByRole('button', { name: 'Grant', exact: true }).click();
    await page.getByText('Granted Device.View at Access level in partition FIN to gus.').waitFor();
    expect(await scope.getAttribute('aria-invalid')).not.toBe('true');
    expect((await world.t.admin.get('/grants?username=gus')).body).toEqual([expect.objectContaining({ privilege: 'Device.View', level: 'access', partition: 'FIN', grantedBy: 'fiona' })]);
    // Her own grant and the one she gave are listed; she may revoke the one she gave.
    expect(await page.getByRole('button', { name: 'Revoke Device.View in partition FIN from fiona' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Revoke Device.View in partition FIN from gus' }).click();
    await page.getByRole('dialog', { name: 'Revoke the grant' }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('button', { name: 'Revoke Device.View in partition FIN from gus' }).waitFor({ state: 'detached' });
    expect((await world.t.admin.get('/grants?username=gus')).body).toEqual([]);
  });

  it('shows a partition’s applications as a tree, and creates and deletes them where the user may', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/partitions');
    await page.getByRole('heading', { name: 'Partitions and applications' }).waitFor();
    await page.getByRole('button', { name: 'New partition' }).click();
    const newPartition = page.getByRole('dialog', { name: 'New partition' });
    await newPartition.getByLabel('Name').fill('APPS');
    await newPartition.getByLabel('Description').fill('Business applications');
    await newPartition.getByRole('button', { name: 'Create partition' }).click();
    const apps = page.getByRole('region', { name: 'APPS' });
    await apps.waitFor();

    const add = async (button: string, name: string) => {
      await page.getByRole('button', { name: button, exact: true }).click();
      const dialog = page.getByRole('dialog', { name: /^New application/ });
      await dialog.getByLabel('Name').fill(name);
      await dialog.getByRole('button', { name: 'Create application' }).click();
      await dialog.waitFor({ state: 'detached' });
    };
    await add('New application in APPS', 'Finance');
    await add('New application under Finance', 'Reporting');
    await add('New application under Finance', 'Payroll');
    await add('New application under Finance/Reporting', 'Monthly');
    await apps.getByRole('list', { name: 'Applications under Finance/Reporting' }).getByText('Monthly').waitFor();
    const top = apps.getByRole('list', { name: 'Applications of APPS' });
    expect(await top.locator(':scope > li').count()).toBe(1);
    const underFinance = apps.getByRole('list', { name: 'Applications under Finance', exact: true });
    expect(await underFinance.locator(':scope > li').allInnerTexts()).toEqual([expect.stringMatching(/^Payroll/), expect.stringMatching(/^Reporting[\s\S]*Monthly/)]);
    expect((await world.t.admin.get('/applications?partition=APPS')).body.map((app: { name: string; parent: string | null }) => [app.name, app.parent]).sort()).toEqual([
      ['Finance', null],
      ['Finance/Payroll', 'Finance'],
      ['Finance/Reporting', 'Finance'],
      ['Finance/Reporting/Monthly', 'Finance/Reporting'],
    ]);
    await expectAccessible(page, 'Partitions and applications');
    await screenshot(page, 'admin-partitions');

    // An application with sub-applications stays: the server says why.
    await page.getByRole('button', { name: 'Delete application Finance/Reporting', exact: true }).click();
    const refused = page.getByRole('dialog', { name: 'Delete application Finance/Reporting' });
    await refused.getByRole('button', { name: 'Delete' }).click();
    await refused.getByRole('alert').waitFor();
    await refused.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Delete application Finance/Reporting/Monthly' }).click();
    await page.getByRole('dialog', { name: 'Delete application Finance/Reporting/Monthly' }).getByRole('button', { name: 'Delete' }).click();
    await apps.getByText('Monthly').waitFor({ state: 'detached' });
    expect((await world.t.admin.get('/applications/APPS/Finance/Reporting/Monthly')).status).toBe(404);
    expect((await world.t.admin.get('/applications/APPS/Finance/Reporting')).status).toBe(200);
  });

  it('creates a webhook whose secret shows once, lists its failed delivery and retries it', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/webhooks');
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByRole('button', { name: 'New webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'New webhook' });
    await dialog.getByLabel('Name').fill('chat relay');
    // This server lets webhooks reach public addresses only: the refusal shows at the URL.
    await dialog.getByLabel('URL').fill('http://127.0.0.1:9/hook');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();
    await dialog.getByText(/127\.0\.0\.1 is loopback/).waitFor();
    expect(await dialog.getByLabel('URL').getAttribute('aria-invalid')).toBe('true');
    await dialog.getByLabel('URL').fill('https://8.8.8.8/changegate');
    await dialog.getByLabel('Notice kinds').fill('console.check');
    await dialog.getByLabel('Notice kinds').press('Enter');
    await expectAccessible(page, 'the new webhook form');
    await dialog.getByRole('button', { name: 'Create webhook' }).click();

    const once = page.getByRole('dialog', { name: 'Secret of webhook chat relay' });
    const secret = ((await once.locator('code').textContent()) ?? '').trim();
    expect(secret).toMatch(/^whsec_/);
    await expectAccessible(page, 'the secret shown once');
    await screenshot(page, 'admin-webhook-secret');
    await once.getByRole('button', { name: 'I have stored it' }).click();
    await once.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(secret);

    // A notice of its kind is queued for it; reopened, the webhook holds no secret, and disabled there, its delivery fails unsent: no network needed.
    await world.t.cg.database.db
      .transaction()
      .execute((trx) => world.t.cg.services.notifications.notify(trx, { kind: 'console.check', recipients: [], title: 'Nightly check', body: 'All is well.', data: {} }));
    const delivery = page.getByRole('row', { name: /Nightly check/ });
    await delivery.getByText('pending').waitFor();
    await page.getByRole('button', { name: 'Edit webhook chat relay' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit webhook chat relay' });
    expect(await edit.getByLabel('URL').inputValue()).toBe('https://8.8.8.8/changegate');
    expect(await page.content()).not.toContain(secret);
    await edit.getByLabel('Enabled').uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'detached' });
    await page.getByRole('row', { name: /chat relay/ }).getByText('disabled').waitFor();
    await page.reload();
    await delivery.waitFor();
    expect(await page.content()).not.toContain(secret);

    expect(await world.t.cg.dispatcher.runOnce()).toEqual([expect.objectContaining({ channel: 'webhook', result: 'failed' })]);
    await delivery.getByText('failed', { exact: true }).waitFor();
    expect(await delivery.textContent()).toContain('the webhook is disabled');
    await expectAccessible(page, 'Webhooks and their deliveries');
    await screenshot(page, 'admin-webhook-deliveries');

    await delivery.getByRole('button', { name: 'Retry the delivery of “Nightly check”' }).click();
    await delivery.getByText('pending').waitFor();
    const [queued] = (await world.t.admin.get('/deliveries?channel=webhook')).body as Array<{ title: string; status: string; attempts: number }>;
    expect(queued).toMatchObject({ title: 'Nightly check', status: 'pending', attempts: 0 });
    // Sent again, it fails again for the same reason, after one more attempt.
    expect(await world.t.cg.dispatcher.runOnce()).toEqual([expect.objectContaining({ channel: 'webhook', result: 'failed' })]);
    await delivery.getByText('failed', { exact: true }).waitFor();
    expect((await world.t.admin.get('/deliveries?channel=webhook')).body[0]).toMatchObject({ title: 'Nightly check', status: 'failed', attempts: 1 });

    // A test notice is queued (nothing sends it here); a new secret shows once, and is another.
    await page.getByRole('button', { name: 'Send a test to chat relay' }).click();
    await page.getByRole('row', { name: /Test of webhook chat relay/ }).getByText('pending').waitFor();
    await page.getByRole('button', { name: 'New secret for chat relay' }).click();
    await page.getByRole('dialog', { name: 'New secret for chat relay' }).getByRole('button', { name: 'Replace the secret' }).click();
    const rotated = ((await once.locator('code').textContent()) ?? '').trim();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await once.getByRole('button', { name: 'I have stored it' }).click();
    await once.waitFor({ state: 'detached' });
    expect(await page.content()).not.toContain(rotated);
  });

  it('edits a device’s tags, pins its host key once the user confirms the fingerprint it presented, and keeps credential secrets write-only', async () => {
    const sshd = await startSshd();
    sshds.push(sshd);
    await must(world.t.admin.post('/devices', { name: 'db01', hostname: '127.0.0.1', port: sshd.port, tags: ['db'] }), 201, 'adding device db01');
    await must(world.t.admin.post('/credentials', { device: 'db01', account: 'root', secret: { password: 'root-password-in-the-vault' } }), 201, 'vaulting root@db01');

    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/devices');
    const row = page.getByRole('row', { name: /db01/ });
    await row.getByText('not pinned').waitFor();
    await page.getByRole('button', { name: 'Edit the tags of db01' }).click();
    const tags = page.getByRole('dialog', { name: 'Tags of db01' });
    await tags.getByLabel('Tags').fill('production');
    await tags.getByLabel('Tags').press('Enter');
    await expectAccessible(page, 'the tags of a device');
    await tags.getByRole('button', { name: 'Save tags' }).click();
    await row.getByText('db, production').waitFor();
    expect((await world.t.admin.get('/devices/db01')).body.tags).toEqual(['db', 'production']);

    // The device holds a credential: its key is not trusted on first use, but shown to compare.
    await page.getByRole('button', { name: 'Host key of db01' }).click();
    const hostKey = page.getByRole('dialog', { name: 'Host key of db01' });
    await hostKey.getByRole('button', { name: 'Read the host key' }).click();
    await hostKey.getByText('The device presented this host key:').waitFor();
    expect(await hostKey.locator('pre').textContent()).toBe(sshd.fingerprint);
    expect(await hostKey.getByRole('button', { name: 'Pin this key' }).isDisabled()).toBe(true);
    expect((await world.t.admin.get('/devices/db01')).body.hostKeyFingerprint).toBeNull();
    await expectAccessible(page, 'a host key to confirm');
    await screenshot(page, 'device-host-key-confirm');
    await hostKey.getByLabel('I checked it on the server: the fingerprints match').check();
    await hostKey.getByRole('button', { name: 'Pin this key' }).click();
    await hostKey.getByRole('status').getByText('is now the pinned key of db01').waitFor();
    expect((await world.t.admin.get('/devices/db01')).body.hostKeyFingerprint).toBe(sshd.fingerprint);
    await hostKey.getByText('root is not yet confirmed for the pinned key').waitFor();
    await hostKey.getByRole('button', { name: 'Close' }).first().click();
    await row.getByText(sshd.fingerprint).waitFor();

    // The vaulted root password is confirmed for the new key; a private key is vaulted, never shown back.
    await page.getByRole('button', { name: 'Credentials of db01' }).click();
    const credentials = page.getByRole('dialog', { name: 'Credentials of db01' });
    const root = credentials.getByRole('row', { name: /root/ });
    await root.getByText('not confirmed').waitFor();
    expect(await root.textContent()).toContain('Password');
    await root.getByRole('button', { name: `Confirm root for the pinned key ${sshd.fingerprint}` }).click();
    await root.getByText('confirmed', { exact: true }).waitFor();
    const deployKey = keyPair(world.dir, 'deploy');
    await credentials.getByRole('textbox', { name: 'Account' }).fill('deploy');
    await credentials.getByRole('radio', { name: 'a private key' }).check();
    await credentials.getByRole('textbox', { name: 'Private key' }).fill(deployKey.privateKey);
    await credentials.getByRole('button', { name: 'Vault the credential' }).click();
    const deploy = credentials.getByRole('row', { name: /deploy/ });
    await deploy.waitFor();
    expect(await deploy.textContent()).toContain('Private key');
    expect(await credentials.getByRole('textbox', { name: 'Account' }).inputValue()).toBe('');
    await root.getByRole('button', { name: 'Replace the secret of root' }).click();
    const replace = page.getByRole('dialog', { name: 'Replace the secret of root@db01' });
    expect(await replace.getByLabel(/^Password/).inputValue()).toBe('');
    const keyBody = deployKey.privateKey.split('\n')[1] as string;
    expect(await page.content()).not.toContain(keyBody);
    expect(await page.content()).not.toContain('root-password-in-the-vault');
    await expectAccessible(page, 'the credentials of a device');
    await screenshot(page, 'device-credentials');
    expect((await world.t.admin.get('/credentials?device=db01')).body.map((credential: { account: string; kind: string; hostKeyConfirmed: boolean }) => [credential.account, credential.kind, credential.hostKeyConfirmed]).sort()).toEqual([
      ['deploy', 'private_key', true],
      ['root', 'password', true],
    ]);
  });

  it('picks an access group’s executors and approvers from the users, and sets N of M approvals', async () => {
    for (const username of ['exe', 'ann', 'abe']) await buildUser(world.t, { username });
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/access-groups');
    await page.getByRole('button', { name: 'New access group' }).click();
    const dialog = page.getByRole('dialog', { name: 'New access group' });
    await dialog.getByLabel('Name').fill('db-team');
    const pick = async (field: string, usernames: readonly string[]) => {
      for (const username of usernames) {
        await dialog.getByRole('combobox', { name: field }).click();
        await page.getByRole('option', { name: new RegExp(`^${username} `) }).click();
      }
      await dialog.getByRole('combobox', { name: field }).press('Escape');
    };
    await pick('Executors', ['exe']);
    // Without approvers, the server says so at the field.
    await dialog.getByRole('button', { name: 'Create access group' }).click();
    await dialog.getByText('name at least one approver: requests cannot be approved otherwise').waitFor();
    expect(await dialog.getByRole('combobox', { name: 'Approvers' }).getAttribute('aria-invalid')).toBe('true');
    await pick('Approvers', ['ann', 'abe']);
    await dialog.getByLabel('Approvals needed').fill('2');
    await dialog.getByLabel('The change\'s planner may also execute it').check();
    await expectAccessible(page, 'the access group form');
    await screenshot(page, 'access-group');
    await dialog.getByRole('button', { name: 'Create access group' }).click();
    const row = page.getByRole('row', { name: /db-team/ });
    await row.getByText('2 of 2').waitFor();
    const saved = (await world.t.admin.get('/access-groups/db-team')).body;
    expect([...saved.approvers].sort()).toEqual(['abe', 'ann']);
    expect(saved).toMatchObject({
      executors: ['exe'],
      approvalsRequired: 2,
      requiresJustification: true,
      plannerMayExecute: true,
    });
  });

  it('sets an access group’s command policy: a pattern that does not compile is refused at its field, then the rules, strict mode and alerts are saved', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/access-groups');
    await page.getByRole('button', { name: 'Edit access group db-team' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit access group db-team' });
    const policy = dialog.getByRole('group', { name: 'Command policy' });
    await policy.getByRole('button', { name: 'Add a rule' }).click();
    await policy.getByLabel('Pattern').fill('rm -rf /*');
    await policy.getByLabel('Told to the user as').fill('Removing from the root');
    await policy.getByRole('button', { name: 'Add a rule' }).click();
    await policy.getByLabel('Rule', { exact: true }).nth(1).click();
    await page.getByRole('option', { name: 'Hold for review' }).click();
    await policy.getByLabel('Syntax', { exact: true }).nth(1).click();
    await page.getByRole('option', { name: 'Regular expression' }).click();
    await policy.getByLabel('Pattern').nth(1).fill('^systemctl (stop|restart) (?=nginx)');
    await policy.getByLabel(/^Strict/).check();
    await policy.getByLabel('Deviation alerts', { exact: true }).click();
    await page.getByRole('option', { name: 'Commands not in the script' }).click();
    await dialog.getByRole('button', { name: 'Save' }).click();
    // RE2 has no look-ahead: the server says so at the second rule's pattern, and nothing is saved.
    await dialog.getByText(/not a valid RE2 regular expression/).waitFor();
    expect(await policy.getByLabel('Pattern').nth(1).getAttribute('aria-invalid')).toBe('true');
    expect(await policy.getByLabel('Pattern').nth(0).getAttribute('aria-invalid')).not.toBe('true');
    expect((await world.t.admin.get('/access-groups/db-team')).body.commandPolicy).toEqual({ rules: [], strict: false });
    await expectAccessible(page, 'the command policy form');
    await policy.getByLabel('Pattern').nth(1).fill('^systemctl (stop|restart) nginx');
    await screenshot(page, 'access-group-policy');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('row', { name: /db-team/ }).getByText('2 rules, strict, alerts on extra commands').waitFor();
    expect((await world.t.admin.get('/access-groups/db-team')).body).toMatchObject({
      commandPolicy: {
        rules: [
          { kind: 'deny', syntax: 'glob', pattern: 'rm -rf /*', name: 'Removing from the root' },
          { kind: 'review', syntax: 'regex', pattern: '^systemctl (stop|restart) nginx', name: '' },
        ],
        strict: true,
      },
      deviationAlerts: 'extra',
    });
  });
});
