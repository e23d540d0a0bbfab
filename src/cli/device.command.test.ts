import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliOperator, signedInOperator, startCliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { startSshd } from '../../test/sshd.ts';
import { openChangegate } from '../changegate.ts';
import { parseSshPublicKey } from '../identity/index.ts';
import { type Actor } from '../access/index.ts';
import { findCredential } from '../inventory/credential.store.ts';
import { loadConfig } from '../platform/config.ts';
import { parseMasterKeys, SecretBox } from '../platform/secret-box.ts';
import { localOperator } from './open-changegate.ts';

/** A fresh ed25519 public key line, for a host key the device does not have. */
function otherHostKey(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
    return readFileSync(path.join(dir, 'id.pub'), 'utf8').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fingerprintOf = (line: string): string => {
  const parsed = parseSshPublicKey(line);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.key.fingerprint;
};

const keyFileIds = (file: string): string[] => (parseMasterKeys(readFileSync(file, 'utf8')) ?? []).map((key) => new SecretBox([key]).currentKeyId);

describe.each(DATABASE_KINDS)('devices, the vault and its rotation on %s', (kind) => {
  // One operator's session against a server with a master key file and a real sshd. The rotation
  // opens the database itself: beside the server on PostgreSQL, once it stopped on PGlite.
  it('pins and checks host keys, vaults a secret that no output shows, and rotates the master key', { timeout: 120_000 }, async ({ onTestFinished }) => {
    const sshd = await startSshd();
    onTestFinished(() => sshd.stop());
    const server = await startCliServer(kind, { CHANGEGATE_MASTER_KEY: '' }, { onDisk: true });
    onTestFinished(() => server.remove());
    const admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
    onTestFinished(() => admin.remove());
    const outputs: string[] = [];
    const changegate = async (args: readonly string[], expectedCode = 0, input?: string) => {
      const result = await admin.changegate(args, expectedCode, input);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    const json = async <T>(args: readonly string[]): Promise<T> => JSON.parse((await changegate(args)).stdout) as T;
    const keyFile = path.join(server.dataDir, 'master.key');
    const address = `127.0.0.1:${sshd.port}`;
    const fingerprint = fingerprintOf(sshd.hostKey);

    // device add.
    const added = await changegate(['device', 'add', 'web01', '--host', '127.0.0.1', '--port', String(sshd.port), '--tag', 'linux', 'web', '--description', 'Web server']);
    expect(added.stdout).toBe(`Added device web01 in partition GLOBAL (${address}).\nIts host key is not pinned yet: \`changegate device test web01\` pins the key the device shows.\n`);
    expect(keyFileIds(keyFile)).toHaveLength(1);

    // device test: the first connection pins the key, the next one finds it matches.
    expect((await changegate(['device', 'test', 'web01'])).stdout).toBe(`Host key of web01 (${address}): ${fingerprint} pinned: every later connection must present this key.\n`);
    expect((await changegate(['device', 'test', 'web01'])).stdout).toBe(`Host key of web01 (${address}): ${fingerprint} matched the pinned key.\n`);

    // device list and show.
    const list = await changegate(['device', 'list', '--tag', 'web']);
    expect(list.stdout.split('\n')).toEqual([
      expect.stringMatching(/^NAME\s+PARTITION\s+APPLICATION\s+ADDRESS\s+TAGS\s+HOST KEY$/),
      expect.stringMatching(new RegExp(`^web01\\s+GLOBAL\\s+-\\s+${address}\\s+linux,web\\s+${fingerprint.replace(/[+/]/g, '\\$&')}$`)),
      '',
    ]);
    expect(await json(['device', 'show', 'web01', '--json'])).toMatchObject({ name: 'web01', hostname: '127.0.0.1', port: sshd.port, tags: ['linux', 'web'], hostKey: sshd.hostKey, hostKeyFingerprint: fingerprint });

    // A device pinned to another key than the one it shows: exit code 1 and the service's message.
    const wrongKey = otherHostKey();
    await changegate(['device', 'add', 'web02', '--host', '127.0.0.1', '--port', String(sshd.port), '--host-key', wrongKey]);
    const mismatch = await changegate(['device', 'test', 'web02'], 1);
    expect(mismatch.stdout).toBe('');
    expect(mismatch.stderr).toMatch(new RegExp(`^error: Device web02 presented host key ${fingerprint.replace(/[+/]/g, '\\$&')}, not the pinned ${fingerprintOf(wrongKey).replace(/[+/]/g, '\\$&')}\\.`));

    // credential add reads the secret from standard input; it is sealed under the key file's key.
    const secret = 'correct horse battery staple 9f3b';
    const [firstKeyId] = keyFileIds(keyFile);
    const vaulted = await changegate(['credential', 'add', 'web01', 'root', '--password-stdin', '--description', 'break-glass account'], 0, `${secret}\n`);
    expect(vaulted.stdout).toMatch(new RegExp(`^Vaulted credential root@web01 \\([0-9a-f-]{36}\\): a password, sealed with key ${firstKeyId}\\.\\n$`));
    const credentials = await json<Array<{ id: string; sealedWithKey: string }>>(['credential', 'list', '--device', 'web01', '--json']);
    expect(credentials).toEqual([expect.objectContaining({ name: 'root@web01', account: 'root', kind: 'password', hasPassphrase: false, sealedWithKey: firstKeyId })]);
    const credentialId = credentials[0]?.id as string;
    expect(await json(['credential', 'show', 'root@web01', '--json'])).toMatchObject({ id: credentialId, description: 'break-glass account', sealedWithKey: firstKeyId });

    // A device that holds a credential is re-pinned only with the fingerprint verified out of band.
    await changegate(['device', 'edit', 'web01', '--no-host-key']);
    expect((await changegate(['device', 'test', 'web01'], 1)).stderr).toMatch(/^error: Device web01 offered host key \S+\. It holds credentials \(root@web01\), so a key is not trusted on first use/);
    expect((await changegate(['device', 'test', 'web01', '--expected-fingerprint', fingerprintOf(wrongKey)], 1)).stderr).toMatch(/^error: Device web01 offered host key \S+, not the \S+ you expected: nothing was pinned\./);
    expect((await changegate(['device', 'test', 'web01', '--expected-fingerprint', fingerprint])).stdout).toBe(
      `Host key of web01 (${address}): ${fingerprint} pinned: every later connection must present this key.\n`,
    );

    // vault rotate, run where the database and the key file are: a new key in the file, the credential re-sealed under it.
    if (kind === 'pglite') await server.stop();
    const local = cliOperator(server.settings);
    onTestFinished(() => local.remove());
    const rotated = await local.changegate(['vault', 'rotate']);
    outputs.push(rotated.stdout, rotated.stderr);
    const [newKeyId, ...others] = keyFileIds(keyFile);
    expect(others).toEqual([]);
    expect(newKeyId).not.toBe(firstKeyId);
    expect(rotated.stdout).toBe(
      [
        `Re-sealed 1 value under the new master key ${newKeyId} (credential.secret 1, credential.passphrase 0, app_user.totp_secret 0, webhook.secret 0).`,
        `${keyFile} now holds the new key alone: back it up now; without it no vaulted secret can be read.`,
        kind === 'postgres'
          ? 'Restart every server on this database now: until it restarts it holds only the old key and cannot open the re-sealed secrets.'
          : 'Start the server again to use the new key: it reads its keys at start.',
        '',
      ].join('\n'),
    );
    if (kind === 'postgres') expect(await json(['credential', 'show', 'root@web01', '--json'])).toMatchObject({ id: credentialId, description: 'break-glass account', sealedWithKey: newKeyId });
    for (const output of outputs) expect(output).not.toContain(secret);

    // Opened again with the new key file, the secret is the one vaulted, and the log names the
    // operating-system user who rotated, and the keys by id only.
    const core = await openChangegate({ config: loadConfig({ env: { ...server.settings, CHANGEGATE_LOG_LEVEL: 'silent' } }) });
    try {
      const credential = await findCredential(core.database.db, credentialId);
      expect(core.services.credentials.unsealForSession(credential as NonNullable<typeof credential>)).toEqual({ account: 'root', password: secret });
      const admin: Actor = { userId: (await core.database.db.selectFrom('app_user').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()).id, username: 'admin' };
      const events = await core.services.events.list(admin, { action: 'vault.rotate', limit: 10 });
      expect(events).toEqual([
        expect.objectContaining({
          actor: localOperator(),
          subject: 'vault:master-key',
          data: { source: 'file', newKeyId, previousKeyIds: [firstKeyId], moved: 1, movedByColumn: expect.objectContaining({ 'credential.secret': 1 }) },
        }),
      ]);
      expect(JSON.stringify(events)).not.toContain(readFileSync(keyFile, 'utf8').trim());
    } finally {
      await core.close();
    }
  });
});
