import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliInProcess, signedInOperator, startCliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';

const GOOD_SCRIPT = ['# Upgrade nginx', 'systemctl stop nginx', 'apt-get install -y nginx={{version}}', '# expect: active \\(running\\)', 'systemctl start nginx', ''].join('\n');
/** A misspelt directive on line 2, column 3 (after "# "). */
const BAD_SCRIPT = ['systemctl stop nginx', '# optinal', 'apt-get update', ''].join('\n');

describe.concurrent('access groups, changes and requests', () => {
  // A planner (admin) sets up a change; an executor asks to run it; an approver approves.
  it.for(DATABASE_KINDS)('on %s', { timeout: 120_000 }, async (kind, { onTestFinished }) => {
    const server = await startCliServer(kind);
    const scripts = mkdtempSync(path.join(tmpdir(), 'changegate-scripts-'));
    onTestFinished(async () => {
      await server.remove();
      rmSync(scripts, { recursive: true, force: true });
    });
    const admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
    onTestFinished(() => admin.remove());
    const { changegate, json } = admin;
    const [good, bad] = [path.join(scripts, 'upgrade.sh'), path.join(scripts, 'typo.sh')];
    writeFileSync(good, GOOD_SCRIPT);
    writeFileSync(bad, BAD_SCRIPT);

    await changegate(['user', 'add', 'bob', '--password-stdin'], 0, 'password-of-bob-the-executor\n');
    await changegate(['user', 'add', 'carol', '--password-stdin'], 0, 'password-of-carol-the-approver\n');
    await changegate(['device', 'add', 'web01', '--host', '127.0.0.1']);
    expect(await json(['group', 'add', 'web-ops', '--executor', 'bob', '--approver', 'carol', '--requires-justification', '--planner-may-not-execute', '--json'])).toMatchObject({
      name: 'web-ops',
      partition: 'GLOBAL',
      executors: ['bob'],
      approvers: ['carol'],
      approvalsRequired: 1,
      requiresJustification: true,
      plannerMayExecute: false,
    });

    // A script error names its line and column; nothing is saved.
    const now = server.clock.now().getTime();
    const start = new Date(now - 3_600_000).toISOString();
    const due = new Date(now + 3_600_000).toISOString();
    const add = ['change', 'add', 'CHG-2026-042', '--title', 'Upgrade nginx', '--start', start, '--due', due, '--group', 'web-ops', '--device', 'web01'];
    const refused = await changegate([...add, '--script-file', bad], 1);
    expect(refused.stderr).toMatch(new RegExp(`^error: The script in ${bad} has 1 error; nothing was saved:\\n  ${bad}:2:3: "optinal" is not a directive[^\\n]*\\n$`));
    const registered = await changegate([...add, '--script-file', good, '--description', 'CVE fix']);
    expect(registered.stdout).toMatch(/^Registered change CHG-2026-042 "Upgrade nginx": open, window \S+ \S+ to \S+ \S+, on web01\.\n$/);
    expect(await json(['change', 'list', '--status', 'open', '--json'])).toEqual([
      expect.objectContaining({
        name: 'CHG-2026-042',
        title: 'Upgrade nginx',
        description: 'CVE fix',
        status: 'open',
        startAt: start,
        dueAt: due,
        accessGroup: 'web-ops',
        devices: ['web01'],
        script: GOOD_SCRIPT,
        createdBy: 'admin',
      }),
    ]);

    // bob, an executor, asks; carol, the approver, approves; bob sees it approved. Each is signed in as themselves.
    const bob = await signedInOperator(server, 'bob', 'password-of-bob-the-executor');
    const carol = await signedInOperator(server, 'carol', 'password-of-carol-the-approver');
    onTestFinished(() => [bob, carol].forEach((operator) => operator.remove()));
    // An approver cannot approve for someone else, nor a requester for the approver.
    const asked = await bob.changegate(['request', 'create', 'web01', '--justification', 'nginx CVE-2026-1234']);
    expect(asked.stdout).toBe(
      'Request #1 to run CHG-2026-042 on web01: pending (created now; its approvers were notified).\nIt needs 1 more approval (0 of 1 so far) from: carol.\n',
    );
    expect((await bob.changegate(['request', 'approve', '1'], 1)).stderr).toMatch(/^error: /);
    expect((await carol.changegate(['request', 'approve', '1', '--comment', 'go ahead'])).stdout).toBe(
      'Approved request #1 (bob to run CHG-2026-042 on web01): it is now approved.\n',
    );
    expect(await bob.json(['request', 'show', '#1', '--json'])).toMatchObject({
      number: 1,
      status: 'approved',
      change: 'CHG-2026-042',
      device: 'web01',
      requester: 'bob',
      justification: 'nginx CVE-2026-1234',
      decisions: [expect.objectContaining({ approver: 'carol', decision: 'approve', comment: 'go ahead' })],
    });

    // The requester cannot revoke their own approval; an approver of the group can, saying why.
    expect((await bob.changegate(['request', 'revoke', '1', '--reason', 'mine'], 1)).stderr).toMatch(/^error: /);
    expect((await bob.json<{ status: string }>(['request', 'show', '1', '--json'])).status).toBe('approved');
    expect((await carol.changegate(['request', 'revoke', '1', '--reason', 'the outage is over'])).stdout).toBe(
      'Revoked request #1 (bob to run CHG-2026-042 on web01): revoked by carol: the outage is over.\n',
    );
    expect(await bob.json(['request', 'show', '1', '--json'])).toMatchObject({ status: 'cancelled', closeReason: 'revoked by carol: the outage is over' });
  });
});

/** Runs the program in this process, signed in nowhere: help and usage errors need no server. */
const run = (args: readonly string[]) => runCliInProcess(args, { env: {} });

describe('the inventory, change and vault commands on the command line', () => {
  const HELP: Array<[string, readonly string[]]> = [
    ['device', ['list', 'show', 'add', 'edit', 'remove', 'test']],
    ['device list', ['--partition <name>', '--tag <tag>', '--search <text>', '--json']],
    ['device add', ['<name>', '--host <hostname>', '--port <port>', '--description <text>', '--partition <name>', '--application <name>', '--tag <tags...>', '--host-key <line>']],
    ['device edit', ['<device>', '--no-application', '--no-tag', '--no-host-key']],
    ['device test', ['<device>', 'pins it the first time']],
    ['credential', ['list', 'show', 'add', 'edit', 'remove']],
    ['credential add', ['<device>', '<account>', '--password-stdin', '--private-key-file <path>', '--passphrase-stdin']],
    ['credential edit', ['<credential>', '--new-password', '--password-stdin', '--private-key-file <path>', '--description <text>']],
    ['group', ['list', 'show', 'add', 'edit', 'remove']],
    ['group add', ['<name>', '--executor <users...>', '--approver <users...>', '--approvals <n>', '--requires-justification', '--planner-may-not-execute']],
    ['group edit', ['--no-requires-justification', '--planner-may-execute']],
    ['change', ['list', 'show', 'add', 'edit', 'cancel', 'remove']],
    ['change list', ['--status <status>', '"scheduled", "open", "closed", "cancelled"', '--device <device>', '--json']],
    ['change add', ['<id>', '--title <text>', '--start <time>', '--due <time>', '--group <group>', '--device <devices...>', '--script-file <path>', '--script-stdin']],
    ['change cancel', ['<id>', '--reason <text>']],
    ['request', ['list', 'show', 'create', 'approve', 'deny', 'cancel', 'revoke']],
    ['request list', ['--scope <scope>', '"mine", "approvals", "all"', '--status <status>', '--change <id>', '--device <device>']],
    ['request create', ['<device>', '--change <id>', '--justification <text>', '--again']],
    ['request approve', ['<number>', '--comment <text>']],
    ['request deny', ['<number>', '--comment <text>']],
    ['vault rotate', ['--json', 'openssl rand -base64 32', 'CHANGEGATE_MASTER_KEY=', 'restart']],
  ];

  it.each(HELP)('changegate %s --help exits 0 and names its options', async (command, mentions) => {
    const { code, stdout } = await run([...command.split(' '), '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: changegate ${command} `));
    for (const mention of mentions) expect(stdout.replace(/\s+/g, ' ')).toContain(mention);
    expect(stdout).not.toContain('--as');
  });

  it('answers a wrong command line with exit code 2 before asking any server, and takes no secret as an argument', async () => {
    const cases: Array<[readonly string[], string]> = [
      [['change', 'add', 'CHG-1', '--title', 't', '--start', 'tomorrow', '--due', '2026-01-01T00:00Z', '--group', 'g', '--device', 'd'], 'expected an ISO 8601 time with a time zone'],
      [['change', 'add', 'CHG-1', '--title', 't', '--start', '2026-01-01T10:00', '--due', '2026-01-01T12:00Z', '--group', 'g', '--device', 'd'], 'expected an ISO 8601 time'],
      [['change', 'add', 'CHG-1', '--title', 't', '--start', '2026-01-01T10:00Z', '--due', '2026-01-01T12:00Z', '--group', 'g', '--device', 'd'], 'A change needs its script'],
      [['change', 'edit', 'CHG-1', '--script-stdin', '--script-file', 'x'], "option '--script-file <path>' cannot be used with option '--script-stdin'"],
      [['device', 'add', 'web01', '--host', 'h', '--port', '70000'], 'expected a port number from 1 to 65535'],
      [['device', 'edit', 'web01'], 'Nothing to change'],
      [['group', 'edit', 'ops', '--planner-may-execute', '--planner-may-not-execute'], 'not both'],
      [['credential', 'add', 'web01', 'root', '--password', 'hunter2'], "unknown option '--password'"],
      [['credential', 'add', 'web01', 'root', '--passphrase-stdin'], '--passphrase-stdin goes with --private-key-file'],
      [['credential', 'add', 'web01', 'root', '--password-stdin', '--private-key-file', 'id'], 'cannot be used with'],
      [['credential', 'edit', 'root@web01'], 'Nothing to change'],
      [['request', 'approve', 'one'], 'expected a request number'],
      [['request', 'list', '--scope', 'everyone'], 'Allowed choices are mine, approvals, all'],
    ];
    for (const [args, message] of cases) {
      const result = await run(args);
      expect(result, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr, args.join(' ')).toContain(message);
    }
  });
});
