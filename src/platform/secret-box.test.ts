import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateKeyFile, parseMasterKey, SecretBox } from './secret-box.ts';

describe('the secret box', () => {
  const box = new SecretBox([Buffer.alloc(32, 7)]);

  it('opens what it sealed, and the sealed text does not contain the secret', () => {
    const sealed = box.seal('JBSWY3DPEHPK3PXP', 'totp:user-1');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(sealed.startsWith(`v1.${box.currentKeyId}.`)).toBe(true);
    expect(box.open(sealed, 'totp:user-1')).toBe('JBSWY3DPEHPK3PXP');
  });

  it('refuses a ciphertext moved to another record or altered', () => {
    const sealed = box.seal('secret', 'totp:user-1');
    expect(() => box.open(sealed, 'totp:user-2')).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join('.'), 'totp:user-1')).toThrow();
  });

  it('refuses a ciphertext sealed under a key it does not hold, naming the key', () => {
    const other = new SecretBox([Buffer.alloc(32, 9)]);
    expect(() => box.open(other.seal('x', 'c'), 'c')).toThrow(other.currentKeyId);
  });

  it('opens values sealed under an older key of its ring, and seals under the first', () => {
    const old = new SecretBox([Buffer.alloc(32, 7)]);
    const ring = new SecretBox([Buffer.alloc(32, 8), Buffer.alloc(32, 7)]);
    const sealed = old.seal('s', 'c');
    expect(ring.open(sealed, 'c')).toBe('s');
    expect(SecretBox.keyIdOf(ring.seal('s', 'c'))).toBe(ring.currentKeyId);
    expect(ring.currentKeyId).not.toBe(old.currentKeyId);
  });

  it('reads master keys as hex or base64 and nothing else', () => {
    expect(parseMasterKey('ab'.repeat(32))?.length).toBe(32);
    expect(parseMasterKey(Buffer.alloc(32, 1).toString('base64'))?.length).toBe(32);
    expect(parseMasterKey('too short')).toBeUndefined();
  });

  it('creates the key file once, readable by its owner only, and reads it back', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'changegate-key-')), 'master.key');
    const first = await loadOrCreateKeyFile(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateKeyFile(file);
    expect(second.created).toBe(false);
    expect(second.keys[0]?.equals(first.keys[0] as Buffer)).toBe(true);
  });
});
