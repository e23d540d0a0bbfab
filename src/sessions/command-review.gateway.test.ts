import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeviceAccount, startGatewayChange, type GatewayChange } from '../../test/device-account.ts';
import { keyPair, must, Terminal, waitUntil } from '../../test/gateway-kit.ts';

/**
 * A change whose access group holds marker files for review, run through the gateway with a real
 * `ssh -tt` into bash: a held line waits for carol, the group's approver, who decides through the
 * API. What bash ran is read from its own history, and whether a line ran from the file it makes.
 */

const ACCOUNT = 'changegate-review';
const PROMPT = /cr\$ $/;
const MARKERS = path.join(tmpdir(), `changegate-review-${process.pid}`);
/** A file the review rule holds. */
const held = (name: string) => path.join(MARKERS, `held-${name}`);
/** Typed while a line waits: held too once checked in turn (the rule holds it, as it would if its echo came too late to read). */
const TYPED_WHILE_HELD = held('typed-while-held');

/** The device account, whose history file is the ground truth, and the folder the held lines write to. */
function ensureAccount(publicKey: string): string {
  const { home, own } = ensureDeviceAccount(
    ACCOUNT,
    [`PS1='cr\\$ '`, 'HISTFILE=$HOME/history', 'shopt -s histappend', "PROMPT_COMMAND='history -a'"],
    publicKey,
    'src/sessions/command-review.gateway.test.ts',
  );
  const history = path.join(home, 'history');
  rmSync(history, { force: true });
  mkdirSync(MARKERS, { recursive: true, mode: 0o777 });
  own(MARKERS);
  return history;
}

describe('a line held for review at the gateway until an approver decides it', () => {
  let dir: string;
  let people: GatewayChange;
  let history: string;
  const terminals: Terminal[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-review-'));
    const deviceKey = keyPair(dir, 'device');
    history = ensureAccount(deviceKey.publicKey);
    people = await startGatewayChange({
      dir,
      device: 'db03',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-REVIEW',
      script: 'echo allowed',
      group: { commandPolicy: { rules: [{ kind: 'review', syntax: 'glob', pattern: `touch ${MARKERS}/held-*`, name: 'Marker files' }] } },
    });
  });

  afterAll(async () => {
    for (const terminal of terminals) terminal.close();
    await people?.close();
    rmSync(history, { force: true });
    rmSync(MARKERS, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  function connect(): Terminal {
    const terminal = new Terminal(people.started.sshPort, 'alice@db03', people.aliceKey.file);
    terminals.push(terminal);
    return terminal;
  }

  /** The review a message in the terminal names, after `from`, once it appears. */
  async function heldAs(terminal: Terminal, from: number): Promise<number> {
    const waiting = /waits for an approver \(review #(\d+); asked: carol\): [^\r\n]+\. Ctrl-C gives it up\./;
    await waitUntil(async () => (waiting.test(terminal.output.slice(from)) ? true : undefined), 'the line held for review').catch((error: unknown) => {
      throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(from)}`);
    });
    return Number(waiting.exec(terminal.output.slice(from))?.[1]);
  }

  const reviewOf = async (number: number) => (await must(people.carol.client.get(`/command-reviews/${number}`), 200, `reading review #${number}`)).body;
  const statusBecomes = (number: number, status: string) =>
    waitUntil(async () => ((await reviewOf(number)).status === status ? true : undefined), `review #${number} ${status}`);
  const ranLines = () => (existsSync(history) ? readFileSync(history, 'utf8').trimEnd().split('\n') : []);
  /** Waits until `file` exists, failing with what the terminal showed. */
  const ran = (terminal: Terminal, file: string) =>
    waitUntil(async () => (existsSync(file) ? true : undefined), `${file} to be made`).catch((error: unknown) => {
      throw new Error(`${String(error)}; the terminal shows:\n${terminal.output}`);
    });

  it('runs a held line only once carol allows it, keeps what was typed meanwhile until then, never runs a refused or given-up one', async () => {
    const terminal = connect();
    await terminal.waitFor(PROMPT);

    // Held: the Enter waits at the gateway, and so do the keys typed after it.
    let from = terminal.output.length;
    terminal.type(`touch ${held('allowed')}\r`);
    const allowed = await heldAs(terminal, from);
    expect(terminal.output.slice(from)).toContain(`review: rule "Marker files" matches \`touch ${held('allowed')}\`. Ctrl-C gives it up.`);
    terminal.type(`touch ${TYPED_WHILE_HELD}\r`);
    expect(await reviewOf(allowed)).toMatchObject({ status: 'pending', decision: 'review', line: `touch ${held('allowed')}`, user: 'alice', asked: ['carol'], change: 'CHG-REVIEW', device: 'db03' });
    const pending = (await must(people.carol.client.get('/command-reviews?status=pending'), 200, 'carol’s pending reviews')).body as Array<{ number: number }>;
    expect(pending.map((review) => review.number)).toEqual([allowed]);
    // The device has seen neither Enter, nor the keys typed after the first: bash echoed none of them.
    expect(existsSync(held('allowed'))).toBe(false);
    expect(existsSync(TYPED_WHILE_HELD)).toBe(false);
    expect(terminal.output.slice(from)).not.toContain('typed-while-held');
    // Alice cannot let her own line through.
    expect((await people.alice.client.post(`/command-reviews/${allowed}/decision`, { decision: 'allow' })).status).toBe(403);
    expect(existsSync(held('allowed'))).toBe(false);

    await must(people.carol.client.post(`/command-reviews/${allowed}/decision`, { decision: 'allow', comment: 'go' }), 200, 'carol allows');
    await terminal.waitFor('an approver allowed the line; it runs now.');
    await ran(terminal, held('allowed'));
    // The keys typed meanwhile reach bash now, and their Enter goes through the same check: held in turn.
    const typed = await heldAs(terminal, terminal.output.indexOf('an approver allowed the line'));
    expect(typed).toBeGreaterThan(allowed);
    expect(existsSync(TYPED_WHILE_HELD)).toBe(false);
    await must(people.carol.client.post(`/command-reviews/${typed}/decision`, { decision: 'allow' }), 200, 'carol allows the line typed meanwhile');
    await ran(terminal, TYPED_WHILE_HELD);
    await waitUntil(async () => (ranLines().includes(`touch ${TYPED_WHILE_HELD}`) ? true : undefined), 'bash’s history to hold the line typed meanwhile');

    // Refused: the line never reaches bash; a held line typed meanwhile is checked in turn, and held too.
    from = terminal.output.length;
    terminal.type(`touch ${held('refused')}\r`);
    const refused = await heldAs(terminal, from);
    terminal.type(`touch ${held('typed-then-given-up')}\r`);
    await must(people.carol.client.post(`/command-reviews/${refused}/decision`, { decision: 'refuse', comment: 'not now' }), 200, 'carol refuses');
    await terminal.waitFor(`carol refused the line (review #${refused}): not now; it did not run.`);
    const givenUp = await heldAs(terminal, terminal.output.indexOf(`review #${refused}): not now`));
    expect(givenUp).toBeGreaterThan(refused);

    // Ctrl-C while it waits: the review is withdrawn and the line never runs.
    terminal.type('\x03');
    await terminal.waitFor('the line was given up; it did not run.');
    await statusBecomes(givenUp, 'withdrawn');
    const late = await people.carol.client.post(`/command-reviews/${givenUp}/decision`, { decision: 'allow' });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('review_not_pending');

    from = terminal.output.length;
    terminal.type('echo after-review\r');
    await waitUntil(async () => (/after-review\r?\n/.test(terminal.output.slice(from)) && PROMPT.test(terminal.output.slice(from)) ? true : undefined), 'the next line to run').catch(
      (error: unknown) => {
        throw new Error(`${String(error)}; the terminal shows:\n${JSON.stringify(terminal.output.slice(from - 300))}`);
      },
    );
    terminal.type('exit\r');
    expect(await terminal.exited).toBe(0);

    expect(existsSync(held('refused'))).toBe(false);
    expect(existsSync(held('typed-then-given-up'))).toBe(false);
    expect(ranLines()).toEqual([`touch ${held('allowed')}`, `touch ${TYPED_WHILE_HELD}`, 'echo after-review', 'exit']);
    expect(await reviewOf(allowed)).toMatchObject({ status: 'allowed', decidedBy: 'carol', comment: 'go' });
    expect(await reviewOf(refused)).toMatchObject({ status: 'refused', decidedBy: 'carol', comment: 'not now' });
  });

  it('withdraws the review of a line still waiting when the session ends, and the line never runs', async () => {
    const terminal = connect();
    await terminal.waitFor(PROMPT);
    const from = terminal.output.length;
    terminal.type(`touch ${held('session-ended')}\r`);
    const number = await heldAs(terminal, from);
    // The client goes away (a closed laptop): the session ends with the line still held.
    terminal.close();
    await statusBecomes(number, 'withdrawn');
    expect((await must(people.t.admin.get(`/events?action=session.command_review.withdrawn&limit=100`), 200, 'reading the withdrawals')).body).toEqual(
      expect.arrayContaining([expect.objectContaining({ actor: 'alice', data: expect.objectContaining({ review: number }) })]),
    );
    expect(existsSync(held('session-ended'))).toBe(false);
    expect(ranLines()).not.toContain(`touch ${held('session-ended')}`);
  });
});
