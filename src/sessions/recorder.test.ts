import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_UNWRITTEN, parseCast, Recorder, type CastEvent } from './recorder.ts';
import { FileRecordingStore } from './recording-store.ts';

const dirs: string[] = [];

async function recorder(): Promise<{ recorder: Recorder; file: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'changegate-recorder-'));
  dirs.push(dir);
  const created = await Recorder.create(new FileRecordingStore(dir), 'session', {
    width: 80,
    height: 24,
    startedAt: new Date('2026-11-22T10:00:00Z'),
    title: 'CHG-1 alice@web01',
    term: 'xterm-256color',
  });
  expect(created.location).toBe(path.join(dir, '2026-11-22', 'session.cast'));
  return { recorder: created, file: created.location };
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const outputOf = (events: readonly CastEvent[]) =>
  events
    .filter((event) => event[1] === 'o')
    .map((event) => event[2])
    .join('');

describe('Recorder', () => {
  it('writes each byte of ASCII output as JSON.stringify would, control characters included', async () => {
    const { recorder: rec, file } = await recorder();
    const ascii = Buffer.from(Array.from({ length: 128 }, (_, code) => code));
    rec.output(ascii);
    await rec.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ version: 2, width: 80, height: 24, title: 'CHG-1 alice@web01', env: { TERM: 'xterm-256color' } });
    const event = JSON.parse(lines[1] ?? '') as CastEvent;
    expect(event[2]).toBe(ascii.toString('latin1'));
    expect(lines[1]).toBe(JSON.stringify(event));
  });

  it('keeps a UTF-8 character cut across chunks whole, each stream apart, and ends a cut one as U+FFFD', async () => {
    const { recorder: rec, file } = await recorder();
    const text = Buffer.from('héllo → 日本 🚀');
    for (let k = 0; k < text.length; k++) {
      rec.output(text.subarray(k, k + 1), 'stdout');
      rec.output(Buffer.from('|'), 'stderr'); // interleaved: must not break the stdout characters
    }
    rec.output(Buffer.from([0xe6, 0x97]), 'stdout'); // the session ends mid-character
    await rec.close();
    const output = outputOf(parseCast(readFileSync(file, 'utf8')).events);
    expect(output.replaceAll('|', '')).toBe('héllo → 日本 🚀\uFFFD');
    expect(output.split('|').length - 1).toBe(text.length);
  });

  it('records resizes and markers in order, tells live watchers each event with its index, and hashes the file', async () => {
    const { recorder: rec, file } = await recorder();
    const seen: Array<[CastEvent, number]> = [];
    rec.subscribe((event, index) => seen.push([event, index]));
    rec.output(Buffer.from('$ '));
    rec.resize(100, 30);
    rec.marker('uptime');
    rec.output(Buffer.from(' 10:00:00 up 1 day\r\n'));
    rec.output('Changegate: a notice\r\n', 'stderr');
    const { sha256 } = await rec.close();
    const content = readFileSync(file);
    const { events } = parseCast(content.toString('utf8'));
    expect(events.map((event) => [event[1], event[2]])).toEqual([
      ['o', '$ '],
      ['r', '100x30'],
      ['m', 'uptime'],
      ['o', ' 10:00:00 up 1 day\r\n'],
      ['o', 'Changegate: a notice\r\n'],
    ]);
    expect(seen.map(([event, index]) => [index, event[1], event[2]])).toEqual(events.map((event, index) => [index, event[1], event[2]]));
    expect(events.every((event, k) => k === 0 || event[0] >= (events[k - 1]?.[0] ?? 0))).toBe(true);
    expect(sha256).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('records bulk output whole, however it is chunked', async () => {
    const { recorder: rec, file } = await recorder();
    const line = `${'x'.repeat(75)}"\\\r\n`;
    const chunk = Buffer.from(line.repeat(4000)); // 316 kB: larger than a region and a flush
    for (let k = 0; k < 10; k++) rec.output(chunk);
    rec.output(Buffer.from('mixé\r\n'));
    await rec.close();
    const { events } = parseCast(readFileSync(file, 'utf8'));
    expect(outputOf(events)).toBe(`${line.repeat(40_000)}mixé\r\n`);
  });
});

describe('what the recorder holds', () => {
  it('says it is behind once more than 16 Mi characters wait for the disk, and catches up', async () => {
    const { recorder: rec, file } = await recorder();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    // In one turn, as if the disk never answered: every write waits.
    let k = 0;
    while (rec.backlogged() === undefined) {
      rec.output(chunk);
      k++;
      expect(k).toBeLessThan(1000);
    }
    expect(rec.unwrittenBytes).toBeGreaterThan(MAX_UNWRITTEN);
    expect(rec.unwrittenBytes).toBeLessThan(MAX_UNWRITTEN + 2 * chunk.length);
    // The session pauses the device on this promise; once written, the recorder is not behind.
    await rec.backlogged();
    expect(rec.backlogged()).toBeUndefined();
    expect(rec.unwrittenBytes).toBe(0);
    await rec.close();
    expect(outputOf(parseCast(readFileSync(file, 'utf8')).events)).toHaveLength(k * chunk.length);
  });
});
