import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { addDevice, addOpenChange, approvedRequest, keyPair, ssh, Terminal, waitUntil } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { startSshd, type TestSshd } from '../../test/sshd.ts';
import type { Started } from '../changegate.ts';

/**
 * Account takeover and security changes seen from the SSH gateway, with real OpenSSH clients and a
 * real sshd behind it: a key a user administrator may not add never signs anyone in, and disabling
 * a user or removing their key ends their running sessions and the connections they came through.
 */
describe.each(DATABASE_KINDS)('security changes reach the gateway on %s', (kind) => {
  let dir: string;
  let t: TestChangegate;
  let sshd: TestSshd;
  let started: Started;
  let aliceKey: { file: string; publicKey: string };
  const children: ChildProcess[] = [];
  const terminals: Terminal[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-takeover-'));
    const rootKey = keyPair(dir, 'device_root');
    sshd = await startSshd({ authorizedKeys: [rootKey.publicKey] });
    t = await startTestChangegate(kind, { CHANGEGATE_SSH_PORT: '0', CHANGEGATE_HTTP_HOST: '127.0.0.1' }, { sessionTiming: { decisionPollMs: 200 } });
    started = await t.cg.startBackground();
    aliceKey = keyPair(dir, 'alice');
    const alice = await buildUser(t, { username: 'alice' });
    const carol = await buildUser(t, { username: 'carol' });
    expect((await alice.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey })).status).toBe(201);
    await addDevice(t.admin, 'web01', sshd, rootKey.privateKey);
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(alice.client, carol.client, 'web01');
  });

  afterAll(async () => {
    for (const terminal of terminals) terminal.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await t?.close();
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never signs in with a key an Access-level User.Admin tried to add for an executor', async () => {
    const helpdesk = await buildUser(t, { grants: [{ privilege: 'User.Admin' }] });
    const planted = keyPair(dir, 'planted');
    const refused = await helpdesk.client.post('/users/alice/ssh-keys', { name: 'planted', publicKey: planted.publicKey });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'more_privileged_user']);

    const attempt = await ssh(started.sshPort, 'alice@web01', 'echo taken-over', { key: planted.file });
    expect(attempt.code).toBe(255);
    expect(attempt.stdout).not.toContain('taken-over');
    expect(attempt.stderr).toMatch(/Permission denied/);
    const failures = (await t.admin.get('/events?action=auth.login.failure&subject=user:alice')).body as Array<{ data: Record<string, unknown> }>;
    expect(failures.map((event) => event.data.reason)).toEqual(['unknown_key']);
    // Alice's own key still works.
    const own = await ssh(started.sshPort, 'alice@web01', 'echo still-alice', { key: aliceKey.file });
    expect(own.stdout).toBe('still-alice\n');
  });

  it('disabling ends the live session, telling the user why, and the connection opens no more; re-enabling brings none back', async () => {
    // A multiplexing master: one signed-in SSH connection that later `ssh -S` calls open sessions on.
    const socket = path.join(dir, 'mux.sock');
    const master = spawn('ssh', ['-N', '-M', '-S', socket, '-p', String(started.sshPort), '-i', aliceKey.file, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', 'alice@web01@127.0.0.1']);
    children.push(master);
    await waitUntil(async () => (existsSync(socket) ? true : undefined), 'the multiplexing socket');
    const viaMaster = (command: string) => ssh(started.sshPort, 'alice@web01', command, { sshOptions: ['-S', socket, '-o', 'ControlMaster=no'] });
    expect((await viaMaster('echo before')).stdout).toBe('before\n');

    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    terminals.push(terminal);
    await terminal.waitFor(/[#$] $/m);
    const live = await waitUntil(async () => (await t.admin.get('/sessions?live=true&user=alice')).body[0], 'the live session');

    expect((await t.admin.post('/users/alice/disable')).status).toBe(200);
    await terminal.waitFor('the session was terminated by admin: your account was disabled');
    await terminal.exited;
    const record = await waitUntil(async () => {
      const row = (await t.admin.get(`/sessions?user=alice&live=false`)).body.find((session: { number: number }) => session.number === live.number);
      return row?.endReason ? row : undefined;
    }, 'the session record to close');
    expect(record).toMatchObject({ endReason: 'terminated', endedBy: 'admin', live: false });

    const after = await viaMaster('echo after-disable');
    expect(after.stdout).not.toContain('after-disable');
    expect(after.stderr).toContain('your sign-in is no longer valid');

    expect((await t.admin.post('/users/alice/enable')).status).toBe(200);
    const reused = await viaMaster('echo after-enable');
    expect(reused.stdout).not.toContain('after-enable');
    expect(reused.stderr).toContain('your sign-in is no longer valid');
    // A new sign-in works again: her key was never removed.
    expect((await ssh(started.sshPort, 'alice@web01', 'echo signed-in-anew', { key: aliceKey.file })).stdout).toBe('signed-in-anew\n');
  });

  it('an administrator removing the key ends the session it may have opened, and the key signs in no more', async () => {
    const terminal = new Terminal(started.sshPort, 'alice@web01', aliceKey.file);
    terminals.push(terminal);
    await terminal.waitFor(/[#$] $/m);
    await waitUntil(async () => (await t.admin.get('/sessions?live=true&user=alice')).body[0], 'the live session');
    const keys = (await t.admin.get('/users/alice/ssh-keys')).body as Array<{ id: string }>;
    expect((await t.admin.delete(`/users/alice/ssh-keys/${keys[0]?.id}`)).status).toBe(204);
    await terminal.waitFor('the session was terminated by admin: an administrator removed one of your SSH keys');
    await terminal.exited;
    const attempt = await ssh(started.sshPort, 'alice@web01', 'echo removed', { key: aliceKey.file });
    expect(attempt.code).toBe(255);
    expect(attempt.stdout).not.toContain('removed');
  });
});
