import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/config.ts';
import { loadLogSigningKey, logOrigin } from './log-signing-key.ts';
import { encodePrivateKey, generateSigningKey, parseVerifierKey, signNote, verifyNote } from './signed-note.ts';

describe('the log signing key', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-logkey-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const configOf = (env: Record<string, string>) => loadConfig({ env });

  it('takes its origin from CHANGEGATE_LOG_ORIGIN, else the public URL without scheme', () => {
    expect(logOrigin(configOf({}))).toBe('localhost:8080');
    expect(logOrigin(configOf({ CHANGEGATE_PUBLIC_URL: 'https://changegate.example.com/' }))).toBe('changegate.example.com');
    expect(logOrigin(configOf({ CHANGEGATE_PUBLIC_URL: 'https://example.com:8443/changegate' }))).toBe('example.com:8443/changegate');
    expect(logOrigin(configOf({ CHANGEGATE_PUBLIC_URL: 'https://changegate.example.com', CHANGEGATE_LOG_ORIGIN: 'example.com/audit-log' }))).toBe('example.com/audit-log');
  });

  it('is written to <dataDir>/log-signing.key (0600) on the first start and the same key is used on the next', async () => {
    const config = configOf({ CHANGEGATE_DATA_DIR: dataDir(), CHANGEGATE_PUBLIC_URL: 'https://changegate.example.com' });
    const first = await loadLogSigningKey(config);
    const file = path.join(config.dataDir, 'log-signing.key');
    expect(first).toMatchObject({ origin: 'changegate.example.com', file, created: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^PRIVATE\+KEY\+changegate\.example\.com\+[0-9a-f]{8}\+\S+\n$/);
    const second = await loadLogSigningKey(config);
    expect(second.created).toBe(false);
    expect(second.verifierKey).toBe(first.verifierKey);
    // What one start signed, the key printed at the next verifies.
    const note = signNote('changegate.example.com\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n', first.key);
    expect(verifyNote(note, parseVerifierKey(second.verifierKey)).verified.name).toBe('changegate.example.com');
  });

  it('comes from CHANGEGATE_LOG_SIGNING_KEY when set, and no file is written', async () => {
    const key = generateSigningKey('log.example');
    const config = configOf({ CHANGEGATE_DATA_DIR: dataDir(), CHANGEGATE_LOG_ORIGIN: 'log.example', CHANGEGATE_LOG_SIGNING_KEY: encodePrivateKey(key) });
    const loaded = await loadLogSigningKey(config);
    expect(loaded).toMatchObject({ origin: 'log.example', file: undefined, created: false });
    expect(loaded.key.publicKey.equals(key.publicKey)).toBe(true);
    expect(() => statSync(path.join(config.dataDir, 'log-signing.key'))).toThrow();
  });

  it('keeps the origin its key was made for when the public URL or port changes, refuses another origin set explicitly, and a key file that holds no key, saying what to do', async () => {
    const dir = dataDir();
    await loadLogSigningKey(configOf({ CHANGEGATE_DATA_DIR: dir, CHANGEGATE_PUBLIC_URL: 'https://old.example.com' }));
    expect((await loadLogSigningKey(configOf({ CHANGEGATE_DATA_DIR: dir, CHANGEGATE_PUBLIC_URL: 'https://new.example.com' }))).origin).toBe('old.example.com');
    expect((await loadLogSigningKey(configOf({ CHANGEGATE_DATA_DIR: dir, CHANGEGATE_HTTP_PORT: '9090' }))).origin).toBe('old.example.com');
    await expect(loadLogSigningKey(configOf({ CHANGEGATE_DATA_DIR: dir, CHANGEGATE_LOG_ORIGIN: 'new.example.com' }))).rejects.toThrow(
      /is for the origin "old\.example\.com", but CHANGEGATE_LOG_ORIGIN says "new\.example\.com".*set CHANGEGATE_LOG_ORIGIN=old\.example\.com/,
    );
    writeFileSync(path.join(dir, 'log-signing.key'), 'not a key\n');
    await expect(loadLogSigningKey(configOf({ CHANGEGATE_DATA_DIR: dir }))).rejects.toThrow(/log-signing\.key does not hold a valid log signing key: .*PRIVATE\+KEY\+/);
    await expect(loadLogSigningKey(configOf({ CHANGEGATE_DATA_DIR: dataDir(), CHANGEGATE_LOG_ORIGIN: 'has space' }))).rejects.toThrow(/without spaces/);
  });

  it('never puts any part of a mis-pasted private key into the startup error', async () => {
    const windows = (text: string) => Array.from({ length: text.length - 5 }, (_, k) => text.slice(k, k + 6));
    for (let n = 0; n < 40; n += 1) {
      const key = generateSigningKey('log.example');
      const good = encodePrivateKey(key);
      const secret = good.slice(good.lastIndexOf('+', good.length - 45) + 1);
      const seed = key.seed.toString('base64');
      const pastes = [
        `PRIVATE+KEY+${secret}`,
        secret,
        seed,
        `PRIVATE+KEY+log.example+${secret}`,
        `PRIVATE+KEY+${seed}`,
        good.replace(secret, seed),
        good.replace(/\+[0-9a-f]{8}\+/, '+00000000+'),
        `PRIVATE+KEY+log.example+${key.seed.toString('hex').slice(0, 8)}+${secret}`,
      ];
      for (const paste of pastes) {
        // In the environment (as loadConfig passes on a key of the right shape), and in the key file (which nothing checks before).
        const dir = dataDir();
        writeFileSync(path.join(dir, 'log-signing.key'), `${paste}\n`);
        const fromEnv = { ...configOf({ CHANGEGATE_DATA_DIR: dataDir() }), logSigningKey: paste };
        for (const config of [fromEnv, configOf({ CHANGEGATE_DATA_DIR: dir })]) {
          const error = await loadLogSigningKey(config).then(
            () => undefined,
            (refused: Error) => refused,
          );
          expect(error?.message).toMatch(/^(CHANGEGATE_LOG_SIGNING_KEY|.*log-signing\.key) does not hold a valid log signing key: /);
          const message = error?.message ?? '';
          const leaked = [...windows(secret), ...windows(seed), ...windows(key.seed.toString('hex'))].filter((window) => message.includes(window));
          expect(leaked, `${paste} → ${message}`).toEqual([]);
        }
      }
    }
  });
});
