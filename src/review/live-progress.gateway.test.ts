import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeviceAccount, startGatewayChange, type GatewayChange } from '../../test/device-account.ts';
import { keyPair, ssh, Terminal, waitUntil, WatchSocket } from '../../test/gateway-kit.ts';
import type { TestChangegate } from '../../test/harness.ts';
import { startSmtpServer, type SmtpSink } from '../notifications/notifications.test-kit.ts';
import type { Started } from '../changegate.ts';
import type { LiveProgressView } from './review.views.ts';

/**
 * Sessions that know the plan, for real: bash over sshd through the gateway with `ssh -tt`. A
 * watcher is sent the device's board at each command; a burst of commands off the script is one
 * alert to the approver (in the console and by e-mail through a real SMTP server); a strict policy
 * lets exactly the script through, as bash's own history shows.
 */

const ACCOUNT = 'changegate-progress';
const PROMPT = /pg\$ $/;

function ensureAccount(publicKey: string): string {
  const { home } = ensureDeviceAccount(
    ACCOUNT,
    [`PS1='pg\\$ '`, 'HISTFILE=$HOME/history', 'shopt -s histappend', "PROMPT_COMMAND='history -a'"],
    publicKey,
    'src/review/live-progress.gateway.test.ts',
  );
  const history = path.join(home, 'history');
  rmSync(history, { force: true });
  return history;
}

type Message = unknown;
const isProgress = (message: Message): message is { type: 'progress'; progress: LiveProgressView } =>
  typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'progress';

/** Types keys and waits for the prompt after them. */
async function typeLine(terminal: Terminal, keys: string, prompt = PROMPT): Promise<void> {
  await promptAfter(terminal, keys, prompt, async () => terminal.type(keys));
}

/** Enters a line once its echo is back (`Terminal.enter`), and waits for the prompt after it. */
async function enterLine(terminal: Terminal, line: string): Promise<void> {
  await promptAfter(terminal, line, PROMPT, () => terminal.enter(line));
}

/** Does `typing` and waits for a prompt in what the terminal printed since. */
async function promptAfter(terminal: Terminal, what: string, prompt: RegExp, typing: () => Promise<void>): Promise<void> {
  const before = terminal.output.length;
  await typing();
  await waitUntil(async () => (prompt.test(terminal.output.slice(before)) ? true : undefined), `the prompt after ${JSON.stringify(what)}`);
}

async function liveSessionNumber(t: TestChangegate): Promise<number> {
  return waitUntil(async () => {
    const answer = await t.admin.get('/sessions?live=true');
    return (answer.body as Array<{ number: number }>)[0]?.number;
  }, 'the live session');
}

describe('live progress and deviation alerts through the gateway', () => {
  let dir: string;
  let smtp: SmtpSink;
  let t: TestChangegate;
  let started: Started;
  let close: GatewayChange['close'] | undefined;
  let address: string;
  let aliceKey: { file: string; publicKey: string };
  let carol: GatewayChange['carol'];
  let alice: GatewayChange['alice'];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-progress-'));
    const deviceKey = keyPair(dir, 'device');
    ensureAccount(deviceKey.publicKey);
    smtp = await startSmtpServer();
    ({ t, started, aliceKey, carol, alice, close } = await startGatewayChange({
      env: { CHANGEGATE_SMTP_URL: smtp.url },
      changegate: { sessionTiming: { deviationWindowMs: 1_000 } },
      dir,
      device: 'web01',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-LIVE',
      script: 'echo one\necho two\necho three',
      group: { deviationAlerts: 'extra' },
    }));
    address = await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
    expect((await t.admin.patch('/users/carol', { email: 'carol@example.test' })).status).toBe(200);
  });

  afterAll(async () => {
    await close?.();
    await smtp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a watcher the board at each command, and alerts the approver once per burst of commands off the script', { timeout: 60_000 }, async () => {
    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    const credentials = t.admin.credentials as { cookie: string };
    let watch: WatchSocket | undefined;
    try {
      await terminal.waitFor(PROMPT);
      const number = await liveSessionNumber(t);
      watch = new WatchSocket(address, number, credentials.cookie);
      const boards = () => (watch as WatchSocket).messages.filter(isProgress).map((message) => message.progress);
      const board = (what: string, test: (progress: LiveProgressView) => boolean) =>
        waitUntil(async () => boards().find(test), `a board where ${what}`);

      // Once the replay is done: nothing ran yet, the first step is next.
      const first = await board('nothing ran yet', () => true);
      expect(first).toMatchObject({ session: number, change: 'CHG-LIVE', device: 'web01', outcome: 'incomplete' });
      expect(first.rows.map((row) => row.kind)).toEqual(['missing', 'missing', 'missing']);
      expect(first.next.map((step) => step.text)).toEqual(['echo one']);

      await typeLine(terminal, 'echo one\r');
      const afterOne = await board('echo one matched', (progress) => progress.counts.matched === 1);
      expect(afterOne.next.map((step) => step.text)).toEqual(['echo two']);
      expect(afterOne.rows[0]).toMatchObject({ kind: 'matched', command: { session: number, seq: 1, text: 'echo one' } });
      // The board follows the command's marker in the recording, as one message right after it.
      const messages = watch.messages;
      const at = messages.findIndex((message) => isProgress(message) && message.progress.counts.matched === 1);
      expect(messages[at - 1]).toEqual([expect.any(Number), 'm', 'echo one']);

      // A burst of three commands off the script, typed at once.
      await typeLine(terminal, 'id -u\rwhoami\runame -s\r');
      const afterBurst = await board('three extra commands', (progress) => progress.counts.extra === 3);
      expect(afterBurst.rows.filter((row) => row.kind === 'extra').map((row) => row.command?.text)).toEqual(['id -u', 'whoami', 'uname -s']);
      expect(afterBurst.outcome).toBe('incomplete_and_exceeded');

      // One notice for the burst, to the approver (never to the executor).
      const deviationNotices = async (client: typeof carol.client) =>
        ((await client.get('/notifications')).body as Array<{ kind: string; title: string; body: string; link: string | null }>).filter((notice) => notice.kind === 'session.deviation');
      const firstAlert = await waitUntil(async () => (await deviationNotices(carol.client))[0], 'the alert of the burst');
      expect(firstAlert.title).toBe(`CHG-LIVE: 3 commands off the script on web01 (session #${number} of alice)`);
      expect(firstAlert.body.split('\n').map((line) => line.replace(/^\d+:\d\d {2}/, ''))).toEqual([
        'not in the script: id -u',
        'not in the script: whoami',
        'not in the script: uname -s',
      ]);
      expect(firstAlert.link).toMatch(new RegExp(`^/live-sessions/${number}#t=\\d+:\\d\\d$`));

      // A later deviation is a notice of its own: the first window had closed with the burst in it.
      await typeLine(terminal, 'hostname\r');
      const alerts = await waitUntil(async () => {
        const notices = await deviationNotices(carol.client);
        return notices.length >= 2 ? notices : undefined;
      }, 'the alert of the later command');
      expect(alerts.map((notice) => notice.title)).toEqual([`CHG-LIVE: a command off the script on web01 (session #${number} of alice)`, firstAlert.title]);
      expect(await deviationNotices(alice.client)).toEqual([]);
      // By e-mail too, one per alert.
      for (const title of [firstAlert.title, alerts[0]?.title]) {
        const mail = await smtp.mail.next();
        expect(mail.to).toEqual(['carol@example.test']);
        expect(mail.raw).toContain(title?.slice(0, 40));
      }

      await typeLine(terminal, 'echo two\r');
      await typeLine(terminal, 'echo three\r');
      const done = await board('the script done', (progress) => progress.counts.matched === 3);
      expect(done.next).toEqual([]);
      expect(done.outcome).toBe('exceeded');
      terminal.type('exit\r');
      expect(await terminal.exited).toBe(0);
      await waitUntil(async () => (watch?.messages.some((message) => (message as { type?: string }).type === 'end') ? true : undefined), 'the end of the watch');
    } finally {
      watch?.close();
      terminal.close();
    }
    // Each alert is in the event log.
    const logged = await t.admin.get('/events?action=session.deviation&limit=10');
    expect((logged.body as Array<{ data: { count: number } }>).map((event) => event.data.count).sort()).toEqual([1, 3]);
    expect(smtp.mail.size).toBe(0);
  });
});

describe('a strict command policy through the gateway', () => {
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let close: GatewayChange['close'] | undefined;
  let address: string;
  let aliceKey: { file: string; publicKey: string };
  let history: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-strict-'));
    const deviceKey = keyPair(dir, 'device');
    history = ensureAccount(deviceKey.publicKey);
    ({ t, started, aliceKey, close } = await startGatewayChange({
      dir,
      device: 'db01',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-STRICT',
      script: 'echo one\n# optional\necho two\necho three {{what}}',
      group: { commandPolicy: { rules: [], strict: true } },
    }));
    address = await t.cg.app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await close?.();
    rmSync(history, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly the script through, in its order, as bash\'s history shows, each line it stops on the board', { timeout: 60_000 }, async () => {
    const terminal = new Terminal(started.sshPort, 'alice@db01', aliceKey.file);
    let watch: WatchSocket | undefined;
    /** A line strict mode stops: refused, or held for an approver and given up with Ctrl-C. */
    const stopped = async (keys: string) => {
      const before = terminal.output.length;
      terminal.type(keys);
      await waitUntil(async () => (/may not run|waits for an approver/.test(terminal.output.slice(before)) ? true : undefined), `strict mode stopping ${JSON.stringify(keys)}`);
      await typeLine(terminal, '\x03');
    };
    try {
      await terminal.waitFor(PROMPT);
      watch = new WatchSocket(address, await liveSessionNumber(t), (t.admin.credentials as { cookie: string }).cookie);
      await stopped('echo three now\r');
      // The watcher's board shows the line stopped, and how its review ended, with no command run.
      const stoppedOnBoard = await waitUntil(async () => {
        const boards = (watch as WatchSocket).messages.filter(isProgress).map((message) => message.progress);
        return boards.find((board) => board.decisions.some((decision) => decision.line === 'echo three now' && decision.status !== 'pending'));
      }, 'a board showing the stopped line');
      expect(stoppedOnBoard.decisions).toEqual([expect.objectContaining({ line: 'echo three now', decision: 'review', status: 'withdrawn', asked: ['carol'] })]);
      expect(stoppedOnBoard.counts.matched).toBe(0);
      await stopped('echo two\r');
      await enterLine(terminal, 'echo one');
      await stopped('echo one\r');
      // The optional step may be skipped; the placeholder step matches whatever fills it.
      await enterLine(terminal, 'echo  three now');
      await stopped('ls /\r');
      // A command hidden behind the next step is not the next step.
      await stopped('echo one; echo three x\r');
      // Entered once its echo is back: an Enter that overtakes a lagging echo is read as a line
      // typed with echo off, a decision of its own in the log.
      await terminal.enter('exit 0');
      expect(await terminal.exited).toBe(0);
    } finally {
      watch?.close();
      terminal.close();
    }
    expect(readFileSync(history, 'utf8').trimEnd().split('\n')).toEqual(['echo one', 'echo  three now', 'exit 0']);
    // The change audit's board lists every line strict mode stopped, in order, beside the commands that ran.
    const audit = (await t.admin.get('/changes/CHG-STRICT/audit')).body as { devices: Array<{ decisions: Array<{ line: string; status: string }> }> };
    expect(audit.devices[0]?.decisions.map((decision) => [decision.line, decision.status])).toEqual([
      ['echo three now', 'withdrawn'],
      ['echo two', 'withdrawn'],
      ['echo one', 'withdrawn'],
      ['ls /', 'withdrawn'],
      ['echo one; echo three x', 'withdrawn'],
    ]);
    const events = await waitUntil(async () => {
      const answer = await t.admin.get('/events?action=session.command_policy&limit=100');
      return answer.body.length >= 5 ? (answer.body as Array<{ data: { line: string; reasons: string[] } }>) : undefined;
    }, 'the strict decisions in the event log');
    expect(events.map((event) => event.data.line).sort()).toEqual(['echo one', 'echo one; echo three x', 'echo three now', 'echo two', 'ls /'].sort());
    for (const event of events) expect(event.data.reasons).toContain('review: strict policy, and the line is not the next step of the script');
  });

  it('refuses an exec request whose command is not allowed, before it reaches the device', async () => {
    const ran = path.join(path.dirname(history), 'exec-ran');
    const result = await ssh(started.sshPort, 'alice@db01', `touch ${ran}`, { key: aliceKey.file });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('this command may not run: review: strict policy, and the line is not the next step of the script.');
    expect(existsSync(ran)).toBe(false);
  });
});
