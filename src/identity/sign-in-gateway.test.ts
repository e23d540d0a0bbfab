import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPair } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import type { Started } from '../changegate.ts';
import { totpCode } from './totp.ts';

const run = promisify(execFile);
// A user with TOTP at an address where they are locked spends two attempts (the first, the password
// alone, fails): room for a lock, two tries without the code and the user's own.
const PER_ADDRESS = 6;
const THRESHOLD = 2;

interface Attempt {
  readonly signedIn: boolean;
  /** What keyboard-interactive showed: its instructions and prompts, in order (ssh2 shows no request without prompts). */
  readonly shown: string[];
}

/**
 * One SSH sign-in at the gateway with ssh2's client, from a loopback address of our choice:
 * keyboard-interactive answering each prompt in turn (and hanging up when out of answers), or a
 * public key. Ends once signed in.
 */
function sshSignIn(port: number, login: string, from: string, way: { answers: readonly string[] } | { privateKey: string }): Promise<Attempt> {
  return new Promise((resolve) => {
    const shown: string[] = [];
    const client = new ssh2.Client();
    let answered = 0;
    client.on('keyboard-interactive', (_name, instructions, _lang, prompts, finish) => {
      if (instructions) shown.push(instructions);
      shown.push(...prompts.map((prompt) => prompt.prompt));
      const answers = 'answers' in way ? way.answers.slice(answered, answered + prompts.length) : [];
      answered += prompts.length;
      if (answers.length < prompts.length) {
        client.end();
        resolve({ signedIn: false, shown });
        return;
      }
      finish(answers);
    });
    client.on('ready', () => {
      client.end();
      resolve({ signedIn: true, shown });
    });
    client.on('error', () => resolve({ signedIn: false, shown }));
    client.connect({
      host: '127.0.0.1',
      port,
      localAddress: from,
      username: login,
      ...('answers' in way ? { tryKeyboard: true, authHandler: ['keyboard-interactive'] } : { privateKey: way.privateKey, authHandler: ['publickey'] }),
    });
  });
}

describe('sign-in rate limits and lockout at the SSH gateway', () => {
  let dir: string;
  let t: TestChangegate;
  let started: Started;
  let alice: { username: string; password: string };
  let aliceKey: { file: string; privateKey: string; publicKey: string };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-signin-'));
    t = await startTestChangegate('pglite', {
      CHANGEGATE_SSH_PORT: '0',
      CHANGEGATE_HTTP_HOST: '127.0.0.1',
      CHANGEGATE_SIGNIN_LIMIT_PER_ADDRESS: String(PER_ADDRESS),
      CHANGEGATE_LOCKOUT_THRESHOLD: String(THRESHOLD),
    });
    started = await t.cg.startBackground();
    const user = await buildUser(t, { username: 'alice' });
    alice = user;
    aliceKey = keyPair(dir, 'alice');
    expect((await user.client.post('/me/ssh-keys', { name: 'laptop', publicKey: aliceKey.publicKey })).status).toBe(201);
  });

  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const failuresFrom = async (address: string) =>
    ((await t.admin.get('/events?limit=1000&action=auth.login.failure')).body as Array<{ data: { sourceIp: string; reason: string } }>).filter(
      (event) => event.data.sourceIp === address,
    );

  it('refuses password sign-ins beyond the limit, telling the user why, while the user from another address signs in', async () => {
    // Unknown names: no lockout, only the rate limit.
    for (let k = 0; k < PER_ADDRESS; k += 1) {
      const guess = await sshSignIn(started.sshPort, `nobody${k}@web01`, '127.0.0.1', { answers: ['guessing-a-password'] });
      expect(guess).toEqual({ signedIn: false, shown: [`Sign in as nobody${k}`, 'Password: '] });
    }
    // Beyond the limit, even the right password (what the user is told is below, through OpenSSH).
    expect(await sshSignIn(started.sshPort, 'alice@web01', '127.0.0.1', { answers: [alice.password] })).toEqual({ signedIn: false, shown: ['Sign in as alice', 'Password: '] });
    // A key is refused alike from that address.
    expect((await sshSignIn(started.sshPort, 'alice@web01', '127.0.0.1', { privateKey: aliceKey.privateKey })).signedIn).toBe(false);

    // What OpenSSH's own client shows (at its default log level).
    const askpass = path.join(dir, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\necho '${alice.password}'\n`);
    chmodSync(askpass, 0o755);
    const openssh = await run(
      'ssh',
      ['-p', String(started.sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1', 'alice@web01@127.0.0.1', 'true'],
      { env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: 'none' }, timeout: 30_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
    );
    expect(openssh.code).toBe(255);
    expect(openssh.stderr).toMatch(/Changegate: Too many failed sign-ins from your address: wait \d+ s before trying again\./);
    expect(openssh.stderr).toMatch(/Permission denied/);

    // The user from another address signs in, with password or key.
    expect((await sshSignIn(started.sshPort, 'alice@web01', '127.0.0.2', { answers: [alice.password] })).signedIn).toBe(true);
    expect((await sshSignIn(started.sshPort, 'alice@web01', '127.0.0.2', { privateKey: aliceKey.privateKey })).signedIn).toBe(true);
    // The refused attempts ran no password check: the failures logged from the flooding address are the limit's.
    expect(await failuresFrom('127.0.0.1')).toHaveLength(PER_ADDRESS);
  });

  it('counts a wrong key as a failure, and not the client asking whether a key would do', async () => {
    const stranger = keyPair(dir, 'stranger');
    const from = '127.0.0.3';
    for (let k = 0; k < PER_ADDRESS - 1; k += 1) {
      expect((await sshSignIn(started.sshPort, 'alice@web01', from, { privateKey: stranger.privateKey })).signedIn).toBe(false);
    }
    // Each connection asked about its key before signing with it; only the signed attempts counted.
    expect((await sshSignIn(started.sshPort, 'alice@web01', from, { privateKey: aliceKey.privateKey })).signedIn).toBe(true);
    expect((await sshSignIn(started.sshPort, 'alice@web01', from, { privateKey: stranger.privateKey })).signedIn).toBe(false);
    expect((await sshSignIn(started.sshPort, 'alice@web01', from, { privateKey: aliceKey.privateKey })).signedIn).toBe(false);
    expect((await failuresFrom(from)).map((event) => event.data.reason)).toEqual(Array<string>(PER_ADDRESS).fill('unknown_key'));
  });

  it('a user with TOTP, locked at an address, signs in there with password and code; without the code it is refused, whatever the password', async () => {
    // A new window: the first test used up 127.0.0.1's attempts, and the test client signs in from there.
    t.clock.advance(60_000);
    const carol = await buildUser(t, { username: 'carol' });
    const begun = await carol.client.post('/me/totp');
    expect((await carol.client.post('/me/totp/confirm', { code: totpCode(begun.body.secret, t.clock.now()) })).status).toBe(204);
    t.clock.advance(30_000);
    const from = '127.0.0.4';
    for (let k = 0; k < THRESHOLD; k += 1) expect((await sshSignIn(started.sshPort, 'carol@web01', from, { answers: ['guessing-a-password'] })).signedIn).toBe(false);
    const lockout = (await t.admin.get('/events?action=auth.lockout&subject=user:carol')).body;
    expect(lockout.map((event: { data: { sourceIp: string } }) => event.data.sourceIp)).toEqual([from]);
    // At the locked address the gateway asks for the code whether or not the password was right: the answer tells nothing.
    const asked = ['Sign in as carol', 'Password: ', 'Sign in as carol', 'Verification code: '];
    expect(await sshSignIn(started.sshPort, 'carol@web01', from, { answers: [carol.password] })).toEqual({ signedIn: false, shown: asked });
    expect(await sshSignIn(started.sshPort, 'carol@web01', from, { answers: ['guessing-a-password'] })).toEqual({ signedIn: false, shown: asked });
    const code = totpCode(begun.body.secret, t.clock.now());
    const both = await sshSignIn(started.sshPort, 'carol@web01', from, { answers: [carol.password, code] });
    expect(both).toEqual({ signedIn: true, shown: asked });
  });

  it('at a locked address the prompts are the same whether or not the account has TOTP: they do not tell', async () => {
    const dave = await buildUser(t, { username: 'dave' });
    const from = '127.0.0.5';
    for (let k = 0; k < THRESHOLD; k += 1) expect((await sshSignIn(started.sshPort, 'dave@web01', from, { answers: ['guessing-a-password'] })).signedIn).toBe(false);
    // Dave has no TOTP; the gateway asks for a code all the same, as it does for carol above.
    const asked = ['Sign in as dave', 'Password: ', 'Sign in as dave', 'Verification code: '];
    expect(await sshSignIn(started.sshPort, 'dave@web01', from, { answers: [dave.password] })).toEqual({ signedIn: false, shown: asked });
    // With any code the answer is the lock.
    expect(await sshSignIn(started.sshPort, 'dave@web01', from, { answers: [dave.password, '123456'] })).toEqual({ signedIn: false, shown: asked });
    expect((await failuresFrom(from)).map((event) => event.data.reason)).toEqual(['bad_password', 'bad_password', 'locked', 'locked', 'locked']);
    // From another address, the password alone signs dave in, without a code.
    expect(await sshSignIn(started.sshPort, 'dave@web01', '127.0.0.6', { answers: [dave.password] })).toEqual({ signedIn: true, shown: ['Sign in as dave', 'Password: '] });
  });
});
