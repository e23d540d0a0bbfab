import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { addDevice, addOpenChange, approvedRequest, keyPair, must } from '../../test/gateway-kit.ts';
import { buildUser, startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import type { Actor } from '../access/index.ts';
import { findChangeByName, findRequestByNumber } from '../changes/index.ts';
import { findDevicesNamed } from '../inventory/index.ts';
import { CommandWriter } from './command-writer.ts';
import type { SessionCommand } from './session.ts';
import { commandsOf, findSession, heartbeat } from './session.store.ts';

/** Counts the statements a database handle runs, by kind of statement. */
class StatementCount implements KyselyPlugin {
  readonly kinds: string[] = [];

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.kinds.push(args.node.kind);
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }

  of(kind: string): number {
    return this.kinds.filter((each) => each === kind).length;
  }
}

/**
 * What live sessions write while they run, batched across the sessions of the instance: their
 * captured commands (a `CommandWriter`, a group commit at a time) and their heartbeats (one UPDATE
 * for all). Writing less often must not write less: every command and every beat is stored.
 */
describe.each(DATABASE_KINDS)('the database writes of live sessions on %s', (kind) => {
  let t: TestChangegate;
  let dir: string;
  let alice: Actor;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-session-writes-'));
    t = await startTestChangegate(kind);
    const hostKey = keyPair(dir, 'host');
    // No device is reached: the sessions are stored as the gateway stores them at their start.
    await addDevice(t.admin, 'web01', { port: 22, hostKey: hostKey.publicKey.split(' ').slice(0, 2).join(' ') }, keyPair(dir, 'device_root').privateKey);
    const executor = await buildUser(t, { username: 'alice' });
    const approver = await buildUser(t, { username: 'carol' });
    await addOpenChange(t.admin, { name: 'CHG-1', devices: ['web01'], executors: ['alice'], approvers: ['carol'] }, t.clock.now().getTime());
    await approvedRequest(executor.client, approver.client, 'web01');
    const user = await must(t.admin.get('/users/alice'), 200, 'reading alice');
    alice = { userId: user.body.id, username: 'alice' };
  });

  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts `count` sessions of alice on web01 as the gateway would; returns their ids. */
  async function startSessions(count: number): Promise<string[]> {
    const db = t.cg.database.db;
    const [device] = await findDevicesNamed(db, 'web01');
    const change = await findChangeByName(db, 'CHG-1');
    const request = await findRequestByNumber(db, 1);
    if (!device || !change || !request) throw new Error('the fixture is missing its device, change or request');
    const ids: string[] = [];
    for (let k = 0; k < count; k++) {
      const id = randomUUID();
      await t.cg.services.sessions.start({
        id,
        kind: 'shell',
        actor: alice,
        sourceIp: '192.0.2.7',
        sourcePort: 50_000 + k,
        device,
        account: 'root',
        change,
        request: { id: request.id, number: request.number },
        execCommand: null,
        term: 'xterm',
        startedAt: t.clock.now(),
        recordingStore: 'files',
        recordingPath: path.join(dir, `${id}.cast`),
        instanceId: 'instance-1',
      });
      ids.push(id);
    }
    return ids;
  }

  const command = (sessionId: string, seq: number): SessionCommand => ({
    sessionId,
    seq,
    time: t.clock.now(),
    offsetSeconds: seq,
    text: `echo ${seq}`,
    output: `${seq}\n`,
    outputTruncated: false,
    exitStatus: 0,
  });

  it('stores the commands that many sessions capture together in one INSERT, and each of them', async () => {
    const sessions = await startSessions(20);
    const count = new StatementCount();
    const writer = new CommandWriter({ db: t.cg.database.db.withPlugin(count) });
    await Promise.all(sessions.flatMap((id) => [1, 2, 3].map((seq) => writer.write(command(id, seq)))));
    expect(count.of('InsertQueryNode')).toBe(1);
    for (const id of sessions) expect((await commandsOf(t.cg.database.db, id)).map((stored) => stored.text)).toEqual(['echo 1', 'echo 2', 'echo 3']);
  });

  it('writes a command alone at once, and those captured while a write is under way in the next', async () => {
    const [first, second] = await startSessions(2);
    if (!first || !second) throw new Error('two sessions were started');
    const count = new StatementCount();
    const writer = new CommandWriter({ db: t.cg.database.db.withPlugin(count) });
    const alone = writer.write(command(first, 1));
    // The first write has started (after this turn of the event loop): these wait for it.
    await new Promise((resolve) => setImmediate(resolve));
    const next = [2, 3, 4].map((seq) => writer.write(command(first, seq))).concat(writer.write(command(second, 1)));
    await Promise.all([alone, ...next]);
    expect(count.of('InsertQueryNode')).toBe(2);
    expect((await commandsOf(t.cg.database.db, first)).map((stored) => stored.seq)).toEqual([1, 2, 3, 4]);
    expect(await commandsOf(t.cg.database.db, second)).toHaveLength(1);
  });

  it('splits a batch at maxBatch, and keeps a command stored twice as it was first stored', async () => {
    const [id] = await startSessions(1);
    if (!id) throw new Error('a session was started');
    const count = new StatementCount();
    const writer = new CommandWriter({ db: t.cg.database.db.withPlugin(count), maxBatch: 4 });
    await Promise.all(Array.from({ length: 10 }, (_, k) => writer.write(command(id, k + 1))));
    expect(count.of('InsertQueryNode')).toBe(3);
    await writer.write({ ...command(id, 1), text: 'a second capture of the same command' });
    const stored = await commandsOf(t.cg.database.db, id);
    expect(stored).toHaveLength(10);
    expect(stored[0]?.text).toBe('echo 1');
  });

  it('stores the rest of a batch when one command cannot be stored, and tells only its writer', async () => {
    const [id] = await startSessions(1);
    if (!id) throw new Error('a session was started');
    const writer = new CommandWriter({ db: t.cg.database.db });
    // No such session: the row breaks the foreign key, and with it the batch's one INSERT.
    const orphan = writer.write(command(randomUUID(), 1));
    const good = [1, 2].map((seq) => writer.write(command(id, seq)));
    await expect(orphan).rejects.toThrow();
    await Promise.all(good);
    expect(await commandsOf(t.cg.database.db, id)).toHaveLength(2);
  });

  it('beats for every live session in one UPDATE, and leaves an ended session as it ended', async () => {
    const sessions = await startSessions(5);
    const [ended, ...live] = sessions;
    if (!ended) throw new Error('sessions were started');
    await t.cg.services.sessions.end(ended, alice, { endedAt: t.clock.now(), reason: 'client_closed', endedBy: null, exitStatus: 0, bytesIn: 1, bytesOut: 2, recordingSha256: null, captureLossy: false, captureNotes: [] });
    t.clock.advance(15_000);
    const at = t.clock.now();
    const count = new StatementCount();
    await heartbeat(t.cg.database.db.withPlugin(count), sessions.map((id, k) => ({ id, bytesIn: 100 + k, bytesOut: 5_000_000_000 + k })), at);
    expect(count.kinds).toHaveLength(1);
    for (const [k, id] of live.entries()) {
      expect(await findSession(t.cg.database.db, id)).toMatchObject({ heartbeatAt: at, bytesIn: 101 + k, bytesOut: 5_000_000_001 + k });
    }
    expect(await findSession(t.cg.database.db, ended)).toMatchObject({ bytesIn: 1, bytesOut: 2 });
    expect((await findSession(t.cg.database.db, ended))?.heartbeatAt.getTime()).toBeLessThan(at.getTime());
  });
});
