import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync } from 'fflate';
import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendEvent } from '../../src/eventlog/index.ts';
import { storeRecordedSession } from '../../src/evidence/evidence.test-kit.ts';
import { expectAccessible, screenshot } from '../../test/browser.ts';
import { must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, buildUser } from '../../test/harness.ts';
import { toWallTime } from '../src/time.ts';
import { consoleWorldOfThisFile } from './console-world.ts';

const run = promisify(execFile);

/** How long a list takes to answer a new filter or page on a busy machine, at most. */
const WAIT = { timeout: 10_000 };

/** The auditor's time zone: the page shows times in it, not in the browser's (Paris). */
const ZONE = 'Asia/Tokyo';
/** Notes the test adds to the log, a minute apart, from three hours ago. */
const NOTES = 120;

type Entry = { seq: number; time: string; action: string; subject: string; data: Record<string, unknown> };

/**
 * Auditing ➔ Event log and a change's evidence in Chromium against a real server: the entries,
 * their search and inclusion proofs, the log verified from the page (and a row edited in the
 * database found), the checkpoint and key to copy, and an evidence bundle downloaded from a
 * change's page and verified offline by the project's own verifier.
 */
describe('Auditing ➔ Event log and the evidence in the console', { timeout: 120_000 }, () => {
  const world = consoleWorldOfThisFile();
  const notesFrom = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000);
  const noteTime = (index: number) => new Date(notesFrom.getTime() + index * 60_000);

  beforeAll(async () => {
    for (let index = 0; index < NOTES; index += 1) {
      await world.t.cg.database.db.transaction().execute((trx) =>
        appendEvent(trx, { actor: 'auditor-bot', action: 'test.note', subject: `note:${index}`, data: { index, text: `note number ${index}` }, time: noteTime(index) }),
      );
    }
    await must(world.t.admin.patch('/me', { timeZone: ZONE }), 200, 'setting the auditor’s time zone');
  });

  const newestEntry = async (query = ''): Promise<Entry> => (await must(world.t.admin.get(`/events?order=desc&limit=1${query}`), 200, 'reading the newest entry')).body[0];
  const firstCell = (page: Page) => page.getByRole('row').nth(1).getByRole('cell').first();
  const tokyo = (iso: string) => new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));

  it('lists the log newest first in the user’s time zone, pages back, and searches it with the search in the address', async () => {
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/changes');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Event log' }).click();
    await page.getByRole('heading', { name: 'Event log' }).waitFor();
    // The newest entry (the sign-in's, or later) heads the list.
    const newest = await newestEntry();
    await expect.poll(async () => Number(await firstCell(page).textContent()), WAIT).toBeGreaterThanOrEqual(newest.seq);
    await expectAccessible(page, 'the event log');
    await screenshot(page, 'event-log');

    // Older entries: the page before the oldest shown.
    const status = page.getByRole('status').filter({ hasText: /^Entries \d+ to \d+/ });
    const shown = /^Entries (\d+) to (\d+)/.exec((await status.textContent()) ?? '');
    const oldestShown = Number(shown?.[2]);
    await page.getByRole('button', { name: 'Older entries' }).click();
    await expect.poll(async () => Number(await firstCell(page).textContent()), WAIT).toBe(oldestShown - 1);
    expect(new URL(page.url()).searchParams.get('before')).toBe(String(oldestShown));
    await page.getByRole('button', { name: 'Newer entries' }).click();
    await expect.poll(async () => Number(await firstCell(page).textContent()), WAIT).toBe(Number(shown?.[1]));

    // Searched by action and subject: exactly the matching entry, its time in Tokyo's.
    const search = page.getByRole('search', { name: 'Search the event log' });
    await search.getByLabel('Action').fill('test.note');
    await search.getByLabel('Subject').fill('note:7');
    await expect.poll(() => page.getByRole('row').count(), WAIT).toBe(2);
    const row = page.getByRole('row').nth(1);
    expect(await row.textContent()).toContain('note:7');
    expect(await row.textContent()).toContain(tokyo(noteTime(7).toISOString()));
    expect(await row.textContent()).toContain('"text":"note number 7"');
    const address = new URL(page.url()).searchParams;
    expect([address.get('action'), address.get('subject')]).toEqual(['test.note', 'note:7']);

    // A link with a time range, in the user's wall time, reproduces that view.
    const from = toWallTime(noteTime(30).toISOString(), ZONE);
    const until = toWallTime(noteTime(40).toISOString(), ZONE);
    await page.goto(`/event-log?action=test.note&from=${from}&until=${until}`);
    await page.getByRole('row', { name: /note:39/ }).waitFor();
    const subjects = await page.getByRole('row').evaluateAll((rows) => rows.slice(1).map((row) => row.children[4]?.textContent));
    expect(subjects).toEqual(Array.from({ length: 10 }, (_, index) => `note:${39 - index}`));
    expect(await page.getByRole('button', { name: 'Written from', exact: true }).textContent()).toMatch(/\d/);
  });

  it('verifies the log from the page: its progress while it runs, then the entries checked, the head and the checkpoint’s root', async () => {
    await world.t.cg.checkpointPublisher.signNow();
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/event-log?tab=verify');
    const size = (await newestEntry()).seq;
    // The second range waits until the test has seen the progress the first one made.
    let release = () => undefined as void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let ranges = 0;
    await page.route(/\/api\/v1\/events\/verify/, async (route) => {
      ranges += 1;
      if (ranges === 2) await released;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Verify the log' }).click();
    const progress = page.getByRole('progressbar', { name: 'Verification progress' });
    await progress.waitFor();
    await page.getByText(new RegExp(`^Verifying the chain: 50 of ${size} entries verified \\(\\d+%\\)`)).waitFor();
    expect(Number(await progress.getAttribute('aria-valuenow'))).toBe(Math.round((100 * 50) / size));
    await expectAccessible(page, 'the verification in progress');
    await screenshot(page, 'event-log-verifying');
    release();

    const result = page.getByRole('status').filter({ hasText: 'The event log verifies' });
    await result.waitFor({ timeout: 30_000 });
    expect(ranges).toBeGreaterThanOrEqual(Math.ceil(size / 50));
    const checkpoint = (await must(world.t.admin.get('/log/checkpoint?format=json'), 200, 'reading the checkpoint')).body as { size: number; rootHash: string };
    const whole = (await must(world.t.admin.post('/events/verify'), 200, 'verifying over the API')).body as { headSeq: number; headChainHash: string };
    const text = (await result.textContent()) ?? '';
    expect(text).toMatch(/Chain: \d+ entries rehashed, each matching its leaf hash and linking to the one before\./);
    expect(text).toContain(`Head: entry ${whole.headSeq}, chain hash ${whole.headChainHash}`);
    expect(text).toContain(`${checkpoint.size} entries, root ${checkpoint.rootHash}: signature verified.`);
    expect(text).toContain(`Root recomputed from entries 1–${checkpoint.size}: ${checkpoint.rootHash}, the checkpoint's.`);
    await expectAccessible(page, 'the verification’s result');
    await screenshot(page, 'event-log-verified');
  });

  it('reports a log with a row edited in the database as broken, naming the entry, and leads to it', async () => {
    const [edited] = (await must(world.t.admin.get('/events?action=test.note&subject=note:12'), 200, 'finding note 12')).body as Entry[];
    if (!edited) throw new Error('no note 12');
    const db = world.t.cg.database.db;
    // What someone with write access to the database could do, past the append-only trigger.
    const rewrite = async (data: Record<string, unknown>) => {
      await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(db);
      try {
        await sql`UPDATE event SET data = ${JSON.stringify(data)}::jsonb WHERE seq = ${edited.seq}`.execute(db);
      } finally {
        await sql`ALTER TABLE event ENABLE TRIGGER event_append_only`.execute(db);
      }
    };
    await rewrite({ ...edited.data, text: 'quietly rewritten' });
    try {
      const page = await world.signedIn('admin', ADMIN_PASSWORD, '/event-log?tab=verify');
      await page.getByRole('button', { name: 'Verify the log' }).click();
      const result = page.getByRole('alert').filter({ hasText: 'The event log does NOT verify' });
      await result.waitFor({ timeout: 30_000 });
      const text = (await result.textContent()) ?? '';
      expect(text).toContain(`Broken at entry ${edited.seq} (an entry was edited): Entry ${edited.seq} (test.note note:12) was edited: its content no longer matches its leaf hash.`);
      expect(text).toContain(`Chain: ${edited.seq - 1} entries verified before entry ${edited.seq}.`);
      await expectAccessible(page, 'a broken log’s report');
      await screenshot(page, 'event-log-broken');
      await result.getByRole('link', { name: `Show entry ${edited.seq} in the log` }).click();
      await expect.poll(async () => Number(await firstCell(page).textContent()), WAIT).toBe(edited.seq);
      expect(await page.getByRole('row').nth(1).textContent()).toContain('quietly rewritten');
    } finally {
      await rewrite(edited.data);
    }
    expect((await must(world.t.admin.post('/events/verify'), 200, 'verifying the restored log')).body).toMatchObject({ ok: true });
  });

  it('shows the latest checkpoint and the log’s key to copy, and an entry’s inclusion proof that checks against the checkpoint', async () => {
    await world.t.cg.checkpointPublisher.signNow();
    const note = (await must(world.t.admin.get('/log/checkpoint'), 200, 'reading the checkpoint')).body as string;
    const key = (await must(world.t.admin.get('/log/key'), 200, 'reading the key')).body as { verifierKey: string };
    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/event-log');
    await page.getByRole('tab', { name: 'Checkpoint and key' }).click();
    const shownNote = page.getByRole('textbox', { name: 'Checkpoint (C2SP signed note)' });
    await expect.poll(() => shownNote.inputValue(), WAIT).toBe(note);
    expect(await page.getByRole('textbox', { name: 'Verifier key (signed-note format)' }).inputValue()).toBe(key.verifierKey);
    await page.getByText('valid with the key beside, checked in this browser').waitFor();
    await page.getByRole('button', { name: 'Copy the checkpoint' }).waitFor();
    await expectAccessible(page, 'the checkpoint and key');
    await screenshot(page, 'event-log-checkpoint');

    // The proof of note 20, opened from its row with the keyboard.
    const size = Number(note.split('\n')[1]);
    const [entry] = (await must(world.t.admin.get('/events?action=test.note&subject=note:20'), 200, 'finding note 20')).body as Entry[];
    const proof = (await must(world.t.admin.get(`/log/proof/inclusion?seq=${entry?.seq}&size=${size}`), 200, 'reading the proof')).body as { proof: string[]; leafHash: string };
    await page.goto('/event-log?subject=note:20');
    await page.getByRole('button', { name: `Inclusion proof of entry ${entry?.seq}` }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Entry ${entry?.seq}: inclusion proof` });
    await dialog.getByText('The proof checks').waitFor();
    const text = (await dialog.textContent()) ?? '';
    expect(text).toContain(`Entry ${entry?.seq} is in the log the checkpoint of ${size} entries signed: checked in this browser.`);
    expect(text).toContain(`Leaf index${(entry?.seq ?? 0) - 1}`);
    expect(text).toContain(`Tree size${size}`);
    expect(text).toContain(proof.leafHash);
    for (const hash of proof.proof) expect(text).toContain(hash);
    expect(await dialog.getByText(/^No$/).count()).toBe(0);
    await expectAccessible(page, 'an inclusion proof');
    await screenshot(page, 'event-log-proof');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('downloads the evidence bundle from a change’s page, which the project’s offline verifier checks without the server', async () => {
    const recording = path.join(world.dir, 'chg-1.cast');
    writeFileSync(recording, `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n[0.5, "o", "$ uptime\\r\\n"]\n[1.0, "o", " 12:00:00 up 1 day\\r\\n"]\n`);
    const session = await storeRecordedSession(world.t, { change: 'CHG-1', device: 'web01', user: world.alice, recording, command: 'uptime' });

    const page = await world.signedIn('admin', ADMIN_PASSWORD, '/changes/CHG-1');
    const evidence = page.getByRole('region', { name: 'Evidence' });
    await evidence.waitFor();
    expect(await evidence.textContent()).toContain("changegate verify-evidence CHG-1-evidence.zip --key '<the log key>'");
    await expectAccessible(page, 'a change with its evidence');
    await screenshot(page, 'change-evidence');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), evidence.getByRole('link', { name: 'Download evidence' }).click()]);
    expect(download.suggestedFilename()).toBe('CHG-1-evidence.zip');
    const zip = path.join(world.dir, 'CHG-1-evidence.zip');
    await download.saveAs(zip);

    // Offline: the zip unzipped, and this installation's verify.mjs run on it with the key, by Node alone.
    const bundle = path.join(world.dir, 'chg-1');
    for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zip)))) {
      mkdirSync(path.dirname(path.join(bundle, name)), { recursive: true });
      writeFileSync(path.join(bundle, name), bytes);
    }
    const ownVerifier = readFileSync(new URL('../../src/evidence/verify.mjs', import.meta.url));
    expect(readFileSync(path.join(bundle, 'verify.mjs')).equals(ownVerifier)).toBe(true);
    const key = world.t.cg.logSigningKey.verifierKey;
    const checked = await run(process.execPath, [path.join(bundle, 'verify.mjs'), '--key', key], { cwd: world.dir, env: { PATH: process.env.PATH ?? '' } });
    expect(checked.stdout).toContain(`ok   recording: sessions/${session}/recording.cast is the recording logged when session ${session} ended`);
    expect(checked.stdout).toMatch(/OK: the bundle is complete, unaltered, and rests on the signed log\.\n$/);

    // The same bundle with its recording changed fails, naming the file.
    writeFileSync(path.join(bundle, `sessions/${session}/recording.cast`), 'not what was recorded\n');
    const failed = await run(process.execPath, [path.join(bundle, 'verify.mjs'), '--key', key]).catch((error: { code: number; stdout: string }) => error);
    expect('code' in failed && failed.code).toBe(1);
    expect(failed.stdout).toContain(`sessions/${session}/recording.cast`);
    expect(failed.stdout).toMatch(/FAILED/);
  });

  it('hides the Event log from a user without EventLog.View, whom the API refuses; one without EventLog.Verify gets no Verify', async () => {
    const carol = await world.signedIn('carol', world.carol.password, '/approvals');
    const menu = carol.getByRole('navigation', { name: 'Main' });
    await menu.getByRole('link', { name: 'My approvals' }).waitFor();
    expect(await menu.getByRole('link').allTextContents()).not.toContain('Event log');
    for (const [method, url] of [
      ['get', '/events'],
      ['post', '/events/verify'],
      ['get', '/log/checkpoint'],
      ['get', '/log/proof/inclusion?seq=1'],
    ] as const) {
      const answer = await world.carol.client[method](url);
      expect([answer.status, answer.body.error.code], url).toEqual([403, 'forbidden']);
    }
    // Typed in the address bar, the page says it may not.
    await carol.goto('/event-log');
    await carol.getByRole('alert').filter({ hasText: 'Could not load this page' }).waitFor();

    const reader = await buildUser(world.t, { username: 'reader', grants: [{ privilege: 'EventLog.View' }] });
    const page = await world.signedIn('reader', reader.password, '/event-log');
    await page.getByRole('tab', { name: 'Entries' }).waitFor();
    expect(await page.getByRole('tab').allTextContents()).toEqual(['Entries', 'Checkpoint and key']);
    expect((await reader.client.post('/events/verify')).status).toBe(403);
  });
});
