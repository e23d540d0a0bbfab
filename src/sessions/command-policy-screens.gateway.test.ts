import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeviceAccount, startGatewayChange, type GatewayChange } from '../../test/device-account.ts';
import { keyPair, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import type { TestChangegate } from '../../test/harness.ts';
import type { Started } from '../changegate.ts';

/**
 * Two ways around a command policy through the alternate screen, tried for real (`ssh -tt`, bash
 * over sshd, through the gateway): a shell that switches to the alternate screen itself and then
 * gets a line faster than its echo, and a multiplexer whose pane runs a shell with a prompt of its
 * own. The marker file a denied command would make is the ground truth.
 */

const ACCOUNT = 'changegate-screens';
const PROMPT = /sc\$ $/;
const MARKERS = path.join(tmpdir(), `changegate-screens-${process.pid}`);
const marker = (name: string) => path.join(MARKERS, `denied-${name}`);

describe('a command policy in the alternate screen, through the gateway', () => {
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let close: GatewayChange['close'] | undefined;
  let aliceKey: { file: string; publicKey: string };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-screens-'));
    const deviceKey = keyPair(dir, 'device');
    const { own } = ensureDeviceAccount(ACCOUNT, [`PS1='sc\\$ '`, 'unset HISTFILE'], deviceKey.publicKey, 'src/sessions/command-policy-screens.gateway.test.ts');
    mkdirSync(MARKERS, { recursive: true, mode: 0o777 });
    own(MARKERS);
    ({ t, started, aliceKey, close } = await startGatewayChange({
      dir,
      device: 'db01',
      account: ACCOUNT,
      deviceKey: deviceKey.privateKey,
      change: 'CHG-SCREENS',
      script: 'true',
      group: { commandPolicy: { rules: [{ kind: 'deny', syntax: 'glob', pattern: `touch ${MARKERS}/denied-*`, name: 'No marker files' }] } },
    }));
  });

  afterAll(async () => {
    await close?.();
    rmSync(MARKERS, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  /** A session, and a way to type a line and wait for what follows it. */
  async function session(): Promise<{ terminal: Terminal; typeUntil(keys: string, pattern: RegExp): Promise<void> }> {
    const terminal = new Terminal(started.sshPort, 'alice@db01', aliceKey.file);
    await terminal.waitFor(PROMPT);
    return {
      terminal,
      typeUntil: async (keys, pattern) => {
        const before = terminal.output.length;
        terminal.type(keys);
        await waitUntil(async () => (pattern.test(terminal.output.slice(before)) ? true : undefined), `${String(pattern)} after ${JSON.stringify(keys)}`).catch((error: unknown) => {
          throw new Error(`${String(error)}; the terminal shows:\n${terminal.output.slice(before)}`);
        });
      },
    };
  }

  it('checks a line typed faster than its echo at a shell that switched to the alternate screen itself', { timeout: 60_000 }, async () => {
    const { terminal, typeUntil } = await session();
    try {
      await typeUntil("printf '\\e[?1049h'\r", PROMPT);
      // In one write, long enough to wrap: the screen shows only the prompt when the Enter comes.
      await typeUntil(`: ${'x'.repeat(90)}; touch ${marker('alternate')}\r`, /this line may not run: deny: rule "No marker files"/);
      // The shell is still there and runs what it is given next: the denied line did not run before it.
      await typeUntil('echo after-$((40+2))\r', /after-42/);
      expect(existsSync(marker('alternate'))).toBe(false);
      terminal.type('exit\r');
      await terminal.exited;
    } finally {
      terminal.close();
    }
  });

  it('does not start a multiplexer whose panes would run shells it cannot read', { timeout: 60_000 }, async () => {
    const { terminal, typeUntil } = await session();
    try {
      // Refused, or held for an approver and given up: either way tmux never starts.
      await typeUntil(`TERM=xterm tmux -L cg-screens -f /dev/null new-session 'PS1="x> " bash --norc -i'\r`, /tmux runs shells in panes whose lines cannot be checked/);
      if (!/this line may not run/.test(terminal.output)) await typeUntil('\x03', /given up/);
      await typeUntil('echo after-$((40+2))\r', /after-42/);
      await typeUntil(`touch ${marker('pane')}\r`, /this line may not run/);
      await typeUntil('echo again-$((40+2))\r', /again-42/);
      expect(existsSync(marker('pane'))).toBe(false);
      expect(spawnSync('pgrep', ['-u', ACCOUNT, 'tmux']).status).toBe(1);
      terminal.type('exit\r');
      await terminal.exited;
    } finally {
      terminal.close();
    }
  });
});
