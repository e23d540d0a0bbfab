import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signedInOperator, startCliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import type { DatabaseKind } from '../platform/database.ts';

/** The administrator signed in to a fresh server: runs commands, expecting each to end with the given exit code. */
async function operator(kind: DatabaseKind, onTestFinished: (cleanup: () => Promise<void> | void) => void, settings: Record<string, string> = {}) {
  const server = await startCliServer(kind, settings);
  onTestFinished(() => server.remove());
  const admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
  onTestFinished(() => admin.remove());
  return { server, changegate: admin.changegate };
}

// Each test is one operator's session, step after step, on its own server; they run side by side.
describe.concurrent('changegate audit', () => {
  it.for(DATABASE_KINDS)('rules, the trail and restore on %s', { timeout: 180_000 }, async (kind, { onTestFinished }) => {
    const { changegate } = await operator(kind, onTestFinished);

    // A rule, and the writes it audits.
    expect((await changegate(['audit', 'rules', 'create', 'WatchWeb', '--type', 'Device', '--level', 'full_audit', '--name-pattern', 'web*'])).stdout).toBe(
      'Created audit rule GLOBAL.WatchWeb.\n',
    );
    await changegate(['device', 'add', 'web01', '--host', '192.0.2.1']);
    await changegate(['device', 'edit', 'web01', '--port', '2222']);
    const trail = JSON.parse((await changegate(['audit', 'trail', 'o:Device', 'k:GLOBAL.web', '--json'])).stdout) as { entries: Array<{ seq: number; action: string; level: number }> };
    expect(trail.entries.map((entry) => [entry.action, entry.level])).toEqual([
      ['M', 2],
      ['C', 2],
    ]);
    const modified = trail.entries[0]?.seq as number;
    const table = (await changegate(['audit', 'trail', 'u:admin', 'a:M'])).stdout;
    expect(table).toMatch(/^SEQ\s+TIME\s+TYPE\s+BUSINESS KEY\s+ACTION\s+LEVEL\s+USER\s+REASON$/m);
    expect(table).toMatch(new RegExp(`^${modified}\\s.*Device\\s+GLOBAL\\.web01\\s+M\\s+2\\s+admin`, 'm'));

    // Restore to before the change: the port goes back, and the restore is itself in the trail.
    expect((await changegate(['audit', 'restore', String(modified), '--before', '--reason', 'wrong port'])).stdout).toMatch(
      new RegExp(`^Restored Device GLOBAL\\.web01 to before entry #${modified} \\(version 3, entry #\\d+\\)\\.\\n$`),
    );
    expect(JSON.parse((await changegate(['device', 'show', 'web01', '--json'])).stdout)).toMatchObject({ port: 22, version: 3 });
    expect((await changegate(['audit', 'restore', String(modified)], 2)).stderr).toMatch(/--before or --after/);
  });

  it.for(DATABASE_KINDS)('export, import, promotion, refusals and purge on %s', { timeout: 180_000 }, async (kind, { onTestFinished }) => {
    // A promotion target that answers as another Changegate's import would.
    const imported: string[] = [];
    const other = createServer((request, response) => {
      imported.push(request.headers.authorization ?? '');
      request.resume();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ dryRun: false, created: [{ type: 'AuditRule', businessKey: 'GLOBAL.WatchWeb' }], updated: [], unchanged: [], conflicts: [] }));
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => other.close(() => resolve())));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const { server, changegate } = await operator(kind, onTestFinished, { CHANGEGATE_PROMOTE_TARGETS: `prod=${otherUrl},down=http://127.0.0.1:9` });
    await changegate(['audit', 'rules', 'create', 'WatchWeb', '--type', 'Device', '--level', 'full_audit', '--name-pattern', 'web*']);

    // Export, then import again: nothing changes.
    const file = path.join(server.dataDir, 'watch-web.json');
    expect((await changegate(['audit', 'rules', 'export', 'WatchWeb', '--related', '--output', file])).stdout).toBe(`Exported 2 object(s) to ${file}.\n`);
    expect((await changegate(['audit', 'rules', 'import', file])).stdout).toBe('Unchanged:\n  Partition GLOBAL.GLOBAL\n  AuditRule GLOBAL.WatchWeb\n');

    // Promotion names a configured target; the token comes on standard input.
    expect((await changegate(['audit', 'promote-targets'])).stdout).toMatch(new RegExp(`^NAME\\s+URL\\nprod\\s+${otherUrl}\\ndown\\s+http://127\\.0\\.0\\.1:9\\n$`));
    expect((await changegate(['audit', 'rules', 'promote', 'WatchWeb', '--target', 'prod', '--token-stdin'], 0, 'cg_of-prod\n')).stdout).toBe(
      `Promoted to prod (${otherUrl}):\nCreated:\n  AuditRule GLOBAL.WatchWeb\n`,
    );
    expect(imported).toEqual(['Bearer cg_of-prod']);
    expect((await changegate(['audit', 'rules', 'promote', 'WatchWeb', '--target', 'down', '--token-stdin'], 1, 'cg_of-prod\n')).stderr).toMatch(/cannot reach it: connection refused/);
    expect((await changegate(['audit', 'rules', 'promote', 'WatchWeb', '--target', 'elsewhere', '--token-stdin'], 1, 'cg_of-prod\n')).stderr).toMatch(/choose one of prod, down/);
    expect((await changegate(['audit', 'rules', 'promote', 'WatchWeb', '--url', otherUrl, '--token-stdin'], 2, 'cg_of-prod\n')).stderr).toMatch(/required option '--target <name>'/);
    expect(imported).toHaveLength(1);

    // Refusals say why, with the exit code 1.
    expect((await changegate(['audit', 'rules', 'disable', 'AUDIT_RULES'], 1)).stderr).toMatch(/nobody can escape auditing/);
    expect((await changegate(['audit', 'trail', 'u:', 'admin'], 1)).stderr).toMatch(/column 3/);

    // Retention: a bad duration is a usage error before the server is asked; the purge says how many.
    expect((await changegate(['audit', 'purge', '--changed-before', '365'], 2)).stderr).toMatch(/ISO-8601 duration/);
    expect((await changegate(['audit', 'purge', '--changed-before', 'P365D'])).stdout).toMatch(/^Purged 0 audit entries written before \d{4}-\d{2}-\d{2}T/);
  });
});
