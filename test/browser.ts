/**
 * Browser tests of the web console: Debian's Chromium (`/usr/bin/chromium`, headless), driven by
 * playwright-core; never a downloaded browser. One browser per test worker, shared by its files;
 * each test gets its own context (cookies, time zone). With CHANGEGATE_TEST_SCREENSHOTS=1, screenshots land in
 * `test-results/console/` for a reader to look at; without, none is taken (each costs the suite CPU).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = process.env.CHANGEGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = fileURLToPath(new URL('../test-results/console/', import.meta.url));

let running: Promise<Browser> | undefined;

/**
 * This worker's Chromium. The first browser test file a worker runs starts it; the files after it
 * in that worker (one at a time) use the same one, each in profiles of its own that
 * `releaseBrowser` closes: starting and stopping Chromium for each file cost some seconds of CPU
 * each time. Playwright stops it when the worker exits.
 */
export function launchBrowser(): Promise<Browser> {
  running ??= startChromium().then((browser) => {
    browser.on('disconnected', () => (running = undefined));
    return browser;
  });
  return running;
}

/** A test file is done with the browser: every profile it left open is closed, the browser stays for the next file. */
export async function releaseBrowser(browser: Browser | undefined): Promise<void> {
  for (const context of browser?.contexts() ?? []) await context.close();
}

async function startChromium(): Promise<Browser> {
  // No sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
  // Nothing in the background: no GPU, no updates, syncing or other calls home, which this machine's closed network refuses anyway.
  // One origin, one renderer, and the (software) compositor inside the browser process: fewer
  // processes passing frames to each other, a seventh less of Chromium's CPU.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--in-process-gpu',
      '--renderer-process-limit=1',
      '--disable-site-isolation-trials',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // The console's script runs interpreted and baseline-compiled only: each page load is a new
      // document, so V8's optimizing compilers (Maglev, TurboFan) compiled the same React and
      // Mantine code again on every load, for pages that live seconds. A sixth less of Chromium's CPU.
      '--js-flags=--no-maglev,--no-turbofan',
    ],
  });
}

/**
 * A fresh browser profile in `timeZone`, opening pages of `baseUrl`. Its user asks for reduced
 * motion, which the console honours: dialogs and notices appear without a transition, so nothing
 * waits for one, and no frame is drawn for it.
 */
export async function newContext(browser: Browser, baseUrl: string, timeZone = 'Europe/Paris'): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl, timezoneId: timeZone, locale: 'en-GB', viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
  context.setDefaultTimeout(10_000);
  return context;
}

const TAKE_SCREENSHOTS = process.env.CHANGEGATE_TEST_SCREENSHOTS === '1';

/** Saves what the page shows now as `test-results/console/<name>.png`, when CHANGEGATE_TEST_SCREENSHOTS=1. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!TAKE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** axe-core's own script, as a page runs it (it defines `axe`). */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The rules of WCAG 2.0 and 2.1 at levels A and AA. */
const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe-core on the page as it is: no serious or critical accessibility violation. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // A notice may start fading out while axe runs (it takes a second or more), and axe would judge
  // its half-faded text: while axe runs, a change of style takes effect at once instead.
  const still = await page.addStyleTag({ content: '*, *::before, *::after { transition-duration: 0s !important; transition-delay: 0s !important; }' });
  try {
    await analyse(page, what);
  } finally {
    await still.evaluate((element) => (element as unknown as { remove(): void }).remove());
  }
}

async function analyse(page: Page, what: string): Promise<void> {
  // As the page is once still: text half faded in or out (a notice arriving) has no contrast to judge yet.
  // (Endless ones, a spinner or a blinking cursor, are not waited for.)
  await page.waitForFunction(() => {
    // Runs in the page; this project's types do not include the DOM.
    type Running = { playState: string; effect: { getComputedTiming(): { endTime?: number | string } } | null };
    const { document } = globalThis as unknown as { document: { getAnimations(): Running[] } };
    return document.getAnimations().every((animation) => animation.playState !== 'running' || animation.effect?.getComputedTiming().endTime === Infinity);
  });
  // axe-core goes into the page once, and stays until the page loads another document: each run
  // then costs axe's checks alone, not 550 kB of script sent, parsed and run again (twice, in
  // @axe-core/playwright), which took more of Chromium's CPU than the checks themselves.
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(async (tags) => {
    // Runs in the page, where axe-core now is; this project's types do not include the DOM.
    type Violation = { id: string; impact?: string | null; help: string; nodes: Array<{ target: unknown[] }> };
    const { axe, document } = globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Violation[] }> }; document: unknown };
    const { violations } = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return violations.map(({ id, impact, help, nodes }) => ({ id, impact, help, targets: nodes.map((node) => node.target.join(' ')) }));
  }, WCAG_AA);
  const grave = results.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(
    grave.map((violation) => `${violation.id}: ${violation.help} (${violation.targets.join('; ')})`),
    `accessibility of ${what}`,
  ).toEqual([]);
}

/** Signs in through the sign-in page; `totp` gives the code when the page asks for it. */
export async function signInThroughPage(page: Page, username: string, password: string, totp?: () => string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (totp) {
    await page.getByText('Authentication code', { exact: true }).waitFor();
    await page.keyboard.type(totp());
    await page.getByRole('button', { name: 'Verify and sign in' }).click();
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * Picks a wall time (`2030-01-15T09:00`) in the console's date-time picker labelled `label`, as a
 * user does: the calendar's year, month and day, then the hours and minutes, then the check button.
 */
export async function pickDateTime(page: Page, label: string, wall: string): Promise<void> {
  const [date = '', time = ''] = wall.split('T');
  const [year = 0, month = 1, day = 1] = date.split('-').map(Number);
  const [hours = '', minutes = ''] = time.split(':');
  await page.getByRole('button', { name: label, exact: true }).click();
  // The picker's dropdown: the only dialog open.
  const dropdown = page.getByRole('dialog');
  // Up to the decade, to the year, its month, and the day.
  await dropdown.getByRole('button', { name: 'Choose the month' }).click();
  await dropdown.getByRole('button', { name: 'Choose the year' }).click();
  for (let turns = 0; (await dropdown.getByRole('button', { name: String(year), exact: true }).count()) === 0; turns += 1) {
    if (turns > 20) throw new Error(`the calendar never shows the year ${year}`);
    const decade = Number(await dropdown.getByRole('button', { name: /^\d{4}$/ }).first().textContent());
    await dropdown.getByRole('button', { name: year < decade ? 'Previous decade' : 'Next decade' }).click();
  }
  await dropdown.getByRole('button', { name: String(year), exact: true }).click();
  await dropdown.getByRole('button', { name: MONTHS[month - 1], exact: true }).click();
  await dropdown.getByRole('button', { name: `${day} ${MONTH_NAMES[month - 1]} ${year}`, exact: true }).click();
  // Digit by digit, as typed: the hours field moves on to the minutes after two digits.
  await dropdown.getByLabel('Hours').pressSequentially(hours, { delay: 30 });
  // The move happens after the second digit: typed before it, a minute digit would be typed again over.
  await expect.poll(() => dropdown.getByLabel('Minutes').evaluate((field) => field === field.ownerDocument.activeElement)).toBe(true);
  await dropdown.getByLabel('Minutes').pressSequentially(minutes, { delay: 30 });
  await expect.poll(() => dropdown.getByLabel('Minutes').inputValue()).toBe(minutes);
  await expect.poll(() => dropdown.getByLabel('Hours').inputValue()).toBe(hours);
  await dropdown.getByRole('button', { name: `Set the ${label.toLowerCase()}` }).click();
  await dropdown.waitFor({ state: 'detached' });
}
