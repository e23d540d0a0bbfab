import { describe, expect, it } from 'vitest';
import { EnterGuard, MAX_HELD_BYTES, type Verdict } from './enter-guard.ts';

/** A guard whose checks answer from `verdicts` in turn, recording what reached the device and the user. */
function guarded(verdicts: Array<Verdict | Promise<Verdict>>) {
  const device: string[] = [];
  const told: string[] = [];
  let checks = 0;
  const guard = new EnterGuard({
    forward: (data) => device.push(data),
    tell: (message) => told.push(message),
    check: async () => {
      const verdict = verdicts[checks++];
      if (verdict === undefined) throw new Error('no verdict left');
      return verdict;
    },
  });
  const settled = () => new Promise((resolve) => setImmediate(resolve));
  return { guard, device, told, settled, checks: () => checks };
}

function review() {
  let answer!: (decision: { allowed: true } | { allowed: false; message: string }) => void;
  let cancelled = false;
  const verdict: Verdict = {
    action: 'review',
    message: 'the line waits for an approver (carol).',
    decision: new Promise((resolve) => (answer = resolve)),
    cancel: () => {
      cancelled = true;
      answer({ allowed: false, message: 'withdrawn' });
    },
  };
  return { verdict, answer: (allowed: boolean) => answer(allowed ? { allowed: true } : { allowed: false, message: 'carol refused the line.' }), cancelled: () => cancelled };
}

describe('EnterGuard', () => {
  it('forwards keys at once, and Enter only once the line is allowed', async () => {
    const { guard, device, settled, checks } = guarded([{ action: 'allow' }]);
    guard.input('ls -l');
    expect(device).toEqual(['ls -l']);
    guard.input('\r');
    expect(guard.holding).toBe(true);
    await settled();
    expect(device).toEqual(['ls -l', '\r']);
    expect(checks()).toBe(1);
    expect(guard.holding).toBe(false);
  });

  it('abandons a denied line with Ctrl-C and says why; what was typed after it is checked in turn', async () => {
    const { guard, device, told, settled } = guarded([{ action: 'deny', message: 'denied, rm -rf / matches "Removing from the root".' }, { action: 'allow' }]);
    guard.input('rm -rf /\recho next\r');
    await settled();
    await settled();
    expect(device).toEqual(['rm -rf /', '\x03', 'echo next', '\r']);
    expect(told).toEqual(['denied, rm -rf / matches "Removing from the root".']);
  });

  it('treats Ctrl-J, Ctrl-O, Alt-# and Ctrl-X Ctrl-E as Enter, however they are split, and checks a line break inside a paste too', async () => {
    const { guard, device, settled, checks } = guarded(Array.from({ length: 6 }, () => ({ action: 'allow' }) as const));
    guard.input('\n');
    await settled();
    guard.input('\x0f');
    await settled();
    guard.input('\x1b#');
    await settled();
    guard.input('\x18');
    guard.input('\x05');
    await settled();
    expect(checks()).toBe(4);
    // Pasted lines: each break waits for its check (bash inserts it with bracketed paste on; a shell without runs the line).
    guard.input('\x1b[200~echo a\recho b\x1b[201~');
    await settled();
    expect(checks()).toBe(5);
    expect(device).toEqual(['\n', '\x0f', '\x1b', '#', '\x18', '\x05', '\x1b[200~echo a', '\r', 'echo b\x1b[201~']);
    // An Escape long ago does not make a later # an Alt-#.
    guard.input('# a comment');
    await settled();
    expect(checks()).toBe(5);
  });

  it('checks a line break sent between paste markers, as a shell that does not read them would run it', async () => {
    const { guard, device, settled, checks } = guarded([{ action: 'deny', message: 'no' }]);
    guard.input('\x1b[200~rm -rf /srv\r\x1b[201~');
    await settled();
    expect(checks()).toBe(1);
    expect(device).toEqual(['\x1b[200~rm -rf /srv', '\x03', '\x1b[201~']);
  });

  it('holds a reviewed line and everything typed meanwhile until the approver answers', async () => {
    const pending = review();
    const { guard, device, told, settled } = guarded([pending.verdict, { action: 'allow' }]);
    guard.input('systemctl restart nginx\r');
    await settled();
    guard.input('echo typed-while-held\r');
    await settled();
    expect(device).toEqual(['systemctl restart nginx']);
    pending.answer(true);
    await settled();
    await settled();
    expect(device).toEqual(['systemctl restart nginx', '\r', 'echo typed-while-held', '\r']);
    expect(told).toEqual(['the line waits for an approver (carol).', 'an approver allowed the line; it runs now.']);
  });

  it('never runs a reviewed line the approver refused', async () => {
    const pending = review();
    const { guard, device, told, settled } = guarded([pending.verdict]);
    guard.input('reboot\r');
    await settled();
    pending.answer(false);
    await settled();
    expect(device).toEqual(['reboot', '\x03']);
    expect(told.at(-1)).toBe('carol refused the line.');
  });

  it('gives the line up on Ctrl-C while it waits, withdrawing the review and dropping what was typed meanwhile', async () => {
    const pending = review();
    const { guard, device, told, settled } = guarded([pending.verdict]);
    guard.input('reboot\r');
    await settled();
    guard.input('\r');
    guard.input('\x03');
    await settled();
    expect(pending.cancelled()).toBe(true);
    expect(device).toEqual(['reboot', '\x03']);
    expect(told.at(-1)).toBe('the line was given up; it did not run.');
  });

  it('gives the line up on Ctrl-C typed while it is still being checked, even if it is then allowed', async () => {
    let allow!: (verdict: Verdict) => void;
    const { guard, device, settled } = guarded([new Promise<Verdict>((resolve) => (allow = resolve))]);
    guard.input('rm -rf /tmp/x\r');
    guard.input('\x03');
    allow({ action: 'allow' });
    await settled();
    await settled();
    expect(device).toEqual(['rm -rf /tmp/x', '\x03']);
  });

  it('refuses the line when the check fails, and keeps at most 64 KiB typed while it is held', async () => {
    const pending = review();
    const errors: unknown[] = [];
    const device: string[] = [];
    const told: string[] = [];
    let first = true;
    const guard = new EnterGuard({
      forward: (data) => device.push(data),
      tell: (message) => told.push(message),
      check: async () => {
        if (first) {
          first = false;
          return pending.verdict;
        }
        throw new Error('database down');
      },
      onError: (error) => errors.push(error),
    });
    guard.input('make install\r');
    await new Promise((resolve) => setImmediate(resolve));
    guard.input('x'.repeat(MAX_HELD_BYTES));
    guard.input('y'.repeat(10));
    guard.input('\r');
    expect(told.filter((message) => message.includes('64 KiB'))).toHaveLength(1);
    pending.answer(true);
    for (let k = 0; k < 4; k++) await new Promise((resolve) => setImmediate(resolve));
    expect(device).toEqual(['make install', '\r', 'x'.repeat(MAX_HELD_BYTES)]);
    guard.input('\r');
    for (let k = 0; k < 4; k++) await new Promise((resolve) => setImmediate(resolve));
    expect(device.at(-1)).toBe('\x03');
    expect(errors).toHaveLength(1);
    expect(told.at(-1)).toBe('the line could not be checked, so it did not run.');
  });
});
