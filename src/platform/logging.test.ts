import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangegate, type Changegate } from '../changegate.ts';
import { ManualClock } from './clock.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { ADMIN_PASSWORD, TEST_MASTER_KEY, TestClient, signIn } from '../../test/harness.ts';

describe('request logs', () => {
  const lines: string[] = [];
  let database: TestDatabase;
  let cg: Changegate;

  beforeAll(async () => {
    database = await openTestDatabase('pglite');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const config = loadConfig({
      env: { CHANGEGATE_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'changegate-log-')), CHANGEGATE_MASTER_KEY: TEST_MASTER_KEY, CHANGEGATE_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    cg = await createChangegate({ config, database, clock: new ManualClock(), logger: createLogger('trace', sink) });
  });
  afterAll(async () => {
    await cg.close();
    await database.close();
  });

  it('records requests at trace level without a password, session cookie, CSRF token or API token', async () => {
    const admin = await signIn(cg, 'admin', ADMIN_PASSWORD);
    const created = await admin.post('/tokens', { name: 'log test' });
    const script = new TestClient(cg, { bearer: created.body.token });
    expect((await script.get('/me')).status).toBe(200);
    await new TestClient(cg, undefined).post('/auth/login', { username: 'admin', password: 'wrong password here' });
    // A provider's callback carries a code and a state in its URL: never logged.
    await cg.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/callback?code=the-authorization-code&state=the-state-value&iss=x' });

    const log = lines.join('');
    expect(log).toContain('/api/v1/me');
    const credentials = admin.credentials as { cookie: string; csrf: string };
    expect(log).toContain('/api/v1/auth/oidc/callback?code=[redacted]&state=[redacted]&iss=x');
    for (const secret of [ADMIN_PASSWORD, 'wrong password here', credentials.cookie, credentials.csrf, created.body.token, 'the-authorization-code', 'the-state-value']) {
      expect(log).not.toContain(secret);
    }
  });
});
