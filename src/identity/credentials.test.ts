import { describe, expect, it } from 'vitest';
import { withProductionPasswordCost } from '../../test/password-cost.ts';
import { hashPassword, passwordProblem, verifyPassword } from './password.ts';
import { parseSshPublicKey } from './ssh-key.ts';
import { totpCode, verifyTotp, newTotpSecret } from './totp.ts';

describe('passwords', () => {
  withProductionPasswordCost();

  it('hash with scrypt and a fresh salt each time, and verify only the right password', async () => {
    const first = await hashPassword('correct horse battery');
    const second = await hashPassword('correct horse battery');
    expect(first).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword('correct horse battery', first)).toBe(true);
    expect(await verifyPassword('correct horse batterY', first)).toBe(false);
  });

  it('must be at least 12 characters', () => {
    expect(passwordProblem('short')).toMatch(/at least 12/);
    expect(passwordProblem('long enough password')).toBeUndefined();
  });
});

describe('TOTP (RFC 6238)', () => {
  it('matches the RFC 6238 SHA-1 test vector at T=59s', () => {
    // The RFC's key is ASCII "12345678901234567890"; its 8-digit code is 94287082, the 6-digit one 287082.
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(totpCode(secret, new Date(59_000))).toBe('287082');
  });

  it('accepts one step of drift and no more', () => {
    const secret = newTotpSecret();
    const now = new Date('2026-11-21T12:00:00Z');
    const earlier = totpCode(secret, new Date(now.getTime() - 30_000));
    const muchEarlier = totpCode(secret, new Date(now.getTime() - 120_000));
    expect(verifyTotp(secret, earlier, now)).toBeDefined();
    expect(verifyTotp(secret, muchEarlier, now)).toBeUndefined();
  });
});

describe('SSH public keys', () => {
  // An ed25519 key blob: string "ssh-ed25519" then 32 key bytes.
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 5)]);
  const line = `ssh-ed25519 ${blob.toString('base64')} alice@laptop`;

  it('parses a key line and computes the SHA256 fingerprint as ssh-keygen prints it', async () => {
    const parsed = parseSshPublicKey(line);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const { createHash } = await import('node:crypto');
    expect(parsed.key.fingerprint).toBe(`SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`);
    expect(parsed.key.comment).toBe('alice@laptop');
  });

  it('refuses a key whose content names another algorithm, or an unknown algorithm', () => {
    expect(parseSshPublicKey(`ssh-rsa ${blob.toString('base64')}`)).toMatchObject({ ok: false });
    expect(parseSshPublicKey(`ssh-dss ${blob.toString('base64')}`)).toMatchObject({ ok: false, problem: expect.stringMatching(/not accepted/) });
    expect(parseSshPublicKey('hello')).toMatchObject({ ok: false });
  });
});
