import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { normalizeServerUrl } from './api-client.ts';
import { configDirectory, loginFile, readLogin, removeLogin, writeLogin, type StoredLogin } from './login-store.ts';

const LOGIN: StoredLogin = {
  url: 'https://changegate.example.com',
  username: 'alice',
  token: 'cg_secret',
  tokenId: '00000000-0000-4000-8000-000000000000',
  tokenName: 'changegate CLI on test',
  expiresAt: null,
  signedInAt: '2026-11-21T12:00:00.000Z',
};

describe('the stored login', () => {
  const dirs: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-login-store-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('lives in $XDG_CONFIG_HOME/changegate, else ~/.config/changegate (a relative XDG_CONFIG_HOME is ignored, as the spec says)', () => {
    expect(configDirectory({ XDG_CONFIG_HOME: '/etc/xdg-alice', HOME: '/home/alice' })).toBe('/etc/xdg-alice/changegate');
    expect(configDirectory({ HOME: '/home/alice' })).toBe('/home/alice/.config/changegate');
    expect(configDirectory({ XDG_CONFIG_HOME: 'relative', HOME: '/home/alice' })).toBe('/home/alice/.config/changegate');
    expect(loginFile({ HOME: '/home/alice' })).toBe('/home/alice/.config/changegate/login.json');
  });

  it('is written 0600 in a 0700 directory, tightening what was there, and read back; removed on logout', async () => {
    const home = scratch();
    const env = { XDG_CONFIG_HOME: home };
    const dir = path.join(home, 'changegate');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(path.join(dir, 'login.json'), '{}', { mode: 0o644 });
    chmodSync(dir, 0o755);
    const file = await writeLogin(env, LOGIN);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(await readLogin(env)).toEqual(LOGIN);
    expect(await removeLogin(env)).toBe(true);
    expect(await readLogin(env)).toBeUndefined();
    expect(await removeLogin(env)).toBe(false);
  });

  it('a damaged file says to sign in again', async () => {
    const home = scratch();
    mkdirSync(path.join(home, 'changegate'));
    writeFileSync(path.join(home, 'changegate', 'login.json'), '{"url": 1');
    await expect(readLogin({ XDG_CONFIG_HOME: home })).rejects.toThrow(/is damaged: sign in again with `changegate login <URL>`/);
  });
});

describe('the server address', () => {
  it('is taken as people write it, and refused when it is no http(s) URL', () => {
    expect(normalizeServerUrl('https://changegate.example.com/')).toBe('https://changegate.example.com');
    expect(normalizeServerUrl('http://localhost:8080/api/v1/')).toBe('http://localhost:8080');
    expect(normalizeServerUrl('https://example.com/changegate')).toBe('https://example.com/changegate');
    expect(() => normalizeServerUrl('localhost:8080')).toThrow(/not an http:\/\/ or https:\/\/ address/);
    expect(() => normalizeServerUrl('not a url')).toThrow(/is not a URL/);
  });
});
