import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { launchBrowser, releaseBrowser, newContext, signInThroughPage } from '../../test/browser.ts';
import { addDevice, addOpenChange, keyPair, must } from '../../test/gateway-kit.ts';
import { startTestChangegate, buildUser, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';

type User = { username: string; password: string; client: TestClient };

/**
 * What the console's browser tests run against: a real server on a real port, one Chromium, devices
 * web01 and web02 at real sshd's (unless asked not to), alice (executor, in New York) and carol
 * (approver), and change CHG-1 open on both devices.
 */
export interface ConsoleWorld {
  readonly t: TestChangegate;
  readonly baseUrl: string;
  readonly browser: Browser;
  /** A scratch directory for keys. */
  readonly dir: string;
  readonly devices: readonly TestSshd[];
  readonly alice: User;
  readonly carol: User;
  /** A page of a fresh browser profile (no one signed in) in `timeZone`; closed after the test. */
  open(url: string, timeZone?: string): Promise<Page>;
  /** A page of the user's own profile, signed in the first time (the profile is kept, its pages closed after each test). */
  signedIn(username: string, password: string, url: string): Promise<Page>;
  /** After each test: a page left open keeps asking the server (the bell, live lists) and drawing. */
  closePages(): Promise<void>;
  close(): Promise<void>;
}

export interface ConsoleWorldOptions {
  /** Devices web01 and web02 at real sshd's and change CHG-1 on them (default); false for screens that need no device. */
  readonly devices?: boolean;
}

export async function startConsoleWorld(options: ConsoleWorldOptions = {}): Promise<ConsoleWorld> {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-console-'));
  const rootKey = keyPair(dir, 'device_root');
  // Over plain HTTP on loopback; on the real day, as the browser's cookies are. On PostgreSQL: the
  // pages read the same API on either database, and there the server's queries run natively on the
  // other core instead of in this worker's WebAssembly PGlite, which cost the browser tests a third
  // of their CPU in Node.js. The console's own tests of sessions (audited and live sessions,
  // plan-aware sessions, sign-in through a provider) keep their server on PGlite, as `npm start` runs.
  const t = await startTestChangegate('postgres', { CHANGEGATE_COOKIE_SECURE: 'false' }, { clockStart: new Date() });
  const [browser, baseUrl] = await Promise.all([launchBrowser(), t.cg.app.listen({ port: 0, host: '127.0.0.1' })]);
  const devices: TestSshd[] = [];
  for (const name of options.devices === false ? [] : ['web01', 'web02']) {
    const sshd = await startSshd({ authorizedKeys: [rootKey.publicKey] });
    devices.push(sshd);
    await addDevice(t.admin, name, sshd, rootKey.privateKey);
  }
  const alice = await buildUser(t, { username: 'alice' });
  const carol = await buildUser(t, { username: 'carol' });
  await must(alice.client.patch('/me', { timeZone: 'America/New_York' }), 200, 'setting alice’s time zone');
  if (devices.length > 0) await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01', 'web02'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());

  const fresh: BrowserContext[] = [];
  const profiles = new Map<string, BrowserContext>();
  return {
    t,
    baseUrl,
    browser,
    dir,
    devices,
    alice,
    carol,
    async open(url, timeZone) {
      const context = await newContext(browser, baseUrl, timeZone);
      fresh.push(context);
      const page = await context.newPage();
      await page.goto(url);
      return page;
    },
    async signedIn(username, password, url) {
      const known = profiles.get(username);
      const context = known ?? (await newContext(browser, baseUrl));
      profiles.set(username, context);
      const page = await context.newPage();
      await page.goto(url);
      if (!known) await signInThroughPage(page, username, password);
      await page.waitForURL((address) => address.pathname === url.split('?')[0]);
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      return page;
    },
    async closePages() {
      for (const context of fresh.splice(0)) await context.close();
      for (const context of profiles.values()) for (const page of context.pages()) await page.close();
    },
    async close() {
      // Every profile of this world, fresh or kept, goes with the browser's release.
      await releaseBrowser(browser);
      await t.close();
      for (const sshd of devices) await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The world of this test file: started before its tests, its pages closed after each test, all
 * of it stopped after the last. Its fields are there once the tests run.
 */
export function consoleWorldOfThisFile(options: ConsoleWorldOptions = {}): ConsoleWorld {
  const world = {} as ConsoleWorld;
  beforeAll(async () => {
    Object.assign(world, await startConsoleWorld(options));
  });
  afterEach(async () => {
    await world.closePages?.();
  });
  afterAll(async () => {
    await world.close?.();
  });
  return world;
}
