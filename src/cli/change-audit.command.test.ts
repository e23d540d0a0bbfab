import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess, signedInOperator, startCliServer, type CliOperator, type CliServer } from '../../test/cli-kit.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';
import type { Actor } from '../access/index.ts';

/**
 * `changegate audit sessions|change|logs|report` on an installation holding one finished session,
 * stored the way the gateway stores it: step two of the script skipped, one command extra.
 */
describe('changegate audit: the change audit', () => {
  let server: CliServer;
  let operator: CliOperator;
  const audit = (...args: string[]) => runCliInProcess(['audit', ...args], { env: operator.env });

  beforeAll(async () => {
    server = await startCliServer('pglite');
    const core = server.cg;
    // Stored as the gateway stores a finished session, straight into the server's database.
    const { db } = core.database;
    const admin: Actor = { userId: (await db.selectFrom('app_user').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()).id, username: 'admin' };
    const now = server.clock.now().getTime();
    await core.services.devices.create(admin, { name: 'web01', hostname: '192.0.2.10' });
    await core.services.groups.create(admin, { name: 'ops', executors: ['admin'], approvers: ['admin'], plannerMayExecute: true });
    await core.services.changes.create(admin, {
      name: 'CHG-42',
      title: 'Rotate logs',
      startAt: new Date(now - 60_000),
      dueAt: new Date(now + 3_600_000),
      accessGroup: 'ops',
      devices: ['web01'],
      script: 'logrotate -f /etc/logrotate.conf\nsystemctl reload rsyslog\nls /var/log',
    });
    const { request } = await core.services.requests.requestAccess(admin, 'web01');
    const change = await findChangeByName(db, 'CHG-42');
    const device = await db.selectFrom('device').selectAll().where('name', '=', 'web01').executeTakeFirstOrThrow();
    const id = randomUUID();
    await db
      .insertInto('session')
      .values({
        id,
        kind: 'shell',
        user_id: admin.userId,
        username: 'admin',
        source_ip: '198.51.100.4',
        source_port: 40022,
        device_id: device.id,
        device_name: 'web01',
        partition_id: device.partition_id,
        account: 'root',
        change_id: change!.id,
        change_name: 'CHG-42',
        request_id: (await findRequestByNumber(db, request.number))!.id,
        exec_command: null,
        term: 'xterm',
        started_at: new Date(now - 30_000),
        ended_at: new Date(now - 10_000),
        end_reason: 'client_closed',
        ended_by: null,
        exit_status: 0,
        bytes_in: 50,
        bytes_out: 500,
        recording_path: `/nonexistent/${id}.cast`,
        recording_sha256: 'cd'.repeat(32),
        capture_lossy: false,
        // A terminal multiplexer ran after the first command: the board may be incomplete.
        capture_notes: JSON.stringify([{ reason: 'multiplexer', since: new Date(now - 24_000).toISOString(), offsetSeconds: 6 }]),
        instance_id: 'test',
        heartbeat_at: new Date(now - 10_000),
      })
      .execute();
    const commands: Array<[string, string]> = [
      ['logrotate -f /etc/logrotate.conf', ''],
      ['cat /etc/shadow', 'root:*:19000:0:99999:7:::\n'],
      ['ls /var/log', 'syslog\nauth.log\n'],
    ];
    for (const [index, [text, output]] of commands.entries()) {
      await db
        .insertInto('session_command')
        .values({ session_id: id, seq: index + 1, time: new Date(now - 25_000 + index * 1000), offset_seconds: 5 + index, text, output, output_truncated: false, exit_status: 0 })
        .execute();
    }
    await core.services.reviews.recompute(change!.id);
    operator = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    operator?.remove();
    await server?.remove();
  });

  it('shows the board with the missing step and the extra command, and the score', async () => {
    const result = await audit('change', 'CHG-42');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(result.stdout).toMatch(/Score:\s+50 \(incomplete and exceeded — capture limited\)/);
    expect(result.stdout).toMatch(/^Capture: +limited\. This board may be incomplete because in session #\d+ a terminal multiplexer ran on the device \(from \d\d:\d\d:\d\d UTC\)\.$/m);
    expect(lines.filter((line) => /^ {2}(ok|MISSING|EXTRA)/.test(line)).map((line) => line.trim().replace(/\s+\[.*\]$/, ''))).toEqual([
      'ok       logrotate -f /etc/logrotate.conf',
      'MISSING  systemctl reload rsyslog',
      'EXTRA    cat /etc/shadow',
      'ok       ls /var/log',
    ]);
  });

  it('finds the session that read /etc/shadow, with its score, and prints the logs', async () => {
    const found = await audit('sessions', '--command', '/etc/shadow', '--score-max', '60', '--json');
    expect(found.code).toBe(0);
    expect(JSON.parse(found.stdout)).toEqual([expect.objectContaining({ change: 'CHG-42', changeScore: 50, sourceIp: '198.51.100.4', commandCount: 3 })]);
    expect(JSON.parse((await audit('sessions', '--outcome', 'as_planned', '--json')).stdout)).toEqual([]);
    const table = (await audit('sessions', '--change', 'CHG-42')).stdout;
    expect(table.split('\n')[1]).toMatch(/ incomplete_and_exceeded +limited +admin /);
    expect(table).toContain('CHG-42: This board may be incomplete because in session #');
    const logs = await audit('logs', 'CHG-42');
    expect(logs.stdout).toContain('$ cat /etc/shadow');
    expect(logs.stdout).toContain('  auth.log');
  });

  it('writes the HTML report to standard output, as `> report.html` expects', async () => {
    const report = await audit('report', 'CHG-42', '--format', 'html');
    expect(report.code).toBe(0);
    expect(report.stdout.startsWith('<!doctype html>')).toBe(true);
    expect(report.stdout).toContain('<tr class="missing">');
    const csv = await audit('report', 'CHG-42', '--format', 'csv');
    expect(csv.stdout.split('\r\n').filter(Boolean)).toHaveLength(5);
    expect((await audit('report', 'CHG-42', '--format', 'pdf')).code).toBe(2);
  });
});
