import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has defaults that run the embedded database in ./data on port 8080', () => {
    const config = loadConfig({ env: {} });
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.databaseUrl).toBeUndefined();
    expect(config.httpPort).toBe(8080);
    expect(config.sshPort).toBe(2222);
    expect(config.cookieSecure).toBe(true);
  });

  it('names every bad setting and says what is allowed', () => {
    const problems = problemsOf(() =>
      loadConfig({ env: { CHANGEGATE_HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x', CHANGEGATE_LOG_LEVEL: 'loud' } }),
    );
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/CHANGEGATE_HTTP_PORT = "eighty" is not valid: expected a port number from 0 to 65535/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL .* expected a PostgreSQL URL/);
    expect(problems.join('\n')).toMatch(/CHANGEGATE_LOG_LEVEL .* expected one of fatal, error, warn, info, debug, trace, silent/);
  });

  it('reads promotion targets as name=URL pairs and webhook exceptions as CIDRs', () => {
    const config = loadConfig({
      env: { CHANGEGATE_PROMOTE_TARGETS: 'prod=https://cg.prod.example.com/, staging=http://10.1.2.3:8080', CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/32, fd00::/8' },
    });
    expect(config.promoteTargets).toEqual([
      { name: 'prod', url: 'https://cg.prod.example.com' },
      { name: 'staging', url: 'http://10.1.2.3:8080' },
    ]);
    expect(config.webhookAllow).toEqual(['127.0.0.1/32', 'fd00::/8']);
    expect(loadConfig({ env: {} }).promoteTargets).toEqual([]);
    const problems = problemsOf(() =>
      loadConfig({ env: { CHANGEGATE_PROMOTE_TARGETS: 'prod=https://a.example, prod=https://b.example', CHANGEGATE_WEBHOOK_ALLOW: '127.0.0.1/33' } }),
    );
    expect(problems.join('\n')).toMatch(/CHANGEGATE_PROMOTE_TARGETS .* "prod" is named twice/);
    expect(problems.join('\n')).toMatch(/CHANGEGATE_WEBHOOK_ALLOW .* "127.0.0.1\/33" is not a CIDR/);
    expect(problemsOf(() => loadConfig({ env: { CHANGEGATE_PROMOTE_TARGETS: 'prod=https://user:pw@a.example' } })).join('\n')).toMatch(/without credentials/);
  });

  it('reads witnesses as name=URL=key, a URL alone meaning a witness only published to', () => {
    const key = 'witness.example/w1+002a8886+BBBE7APUMdhZKSlbRAQYjcDziuhYTn3IIx7kbTyfQ9yG';
    const config = loadConfig({ env: { CHANGEGATE_WITNESSES: `w1=https://w1.example/add-checkpoint=${key}, w2=http://10.0.0.9:8080/` } });
    expect(config.witnesses).toEqual([
      { name: 'w1', url: 'https://w1.example/add-checkpoint', verifierKey: key },
      { name: 'w2', url: 'http://10.0.0.9:8080' },
    ]);
    expect(problemsOf(() => loadConfig({ env: { CHANGEGATE_WITNESSES: 'w1=https://w1.example=not a key' } })).join('\n')).toMatch(
      /CHANGEGATE_WITNESSES = .* the key of "w1" \(after its URL and "="\) must be the witness's verifier key, <name>\+<key ID>\+<base64 key>/,
    );
    expect(problemsOf(() => loadConfig({ env: { CHANGEGATE_WITNESSES: `w1=https://a.example=${key},w1=https://b.example` } })).join('\n')).toMatch(/"w1" is named twice/);
    expect(problemsOf(() => loadConfig({ env: { CHANGEGATE_WITNESSES: `w1=ftp://a.example=${key}` } })).join('\n')).toMatch(/must be an http:\/\/ or https:\/\/ base URL/);
  });

  it('never repeats a secret in its complaint', () => {
    const problems = problemsOf(() => loadConfig({ env: { CHANGEGATE_MASTER_KEY: 'hunter2-not-a-key', CHANGEGATE_ADMIN_PASSWORD: 'short' } }));
    expect(problems.join('\n')).not.toContain('hunter2');
    expect(problems.join('\n')).not.toContain('short"');
    expect(problems.join('\n')).toContain('CHANGEGATE_MASTER_KEY = (hidden)');
  });

  it('reads a config file, lets the environment override it and command-line options override both', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-config-'));
    const file = path.join(dir, 'changegate.json');
    writeFileSync(file, JSON.stringify({ httpPort: 9000, sshPort: 2200, dataDir: dir }));
    expect(loadConfig({ env: {}, file })).toMatchObject({ httpPort: 9000, sshPort: 2200, dataDir: dir });
    expect(loadConfig({ env: { CHANGEGATE_HTTP_PORT: '9100' }, file }).httpPort).toBe(9100);
    expect(loadConfig({ env: { CHANGEGATE_HTTP_PORT: '9100' }, file, overrides: { httpPort: '9200' } }).httpPort).toBe(9200);
  });

  it('refuses an unknown key in the config file and names the known ones', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-config-'));
    const file = path.join(dir, 'changegate.json');
    writeFileSync(file, JSON.stringify({ httpPrt: 9000 }));
    expect(problemsOf(() => loadConfig({ env: {}, file })).join('\n')).toMatch(/"httpPrt" is not a setting; known settings are dataDir, /);
  });

  it('says when the config file is not JSON', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-config-'));
    const file = path.join(dir, 'changegate.json');
    writeFileSync(file, 'httpPort = 9000');
    expect(problemsOf(() => loadConfig({ env: {}, file })).join('\n')).toMatch(/cannot be read/);
  });
});
