import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { addDevice, addOpenChange, approvedRequest, keyPair, must } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import type { Actor } from '../access/index.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';
import { findDevicesNamed } from '../inventory/index.ts';
import { CommandWriter } from './command-writer.ts';
import { LiveSessions, type LiveSession } from './live.ts';
import type { Recorder } from './recorder.ts';
import { SessionService, type SessionStart } from './session.service.ts';

/**
 * The session lifecycle as SessionService's two use cases, each one transaction: the gateway calls
 * `start` once the device accepted the session and `end` once it is over. Sessions through a real
 * gateway test them end to end (gateway.test.ts, crash.test.ts); these show what each writes, and
 * that a start that cannot be logged leaves nothing behind.
 */
describe.each(DATABASE_KINDS)('SessionService start and end on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  let alice: Actor;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-lifecycle-'));
    t = await startTestChangegate(kind);
    const deviceKey = keyPair(dir, 'device_root');
    const hostKey = keyPair(dir, 'host');
    // No device is reached here: the service only stores what the gateway tells it.
    await addDevice(t.admin, 'web01', { port: 22, hostKey: hostKey.publicKey.split(' ').slice(0, 2).join(' ') }, deviceKey.privateKey);
    const executor = await buildUser(t, { username: 'alice' });
    const approver = await buildUser(t, { username: 'carol' });
    const now = t.clock.now().getTime();
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, now);
    await approvedRequest(executor.client, approver.client, 'web01');
    // A second change on the device, made after the request (with two open, the request would have to name one).
    await addOpenChange(t.admin, { name: 'CHG-2', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, now);
    const user = await must(t.admin.get('/users/alice'), 200, 'reading alice');
    alice = { userId: user.body.id, username: 'alice' };
  });

  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the gateway passes once the device accepted a shell of alice on web01 for `changeName`. */
  async function sessionStart(changeName: string): Promise<SessionStart> {
    const db = t.cg.database.db;
    const [device] = await findDevicesNamed(db, 'web01');
    const change = await findChangeByName(db, changeName);
    const request = await findRequestByNumber(db, 1);
    if (!device || !change || !request) throw new Error('the fixture is missing its device, change or request');
    const id = randomUUID();
    return {
      id,
      kind: 'shell',
      actor: alice,
      sourceIp: '192.0.2.7',
      sourcePort: 50_022,
      device,
      account: 'root',
      change,
      request: { id: request.id, number: request.number },
      execCommand: null,
      term: 'xterm-256color',
      startedAt: t.clock.now(),
      recordingStore: 'files',
      recordingPath: path.join(dir, `${id}.cast`),
      instanceId: 'instance-1',
    };
  }

  const eventsOf = async (id: string) => (await must(t.admin.get(`/events?subject=session:${id}`), 200, 'reading the session events')).body as Array<{ action: string; actor: string; data: Record<string, unknown> }>;
  /** The session as the API shows it, or undefined where it answers 404 (none stored). */
  const sessionOf = async (id: string) => {
    const answer = await t.admin.get(`/sessions/${id}`);
    expect([200, 404]).toContain(answer.status);
    return answer.status === 200 ? (answer.body as Record<string, unknown>) : undefined;
  };
  const changeOf = async (name: string) => (await must(t.admin.get(`/changes/${name}`), 200, `reading ${name}`)).body;

  it('start stores the live session, freezes its change\'s script and logs session.start, together', async () => {
    expect((await changeOf('CHG-1')).scriptFrozen).toBe(false);
    const start = await sessionStart('CHG-1');
    await t.cg.services.sessions.start(start);

    expect(await sessionOf(start.id)).toMatchObject({ user: 'alice', device: 'web01', account: 'root', change: 'CHG-1', request: 1, live: true, endedAt: null, sourceIp: '192.0.2.7' });
    expect((await changeOf('CHG-1')).scriptFrozen).toBe(true);
    expect(await eventsOf(start.id)).toEqual([
      expect.objectContaining({ action: 'session.start', actor: 'alice', data: expect.objectContaining({ device: 'web01', change: 'CHG-1', request: 1, account: 'root', sourceIp: '192.0.2.7' }) }),
    ]);
  });

  it('start that cannot be logged stores no session and leaves the script as it was', async () => {
    const start = await sessionStart('CHG-2');
    const db = t.cg.database.db;
    // The event log refuses this one entry: the append is the use case's last write.
    await sql
      .raw(
        `CREATE FUNCTION refuse_this_start() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.subject = 'session:${start.id}' THEN RAISE EXCEPTION 'the log is unavailable'; END IF; RETURN NEW; END $$;` +
          ' CREATE TRIGGER refuse_this_start BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION refuse_this_start();',
      )
      .execute(db);
    try {
      await expect(t.cg.services.sessions.start(start)).rejects.toThrow(/the log is unavailable/);
    } finally {
      await sql.raw('DROP TRIGGER refuse_this_start ON event; DROP FUNCTION refuse_this_start();').execute(db);
    }
    expect(await sessionOf(start.id)).toBeUndefined();
    expect((await changeOf('CHG-2')).scriptFrozen).toBe(false);
    expect(await eventsOf(start.id)).toEqual([]);
  });

  it('end stores the first ending with one session.end event; a second end changes and logs nothing', async () => {
    const start = await sessionStart('CHG-1');
    await t.cg.services.sessions.start(start);
    const endedAt = new Date(start.startedAt.getTime() + 90_000);
    const ending = { endedAt, reason: 'client_closed', endedBy: null, exitStatus: 0, bytesIn: 120, bytesOut: 4_096, recordingSha256: 'a'.repeat(64), captureLossy: false, captureNotes: [] } as const;
    await t.cg.services.sessions.end(start.id, alice, ending);
    await t.cg.services.sessions.end(start.id, alice, { ...ending, endedAt: new Date(endedAt.getTime() + 5_000), reason: 'terminated', endedBy: 'admin', exitStatus: null });

    expect(await sessionOf(start.id)).toMatchObject({
      live: false,
      endedAt: endedAt.toISOString(),
      endReason: 'client_closed',
      endedBy: null,
      exitStatus: 0,
      bytesIn: 120,
      bytesOut: 4_096,
      durationSeconds: 90,
      recordingSha256: 'a'.repeat(64),
    });
    const events = await eventsOf(start.id);
    expect(events.map((event) => event.action)).toEqual(['session.start', 'session.end']);
    expect(events[1]).toMatchObject({ actor: 'alice', data: { reason: 'client_closed', exitStatus: 0, bytesIn: 120, bytesOut: 4_096, recordingSha256: 'a'.repeat(64) } });
  });

  it('end keeps the capture status with its reasons, each from when it began; a command rebuilt from keystrokes says so', async () => {
    const start = await sessionStart('CHG-1');
    await t.cg.services.sessions.start(start);
    // While it runs, the status is not known yet.
    expect(await sessionOf(start.id)).toMatchObject({ live: true, capture: null });
    const at = (seconds: number) => new Date(start.startedAt.getTime() + seconds * 1000);
    const writer = new CommandWriter({ db: t.cg.database.db });
    await writer.write({ sessionId: start.id, seq: 1, time: at(5), offsetSeconds: 5, text: 'cat secret.conf', fromKeystrokes: true, output: '', outputTruncated: false, exitStatus: null });
    await writer.write({ sessionId: start.id, seq: 2, time: at(9), offsetSeconds: 9, text: 'tmux', output: '', outputTruncated: false, exitStatus: null });
    const captureNotes = [
      { reason: 'keystrokes', since: at(4), offsetSeconds: 4.25 },
      { reason: 'multiplexer', since: at(10), offsetSeconds: 10.5 },
    ] as const;
    await t.cg.services.sessions.end(start.id, alice, { endedAt: at(60), reason: 'client_closed', endedBy: null, exitStatus: 0, bytesIn: 1, bytesOut: 2, recordingSha256: null, captureLossy: false, captureNotes });

    expect(await sessionOf(start.id)).toMatchObject({
      captureLossy: false,
      capture: {
        status: 'limited',
        reasons: [
          { reason: 'keystrokes', text: 'lines rebuilt from keystrokes (the terminal echoed nothing)', since: at(4).toISOString(), offsetSeconds: 4.25 },
          { reason: 'multiplexer', text: 'a terminal multiplexer ran on the device', since: at(10).toISOString(), offsetSeconds: 10.5 },
        ],
      },
    });
    const commands = (await must(t.admin.get(`/sessions/${start.id}/commands`), 200, 'reading the commands')).body as Array<{ text: string; fromKeystrokes: boolean }>;
    expect(commands.map(({ text, fromKeystrokes }) => [text, fromKeystrokes])).toEqual([
      ['cat secret.conf', true],
      ['tmux', false],
    ]);

    // Without notes the capture was complete; a session that ended before they were kept is unknown.
    const complete = await sessionStart('CHG-1');
    await t.cg.services.sessions.start(complete);
    await t.cg.services.sessions.end(complete.id, alice, { endedAt: at(60), reason: 'client_closed', endedBy: null, exitStatus: 0, bytesIn: 1, bytesOut: 2, recordingSha256: null, captureLossy: false, captureNotes: [] });
    expect(await sessionOf(complete.id)).toMatchObject({ capture: { status: 'complete', reasons: [] } });
    await sql`UPDATE session SET capture_notes = NULL WHERE id = ${complete.id}`.execute(t.cg.database.db);
    expect(await sessionOf(complete.id)).toMatchObject({ capture: null });
  });

  describe('terminate, with a stand-in for the running session (gateway.test.ts ends a real one)', () => {
    /**
     * A SessionService over the same database whose live sessions this test holds: each stand-in
     * ends as the gateway's relay does, through `end` with who ended it and why.
     */
    function serviceWithLiveSession(start: SessionStart) {
      const live = new LiveSessions();
      const sessions = new SessionService({ db: t.cg.database.db, clock: t.clock, live, scripts: t.cg.services.changes, recordings: t.cg.recordings });
      const told: Array<{ by: string; reason: string | undefined }> = [];
      const running: LiveSession = {
        id: start.id,
        userId: start.actor.userId,
        deviceId: start.device.id,
        requestId: start.request.id,
        changeId: start.change.id,
        // Never read: nothing watches the stand-in.
        recorder: {} as Recorder,
        counters: () => ({ bytesIn: 0, bytesOut: 0 }),
        terminate: async (by, reason) => {
          told.push({ by, reason });
          const ending = { endedAt: t.clock.now(), reason: 'terminated', endedBy: by, exitStatus: null, bytesIn: 0, bytesOut: 0, recordingSha256: null, captureLossy: false, captureNotes: [] } as const;
          await sessions.end(start.id, start.actor, { ...ending, ...(reason && { why: reason }) });
          live.remove(start.id);
        },
        stop: async () => undefined,
        tell: () => undefined,
      };
      live.add(running);
      return { sessions, told };
    }

    const adminActor = async (): Promise<Actor> => ({ userId: (await must(t.admin.get('/users/admin'), 200, 'reading admin')).body.id, username: 'admin' });

    it('tells the user who ended the session and why, and keeps the reason in the session.end event and the session', async () => {
      const start = await sessionStart('CHG-1');
      await t.cg.services.sessions.start(start);
      const { sessions, told } = serviceWithLiveSession(start);

      const ended = await sessions.terminate(await adminActor(), String((await sessionOf(start.id))?.number), '  the vendor\nrecalled   the patch ');

      expect(told).toEqual([{ by: 'admin', reason: 'the vendor recalled the patch' }]);
      expect(ended).toMatchObject({ live: false, endReason: 'terminated', endedBy: 'admin', terminationReason: 'the vendor recalled the patch' });
      expect(await sessionOf(start.id)).toMatchObject({ endReason: 'terminated', endedBy: 'admin', terminationReason: 'the vendor recalled the patch' });
      expect((await eventsOf(start.id))[1]).toMatchObject({ action: 'session.end', actor: 'admin', data: { reason: 'terminated', why: 'the vendor recalled the patch' } });
    });

    it('ends a session without a reason as before: none told, none kept', async () => {
      const start = await sessionStart('CHG-1');
      await t.cg.services.sessions.start(start);
      const { sessions, told } = serviceWithLiveSession(start);
      await sessions.terminate(await adminActor(), start.id, '   ');
      expect(told).toEqual([{ by: 'admin', reason: undefined }]);
      expect(await sessionOf(start.id)).toMatchObject({ endedBy: 'admin', terminationReason: null });
      expect((await eventsOf(start.id))[1]?.data).not.toHaveProperty('why');
    });

    it('refuses a user without Session.Terminate, and a reason too long or with control characters, before touching the session', async () => {
      const start = await sessionStart('CHG-1');
      await t.cg.services.sessions.start(start);
      const { sessions, told } = serviceWithLiveSession(start);
      const admin = await adminActor();

      // alice sees her own session, but may not end it; the privilege is checked before the reason.
      await expect(sessions.terminate(alice, start.id, 'x'.repeat(600))).rejects.toMatchObject({ code: 'forbidden' });
      await expect(sessions.terminate(admin, start.id, 'x'.repeat(501))).rejects.toMatchObject({ code: 'validation_failed', details: { problems: [{ path: '/reason' }] } });
      await expect(sessions.terminate(admin, start.id, 'see \u001b]0;pwned\u0007')).rejects.toMatchObject({ code: 'validation_failed', details: { problems: [{ path: '/reason', message: 'must not contain control characters' }] } });

      expect(told).toEqual([]);
      expect(await sessionOf(start.id)).toMatchObject({ live: true, endReason: null, terminationReason: null });
      expect((await eventsOf(start.id)).map((event) => event.action)).toEqual(['session.start']);
    });
  });
});
