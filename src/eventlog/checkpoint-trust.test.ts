import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { startTestChangegate, type TestChangegate } from '../../test/harness.ts';
import { ManualClock } from '../platform/clock.ts';
import { CheckpointPublisher } from './checkpoint-publisher.ts';
import { DirectorySink } from './checkpoint-sinks.ts';
import { checkpointAt, cosignaturesOf, type StoredCheckpoint } from './checkpoint.store.ts';
import { capturedLogger, startWitness } from './checkpoint.test-kit.ts';
import { formatCheckpoint } from './checkpoint.ts';
import { appendEvent } from './event-append.ts';
import { cosignatureProblem, encodeWitnessKey, witnessKeyOf, witnessSignatureLine } from './cosignature.ts';
import { formatKeyId, generateSigningKey, parseNote, signatureLine, signNote, type SigningKey } from './signed-note.ts';
import { StoredTreeHead } from './tree-head.ts';

/** Each test starts a server of its own: on PGlite, on a busy machine, that alone takes many seconds. */
const SERVER_TEST_TIMEOUT_MS = 60_000;

// Someone who can write to the database but does not hold the log's signing key inserts rows into
// the checkpoint table. The log must go on signing, and serve only what it signed.
describe.each(DATABASE_KINDS)('checkpoint rows the log did not sign, on %s', (kind) => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A serving Changegate whose publisher logs to a buffer; its key is the one an attacker does not hold. */
  const start = async (env: Record<string, string> = {}) => {
    const captured = capturedLogger();
    const t = await startTestChangegate(kind, env, { logger: captured.logger });
    return { t, log: captured.text, key: t.cg.logSigningKey.key, origin: t.cg.logSigningKey.origin };
  };
  const plant = (t: TestChangegate, row: { size: number; note: string; origin: string; keyId: string; root: Buffer }) =>
    t.cg.database.db
      .insertInto('checkpoint')
      .values({ tree_size: row.size, root_hash: row.root.toString('hex'), origin: row.origin, key_id: row.keyId, note: row.note, created_at: new Date() })
      .execute();
  /** Something logged, as every action logs it: the log grows by one entry. */
  const logSomething = (t: TestChangegate) =>
    t.cg.database.db.transaction().execute((trx) => appendEvent(trx, { actor: 'admin', action: 'test.action', subject: 'test:1', time: t.clock.now() }));
  const served = async (t: TestChangegate) => {
    const answer = await t.cg.app.inject({ method: 'GET', url: '/api/v1/log/checkpoint', headers: { cookie: `changegate_session=${(t.admin.credentials as { cookie: string }).cookie}` } });
    expect(answer.statusCode).toBe(200);
    return answer.body;
  };
  const rejections = async (t: TestChangegate) =>
    ((await t.admin.get('/events?action=log.checkpoint.rejected')).body as Array<{ seq: number; subject: string; data: { reason: string } }>).map((event) => [event.subject, event.data.reason]);

  it('keeps signing, and serves only its own checkpoint, past planted rows; each is reported once, in the server log and the event log', async () => {
    const { t, log, key, origin } = await start();
    try {
      const genuine = (await t.cg.checkpointPublisher.signNow())!;
      const row = { origin, keyId: genuine.keyId, root: genuine.rootHash };
      // The log's own note copied into a larger row; a note whose size was edited after it was
      // signed; a checkpoint of another log signed with another key.
      await plant(t, { ...row, size: genuine.size + 1000, note: genuine.note });
      await plant(t, { ...row, size: genuine.size + 1001, note: genuine.note.replace(`\n${genuine.size}\n`, `\n${genuine.size + 1001}\n`) });
      const other = generateSigningKey('evil.example');
      const foreign = signNote(formatCheckpoint({ origin: 'evil.example', size: genuine.size + 1002, rootHash: genuine.rootHash, extensions: [] }), other);
      await plant(t, { size: genuine.size + 1002, note: foreign, origin: 'evil.example', keyId: formatKeyId(other.keyId), root: genuine.rootHash });

      // GET /api/v1/log/checkpoint serves the latest the log signed, not the largest row.
      expect(await served(t)).toBe(genuine.note);

      await logSomething(t);
      const next = (await t.cg.checkpointPublisher.signNow())!;
      expect(next.size).toBeGreaterThan(genuine.size);
      expect((await checkpointAt(t.cg.database.db, next.size))?.note).toBe(next.note);
      expect(await served(t)).toBe(next.note);

      const expected = [
        [`checkpoint:${genuine.size + 1002}`, 'unknown_key'],
        [`checkpoint:${genuine.size + 1001}`, 'invalid_signature'],
        [`checkpoint:${genuine.size + 1000}`, 'mismatch'],
      ];
      expect(await rejections(t)).toEqual(expected);
      // The entries recording them are in the log the new checkpoint signed.
      const recorded = (await t.admin.get('/events?action=log.checkpoint.rejected')).body as Array<{ seq: number }>;
      for (const entry of recorded) expect(entry.seq).toBeLessThanOrEqual(next.size);
      expect(log()).toContain(`a row of the checkpoint table is not this log's and is ignored: checkpoint ${genuine.size + 1002} carries no signature of this log's key`);
      expect(log()).toContain(`the log's signature on checkpoint ${genuine.size + 1001} does not verify`);
      expect(log()).toContain(`the row of checkpoint ${genuine.size + 1000} does not hold what its note signed (${genuine.size} entries)`);

      // Said once: another pass, and another instance on the same database (a restart), add nothing.
      await logSomething(t);
      await t.cg.checkpointPublisher.signNow();
      const restarted = new CheckpointPublisher({
        db: t.cg.database.db,
        clock: new ManualClock(),
        treeHead: new StoredTreeHead(t.cg.database.db),
        signingKey: t.cg.logSigningKey,
        intervalSeconds: 5,
        sinks: [],
      });
      await logSomething(t);
      expect((await restarted.signNow())?.size).toBeGreaterThan(next.size);
      expect(await rejections(t)).toEqual(expected);
      expect(log().split("is not this log's and is ignored")).toHaveLength(4);
      expect(log()).not.toContain(key.seed.toString('base64'));
    } finally {
      await t.close();
    }
  }, SERVER_TEST_TIMEOUT_MS);

  it('signs and publishes the next checkpoint although a planted row holds its size, and stores the one after', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-planted-'));
    dirs.push(dir);
    const { t, log } = await start({ CHANGEGATE_CHECKPOINT_DIR: dir });
    try {
      const genuine = (await t.cg.checkpointPublisher.signNow())!;
      // The size the next checkpoint will have, taken first with a row no key signed: one more than
      // the log now holds, since the entry that records the planted row comes first.
      const size = (await logSomething(t)).seq + 1;
      await plant(t, { size, note: 'not a checkpoint\n', origin: genuine.origin, keyId: genuine.keyId, root: Buffer.alloc(32) });
      const held = (await t.cg.checkpointPublisher.signNow())!;
      expect(held.size).toBe(size);
      // Not in the database (the table keeps the planted row), but out of its reach, where it counts.
      expect((await checkpointAt(t.cg.database.db, size))?.note).toBe('not a checkpoint\n');
      expect(readFileSync(path.join(dir, `checkpoint-${size}.txt`), 'utf8')).toBe(held.note);
      expect(log()).toContain(`checkpoint ${size} is signed and published, but not stored: a row that is not this log's holds its size`);
      expect(await rejections(t)).toEqual([[`checkpoint:${size}`, 'malformed']]);
      // A caller waiting for those entries is answered with it, as the publisher holds it.
      expect((await t.cg.checkpointPublisher.checkpointCovering(size)).note).toBe(held.note);

      await logSomething(t);
      const next = (await t.cg.checkpointPublisher.signNow())!;
      expect((await checkpointAt(t.cg.database.db, next.size))?.note).toBe(next.note);
      expect(await served(t)).toBe(next.note);
      expect(readFileSync(path.join(dir, 'latest'), 'utf8')).toBe(next.note);
    } finally {
      await t.close();
    }
  }, SERVER_TEST_TIMEOUT_MS);

  it("signs nothing, and says why, when a checkpoint the log's own key signed is beyond the log; a caller waiting is told why", async () => {
    const { t, log, key, origin } = await start({ CHANGEGATE_CHECKPOINT_INTERVAL_SECONDS: '1' });
    try {
      const genuine = (await t.cg.checkpointPublisher.signNow())!;
      // What the log's key signed when the log was longer (its last entries since deleted): a real signature.
      const longer = signedCheckpoint(key, origin, genuine.size + 10);
      await plant(t, { size: longer.size, note: longer.note, origin, keyId: genuine.keyId, root: longer.rootHash });
      await logSomething(t);
      expect(await t.cg.checkpointPublisher.signNow()).toBeUndefined();
      expect(log()).toMatch(new RegExp(`the event log has \\d+ entries but checkpoint ${longer.size} was signed: entries were removed`));
      const refused = await t.cg.checkpointPublisher.checkpointCovering(genuine.size + 1, { timeoutMs: 30_000 }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: 'unavailable', message: expect.stringMatching(new RegExp(`^No checkpoint covering entry ${genuine.size + 1} can be signed: the log holds \\d+ entries, fewer than the ${longer.size} its checkpoint signed`)) });
      // Not a planted row: it verifies, and is served as the log's latest.
      expect(await served(t)).toBe(longer.note);
      expect(await rejections(t)).toEqual([]);
    } finally {
      await t.close();
    }
  }, SERVER_TEST_TIMEOUT_MS);

  it('keeps only the cosignatures that verify with the keys in CHANGEGATE_WITNESSES, and serves only those', async () => {
    const c2sp = generateSigningKey('witness.example/c2sp');
    const noted = generateSigningKey('witness.example/noted');
    const unknown = generateSigningKey('witness.example/keyless');
    const answerWith = (signer: SigningKey, kind: 'cosignature/v1' | 'note') => (note: string) => ({ status: 200, body: witnessSignatureLine(parseNote(note).text, signer, kind) });
    const w1 = await startWitness(answerWith(c2sp, 'cosignature/v1'));
    const w2 = await startWitness(answerWith(noted, 'note'));
    const w3 = await startWitness(answerWith(unknown, 'cosignature/v1'));
    // The keys as an operator writes them: name=URL=key, and a URL alone for a witness only published to.
    const witnesses = `w1=${w1.url}=${encodeWitnessKey(witnessKeyOf(c2sp))},w2=${w2.url}=${encodeWitnessKey(witnessKeyOf(noted, 'note'))},w3=${w3.url}`;
    const { t } = await start({ CHANGEGATE_WITNESSES: witnesses });
    try {
      const signed = (await t.cg.checkpointPublisher.signNow())!;
      for (const witness of [w1, w2, w3]) expect(witness.received.map((request) => request.body)).toEqual([signed.note]);
      expect((await cosignaturesOf(t.cg.database.db, signed.size)).map((cosignature) => cosignature.witness)).toEqual(expect.arrayContaining(['w1', 'w2']));
      expect((await cosignaturesOf(t.cg.database.db, signed.size)).map((cosignature) => cosignature.witness)).not.toContain('w3');

      // A line planted in the table for the keyless witness, and one no configured key verifies.
      const text = parseNote(signed.note).text;
      for (const [witness, signer] of [
        ['w3', unknown],
        ['w4', generateSigningKey('witness.example/w4')],
      ] as const) {
        await t.cg.database.db
          .insertInto('checkpoint_cosignature')
          .values({ tree_size: signed.size, witness, key_name: signer.name, key_id: formatKeyId(signer.keyId), signature_line: signatureLine(text, signer), received_at: new Date() })
          .execute();
      }
      const view = (await t.admin.get('/log/checkpoint?format=json')).body as { note: string; cosignatures: Array<{ witness: string; keyName: string }> };
      expect(view.cosignatures.map((cosignature) => [cosignature.witness, cosignature.keyName]).sort()).toEqual([
        ['w1', 'witness.example/c2sp'],
        ['w2', 'witness.example/noted'],
      ]);
      // What an auditor holding the witnesses' keys checks on the note served as text.
      const note = parseNote(await served(t));
      expect(note.signatures.map((signature) => signature.name).sort()).toEqual([signed.origin, 'witness.example/c2sp', 'witness.example/noted'].sort());
      const lineOf = (name: string) => note.signatures.find((signature) => signature.name === name)!;
      expect(cosignatureProblem(note.text, lineOf('witness.example/c2sp'), witnessKeyOf(c2sp))).toBeUndefined();
      expect(cosignatureProblem(note.text, lineOf('witness.example/noted'), witnessKeyOf(noted, 'note'))).toBeUndefined();
    } finally {
      await t.close();
      await w1.close();
      await w2.close();
      await w3.close();
    }
  }, SERVER_TEST_TIMEOUT_MS);
});

/** A checkpoint of `size` entries signed with the log's key, over a root the stored log does not have. */
function signedCheckpoint(key: SigningKey, origin: string, size: number): StoredCheckpoint {
  const rootHash = Buffer.alloc(32, 7);
  return { size, rootHash, origin, keyId: formatKeyId(key.keyId), note: signNote(formatCheckpoint({ origin, size, rootHash, extensions: [] }), key), createdAt: new Date() };
}
