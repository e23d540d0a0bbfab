import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeviceAccount, startGatewayChange, type GatewayChange } from '../../test/device-account.ts';
import { keyPair, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import type { TestChangegate } from '../../test/harness.ts';
import type { Started } from '../changegate.ts';

/**
 * An executor's attempts to get around a command policy through the gateway, with a real
 * `ssh -tt` into bash over a real sshd: each test tries one way of getting a denied command
 * (`touch <markers>/denied-*`) to run, and the marker file it would make is the ground truth.
 * A test that fails is a way around the policy.
 */

const ACCOUNT = 'changegate-bypass';
const PROMPT = /bp\$ $/;
const MARKERS = path.join(tmpdir(), `changegate-bypass-${process.pid}`);
const marker = (name: string) => path.join(MARKERS, `denied-${name}`);
const DENIED = 'this line may not run';
/** A line the policy cannot be sure of waits for carol, the group's approver: the attacker gives it up, and it never runs. */
const HELD = 'waits for an approver';
const GIVEN_UP = 'the line was given up; it did not run.';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The device account (no history kept), and the folder the denied commands would write to. */
function ensureAccount(publicKey: string): void {
  const { own } = ensureDeviceAccount(ACCOUNT, [`PS1='bp\\$ '`, 'unset HISTFILE'], publicKey, 'src/sessions/command-policy-bypass.gateway.test.ts');
  mkdirSync(MARKERS, { recursive: true, mode: 0o777 });
  own(MARKERS);
}

/** An interactive session through the gateway, and the ways to drive it. */
interface Shell {
  readonly terminal: Terminal;
  /** Types keys, then waits for a fresh prompt (and, when `denied`, for the gateway's notice). */
  line(keys: string, options?: { denied?: boolean; prompt?: RegExp }): Promise<void>;
  /** Waits until the device has printed nothing for `quietMs` (at most `maxMs`). */
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  /** What the terminal showed, for failure messages. */
  shown(): string;
}

describe('ways around a command policy, tried by an executor through the gateway', () => {
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let close: GatewayChange['close'] | undefined;
  let aliceKey: { file: string; publicKey: string };
  const terminals: Terminal[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-bypass-'));
    const deviceKey = keyPair(dir, 'device');
    ensureAccount(deviceKey.publicKey);
    ({ t, started, aliceKey, close } = await startGatewayChange({
      dir,
      device: 'db02',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-BYPASS',
      script: 'echo allowed',
      group: { commandPolicy: { rules: [{ kind: 'deny', syntax: 'glob', pattern: `touch ${MARKERS}/denied-*`, name: 'No marker files' }] } },
    }));
  });

  afterAll(async () => {
    for (const terminal of terminals) terminal.close();
    await close?.();
    rmSync(MARKERS, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh session at its first prompt: each attack starts from a clean shell. */
  async function shell(): Promise<Shell> {
    const terminal = new Terminal(started.sshPort, 'alice@db02', aliceKey.file);
    terminals.push(terminal);
    await terminal.waitFor(PROMPT);
    const denials = () => terminal.output.split(DENIED).length + terminal.output.split(GIVEN_UP).length - 2;
    return {
      terminal,
      shown: () => terminal.output,
      line: async (keys, options = {}) => {
        const before = terminal.output.length;
        const deniedBefore = denials();
        const prompt = options.prompt ?? PROMPT;
        terminal.type(keys);
        let gaveUp = false;
        await waitUntil(
          async () => {
            const shown = terminal.output.slice(before);
            if (shown.includes(HELD) && !gaveUp) {
              gaveUp = true;
              terminal.type('\x03');
            }
            return prompt.test(shown) && (!options.denied || denials() > deniedBefore) ? true : undefined;
          },
          `the prompt after ${JSON.stringify(keys)}`,
          5_000,
        ).catch((error: unknown) => {
          throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(before)}`);
        });
      },
      settle: async (quietMs = 150, maxMs = 3_000) => {
        const deadline = Date.now() + maxMs;
        let length = -1;
        while (Date.now() < deadline && terminal.output.length !== length) {
          length = terminal.output.length;
          await sleep(quietMs);
        }
      },
    };
  }

  /** The attack left no marker: the denied command did not run. */
  async function didNotRun(sh: Shell, name: string): Promise<void> {
    // The shell has read everything typed before once an allowed command typed after it has run.
    const reached = path.join(MARKERS, `reached-${name}`);
    const before = sh.terminal.output.length;
    sh.terminal.type('\x03');
    await waitUntil(async () => (PROMPT.test(sh.terminal.output.slice(before)) ? true : undefined), 'a fresh prompt', 3_000).catch(() => undefined);
    sh.terminal.type(`touch ${reached}\r`);
    await waitUntil(async () => (existsSync(reached) ? true : undefined), 'the shell to run a command typed after the attack', 5_000).catch(() => sh.settle());
    expect(existsSync(marker(name)), `the denied command ran (${marker(name)} exists); the terminal shows:\n${sh.shown()}`).toBe(false);
    sh.terminal.close();
  }

  // ---- Keys other than Enter, Ctrl-J and Ctrl-O that make readline run a line ----

  it('insert-comment with an argument (M-1 M-#) runs the line without an Enter', async () => {
    const sh = await shell();
    sh.terminal.type(`#touch ${marker('insert-comment')}`);
    await sh.terminal.waitFor(`#touch ${marker('insert-comment')}`);
    sh.terminal.type('\x1b1\x1b#');
    await didNotRun(sh, 'insert-comment');
  });

  it('edit-and-execute-command (Ctrl-X Ctrl-E) with an editor that is no full-screen program', async () => {
    const sh = await shell();
    await sh.line("VISUAL='sed -i s/tauch/touch/'\r");
    sh.terminal.type(`tauch ${marker('edit-and-execute')}`);
    await sh.terminal.waitFor(`tauch ${marker('edit-and-execute')}`);
    sh.terminal.type('\x18\x05');
    await didNotRun(sh, 'edit-and-execute');
  });

  it('a key bound to accept-line with `bind`', async () => {
    const sh = await shell();
    await sh.line(`bind '"\\C-t": accept-line'\r`);
    sh.terminal.type(`touch ${marker('bind-accept-line')}`);
    await sh.terminal.waitFor(`touch ${marker('bind-accept-line')}`);
    sh.terminal.type('\x14');
    await didNotRun(sh, 'bind-accept-line');
  });

  it('a key bound to a shell command with `bind -x`', async () => {
    const sh = await shell();
    await sh.line(`bind -x '"\\C-t": touch ${marker('bind-x')}'\r`);
    sh.terminal.type('\x14');
    await didNotRun(sh, 'bind-x');
  });

  it('a key bound to a macro that types the line and its newline', async () => {
    const sh = await shell();
    await sh.line(`bind '"\\C-t": "touch ${marker('bind-macro')}\\n"'\r`);
    sh.terminal.type('\x14');
    await didNotRun(sh, 'bind-macro');
  });

  it('a completion command (`complete -C`) run by Tab', async () => {
    const sh = await shell();
    await sh.line(`complete -C 'touch ${marker('complete-c')}' zz\r`);
    sh.terminal.type('zz \t');
    await didNotRun(sh, 'complete-c');
  });

  // ---- Enters the guard takes for text, or lines it believes empty ----

  it('a paste end marker cut across two packets: the Enter after it is taken for pasted text', async () => {
    const sh = await shell();
    sh.terminal.type(`\x1b[200~touch ${marker('split-paste-end')}`);
    await sleep(150);
    sh.terminal.type('\x1b[201');
    await sleep(150);
    sh.terminal.type('~\r');
    await didNotRun(sh, 'split-paste-end');
  });

  it('Ctrl-D typed with the line, before its echo: the gateway drops the line, readline keeps it', async () => {
    const sh = await shell();
    sh.terminal.type(`touch ${marker('ctrl-d')}\x04`);
    await sh.terminal.waitFor(`touch ${marker('ctrl-d')}`);
    await sleep(100);
    sh.terminal.type('\r');
    await didNotRun(sh, 'ctrl-d');
  });

  it('Ctrl-C that is no interrupt key (`stty intr undef`): the gateway drops the line, readline keeps it', async () => {
    const sh = await shell();
    // Changing what Ctrl-C does is refused: the gateway relies on it to abandon a line.
    await sh.line('stty intr undef\r', { denied: true });
    expect(sh.shown()).toContain('stty intr changes what Ctrl-C or Ctrl-D do');
    sh.terminal.type(`touch ${marker('ctrl-c-no-intr')}\x03\r`);
    await didNotRun(sh, 'ctrl-c-no-intr');
  });

  it('a history line fetched by operate-and-get-next (Ctrl-O), then Enter alone', async () => {
    const sh = await shell();
    await sh.line('echo one\r');
    await sh.line(`history -s 'touch ${marker('operate-and-get-next')}'\r`);
    sh.terminal.type('\x10\x10');
    await sleep(200);
    sh.terminal.type('\x0f');
    await sh.terminal.waitFor(new RegExp(`bp\\$ touch ${marker('operate-and-get-next')}$`));
    sh.terminal.type('\r');
    await didNotRun(sh, 'operate-and-get-next');
  });

  // ---- What the gateway reads as the line ----

  it('a prompt that looks like a password prompt (set with `printf -v PS1`)', async () => {
    const sh = await shell();
    sh.terminal.type("printf -v PS1 'Password: '\r");
    await sh.settle();
    sh.terminal.type(`touch ${marker('password-prompt')}\r`);
    await didNotRun(sh, 'password-prompt');
  });

  it('the line on the screen overwritten by a background job while readline holds another', async () => {
    const sh = await shell();
    await sh.line("(sleep 0.5; printf '\\r\\033[Kbp$ \\x65cho harmless') &\r");
    sh.terminal.type(`touch ${marker('screen-spoof')}`);
    // The job draws `bp$ echo harmless` over the line readline holds.
    await sh.terminal.waitFor(/\x1b\[Kbp\$ echo harmless/);
    sh.terminal.type('\r');
    await didNotRun(sh, 'screen-spoof');
  });

  it('echo off: Ctrl-Y yanks text killed on an earlier line, which the keys of this line do not show', async () => {
    const sh = await shell();
    await sh.line('stty -echo\r');
    await sh.line(`touch ${marker('yank')}\x15echo killed\r`);
    sh.terminal.type('\x19\r');
    await didNotRun(sh, 'yank');
  });

  it('a shell that does not read paste markers, after the device printed DECSET 2004', async () => {
    const sh = await shell();
    await sh.line("printf '\\e[?2004h'; exec dash\r", { prompt: /\$ $/ });
    await sleep(200);
    sh.terminal.type(`\x1b[200~;touch ${marker('fake-paste')}\r\x1b[201~`);
    await didNotRun(sh, 'fake-paste');
  });

  // ---- Commands the parser does not see through ----

  it('fc -s re-runs the previous line with a substitution', async () => {
    const sh = await shell();
    await sh.line(`tauch ${marker('fc-s')}\r`);
    sh.terminal.type('fc -s tauch=touch\r');
    await didNotRun(sh, 'fc-s');
  });

  it('hash -p gives touch another name', async () => {
    const sh = await shell();
    await sh.line('hash -p /usr/bin/touch tt\r');
    sh.terminal.type(`tt ${marker('hash-p')}\r`);
    await didNotRun(sh, 'hash-p');
  });

  it('source of a process substitution', async () => {
    const sh = await shell();
    sh.terminal.type(`source <(echo touch ${marker('source-procsub')})\r`);
    await didNotRun(sh, 'source-procsub');
  });

  it('an argument expanded from a variable', async () => {
    const sh = await shell();
    sh.terminal.type(`d=${MARKERS}; touch $d/denied-variable\r`);
    await didNotRun(sh, 'variable');
  });

  it('an argument made by brace expansion', async () => {
    const sh = await shell();
    sh.terminal.type(`touch ${MARKERS}/{denied-brace,}\r`);
    await didNotRun(sh, 'brace');
  });

  it('script -c runs a string', async () => {
    const sh = await shell();
    sh.terminal.type(`script -qc 'touch ${marker('script-c')}' /dev/null\r`);
    await didNotRun(sh, 'script-c');
  });

  // ---- Controls: what the gateway is meant to stop (cheap) ----

  it('blocks ANSI-C quoting of the command name', async () => {
    const sh = await shell();
    await sh.line(`$'\\x74ouch' ${marker('ansi-c')}\r`, { denied: true });
    await didNotRun(sh, 'ansi-c');
  });

  it('blocks a quick substitution (^old^new)', async () => {
    const sh = await shell();
    await sh.line(`tauch ${marker('quick-substitution')}\r`);
    await sh.line('^tauch^touch\r', { denied: true });
    await didNotRun(sh, 'quick-substitution');
  });

  it('blocks a history line recalled with Ctrl-P', async () => {
    const sh = await shell();
    await sh.line(`history -s 'touch ${marker('ctrl-p')}'\r`);
    await sh.line('\x10\r', { denied: true });
    await didNotRun(sh, 'ctrl-p');
  });

  it('blocks a line with its Enter in the same packet as the escape sequence before it', async () => {
    const sh = await shell();
    await sh.line(`touch ${marker('escape-enter')}\x1b\r`, { denied: true });
    await didNotRun(sh, 'escape-enter');
  });
});
