import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyPair, waitUntil } from '../../test/gateway-kit.ts';
import type { TestChangegate } from '../../test/harness.ts';
import { startExecutorRig, type ExecutorRig } from '../../test/executor-rig.ts';
import type { Started } from '../changegate.ts';
import { parseCast } from './recorder.ts';

/** Megabytes of base64 the device prints, one at a time, noting in a file how many it has printed. */
const MEGABYTES = 60;
/** What one megabyte of zeros prints as base64: 76 characters and a line feed to 57 bytes. */
const BYTES_PER_MEGABYTE = Buffer.alloc(1_000_000).toString('base64').replace(/.{76}/g, '$&\n').length + 1;

describe('a user who reads slower than the device writes', () => {
  let dir: string;
  let rig: ExecutorRig | undefined;
  let t: TestChangegate;
  let started: Started;
  let aliceKey: ReturnType<typeof keyPair>;

  beforeAll(async () => {
    rig = await startExecutorRig({ name: 'backpressure', change: 'CHG-SLOW' });
    ({ dir, t, started, aliceKey } = rig);
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('pauses the device instead of buffering its output, then delivers and records all of it', { timeout: 120_000 }, async () => {
    const progress = path.join(dir, 'progress');
    const command = `for i in $(seq 1 ${MEGABYTES}); do head -c 1000000 /dev/zero | base64; echo $i > ${progress}; done`;
    const printed = (): number => Number(readFileSafe(progress) || 0);
    const client = spawn(
      'ssh',
      ['-F', '/dev/null', '-p', String(started.sshPort), '-i', aliceKey.file, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes', '-T', 'alice@web01@127.0.0.1', command],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The user's side reads nothing: ssh fills its stdout pipe, then stops reading from the gateway.
    client.stdout.pause();
    const exited = new Promise<number | null>((resolve) => client.once('exit', resolve));

    // The device prints a little, then waits: the windows and buffers on the way hold a few MB.
    await waitUntil(async () => (printed() > 0 ? true : undefined), 'the device to start printing');
    let last = -1;
    let unchangedSince = Date.now();
    await waitUntil(
      async () => {
        const now = printed();
        if (now !== last) {
          last = now;
          unchangedSince = Date.now();
        }
        return Date.now() - unchangedSince >= 1500 ? true : undefined;
      },
      'the device to stop printing while nobody reads',
      60_000,
    );
    expect(last).toBeLessThan(MEGABYTES / 2); // without backpressure the gateway takes all of it at once

    // Reading again, the user gets everything, and so does the recording.
    let received = 0;
    client.stdout.on('data', (chunk: Buffer) => (received += chunk.length));
    client.stdout.resume();
    expect(await exited).toBe(0);
    expect(printed()).toBe(MEGABYTES);
    expect(received).toBe(MEGABYTES * BYTES_PER_MEGABYTE);

    const [session] = (await t.admin.get('/sessions?device=web01&limit=1')).body as Array<{ number: number; bytesOut: number }>;
    expect(session?.bytesOut).toBe(MEGABYTES * BYTES_PER_MEGABYTE);
    const cast = String((await t.admin.get(`/sessions/${session?.number}/recording`)).body);
    const recorded = parseCast(cast)
      .events.filter(([, code]) => code === 'o')
      .reduce((sum, [, , data]) => sum + data.length, 0);
    expect(recorded).toBe(MEGABYTES * BYTES_PER_MEGABYTE);
  });
});

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
