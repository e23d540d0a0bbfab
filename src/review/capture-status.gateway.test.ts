import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { changeOnDevice, deviceAccountSshdConfig, ensureDeviceAccount } from '../../test/device-account.ts';
import { keyPair, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { Started } from '../changegate.ts';

/**
 * The capture status end to end: an executor runs a change's script through the gateway with a
 * real `ssh -tt`, with echo off for part of it and tmux on the device. The session record says
 * which lines came from keystrokes and that the capture was limited, from when; the board, which
 * still reads "as planned" (every step ran), carries the warning, and so do the reports.
 */

const ACCOUNT = 'changegate-capture-status';
const PROMPT = /cg\$ $/;

interface CaptureView {
  status: string;
  reasons: Array<{ reason: string; since: string; offsetSeconds: number }>;
}

/** The device account, whose history file is the ground truth: what bash ran. */
function ensureAccount(publicKey: string): string {
  const { home } = ensureDeviceAccount(
    ACCOUNT,
    [`PS1='cg\\$ '`, 'HISTFILE=$HOME/history', 'shopt -s histappend', "PROMPT_COMMAND='history -a'", 'case "$TERM" in ""|dumb) export TERM=xterm;; esac # for tmux'],
    publicKey,
    'src/review/capture-status.gateway.test.ts',
  );
  const history = path.join(home, 'history');
  rmSync(history, { force: true });
  return history;
}

describe.each(DATABASE_KINDS)('the capture status of a session run through the gateway, on %s', (kind) => {
  let dir: string;
  let sshd: TestSshd;
  let t: TestChangegate;
  let started: Started;
  let aliceKey: { file: string; publicKey: string };
  let history: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-capture-status-'));
    const deviceKey = keyPair(dir, 'device');
    history = ensureAccount(deviceKey.publicKey);
    sshd = await startSshd({ accountHome: true, extraConfig: deviceAccountSshdConfig([ACCOUNT]) });
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' });
    started = await t.cg.startBackground();
    ({ aliceKey } = await changeOnDevice(t, {
      dir,
      sshd,
      device: 'web01',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-ECHO',
      script: 'stty -echo\necho step-two\nstty echo\ntmux -L changegate-status -f /dev/null',
    }));
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(history, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('records lines typed with echo off from their keys, and a multiplexer, in the session, on the board and in the reports', async () => {
    const terminal = new Terminal(started.sshPort, `alice@web01`, aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      const line = async (keys: string, after: RegExp | string = PROMPT): Promise<void> => {
        const before = terminal.output.length;
        terminal.type(keys);
        await waitUntil(async () => (terminal.output.slice(before).match(after) ? true : undefined), `the answer to ${JSON.stringify(keys)}`).catch((error: unknown) => {
          throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(before)}`);
        });
      };
      await line('stty -echo\r');
      // Nothing is echoed now; the Backspace is applied as readline applies it.
      await line('echo step-twx\x7fo\r', /step-two\r\n[^]*cg\$ $/);
      await line('stty echo\r');
      // tmux draws its pane's prompt without the trailing blank (it moves the cursor instead).
      await line('tmux -L changegate-status -f /dev/null\r', /\x1b\[\?1049h[^]*cg\$/);
      await line('echo inside-tmux\r', 'inside-tmux');
      await line('exit\r', '[exited]');
      await waitUntil(async () => (PROMPT.test(terminal.output) ? true : undefined), 'the outer prompt');
      terminal.type('exit\r');
      expect(await terminal.exited).toBe(0);
    } finally {
      terminal.close();
    }

    const session = await waitUntil(async () => {
      const list = await t.admin.get('/sessions?device=web01');
      return list.body.find((row: { live: boolean; endReason: string | null }) => !row.live && row.endReason !== null) as
        | { number: number; capture: CaptureView | null }
        | undefined;
    }, 'the session to be stored');
    expect(session.capture?.status).toBe('limited');
    expect(session.capture?.reasons.map((reason) => reason.reason)).toEqual(['keystrokes', 'multiplexer']);
    const commands = (await t.admin.get(`/sessions/${session.number}/commands`)).body as Array<{ text: string; fromKeystrokes: boolean; offsetSeconds: number }>;
    expect(commands.map((command) => [command.text, command.fromKeystrokes])).toEqual([
      ['stty -echo', false],
      ['echo step-two', true],
      ['stty echo', true],
      ['tmux -L changegate-status -f /dev/null', false],
      ['exit', false],
    ]);
    // Each reason began at the command it came with.
    expect(session.capture?.reasons.map((reason) => reason.offsetSeconds)).toEqual([commands[1]?.offsetSeconds, commands[3]?.offsetSeconds]);
    // The device's own history: what ran, tmux's shell included; the capture says it did not read inside tmux.
    const ran = readFileSync(history, 'utf8').trimEnd().split('\n');
    // (The outer shell writes `tmux …` to the file once tmux has exited, after the inner shell's lines.)
    expect(ran).toEqual(['stty -echo', 'echo step-two', 'stty echo', 'echo inside-tmux', 'exit', 'tmux -L changegate-status -f /dev/null', 'exit']);

    // Every step ran: as planned, but the board says it rests on a limited capture.
    const audit = await waitUntil(async () => {
      const answer = await t.admin.get('/changes/CHG-ECHO/audit');
      return answer.status === 200 ? answer.body : undefined;
    }, 'the audit');
    expect(audit).toMatchObject({ outcome: 'as_planned', capture: { status: 'limited' } });
    expect(audit.capture.warning).toMatch(new RegExp(`^This board may be incomplete because .*session #${session.number}.*multiplexer`));
    const listed = (await t.admin.get('/audit/sessions?change=CHG-ECHO')).body as Array<{ capture: CaptureView | null }>;
    expect(listed.map((row) => row.capture?.status)).toEqual(['limited']);
    const csv = String((await t.admin.get('/changes/CHG-ECHO/audit/report?format=csv')).body);
    const html = String((await t.admin.get('/changes/CHG-ECHO/audit/report?format=html')).body);
    expect(html).toContain('This board may be incomplete because');
    // The spreadsheet gives each row the capture status of its device's board and of its command's session.
    const rows = csv.trimEnd().split('\r\n').slice(1);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatch(/"limited"(,"limited",("yes"|"no")|,,)$/);
  });
});
