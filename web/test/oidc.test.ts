import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestProvider, type TestProvider } from '../../src/identity/oidc.test-kit.ts';
import { totpCode } from '../../src/identity/totp.ts';
import { expectAccessible, launchBrowser, releaseBrowser, newContext, screenshot } from '../../test/browser.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { freePort } from '../../test/sshd.ts';

/** Signing in through a real OpenID Connect provider from the console's sign-in page, in Chromium. */
describe('sign-in through an OpenID Connect provider in the console', { timeout: 60_000 }, () => {
  let provider: TestProvider;
  let t: TestChangegate;
  let browser: Browser;
  let baseUrl: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    const port = await freePort();
    provider = await startTestProvider(`http://127.0.0.1:${port}/api/v1/auth/oidc/callback`);
    t = await startTestChangegate(
      'pglite',
      {
        // Carol's account, with its password and TOTP, is linked at her first sign-in: the provider's usernames are trusted here.
        ...provider.settings({ CHANGEGATE_OIDC_DISPLAY_NAME: 'Acme SSO', CHANGEGATE_OIDC_CREATE_USERS: 'true', CHANGEGATE_OIDC_GROUP_GRANTS: 'ops=Change.View', CHANGEGATE_OIDC_LINK_EXISTING: 'true' }),
        CHANGEGATE_COOKIE_SECURE: 'false',
      },
      { clockStart: new Date() },
    );
    [browser, baseUrl] = await Promise.all([launchBrowser(), t.cg.app.listen({ port, host: '127.0.0.1' })]);
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });
  afterAll(async () => {
    await releaseBrowser(browser);
    await t?.close();
    await provider?.close();
  });

  async function open(url: string): Promise<Page> {
    const context = await newContext(browser, baseUrl);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url);
    return page;
  }

  /** From the sign-in page, through the provider's own page. */
  async function throughProvider(page: Page, username: string): Promise<void> {
    await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click();
    await page.getByRole('heading', { name: 'Test provider' }).waitFor();
    await page.getByRole('button', { name: `Continue as ${username}` }).click();
  }

  it('offers "Sign in with <provider>" beside the password form, and comes back signed in to the page the user was on', async () => {
    provider.account = { sub: 'sub-of-alice', preferredUsername: 'alice', groups: ['ops'], amr: ['pwd'] };
    const page = await open('/changes?status=open');
    await page.waitForURL((address) => address.pathname === '/signin');
    await page.getByRole('link', { name: 'Sign in with Acme SSO' }).waitFor();
    expect(await page.getByLabel('Username').count()).toBe(1);
    await expectAccessible(page, 'the sign-in page with a provider');
    await screenshot(page, 'sign-in-oidc');

    await throughProvider(page, 'alice');
    await page.getByRole('heading', { name: 'Changes' }).waitFor();
    const url = new URL(page.url());
    expect(`${url.origin}${url.pathname}${url.search}`).toBe(`${baseUrl}/changes?status=open`);
    // The same web session as after a password: the console knows who is signed in and may change things (CSRF).
    await page.getByRole('button', { name: 'Account of alice' }).waitFor();
    const events = (await t.admin.get('/events?action=auth.login.success&subject=user:alice')).body as Array<{ data: Record<string, unknown> }>;
    expect(events.map((event) => event.data.via)).toEqual(['oidc']);
  });

  it('says plainly on the sign-in page why a sign-in was refused, showing no token or trace', async () => {
    provider.account = { sub: 'sub-of-bob', preferredUsername: 'bob', groups: [], amr: ['pwd'] };
    provider.tamperIdToken = (claims) => ({ ...claims, aud: 'another-client' });
    try {
      const page = await open('/requests');
      await throughProvider(page, 'bob');
      await page.waitForURL((address) => address.pathname === '/signin' && address.searchParams.get('oidc_error') !== null);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('Changegate could not accept the answer from Acme SSO');
      const text = (await page.locator('main').textContent()) ?? '';
      expect(text).not.toMatch(/eyJ|Error:|at \w+ \(/);
      expect(new URL(page.url()).searchParams.get('next')).toBe('/requests');
      await screenshot(page, 'sign-in-oidc-refused');
    } finally {
      provider.tamperIdToken = undefined;
    }
  });

  it('asks a user with two-factor sign-in for their code after the provider, then goes on', async () => {
    const carol = await buildUser(t, { username: 'carol' });
    const enrolment = await carol.client.post('/me/totp');
    expect((await carol.client.post('/me/totp/confirm', { code: totpCode(enrolment.body.secret, t.clock.now()) })).status).toBe(204);
    t.clock.advance(30_000);
    provider.account = { sub: 'sub-of-carol', preferredUsername: 'carol', groups: [], amr: ['pwd'] };

    const page = await open('/requests');
    await throughProvider(page, 'carol');
    await page.getByRole('button', { name: 'Verify and sign in' }).waitFor();
    await expectAccessible(page, 'the TOTP step after the provider');
    await page.keyboard.type(totpCode(enrolment.body.secret, t.clock.now()));
    await page.getByRole('button', { name: 'Verify and sign in' }).click();
    await page.getByRole('heading', { name: 'My requests' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/requests');
  });
});
