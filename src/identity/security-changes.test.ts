import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { newPublicKey } from '../../test/gateway-kit.ts';
import { buildUser, signIn, startTestChangegate, TestClient, type TestChangegate } from '../../test/harness.ts';


describe.each(DATABASE_KINDS)('a security change takes effect at once on %s', (kind) => {
  let t: TestChangegate;
  beforeAll(async () => {
    t = await startTestChangegate(kind);
  });
  afterAll(() => t.close());

  /** A user signed in twice on the web, with an API token in use. */
  async function signedInEverywhere() {
    const user = await buildUser(t);
    const secondBrowser = await signIn(t.cg, user.username, user.password);
    const created = await user.client.post('/tokens', { name: 'script' });
    const token = new TestClient(t.cg, { bearer: created.body.token });
    for (const client of [user.client, secondBrowser, token]) expect((await client.get('/me')).status).toBe(200);
    return { ...user, secondBrowser, token, tokenId: created.body.id as string };
  }

  const revocations = async (username: string) =>
    ((await t.admin.get(`/events?action=auth.revoke&subject=user:${username}`)).body as Array<{ actor: string; data: Record<string, unknown> }>).map((event) => ({
      actor: event.actor,
      cause: event.data.cause,
      webSessions: event.data.webSessions,
      apiTokens: (event.data.apiTokens as unknown[]).length,
    }));

  it('disabling ends every web session and revokes every token; enabling again brings none back', async () => {
    const user = await signedInEverywhere();
    expect((await t.admin.post(`/users/${user.username}/disable`)).status).toBe(200);
    for (const client of [user.client, user.secondBrowser, user.token]) {
      const answer = await client.get('/me');
      expect([answer.status, answer.body.error.code]).toEqual([401, 'unauthenticated']);
    }
    expect((await t.admin.post(`/users/${user.username}/enable`)).status).toBe(200);
    expect((await user.token.get('/me')).status).toBe(401);
    expect((await user.client.get('/me')).status).toBe(401);
    const fresh = await signIn(t.cg, user.username, user.password);
    const tokens = (await fresh.get('/tokens')).body as Array<{ id: string; revokedAt: string | null }>;
    expect(tokens).toEqual([expect.objectContaining({ id: user.tokenId, revokedAt: expect.any(String) })]);
    expect(await revocations(user.username)).toEqual([{ actor: 'admin', cause: 'user.disable', webSessions: 2, apiTokens: 1 }]);
  });

  it.each([
    ['resetting the password', 'POST', '/password', { password: 'reset-by-the-administrator' }, 'user.password.reset'],
    ['resetting TOTP', 'DELETE', '/totp', undefined, 'user.totp.reset'],
  ] as const)('%s ends every web session and revokes every token', async (_label, method, suffix, body, cause) => {
    const user = await signedInEverywhere();
    expect((await t.admin.request(method, `/api/v1/users/${user.username}${suffix}`, body)).status).toBe(204);
    for (const client of [user.client, user.secondBrowser, user.token]) expect((await client.get('/me')).status).toBe(401);
    expect(await revocations(user.username)).toEqual([{ actor: 'admin', cause, webSessions: 2, apiTokens: 1 }]);
  });

  it('an administrator removing an SSH key ends every web session and revokes every token', async () => {
    const user = await signedInEverywhere();
    const key = await user.client.post('/me/ssh-keys', { name: 'laptop', publicKey: newPublicKey('laptop') });
    expect((await t.admin.delete(`/users/${user.username}/ssh-keys/${key.body.id}`)).status).toBe(204);
    for (const client of [user.client, user.secondBrowser, user.token]) expect((await client.get('/me')).status).toBe(401);
    expect(await revocations(user.username)).toEqual([{ actor: 'admin', cause: 'user.sshkey.remove', webSessions: 2, apiTokens: 1 }]);
  });

  it('a user removing their own SSH key keeps the session they do it from; the other session and the token end', async () => {
    const user = await signedInEverywhere();
    const key = await user.client.post('/me/ssh-keys', { name: 'old laptop', publicKey: newPublicKey('old') });
    expect((await user.client.delete(`/me/ssh-keys/${key.body.id}`)).status).toBe(204);
    expect((await user.client.get('/me')).status).toBe(200);
    expect((await user.secondBrowser.get('/me')).status).toBe(401);
    expect((await user.token.get('/me')).status).toBe(401);
    expect(await revocations(user.username)).toEqual([{ actor: user.username, cause: 'user.sshkey.remove', webSessions: 1, apiTokens: 1 }]);
  });

  it('a change a user administrator is refused revokes nothing', async () => {
    const user = await signedInEverywhere();
    const helpdesk = await buildUser(t, { grants: [{ privilege: 'User.Admin' }] });
    expect((await t.admin.post('/grants', { username: user.username, privilege: 'Session.Terminate' })).status).toBe(201);
    expect((await helpdesk.client.post(`/users/${user.username}/disable`)).status).toBe(403);
    for (const client of [user.client, user.secondBrowser, user.token]) expect((await client.get('/me')).status).toBe(200);
    expect(await revocations(user.username)).toEqual([]);
  });
});
