import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Started } from '../../src/changegate.ts';
import { expectAccessible, launchBrowser, releaseBrowser, newContext, pickDateTime, screenshot, signInThroughPage } from '../../test/browser.ts';
import { addDevice, approvedRequest, keyPair, must, PROMPT, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import { castText, findInCast } from '../src/audit/cast-search.ts';
import { formatOffset, offsetOfHash, parseOffset } from '../src/audit/playback-time.ts';

/** The plan: `echo beta` is skipped on the device (a red line), `hostname` is typed on top (a green one). */
const SCRIPT = 'echo alpha\necho beta\nsleep 3\necho done-$((40+2))';
/** What alice types; `sleep 3` puts the last commands far enough into the recording to seek 2 s before them. */
const TYPED = ['echo alpha', 'sleep 3', 'hostname', 'echo done-$((40+2))'];
const LAST = 'echo done-$((40+2))';

/** Seconds shown as `mm:ss` (the console's position and its links). */
function seconds(text: string): number {
  const [minutes = '0', secs = '0'] = text.split(':');
  return Number(minutes) * 60 + Number(secs);
}

/**
 * Change Audit ➔ Audited sessions in Chromium against a real server: alice runs CHG-7 on web01 (a
 * real sshd) through the SSH gateway with a real `ssh` client, skipping one step and typing one
 * more command; the administrator (who holds every privilege) audits it.
 */
describe('Change Audit ➔ Audited sessions in the console', { timeout: 60_000 }, () => {
  let t: TestChangegate;
  let baseUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dir: string;
  let sshd: TestSshd;
  let started: Started;
  let session: number;
  let startedAt: string;
  let commands: Array<{ text: string; offsetSeconds: number }>;

  /** The player's position, as the line under it shows it. */
  async function position(): Promise<number> {
    const text = (await page.getByText(/^Position \d/).textContent()) ?? '';
    return seconds(/^Position (\S+)/.exec(text)?.[1] ?? 'NaN');
  }

  /** The player's terminal is WebAssembly, which the page's Content-Security-Policy must allow ('wasm-unsafe-eval'). */
  async function expectPlayerToRun(): Promise<void> {
    await page.getByRole('heading', { name: 'Commands' }).waitFor();
    const refused = page.getByRole('alert').filter({ hasText: 'The player cannot run' });
    expect(await refused.count(), (await refused.allTextContents()).join()).toBe(0);
  }

  const offsetOf = (text: string) => commands.find((command) => command.text === text)?.offsetSeconds ?? Number.NaN;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-audited-'));
    const rootKey = keyPair(dir, 'device_root');
    const aliceKey = keyPair(dir, 'alice');
    [sshd, t] = await Promise.all([
      startSshd({ authorizedKeys: [rootKey.publicKey] }),
      // Over plain HTTP on loopback; on the real clock, as the browser's cookies are.
      startTestChangegate('pglite', { CHANGEGATE_COOKIE_SECURE: 'false', CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' }, { clockStart: new Date() }),
    ]);
    [browser, baseUrl, started] = await Promise.all([launchBrowser(), t.cg.app.listen({ port: 0, host: '127.0.0.1' }), t.cg.startBackground()]);
    await addDevice(t.admin, 'web01', sshd, rootKey.privateKey);
    const alice = await buildUser(t, { username: 'alice' });
    const carol = await buildUser(t, { username: 'carol' });
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'adding alice’s key');
    await must(t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['carol'] }), 201, 'adding the group');
    const now = t.clock.now().getTime();
    const window = { startAt: new Date(now - 60_000).toISOString(), dueAt: new Date(now + 3_600_000).toISOString() };
    await must(t.admin.post('/changes', { name: 'CHG-7', title: 'Rotate the web tier', ...window, accessGroup: 'ops', devices: ['web01'], script: SCRIPT }), 201, 'adding CHG-7');
    await approvedRequest(alice.client, carol.client, 'web01');
    await must(t.admin.patch('/me', { timeZone: 'Asia/Tokyo' }), 200, 'setting the auditor’s time zone');

    // The auditor signs in while alice works.
    const signingIn = (async () => {
      context = await newContext(browser, baseUrl, 'America/New_York');
      page = await context.newPage();
      await page.goto('/changes');
      await signInThroughPage(page, 'admin', ADMIN_PASSWORD);
      await page.getByRole('heading', { name: 'Changes' }).waitFor();
    })();
    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      for (const command of TYPED) {
        const before = terminal.output.length;
        terminal.type(`${command}\r`);
        await waitUntil(async () => (/[#$] $/.test(terminal.output.slice(before + command.length)) ? true : undefined), `the prompt after ${command}`);
        // The server's clock (a test's) moves only when told: as long as the command took, or a second.
        t.clock.advance(command === 'sleep 3' ? 3000 : 1000);
      }
      terminal.type('exit\r');
      await terminal.exited;
    } finally {
      terminal.close();
    }
    await signingIn;
    const listed = await waitUntil(async () => {
      const answer = await t.admin.get('/audit/sessions?change=CHG-7');
      return answer.body[0]?.changeScore === null ? undefined : (answer.body[0] as { number: number; startedAt: string } | undefined);
    }, 'the change to be scored');
    session = listed.number;
    startedAt = listed.startedAt;
    commands = (await t.admin.get(`/sessions/${session}/commands`)).body;
    expect(commands.map((command) => command.text)).toEqual([...TYPED, 'exit']);
    // As if a terminal multiplexer had run a second in: the capture is limited, and the board says so.
    const since = new Date(Date.parse(startedAt) + 1000).toISOString();
    await t.cg.database.db
      .updateTable('session')
      .set({ capture_notes: JSON.stringify([{ reason: 'multiplexer', since, offsetSeconds: 1 }]) })
      .where('number', '=', session)
      .execute();
    // As if `sleep 3` had been typed with echo off, and `hostname` through a history expansion.
    const sessionId = (await t.admin.get(`/sessions/${session}`)).body.id as string;
    // (A command is never updated by Changegate: its columns are insert-only in the types.)
    await sql`UPDATE session_command SET from_keystrokes = true WHERE session_id = ${sessionId} AND text = 'sleep 3'`.execute(t.cg.database.db);
    await sql`UPDATE session_command SET typed_text = '!hostn' WHERE session_id = ${sessionId} AND text = 'hostname'`.execute(t.cg.database.db);
    // A real session through the gateway, scored, and a browser: on a loaded 2-core machine more than the default minute.
  }, 150_000);

  afterAll(async () => {
    await releaseBrowser(browser);
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the session with its change’s score and outcome, filtered at the top and in the address', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audited sessions' }).click();
    const row = page.getByRole('row', { name: new RegExp(`#${session}\\b`) });
    await row.waitFor();
    const text = await row.textContent();
    expect(text).toContain('CHG-7');
    expect(text).toContain('alice');
    expect(text).toContain('root@web01');
    expect(text).toContain('60 / 100');
    expect(text).toContain('incomplete and exceeded — capture limited');
    expect(text).toContain('limited');
    expect(text).toContain('a terminal multiplexer ran on the device (from ');
    // In the auditor's time zone, not the browser's.
    expect(text).toContain(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', timeStyle: 'short' }).format(new Date(startedAt)));
    await expectAccessible(page, 'Audited sessions');
    await screenshot(page, 'audited-sessions');

    await page.getByLabel('Command contains').fill('hostname');
    await expect.poll(() => new URL(page.url()).searchParams.get('command')).toBe('hostname');
    await page.getByLabel('Score from').fill('61');
    await page.getByText('Nothing matches.').waitFor();
    await page.getByLabel('Score from').fill('60');
    await row.waitFor();
    await page.getByRole('combobox', { name: 'Outcome' }).click();
    await page.getByRole('option', { name: 'as planned' }).click();
    await page.getByText('Nothing matches.').waitFor();
    expect(new URL(page.url()).search).toBe('?command=hostname&scoreMin=60&outcome=as_planned');
    await page.goto('/audited-sessions?change=CHG-7&user=alice&device=web01&outcome=incomplete_and_exceeded');
    await row.waitFor();

    // Started from the next minute, on the auditor's clock (Tokyo): not this session; cleared, it is back.
    const nextMinute = new Date(Date.parse(startedAt) + 60_000);
    const tokyo = Object.fromEntries(
      new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
        .formatToParts(nextMinute)
        .map((part) => [part.type, part.value]),
    );
    const wall = `${tokyo.year}-${tokyo.month}-${tokyo.day}T${tokyo.hour}:${tokyo.minute}`;
    await pickDateTime(page, 'Started from', wall);
    await page.getByText('Nothing matches.').waitFor();
    expect(new URL(page.url()).searchParams.get('from')).toBe(wall);
    await page.getByRole('button', { name: 'Clear started from' }).click();
    await row.waitFor();
    expect(new URL(page.url()).searchParams.has('from')).toBe(false);

    // The seed's action button, from the keyboard.
    await row.getByRole('button', { name: `Actions for session #${session}` }).focus();
    await page.keyboard.press('Enter');
    for (const item of ['Change details', 'Change Audit', 'Session Logs', 'Video of Session', 'HTML report']) await page.getByRole('menuitem', { name: item }).waitFor();
    await page.getByRole('menuitem', { name: 'Change details' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Session #${session}` }).waitFor();
  });

  it('Change details: duration, source IP, user, score and outcome, for the device and for the change', async () => {
    await page.goto(`/audited-sessions/${session}`);
    expect(await page.getByRole('tab', { name: 'Change details' }).getAttribute('aria-selected')).toBe('true');
    const facts = page.getByRole('row');
    await facts.filter({ hasText: /^User\s*alice$/ }).waitFor();
    expect(await facts.filter({ hasText: /^Source IP/ }).textContent()).toContain('127.0.0.1');
    expect(await facts.filter({ hasText: /^Duration/ }).textContent()).toMatch(/^Duration\d+ s$/);
    expect(await facts.filter({ hasText: /^Score/ }).textContent()).toBe('Score60 / 100');
    expect(await page.getByRole('row', { name: /^web01/ }).textContent()).toMatch(/60 \/ 100.*incomplete and exceeded.*1 missing, 1 extra/);
    await expectAccessible(page, 'Change details');
    await screenshot(page, 'audited-session-details');
  });

  it('Change Audit: the board with the missing step in red and the extra command in green, in words too, each executed line linked to its moment in the video', async () => {
    await page.goto(`/audited-sessions/${session}`);
    await page.getByRole('tab', { name: 'Change Audit' }).click();
    expect(new URL(page.url()).searchParams.get('tab')).toBe('audit');
    const board = page.getByRole('table', { name: 'Board of web01' });
    const missing = board.getByRole('row').filter({ hasText: 'echo beta' });
    const extra = board.getByRole('row').filter({ hasText: 'hostname' });
    await missing.getByText('missing', { exact: true }).waitFor();
    await extra.getByText('extra', { exact: true }).waitFor();
    expect(await missing.textContent()).toContain('not executed');
    // The line's tint: red for the missing step, green for the extra command.
    const tint = async (row: typeof missing) => {
      const [red = 0, green = 0, blue = 0] = String(await row.evaluate((element) => element.ownerDocument.defaultView?.getComputedStyle(element).backgroundColor)).match(/\d+/g)?.map(Number) ?? [];
      return red > green + 20 && red > blue + 20 ? 'red' : green > red + 20 && green > blue + 20 ? 'green' : 'neither';
    };
    expect(await tint(missing)).toBe('red');
    expect(await tint(extra)).toBe('green');
    expect(await board.getByRole('row').filter({ hasText: 'echo alpha' }).getByText('matched', { exact: true }).count()).toBe(1);
    await page.getByRole('heading', { name: 'Legend' }).waitFor();
    // The capture was limited: the board says what may be missing, next to its outcome.
    const warning = page.getByRole('alert').filter({ hasText: 'This board may be incomplete' });
    expect(await warning.textContent()).toContain(`In session #${session} a terminal multiplexer ran on the device (from `);
    await expectAccessible(page, 'the Change Audit board');
    await screenshot(page, 'audited-session-board');

    const at = offsetOf(LAST);
    await board.getByRole('link', { name: new RegExp(`^Watch “echo done-.*” at `) }).click();
    await page.waitForURL((address) => address.searchParams.get('tab') === 'video');
    expect(seconds(new URL(page.url()).hash.replace('#t=', ''))).toBe(Math.floor(at));
    await expectPlayerToRun();
    // Opened at that moment (and playing on from it).
    await expect.poll(position).toBeGreaterThanOrEqual(Math.floor(at));
  });

  it('Session Logs: each command with its time and exit status, its output opened from the keyboard', async () => {
    await page.goto(`/audited-sessions/${session}?tab=logs`);
    const control = page.getByRole('button', { name: /echo done-\$\(\(40\+2\)\)/ });
    await control.waitFor();
    expect(await control.textContent()).toContain('exit');
    expect(await page.getByRole('region', { name: `Output of ${LAST}` }).count()).toBe(0);
    await control.focus();
    await page.keyboard.press('Enter');
    const output = page.getByRole('region', { name: `Output of ${LAST}` });
    await output.waitFor();
    expect(await output.textContent()).toContain('done-42');
    // What was typed beside what ran, and a line rebuilt from keystrokes, each said on its command.
    expect(await page.getByRole('button', { name: /\$ hostname/ }).textContent()).toContain('typed: !hostn');
    expect(await page.getByRole('button', { name: /\$ sleep 3/ }).textContent()).toContain('from keystrokes');
    await expectAccessible(page, 'Session Logs');
    await screenshot(page, 'audited-session-logs');
  });

  it('Video of Session: plays by itself, at the speed chosen; a command seeks 2 s before it; a #t= link opens at its moment; a search jumps to the text', async () => {
    await page.goto(`/audited-sessions/${session}?tab=video`);
    await expectPlayerToRun();
    // It plays by itself.
    await expect.poll(position, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await expectAccessible(page, 'Video of Session');

    // At 8× the rest of the recording plays at once.
    await page.getByLabel('Speed').selectOption('8');
    expect(new URL(page.url()).searchParams.get('speed')).toBe('8');
    const length = offsetOf('exit');
    await expect.poll(position).toBeGreaterThanOrEqual(Math.floor(length));

    // Back at 1×, a click on a command plays from 2 s before it.
    await page.getByLabel('Speed').selectOption('1');
    const at = offsetOf(LAST);
    await page.getByRole('button', { name: new RegExp(`^\\d\\d:\\d\\d\\s*echo done-`) }).click();
    expect(seconds(new URL(page.url()).hash.replace('#t=', ''))).toBe(Math.floor(at - 2));
    // The player may pass through 0 while it seeks: wait for a moment in the two seconds before.
    await expect.poll(position).toSatisfy((moment: number) => moment >= Math.floor(at - 2) && moment < at);

    // A link to a moment opens there.
    await page.goto(`/audited-sessions/${session}?tab=video#t=00:02`);
    await expect.poll(position).toBeGreaterThanOrEqual(2);

    await page.getByLabel('Search the recording').fill('done-42');
    await page.getByRole('status').filter({ hasText: /^1 match$/ }).waitFor();
    await page.getByRole('button', { name: 'Next match' }).click();
    await page.getByRole('status').filter({ hasText: 'Match 1 of 1' }).waitFor();
    await expect.poll(async () => Math.abs((await position()) - at)).toBeLessThanOrEqual(1);
    expect(new URL(page.url()).searchParams.get('find')).toBe('done-42');
    await screenshot(page, 'audited-session-video');

    const download = page.getByRole('link', { name: 'Download recording' });
    const recording = await page.request.get(new URL((await download.getAttribute('href')) ?? '', baseUrl).toString());
    expect(recording.status()).toBe(200);
    expect((await recording.text()).split('\n')[0]).toContain('"version":2');
  });

  it('exports the change’s audit as an HTML report', async () => {
    await page.goto(`/audited-sessions/${session}`);
    const report = page.getByRole('link', { name: 'HTML report' });
    const answer = await page.request.get(new URL((await report.getAttribute('href')) ?? '', baseUrl).toString());
    expect(answer.status()).toBe(200);
    expect(answer.headers()['content-type']).toContain('text/html');
    expect(await answer.text()).toContain('<h1>Change audit: CHG-7</h1>');
  });
});

describe('finding text in a recording, and moments in links', () => {
  it('finds text the terminal printed, at the time it was printed, though an escape sequence or the text is split across writes', () => {
    const cast = [
      JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1 }),
      JSON.stringify([0.5, 'o', 'root# ech']),
      JSON.stringify([0.6, 'o', 'o Done-\u001b[1']),
      JSON.stringify([0.6, 'm', 'echo done']),
      JSON.stringify([1.25, 'o', ';32m42\u001b[0m\r\n\u001b]0;title\u0007done-42 again\r\n']),
      'not json',
      JSON.stringify([3, 'r', '100x30']),
    ].join('\n');
    const printed = castText(cast);
    expect(printed.text).toBe('root# echo Done-42\ndone-42 again\n');
    expect(printed.duration).toBe(3);
    expect(findInCast(printed, 'done-42')).toEqual([
      { time: 0.6, context: 'root# echo Done-42 done-42 again' },
      { time: 1.25, context: 'root# echo Done-42 done-42 again' },
    ]);
    expect(findInCast(printed, '  ')).toEqual([]);
    expect(findInCast(printed, 'absent')).toEqual([]);
  });

  it('reads and writes the moments of video links', () => {
    expect(formatOffset(65.9)).toBe('01:05');
    expect(formatOffset(3725)).toBe('1:02:05');
    expect(parseOffset('01:05')).toBe(65);
    expect(parseOffset('1:02:05')).toBe(3725);
    expect(parseOffset('7.5')).toBe(7.5);
    expect(parseOffset('1:xx')).toBeUndefined();
    expect(offsetOfHash('#t=00:42')).toBe(42);
    expect(offsetOfHash('#other')).toBeUndefined();
  });
});
