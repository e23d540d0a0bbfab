import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeviceAccount, startGatewayChange, type GatewayChange } from '../../test/device-account.ts';
import { keyPair, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import type { TestChangegate } from '../../test/harness.ts';
import type { Started } from '../changegate.ts';

/**
 * A change whose access group denies creating marker files, run through the gateway with a real
 * `ssh -tt` into bash: each line is checked at Enter, before the device sees the Enter. What bash
 * ran is read from its own history, and whether a denied command ran from the files it would have
 * made. Each way of hiding a command is tried: after `;`, in `$( )`, in `bash -c`, inside a
 * multi-line command, in a paste, typed with echo off.
 */

const ACCOUNT = 'changegate-policy';
const PROMPT = /cg\$ $/;
const MARKERS = path.join(tmpdir(), `changegate-policy-${process.pid}`);
const marker = (name: string) => path.join(MARKERS, `denied-${name}`);

/** The device account, whose history file is the ground truth, and the folder the denied commands would write to. */
function ensureAccount(publicKey: string): string {
  const { home, own } = ensureDeviceAccount(
    ACCOUNT,
    [`PS1='cg\\$ '`, 'HISTFILE=$HOME/history', 'shopt -s histappend', "PROMPT_COMMAND='history -a'"],
    publicKey,
    'src/sessions/command-policy.gateway.test.ts',
  );
  const history = path.join(home, 'history');
  rmSync(history, { force: true });
  mkdirSync(MARKERS, { recursive: true, mode: 0o777 });
  own(MARKERS);
  writeFileSync(path.join(MARKERS, 'completion-forbidden-word'), '');
  writeFileSync(path.join(MARKERS, 'completion-plain'), '');
  return history;
}

describe('a command policy applied at each Enter of a session through the gateway', () => {
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let close: GatewayChange['close'] | undefined;
  let aliceKey: { file: string; publicKey: string };
  let history: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-policy-'));
    const deviceKey = keyPair(dir, 'device');
    history = ensureAccount(deviceKey.publicKey);
    ({ t, started, aliceKey, close } = await startGatewayChange({
      dir,
      device: 'db01',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-POLICY',
      script: 'echo allowed',
      group: {
        commandPolicy: {
          rules: [
            { kind: 'deny', syntax: 'glob', pattern: `touch ${MARKERS}/denied-*`, name: 'No marker files' },
            { kind: 'warn', syntax: 'regex', pattern: '^hostname$' },
          ],
        },
      },
    }));
  });

  afterAll(async () => {
    await close?.();
    rmSync(history, { force: true });
    rmSync(MARKERS, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs what the policy allows, and nothing a denied command hides in, as bash\'s history and the file system show', async () => {
    const terminal = new Terminal(started.sshPort, 'alice@db01', aliceKey.file);
    const denials = () => terminal.output.split('this line may not run').length - 1;
    try {
      await terminal.waitFor(PROMPT);
      /** Does `typing`, then waits for the prompt again (and, for a denied line, for its notice). */
      const promptAfter = async (what: string, typing: () => unknown, denied = false, prompt = PROMPT): Promise<void> => {
        const before = terminal.output.length;
        const deniedBefore = denials();
        await typing();
        await waitUntil(async () => (prompt.test(terminal.output.slice(before)) && (!denied || denials() > deniedBefore) ? true : undefined), `the prompt after ${JSON.stringify(what)}`).catch(
          (error: unknown) => {
            throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(before)}`);
          },
        );
      };
      /** Types keys in one write, Enter included: an Enter may overtake its line's echo, which the gate waits for. */
      const line = (keys: string, denied = false, prompt = PROMPT) => promptAfter(keys, () => terminal.type(keys), denied, prompt);
      /**
       * A line entered once its echo is back: on a busy machine, an Enter typed with the line may
       * overtake an echo that lags past the gate's wait, and the line is then read as typed with
       * echo off, a decision of its own in the log beside the ones counted below.
       */
      const entered = (text: string) => promptAfter(text, () => terminal.enter(text));
      await entered('echo allowed');
      await line(`touch ${marker('plain')}\r`, true);
      await line(`echo hidden; touch ${marker('after-semicolon')}\r`, true);
      await line(`echo $(touch ${marker('substitution')})\r`, true);
      await line(`bash -c 'touch ${marker('bash-c')}'\r`, true);
      // A multi-line command: its first lines reach the shell, which runs nothing before the last;
      // a line that alone is denied is refused as it is typed, and the whole command with it.
      await line('for x in 1; do\r', false, /> $/);
      await line(`touch ${marker('in-a-loop')}\r`, true);
      // Completion lists a name with "forbidden" in it: program output, never a typed command.
      terminal.type(`ls ${MARKERS}/completion-`);
      await terminal.waitFor('completion-');
      terminal.type('\t\t');
      await terminal.waitFor('completion-forbidden-word');
      await line('\x05\x15echo after-completion\r');
      // Two lines pasted at once, without bracketed paste: each is checked as the shell reads it.
      await line(`echo pasted-first\rtouch ${marker('pasted')}\r`, true);
      await line('hostname\r');
      // Echo off: the line is rebuilt from the keys, and checked as such.
      await entered('stty -echo');
      await line(`touch ${marker('echo-off')}\r`, true);
      await line('stty echo\r');
      await terminal.enter('exit');
      expect(await terminal.exited).toBe(0);
    } finally {
      terminal.close();
    }
    expect(terminal.output).toContain(`Changegate: this line may not run: deny: rule "No marker files" matches \`touch ${marker('plain')}\`.`);

    // Nothing denied ran: no marker file, and bash's history holds exactly what was allowed.
    expect(readdirSync(MARKERS).filter((name) => name.startsWith('denied-'))).toEqual([]);
    for (const name of ['plain', 'after-semicolon', 'substitution', 'bash-c', 'in-a-loop', 'pasted', 'echo-off']) expect(existsSync(marker(name))).toBe(false);
    const ran = readFileSync(history, 'utf8').trimEnd().split('\n');
    // bash keeps in its history the lines of a multi-line command it has read, even when the
    // command is then abandoned: the opening line of the loop is there, never the denied one.
    expect(ran).toEqual([
      'echo allowed',
      'for x in 1; do',
      'echo after-completion',
      'echo pasted-first',
      'hostname',
      'stty -echo',
      'stty echo',
      'exit',
    ]);

    // Each denial and the warning are in the event log, with the line and the rule.
    const events = await waitUntil(async () => {
      const answer = await t.admin.get('/events?action=session.command_policy&limit=100');
      return answer.body.length >= 9 ? (answer.body as Array<{ data: { line: string | null; decision: string; reasons: string[]; fromKeystrokes: boolean } }>) : undefined;
    }, 'the decisions in the event log');
    // Seven denials, the warning, and `stty echo`, allowed but typed with echo off.
    expect(events.map((event) => event.data.decision).sort()).toEqual(['allow', ...Array<string>(7).fill('deny'), 'warn']);
    expect(events.find((event) => event.data.decision === 'allow')).toMatchObject({ data: { line: 'stty echo', fromKeystrokes: true } });
    expect(events.find((event) => event.data.line === 'hostname')).toMatchObject({ data: { decision: 'warn' } });
    expect(events.find((event) => event.data.line === `touch ${marker('echo-off')}`)).toMatchObject({ data: { decision: 'deny', fromKeystrokes: true } });
    expect(events.find((event) => event.data.line === `for x in 1; do\ntouch ${marker('in-a-loop')}`)).toMatchObject({ data: { decision: 'deny' } });
  });
});
