import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { retainedMemory, sampleMemory } from '../../test/gateway-kit.ts';
import type { TestChangegate, TestClient } from '../../test/harness.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';
import { appendEvent } from '../eventlog/index.ts';

/** The SHA-256 of a file, read in chunks. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Stores a finished session of an open change as the gateway leaves it, with `recording` as its
 * recording file: a request of the user's, the session row, one captured command, and the
 * `session.start` and `session.end` log entries, the end holding the recording's SHA-256. For
 * exports of recordings of any size without an SSH session. Returns the session's number.
 */
export async function storeRecordedSession(
  t: TestChangegate,
  session: { readonly change: string; readonly device: string; readonly user: { readonly username: string; readonly client: TestClient }; readonly recording: string; readonly command: string },
): Promise<number> {
  const db = t.cg.database.db;
  const change = await findChangeByName(db, session.change);
  if (!change) throw new Error(`no change ${session.change}`);
  const device = await db.selectFrom('device').selectAll().where('name', '=', session.device).executeTakeFirstOrThrow();
  const user = await db.selectFrom('app_user').selectAll().where('username', '=', session.user.username).executeTakeFirstOrThrow();
  const asked = await session.user.client.post('/requests', { device: session.device, change: session.change });
  const request = await findRequestByNumber(db, asked.body.request?.number);
  if (!request) throw new Error(`no request for ${session.change}: ${JSON.stringify(asked.body)}`);
  const sha256 = await sha256OfFile(session.recording);
  const id = randomUUID();
  const now = t.clock.now();
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('session')
      .values({
        id,
        kind: 'shell',
        user_id: user.id,
        username: user.username,
        source_ip: '192.0.2.7',
        source_port: 50022,
        device_id: device.id,
        device_name: device.name,
        partition_id: device.partition_id,
        account: 'root',
        change_id: change.id,
        change_name: change.name,
        request_id: request.id,
        exec_command: null,
        term: 'xterm',
        started_at: now,
        ended_at: now,
        end_reason: 'client_closed',
        ended_by: null,
        exit_status: 0,
        bytes_in: 10,
        bytes_out: 100,
        recording_path: session.recording,
        recording_sha256: sha256,
        capture_lossy: false,
        instance_id: 'test',
        heartbeat_at: now,
      })
      .returning('number')
      .executeTakeFirstOrThrow();
    await trx.insertInto('session_command').values({ session_id: id, seq: 1, time: now, offset_seconds: 1, text: session.command, output: '', output_truncated: false, exit_status: 0 }).execute();
    const subject = `session:${id}`;
    await appendEvent(trx, { actor: user.username, action: 'session.start', subject, data: { kind: 'shell', device: device.name, account: 'root', change: change.name, request: request.number }, time: now });
    await appendEvent(trx, { actor: user.username, action: 'session.end', subject, data: { reason: 'client_closed', exitStatus: 0, recordingSha256: sha256 }, time: now });
    return row.number;
  });
}

/**
 * The most held above what was held before `work` (`retainedMemory`, after full collections), sampled
 * while it runs and at its end, with the number of samples. Full collections, not scavenges: a read
 * chunk that outlived two scavenges (on a busy machine the export's do) dies in the old generation.
 * Half of the time may go to measuring, so that a busy machine, where a collection takes a tenth of
 * a second, still takes several samples while an export runs.
 */
export async function peakGrowth(work: () => Promise<unknown>): Promise<{ bytes: number; samples: number }> {
  const sampling = sampleMemory(10, retainedMemory, 1 / 2);
  try {
    await work();
  } catch (error) {
    sampling.stop();
    throw error;
  }
  return { bytes: sampling.stop(), samples: sampling.samples };
}
