import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOperator, signedInOperator, startCliServer, type CliOperator, type CliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD } from '../../test/harness.ts';
import { parseCheckpoint } from '../eventlog/checkpoint.ts';
import { parseVerifierKey, verifyNote } from '../eventlog/signed-note.ts';

// An auditor's view of the log's key and checkpoints: over HTTP and with the CLI, against a server
// listening on a loopback port.
describe.each(DATABASE_KINDS)("the log's key and checkpoints on %s", (kind) => {
  let server: CliServer;
  let admin: CliOperator;
  let bob: CliOperator;
  beforeAll(async () => {
    server = await startCliServer(kind);
    admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
    const created = await server.admin.post('/users', { username: 'bob', password: 'bob-password-123', displayName: 'Bob' });
    expect(created.status).toBe(201);
    bob = await signedInOperator(server, 'bob', 'bob-password-123');
  });
  afterAll(async () => {
    admin?.remove();
    bob?.remove();
    await server?.remove();
  });

  it('serves the public key to anyone, as JSON or as the verifier key alone, and `log key` prints it', async () => {
    const expected = server.cg.logSigningKey.verifierKey;
    const json = await fetch(`${server.url}/api/v1/log/key`);
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({ origin: 'localhost:8080', verifierKey: expected, keyId: expected.split('+')[1], algorithm: 'Ed25519' });
    const text = await fetch(`${server.url}/api/v1/log/key?format=text`);
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await text.text()).toBe(`${expected}\n`);

    // Someone who never signed in.
    const stranger = cliOperator();
    try {
      expect((await stranger.changegate(['log', 'key', '--url', server.url])).stdout).toBe(`${expected}\n`);
      expect(await stranger.json(['log', 'key', '--url', server.url, '--json'])).toMatchObject({ origin: 'localhost:8080', verifierKey: expected });
      const nowhere = await stranger.changegate(['log', 'key'], 1);
      expect(nowhere.stderr).toContain('Name the server: --url');
    } finally {
      stranger.remove();
    }
    // A signed-in user's server is the default.
    expect((await bob.changegate(['log', 'key'])).stdout).toBe(`${expected}\n`);
  });

  it('serves the latest checkpoint to EventLog.View only; `log checkpoint > cp.txt` saves the note exactly, and it verifies', async () => {
    const signed = await server.cg.checkpointPublisher.signNow();
    expect(signed).toBeDefined();
    expect((await fetch(`${server.url}/api/v1/log/checkpoint`)).status).toBe(401);
    const refused = await bob.changegate(['log', 'checkpoint'], 1);
    expect(refused.stderr).toMatch(/^error: .*EventLog\.View/);
    expect(refused.stdout).toBe('');

    const served = await server.admin.get('/log/checkpoint');
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(served.body).toBe(signed?.note);

    const saved = (await admin.changegate(['log', 'checkpoint'])).stdout;
    expect(saved).toBe(signed?.note);
    const key = parseVerifierKey((await admin.changegate(['log', 'key'])).stdout);
    const checkpoint = parseCheckpoint(verifyNote(saved, key).text);
    expect(checkpoint).toMatchObject({ origin: 'localhost:8080', size: signed?.size });

    const described = await admin.json<Record<string, unknown>>(['log', 'checkpoint', '--json']);
    expect(described).toEqual({
      origin: 'localhost:8080',
      size: signed?.size,
      rootHash: checkpoint.rootHash.toString('base64'),
      keyId: key.keyId.toString(16).padStart(8, '0'),
      createdAt: server.clock.now().toISOString(),
      note: saved,
      cosignatures: [],
    });
  });

  it('refuses an unknown format with a clear 400', async () => {
    const answer = await server.admin.get('/log/checkpoint?format=xml');
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
  });
});
