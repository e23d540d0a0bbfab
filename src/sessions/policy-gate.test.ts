import { describe, expect, it } from 'vitest';
import { COMMENT_AND_RUN, EDIT_AND_RUN, type Verdict } from './enter-guard.ts';
import type { LineAtEnter } from './line-reader.ts';
import { ECHO_QUIET_MS, ECHO_WAIT_MS, PolicyGate, type GateDecision, type LineEvaluation } from './policy-gate.ts';

const line = (fields: Partial<LineAtEnter>): LineAtEnter => ({ where: 'shell', text: '', before: [], fromKeystrokes: false, settled: true, ...fields });

/** Denies lines that mention rm, warns on sudo, holds systemctl. */
function evaluate(text: string): LineEvaluation {
  if (text.includes('rm ')) return { decision: 'deny', reasons: ['rm -rf /tmp/x matches "No removals"'] };
  if (text.includes('systemctl')) return { decision: 'review', reasons: ['systemctl restart nginx matches "Services"'] };
  if (text.includes('sudo')) return { decision: 'warn', reasons: ['sudo id matches "Root"'] };
  return { decision: 'allow', reasons: [] };
}

function gate(lines: LineAtEnter[], options: { review?: (decision: GateDecision) => Verdict | Promise<Verdict> } = {}) {
  const recorded: GateDecision[] = [];
  const evaluated: string[] = [];
  const quiets: Array<[number, number]> = [];
  let probes = 0;
  const subject = new PolicyGate({
    lineAtEnter: async () => lines[Math.min(probes++, lines.length - 1)] as LineAtEnter,
    quiet: async (ms, maxMs) => void quiets.push([ms, maxMs]),
    evaluate: (text) => {
      evaluated.push(text);
      return evaluate(text);
    },
    record: (decision) => recorded.push(decision),
    ...(options.review && { review: options.review }),
  });
  return { subject, recorded, evaluated, quiets };
}

describe('PolicyGate', () => {
  it('lets an allowed line run without recording it, and records a warned one that still runs, telling its user', async () => {
    const plain = gate([line({ text: 'ls -l' })]);
    expect(await plain.subject.check()).toEqual({ action: 'allow' });
    expect(plain.recorded).toEqual([]);
    const warned = gate([line({ text: 'sudo id' })]);
    expect(await warned.subject.check()).toEqual({ action: 'allow', message: 'this line runs, and the approvers are told of it: sudo id matches "Root".' });
    expect(warned.recorded).toEqual([{ line: 'sudo id', where: 'shell', fromKeystrokes: false, decision: 'warn', reasons: ['sudo id matches "Root"'] }]);
  });

  it('refuses a denied line, saying which rule, and checks a multi-line command as a whole', async () => {
    const { subject, recorded, evaluated } = gate([line({ text: 'rm -rf /tmp/x; fi', before: ['if true; then'] })]);
    expect(await subject.check()).toEqual({ action: 'deny', message: 'this line may not run: rm -rf /tmp/x matches "No removals".' });
    expect(evaluated).toEqual(['if true; then\nrm -rf /tmp/x; fi']);
    expect(recorded.map((decision) => decision.decision)).toEqual(['deny']);
  });

  it('lets the first lines of an unfinished command reach the shell, which runs nothing until the whole is checked', async () => {
    const first = gate([line({ text: 'for x in 1; do' })]);
    expect(await first.subject.check()).toEqual({ action: 'allow' });
    // Each line alone too: one denied by itself never reaches the shell, nor its history.
    expect(first.evaluated).toEqual(['for x in 1; do']);
    const inside = gate([line({ text: 'rm -rf /tmp/x', before: ['for x in 1; do'] })]);
    expect((await inside.subject.check()).action).toBe('deny');
    const last = gate([line({ text: 'done', before: ['for x in 1; do', 'rm -rf /tmp/x'] })]);
    expect((await last.subject.check()).action).toBe('deny');
    expect(last.evaluated).toEqual(['for x in 1; do\nrm -rf /tmp/x\ndone']);
  });

  it('waits for the device to be quiet when the echo lags, then reads the line as the screen shows it', async () => {
    const { subject, evaluated, quiets } = gate([line({ text: 'ls /et', settled: false }), line({ text: 'rm -rf /etc', settled: false })]);
    expect((await subject.check()).action).toBe('deny');
    expect(quiets).toEqual([[ECHO_QUIET_MS, ECHO_WAIT_MS]]);
    expect(evaluated).toEqual(['rm -rf /etc']);
  });

  it('checks a line typed with echo off as rebuilt from its keys, records that it was, and says so at the first', async () => {
    const hidden = line({ text: 'echo hidden', fromKeystrokes: true, settled: false });
    // An unsettled line is read twice: before and after the device goes quiet.
    const again = { ...hidden, text: 'echo again' };
    const { subject, recorded } = gate([hidden, hidden, again, again]);
    expect(await subject.check()).toEqual({ action: 'allow', message: 'echo is off: lines are checked as rebuilt from the keys typed, and the approvers are told.' });
    expect(await subject.check()).toEqual({ action: 'allow' });
    expect(recorded).toEqual([
      { line: 'echo hidden', where: 'shell', fromKeystrokes: true, decision: 'allow', reasons: [] },
      { line: 'echo again', where: 'shell', fromKeystrokes: true, decision: 'allow', reasons: [] },
    ]);
  });

  it('never lets through a line the screen and the keys cannot tell: held for review, or refused without a reviewer', async () => {
    const unknown = line({ text: undefined, fromKeystrokes: true, settled: false });
    const refused = gate([unknown]);
    const answer = await refused.subject.check();
    expect(answer.action).toBe('deny');
    expect(answer.action === 'deny' && answer.message).toMatch(/echo is off and the keys typed do not tell the line.*needs an approver/);
    expect(refused.evaluated).toEqual([]);
    const review: Verdict = { action: 'review', message: 'waits for carol', decision: Promise.resolve({ allowed: true }), cancel: () => undefined };
    const held = gate([unknown], { review: () => review });
    expect(await held.subject.check()).toBe(review);
  });

  it('holds a reviewed line for an approver when someone can review it', async () => {
    const asked: GateDecision[] = [];
    const review: Verdict = { action: 'review', message: 'waits for carol', decision: Promise.resolve({ allowed: false, message: 'refused' }), cancel: () => undefined };
    const { subject } = gate([line({ text: 'systemctl restart nginx' })], { review: (decision) => (asked.push(decision), review) });
    let cancelled = false;
    const answer = await gate([line({ text: 'systemctl restart nginx' })], { review: () => ({ ...review, cancel: () => (cancelled = true) }) }).subject.check();
    expect(answer).toMatchObject({ action: 'review', message: 'waits for carol' });
    expect(answer.action === 'review' && (await answer.decision)).toEqual({ allowed: false, message: 'refused' });
    // Giving the line up reaches the review.
    if (answer.action === 'review') answer.cancel();
    expect(cancelled).toBe(true);
    expect((await subject.check()).action).toBe('review');
    expect(asked.map((decision) => decision.line)).toEqual(['systemctl restart nginx']);
  });

  it('checks what the keys and the screen after the prompt say too, where they differ from the line read, the stronger answer winning', async () => {
    const drawnOver = gate([line({ text: 'echo harmless', keys: 'rm -rf /srv', shown: 'echo harmless' })]);
    expect((await drawnOver.subject.check()).action).toBe('deny');
    expect(drawnOver.evaluated).toEqual(['echo harmless', 'rm -rf /srv']);
    const kept = gate([line({ text: '', shown: 'rm -rf /srv' })]);
    expect((await kept.subject.check()).action).toBe('deny');
  });

  it('holds a line to be edited in an editor (Ctrl-X Ctrl-E), and checks a line Alt-# runs uncommented', async () => {
    const edited = gate([line({ text: 'echo fine' })]);
    const answer = await edited.subject.check(EDIT_AND_RUN);
    expect(answer.action === 'deny' && answer.message).toMatch(/edited in an editor and run as saved/);
    const commented = gate([line({ text: '#rm -rf /srv' })]);
    expect((await commented.subject.check(COMMENT_AND_RUN)).action).toBe('deny');
    expect(commented.evaluated).toEqual(['#rm -rf /srv', 'rm -rf /srv']);
  });

  it('checks in memory what is typed at a password prompt, refusing a match without saying or logging what it was', async () => {
    const faked = gate([line({ where: 'secret', text: undefined, keys: 'rm -rf /srv' })]);
    const answer = await faked.subject.check();
    expect(answer).toEqual({ action: 'deny', message: 'this line, typed at a password prompt, matches the command policy and may not run.' });
    expect(JSON.stringify(faked.recorded)).not.toContain('rm -rf');
    const password = gate([line({ where: 'secret', text: undefined, keys: 'hunter2' })]);
    expect(await password.subject.check()).toEqual({ action: 'allow' });
    expect(password.recorded).toEqual([]);
  });

  it('does not read or check a password, nor keys typed in a full-screen program, but checks a shell prompt shown in one', async () => {
    for (const where of ['secret', 'screen'] as const) {
      const { subject, evaluated } = gate([line({ where, text: undefined })]);
      expect(await subject.check()).toEqual({ action: 'allow' });
      expect(evaluated).toEqual([]);
    }
    const pane = gate([line({ where: 'screen', text: 'rm -rf /srv' })]);
    expect((await pane.subject.check()).action).toBe('deny');
  });

  it('waits for a review that is stored before it answers, and leaves the recording of a held line to it', async () => {
    const review: Verdict = { action: 'review', message: 'waits for carol', decision: Promise.resolve({ allowed: true }), cancel: () => undefined };
    const stored: GateDecision[] = [];
    const { subject, recorded } = gate([line({ text: 'systemctl restart nginx' })], {
      review: async (decision: GateDecision) => {
        await new Promise((resolve) => setImmediate(resolve));
        stored.push(decision);
        return review;
      },
    });
    const answer = await subject.check();
    expect(answer.action === 'review' && answer.message).toBe('waits for carol');
    expect(stored.map((decision) => decision.decision)).toEqual(['review']);
    expect(recorded).toEqual([]);
    // Without a reviewer, the refusal is recorded as the policy's decision.
    const alone = gate([line({ text: 'systemctl restart nginx' })]);
    expect((await alone.subject.check()).action).toBe('deny');
    expect(alone.recorded.map((decision) => decision.decision)).toEqual(['review']);
  });
});
