import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { deviceAccountSshdConfig, ensureDeviceAccount } from '../../test/device-account.ts';
import { approvedRequest, keyPair, must, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate, type TestClient } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { Started } from '../changegate.ts';

/**
 * A change run for real through the gateway on two devices: one whose bash reports each command's
 * exit status (OSC 133;D from PROMPT_COMMAND, as shell integration does), one whose bash does
 * not. The executor types exactly the script, then `exit`: the audit scores 100, as planned, and
 * shows each exit status where the shell reported it, unknown elsewhere.
 */

/** Device accounts: the same bash, with and without shell integration. */
const ACCOUNTS = { osc: 'changegate-osc133', plain: 'changegate-plain' } as const;

/** A device account whose bash reads `profile` at login and lets in the holder of `publicKey`. */
function ensureAccount(user: string, profile: string[], publicKey: string): void {
  ensureDeviceAccount(user, [`PS1='cg\\$ '`, ...profile], publicKey, 'src/review/gateway-audit.test.ts');
}

const PROMPT = /cg\$ $/;

describe.each(DATABASE_KINDS)('a change run through the gateway, then audited, on %s', (kind) => {
  let dir: string;
  let sshd: TestSshd;
  let t: TestChangegate;
  let started: Started;
  let alice: { client: TestClient };
  let carol: { client: TestClient };
  let aliceKey: { file: string; publicKey: string };

  /** Alice opens a shell on the device, types each line and waits for the prompt, then types exit: the shell's exit status. */
  async function runShell(device: string, lines: readonly string[]): Promise<number | null> {
    const terminal = new Terminal(started.sshPort, `alice@${device}`, aliceKey.file);
    try {
      await terminal.waitFor(PROMPT);
      for (const line of lines) {
        const before = terminal.output.length;
        terminal.type(`${line}\r`);
        await waitUntil(async () => (PROMPT.test(terminal.output.slice(before + line.length)) ? true : undefined), `the prompt after ${line}`);
      }
      terminal.type('exit\r');
      return await terminal.exited;
    } finally {
      terminal.close();
    }
  }

  /** The device's last session once the gateway stored it, with its captured commands. */
  async function lastSession(device: string): Promise<{ number: number; commands: Array<{ text: string; exitStatus: number | null }> }> {
    const session = await waitUntil(async () => {
      const list = await t.admin.get(`/sessions?device=${device}`);
      const ended = list.body.find((row: { live: boolean; endReason: string | null }) => !row.live && row.endReason !== null);
      return ended as { number: number } | undefined;
    }, `the session on ${device} to be stored`);
    const commands = await t.admin.get(`/sessions/${session.number}/commands`);
    return { number: session.number, commands: commands.body };
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-gateway-audit-'));
    const deviceKey = keyPair(dir, 'device');
    ensureAccount(ACCOUNTS.osc, [`PROMPT_COMMAND='printf "\\033]133;D;%s\\007" "$?"'`], deviceKey.publicKey);
    ensureAccount(ACCOUNTS.plain, [], deviceKey.publicKey);
    sshd = await startSshd({ accountHome: true, extraConfig: deviceAccountSshdConfig([ACCOUNTS.osc, ACCOUNTS.plain]) });
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' });
    started = await t.cg.startBackground();
    aliceKey = keyPair(dir, 'alice');
    alice = await buildUser(t, { username: 'alice' });
    carol = await buildUser(t, { username: 'carol' });
    await must(alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey }), 201, 'adding alice’s key');
    for (const [device, account] of [['osc01', ACCOUNTS.osc], ['plain01', ACCOUNTS.plain]] as const) {
      await must(t.admin.post('/devices', { name: device, hostname: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey }), 201, `adding ${device}`);
      await must(t.admin.post('/credentials', { device, account, secret: { privateKey: deviceKey.privateKey } }), 201, `vaulting ${account}@${device}`);
    }
    await must(t.admin.post('/access-groups', { name: 'ops', executors: ['alice'], approvers: ['carol'] }), 201, 'adding the group');
    const now = t.clock.now().getTime();
    await must(
      t.admin.post('/changes', {
        name: 'CHG-RUN',
        title: 'Check and fail on purpose',
        startAt: new Date(now - 60_000).toISOString(),
        dueAt: new Date(now + 3_600_000).toISOString(),
        accessGroup: 'ops',
        devices: ['osc01', 'plain01'],
        script: 'true\nfalse',
      }),
      201,
      'adding the change',
    );
    for (const device of ['osc01', 'plain01']) await approvedRequest(alice.client, carol.client, device);
  });

  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the exit status the shell reported with OSC 133;D, and null (unknown) where it reported none', async () => {
    // `exit` without a status exits with the last command's: false's 1.
    expect(await runShell('osc01', ['true', 'false'])).toBe(1);
    expect(await runShell('plain01', ['true', 'false'])).toBe(1);
    expect((await lastSession('osc01')).commands.map((c) => [c.text, c.exitStatus])).toEqual([
      ['true', 0],
      ['false', 1],
      ['exit', null],
    ]);
    expect((await lastSession('plain01')).commands.map((c) => [c.text, c.exitStatus])).toEqual([
      ['true', null],
      ['false', null],
      ['exit', null],
    ]);
  });

  it('scores the run 100, as planned: the closing exit is not an extra command', async () => {
    const audit = await t.admin.get('/changes/CHG-RUN/audit');
    expect(audit.status).toBe(200);
    expect(audit.body).toMatchObject({ score: 100, outcome: 'as_planned', counts: { matched: 4, extra: 0, missing: 0 } });
    for (const device of audit.body.devices) {
      expect(device.rows.map((row: { kind: string; command: { text: string } | null }) => `${row.kind} ${row.command?.text}`)).toEqual(['matched true', 'matched false', 'session_end exit']);
    }
    await waitUntil(async () => {
      const listed = await t.admin.get('/audit/sessions?change=CHG-RUN');
      return listed.body.length === 2 && listed.body.every((session: { changeScore: number | null }) => session.changeScore === 100) ? listed.body : undefined;
    }, 'the stored score to be 100');
  });

  it('shows the exit statuses in the reports, unknown where the shell did not report one', async () => {
    const csv = String((await t.admin.get('/changes/CHG-RUN/audit/report?format=csv')).body);
    const statusOf = (device: string, command: string) =>
      csv
        .split('\r\n')
        .find((line) => line.includes(`"${device}"`) && line.includes(`"${command}"`))
        ?.split(',')[11];
    expect([statusOf('osc01', 'true'), statusOf('osc01', 'false'), statusOf('plain01', 'false')]).toEqual(['"0"', '"1"', '"unknown"']);
    const html = String((await t.admin.get('/changes/CHG-RUN/audit/report?format=html')).body);
    expect(html).toContain('exit 1');
    expect(html).toContain('exit unknown');
  });
});
