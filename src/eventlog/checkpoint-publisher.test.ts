import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { ManualClock } from '../platform/clock.ts';
import { appendEvent } from './event-append.ts';
import { CheckpointPublisher } from './checkpoint-publisher.ts';
import { capturedLogger, startWitness } from './checkpoint.test-kit.ts';
import { DirectorySink, WitnessSink, type CheckpointSink } from './checkpoint-sinks.ts';
import { cosignaturesOf, latestCheckpoint } from './checkpoint.store.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { presentCheckpoint } from '../evidence/checkpoint.service.ts';
import { cosignatureProblem, witnessKeyOf, witnessSignatureLine } from './cosignature.ts';
import { encodeVerifierKey, formatKeyId, generateSigningKey, parseNote, parseVerifierKey, signatureLine, signNote, verifierOf, verifyNote, type SigningKey } from './signed-note.ts';
import { StoredTreeHead, type TreeHeadSource } from './tree-head.ts';

const ORIGIN = 'changegate.test/log';
const INTERVAL_SECONDS = 5;

describe.each(DATABASE_KINDS)('the checkpoint publisher on %s', (kind) => {
  let database: TestDatabase;
  let key: SigningKey;
  let count = 0;
  const dirs: string[] = [];
  const append = async (n = 1) => {
    for (let i = 0; i < n; i += 1) {
      count += 1;
      await database.db.transaction().execute((trx) => appendEvent(trx, { actor: 'alice', action: 'test.append', subject: `item:${count}`, time: new Date() }));
    }
  };
  const tempDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'changegate-checkpoints-'));
    dirs.push(dir);
    return dir;
  };
  const publisher = (
    options: { clock?: ManualClock; sinks?: CheckpointSink[]; logger?: ReturnType<typeof capturedLogger>['logger']; signingKey?: SigningKey; intervalSeconds?: number; treeHead?: TreeHeadSource } = {},
  ) => {
    const signingKey = options.signingKey ?? key;
    return new CheckpointPublisher({
      db: database.db,
      clock: options.clock ?? new ManualClock(),
      treeHead: options.treeHead ?? new StoredTreeHead(database.db),
      signingKey: { origin: signingKey.name, key: signingKey, keyId: formatKeyId(signingKey.keyId) },
      intervalSeconds: options.intervalSeconds ?? INTERVAL_SECONDS,
      sinks: options.sinks ?? [],
      logger: options.logger,
    });
  };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    key = generateSigningKey(ORIGIN);
  });
  afterAll(async () => {
    await database.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('signs a checkpoint of the log that verifies with the public key, and only once the log has grown', async () => {
    await append(3);
    const clock = new ManualClock();
    const signer = publisher({ clock });
    const first = await signer.signNow();
    expect(first?.size).toBe(count);
    const note = first?.note as string;
    // What an auditor does: verify with the verifier key, then read the checkpoint.
    const verified = verifyNote(note, parseVerifierKey(encodeVerifierKey(key)));
    const body = parseCheckpoint(verified.text);
    expect(body).toMatchObject({ origin: ORIGIN, size: count, extensions: [] });
    expect(body.rootHash.equals((await new StoredTreeHead(database.db).head()).root)).toBe(true);
    expect(await latestCheckpoint(database.db)).toMatchObject({ size: count, note, keyId: formatKeyId(key.keyId), createdAt: clock.now() });

    // Nothing appended: nothing signed, even when the interval has passed.
    clock.advance(INTERVAL_SECONDS * 1000);
    expect(await signer.tick()).toBeUndefined();
    // Appended, but within the interval of the last pass: not yet.
    await append();
    clock.advance(1000);
    expect(await signer.tick()).toBeUndefined();
    expect((await latestCheckpoint(database.db))?.size).toBe(count - 1);
    // A full interval later: signed.
    clock.advance(INTERVAL_SECONDS * 1000);
    expect((await signer.tick())?.size).toBe(count);
    expect((await latestCheckpoint(database.db))?.size).toBe(count);
  });

  it('signs what was appended since the last checkpoint when it closes', async () => {
    const signer = publisher();
    signer.start();
    await append(2);
    await signer.close();
    expect((await latestCheckpoint(database.db))?.size).toBe(count);
    // Closed: it signs no more.
    await append();
    await signer.tick();
    expect((await latestCheckpoint(database.db))?.size).toBe(count - 1);
  });

  it('keeps one checkpoint per size when two instances sign the same log', async () => {
    await append();
    const [a, b] = [publisher(), publisher()];
    const signed = await Promise.all([a.signNow(), b.signNow()]);
    expect(signed.filter(Boolean)).toHaveLength(1);
    const rows = await database.db.selectFrom('checkpoint').select('tree_size').where('tree_size', '=', count).execute();
    expect(rows).toHaveLength(1);
  });

  it('writes each new checkpoint to the directory, never overwriting one, with `latest` the newest', async () => {
    const dir = tempDir();
    const { logger, text } = capturedLogger();
    const signer = publisher({ sinks: [new DirectorySink(dir)], logger });
    await append();
    const first = (await signer.signNow())!;
    expect(readFileSync(path.join(dir, `checkpoint-${first.size}.txt`), 'utf8')).toBe(first.note);
    expect(readFileSync(path.join(dir, 'latest'), 'utf8')).toBe(first.note);

    // A different file already at the next size (another key, a forked log) is kept as it is and named.
    await append();
    const squatted = path.join(dir, `checkpoint-${count}.txt`);
    writeFileSync(squatted, 'someone else\n');
    const second = (await signer.signNow())!;
    expect(readFileSync(squatted, 'utf8')).toBe('someone else\n');
    expect(text()).toContain(`already holds a different checkpoint of size ${second.size}`);
    expect(readFileSync(path.join(dir, 'latest'), 'utf8')).toBe(first.note);

    // The next checkpoint goes in beside; the first file is unchanged.
    await append();
    const third = (await signer.signNow())!;
    expect(readFileSync(path.join(dir, `checkpoint-${third.size}.txt`), 'utf8')).toBe(third.note);
    expect(readFileSync(path.join(dir, `checkpoint-${first.size}.txt`), 'utf8')).toBe(first.note);
    expect(readFileSync(path.join(dir, 'latest'), 'utf8')).toBe(third.note);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps writing checkpoint files where `latest` cannot be replaced, saying so once', async () => {
    const dir = tempDir();
    // What a write-once mount does to a rename over an existing file, here a directory in the way.
    mkdirSync(path.join(dir, 'latest'));
    const { logger, text } = capturedLogger();
    const clock = new ManualClock();
    const signer = publisher({ clock, sinks: [new DirectorySink(dir)], logger });
    await append();
    const first = (await signer.signNow())!;
    expect(readFileSync(path.join(dir, `checkpoint-${first.size}.txt`), 'utf8')).toBe(first.note);
    expect(text()).toContain(`directory ${dir} refused to replace latest`);
    expect(text()).not.toContain('trying again on the next pass');
    await append();
    clock.advance(INTERVAL_SECONDS * 1000);
    const second = (await signer.tick())!;
    expect(readFileSync(path.join(dir, `checkpoint-${second.size}.txt`), 'utf8')).toBe(second.note);
    expect(text().split('refused to replace latest')).toHaveLength(2);
    expect(readdirSync(dir).sort()).toEqual([`checkpoint-${first.size}.txt`, `checkpoint-${second.size}.txt`, 'latest'].sort());
  });

  it('logs a directory it cannot write, never throws, and writes the checkpoint on the next pass', async () => {
    const parent = tempDir();
    const dir = path.join(parent, 'mount');
    // A file where the directory should be: what an unmounted or read-only target looks like here.
    writeFileSync(dir, '');
    const { logger, text } = capturedLogger();
    const clock = new ManualClock();
    const signer = publisher({ clock, sinks: [new DirectorySink(dir)], logger });
    await append();
    const signed = (await signer.signNow())!;
    expect(text()).toContain(`publishing checkpoint ${signed.size} to directory ${dir} failed; trying again on the next pass`);
    rmSync(dir);
    clock.advance(INTERVAL_SECONDS * 1000);
    // The log has not grown: nothing is signed, but the directory gets the checkpoint it missed.
    expect(await signer.tick()).toBeUndefined();
    expect(readFileSync(path.join(dir, `checkpoint-${signed.size}.txt`), 'utf8')).toBe(signed.note);
  });

  it("POSTs the checkpoint to a witness and keeps the cosignature it answers, which verifies with the witness's key", async () => {
    const witnessKey = generateSigningKey('witness.example/w1');
    // A witness answers its signature line over the same checkpoint text (as c2sp.org/tlog-witness does).
    const witness = await startWitness((note) => ({ status: 200, body: signatureLine(parseNote(note).text, witnessKey) }));
    try {
      const w1 = { name: 'w1', url: witness.url, key: witnessKeyOf(witnessKey, 'note') };
      const signer = publisher({ sinks: [new WitnessSink(w1)] });
      await append();
      const signed = (await signer.signNow())!;
      expect(witness.received).toEqual([{ contentType: 'text/plain; charset=utf-8', body: signed.note }]);
      const cosignatures = await cosignaturesOf(database.db, signed.size);
      expect(cosignatures).toEqual([expect.objectContaining({ witness: 'w1', keyName: 'witness.example/w1', keyId: formatKeyId(witnessKey.keyId) })]);
      // The checkpoint as served carries both signatures: each verifies with its own key.
      const served = presentCheckpoint(signed, cosignatures, [w1]).note;
      expect(verifyNote(served, verifierOf(key)).text).toBe(parseNote(signed.note).text);
      expect(verifyNote(served, verifierOf(witnessKey)).verified.name).toBe('witness.example/w1');
    } finally {
      await witness.close();
    }
  });

  it('also takes a whole cosigned note from a witness, keeping only the witness lines', async () => {
    const witnessKey = generateSigningKey('witness.example/w2');
    const witness = await startWitness((note) => ({ status: 200, body: note + signatureLine(parseNote(note).text, witnessKey) }));
    try {
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w2', url: witness.url, key: witnessKeyOf(witnessKey, 'note') })] });
      await append();
      const signed = (await signer.signNow())!;
      expect((await cosignaturesOf(database.db, signed.size)).map((cosignature) => cosignature.keyName)).toEqual(['witness.example/w2']);
    } finally {
      await witness.close();
    }
  });

  it('keeps one line of a witness that answers 150, so the served note stays one every verifier reads', async () => {
    const witnessKey = generateSigningKey('witness.example/w5');
    // The log's name first (a forged log signature), then the witness's own line, then 148 lines under other names.
    const crowd = (text: string) =>
      [signatureLine(text, generateSigningKey(ORIGIN)), signatureLine(text, witnessKey), ...Array.from({ length: 148 }, (_, k) => signatureLine(text, generateSigningKey(`crowd.example/${k}`)))].join('');
    const witness = await startWitness((note) => ({ status: 200, body: crowd(parseNote(note).text) }));
    try {
      const w5 = { name: 'w5', url: witness.url, key: witnessKeyOf(witnessKey, 'note') };
      const signer = publisher({ sinks: [new WitnessSink(w5)] });
      await append();
      const signed = (await signer.signNow())!;
      const stored = await cosignaturesOf(database.db, signed.size);
      expect(stored.map((cosignature) => [cosignature.witness, cosignature.keyName])).toEqual([['w5', 'witness.example/w5']]);
      // What an auditor does with `changegate log checkpoint > cp.txt`: the note parses, and verifies with either key.
      const served = presentCheckpoint(signed, stored, [w5]).note;
      expect(parseNote(served).signatures.map((signature) => signature.name)).toEqual([ORIGIN, 'witness.example/w5']);
      expect(verifyNote(served, verifierOf(key)).text).toBe(parseNote(signed.note).text);
      expect(verifyNote(served, verifierOf(witnessKey)).verified.name).toBe('witness.example/w5');
    } finally {
      await witness.close();
    }
  });

  it("keeps a witness's verified line although rows planted before claim its key name for another witness", async () => {
    const honestKey = generateSigningKey('witness.example/w6');
    const honest = await startWitness((note) => ({ status: 200, body: signatureLine(parseNote(note).text, honestKey) }));
    try {
      await append();
      const earlier = (await publisher().signNow())!;
      // Someone who can write to the table answers for a witness of their own under w6's key name.
      await database.db
        .insertInto('checkpoint_cosignature')
        .values({ tree_size: earlier.size, witness: 'w7', key_name: 'witness.example/w6', key_id: formatKeyId(honestKey.keyId), signature_line: signatureLine(parseNote(earlier.note).text, generateSigningKey('witness.example/w6')), received_at: new Date(0) })
        .execute();
      const w6 = { name: 'w6', url: honest.url, key: witnessKeyOf(honestKey, 'note') };
      await append();
      const signed = (await publisher({ sinks: [new WitnessSink(w6)] }).signNow())!;
      const stored = await cosignaturesOf(database.db, signed.size);
      expect(stored.map((cosignature) => cosignature.witness)).toEqual(['w6']);
      expect(verifyNote(presentCheckpoint(signed, stored, [w6]).note, verifierOf(honestKey)).verified.name).toBe('witness.example/w6');
      // The planted line is never served, with or without a witness w7 configured.
      expect(presentCheckpoint(earlier, await cosignaturesOf(database.db, earlier.size), [w6]).note).toBe(earlier.note);
    } finally {
      await honest.close();
    }
  });

  it('logs only the status of a witness that fails, never what it answered, and tries again on the next pass', async () => {
    let failing = true;
    const witness = await startWitness(() => (failing ? { status: 500, body: 'stack trace with internal-secret-42' } : { status: 200, body: '' }));
    try {
      const { logger, text } = capturedLogger();
      const clock = new ManualClock();
      const signer = publisher({ clock, sinks: [new WitnessSink({ name: 'w3', url: witness.url })], logger });
      await append();
      const signed = (await signer.signNow())!;
      expect(text()).toContain('witness w3 answered HTTP 500');
      expect(text()).not.toContain('internal-secret-42');
      failing = false;
      clock.advance(INTERVAL_SECONDS * 1000);
      await signer.tick();
      expect(witness.received.map((request) => request.body)).toEqual([signed.note, signed.note]);
      // Published: the next pass, with nothing new, sends nothing.
      clock.advance(INTERVAL_SECONDS * 1000);
      await signer.tick();
      expect(witness.received).toHaveLength(2);
    } finally {
      await witness.close();
    }
  });

  it("serves at most 15 witness lines, one per witness and key name, none under the log's name, each verifying with its witness's key", async () => {
    await append();
    const signed = (await publisher().signNow())!;
    const text = parseNote(signed.note).text;
    const row = (witness: string, signer: SigningKey) => ({ size: signed.size, witness, keyName: signer.name, keyId: formatKeyId(signer.keyId), line: signatureLine(text, signer), receivedAt: new Date() });
    // What rows planted in the table could hold: a line no configured key verifies, a witness with no key,
    // the log's name, a second line of a witness, a name twice, two lines in one, 40 witnesses.
    const first = generateSigningKey('witness.example/a');
    const keys = {
      y: generateSigningKey('witness.example/y'),
      x: generateSigningKey(ORIGIN),
      b: generateSigningKey('witness.example/a'),
      c: generateSigningKey('witness.example/c'),
      many: Array.from({ length: 40 }, (_, k) => generateSigningKey(`many.example/${k}`)),
    };
    const planted = [
      row('y', generateSigningKey('witness.example/y')),
      row('z', generateSigningKey('witness.example/z')),
      row('x', keys.x),
      row('a', first),
      row('a', generateSigningKey('witness.example/a2')),
      row('b', keys.b),
      { ...row('c', keys.c), line: `${signatureLine(text, keys.c)}${signatureLine(text, keys.c)}` },
      ...keys.many.map((signer, k) => row(`w${k}`, signer)),
    ];
    const witnesses = [
      { name: 'y', url: 'http://y.invalid', key: witnessKeyOf(keys.y, 'note') },
      { name: 'z', url: 'http://z.invalid' },
      { name: 'x', url: 'http://x.invalid', key: witnessKeyOf(keys.x, 'note') },
      { name: 'a', url: 'http://a.invalid', key: witnessKeyOf(first, 'note') },
      { name: 'b', url: 'http://b.invalid', key: witnessKeyOf(keys.b, 'note') },
      { name: 'c', url: 'http://c.invalid', key: witnessKeyOf(keys.c, 'note') },
      ...keys.many.map((signer, k) => ({ name: `w${k}`, url: 'http://w.invalid', key: witnessKeyOf(signer, 'note') })),
    ];
    const served = presentCheckpoint(signed, planted, witnesses);
    const names = parseNote(served.note).signatures.map((signature) => signature.name);
    expect(names).toEqual([ORIGIN, 'witness.example/a', ...Array.from({ length: 14 }, (_, k) => `many.example/${k}`)]);
    expect(served.cosignatures).toHaveLength(15);
    expect(verifyNote(served.note, verifierOf(key)).text).toBe(text);
    expect(verifyNote(served.note, verifierOf(first)).verified.name).toBe('witness.example/a');
    // Without the witnesses' keys configured, nothing but the log's own line is served.
    expect(presentCheckpoint(signed, planted, []).note).toBe(signed.note);
  });

  it('ignores a witness answer that holds no signature lines, saying so without quoting it', async () => {
    const witness = await startWitness(() => ({ status: 200, body: '<html>welcome-page-9</html>' }));
    try {
      const { logger, text } = capturedLogger();
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w4', url: witness.url, key: witnessKeyOf(generateSigningKey('witness.example/w4')) })], logger });
      await append();
      const signed = (await signer.signNow())!;
      expect(await cosignaturesOf(database.db, signed.size)).toEqual([]);
      expect(text()).toContain('witness w4 answered 200 with no usable signature lines');
      expect(text()).not.toContain('welcome-page-9');
    } finally {
      await witness.close();
    }
  });
  it('keeps a C2SP cosignature/v1 a witness answers once it verifies with the key configured for it', async () => {
    const witnessKey = generateSigningKey('witness.example/c2sp');
    const witness = await startWitness((note) => ({ status: 200, body: witnessSignatureLine(parseNote(note).text, witnessKey, 'cosignature/v1', 1_700_000_000) }));
    try {
      const w9 = { name: 'w9', url: witness.url, key: witnessKeyOf(witnessKey) };
      await append();
      const signed = (await publisher({ sinks: [new WitnessSink(w9)] }).signNow())!;
      const stored = await cosignaturesOf(database.db, signed.size);
      expect(stored).toEqual([expect.objectContaining({ witness: 'w9', keyName: 'witness.example/c2sp', keyId: formatKeyId(w9.key.keyId) })]);
      // What an auditor holding the witness's key checks: the served line verifies over the checkpoint's text.
      const served = parseNote(presentCheckpoint(signed, stored, [w9]).note);
      expect(served.signatures.map((signature) => signature.name)).toEqual([ORIGIN, 'witness.example/c2sp']);
      expect(cosignatureProblem(served.text, served.signatures[1]!, w9.key)).toBeUndefined();
    } finally {
      await witness.close();
    }
  });

  it("stores no cosignature that does not verify with the witness's key, nor one of a witness without a key, and says why", async () => {
    const witnessKey = generateSigningKey('witness.example/w10');
    const tamper = (line: string) => {
      // One bit of the signature flipped: the key name and key ID still say it is the witness's.
      const [prefix, name, encoded] = line.trimEnd().split(' ') as [string, string, string];
      const bytes = Buffer.from(encoded, 'base64');
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      return `${prefix} ${name} ${bytes.toString('base64')}\n`;
    };
    const forged = await startWitness((note) => ({ status: 200, body: tamper(witnessSignatureLine(parseNote(note).text, witnessKey)) }));
    const stranger = await startWitness((note) => ({ status: 200, body: witnessSignatureLine(parseNote(note).text, generateSigningKey('witness.example/w11')) }));
    const keyless = await startWitness((note) => ({ status: 200, body: witnessSignatureLine(parseNote(note).text, generateSigningKey('witness.example/w12')) }));
    try {
      const { logger, text } = capturedLogger();
      const sinks = [
        new WitnessSink({ name: 'w10', url: forged.url, key: witnessKeyOf(witnessKey) }),
        new WitnessSink({ name: 'w11', url: stranger.url, key: witnessKeyOf(generateSigningKey('witness.example/w11')) }),
        new WitnessSink({ name: 'w12', url: keyless.url }),
      ];
      await append();
      const signed = (await publisher({ sinks, logger }).signNow())!;
      // Each was sent the checkpoint; none of their lines is kept.
      for (const witness of [forged, stranger, keyless]) expect(witness.received.map((request) => request.body)).toEqual([signed.note]);
      expect(await cosignaturesOf(database.db, signed.size)).toEqual([]);
      expect(text()).toContain(`witness w10 answered a signature under its key witness.example/w10+${formatKeyId(witnessKeyOf(witnessKey).keyId)} that does not verify over checkpoint ${signed.size}: it is not kept`);
      expect(text()).toMatch(/witness w11 answered 1 signature line\(s\), none under its key witness\.example\/w11\+[0-9a-f]{8}: nothing is kept/);
      expect(text()).not.toContain('witness w12');
    } finally {
      await forged.close();
      await stranger.close();
      await keyless.close();
    }
  });

  it('answers at once a caller whose entries the latest checkpoint covers', async () => {
    const witness = await startWitness(() => ({ status: 200, body: '' }));
    try {
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w13', url: witness.url })] });
      await append();
      const signed = (await signer.signNow())!;
      expect(await signer.checkpointCovering(signed.size)).toMatchObject({ size: signed.size, note: signed.note });
      expect(await signer.checkpointCovering(signed.size - 1)).toMatchObject({ size: signed.size });
      expect(witness.received).toHaveLength(1);
    } finally {
      await witness.close();
    }
  });

  it('gives ten callers waiting for their entries one checkpoint and one POST per witness, an interval after the last pass', async () => {
    const witness = await startWitness(() => ({ status: 200, body: '' }));
    // Started with a clock that never moves: the interval timer never finds an interval passed, so
    // the publisher is idle; the pass the callers wait for comes all the same.
    const signer = publisher({ sinks: [new WitnessSink({ name: 'w14', url: witness.url })], intervalSeconds: 1 });
    try {
      await append();
      signer.start();
      const before = performance.now();
      // The pass the start began, then one more (which finds nothing new): the last pass is after `before`.
      await signer.signNow();
      const first = (await latestCheckpoint(database.db))!;
      expect(first.size).toBe(count);
      const rows = async () => Number((await database.db.selectFrom('checkpoint').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const rowsBefore = await rows();
      // Ten exports at once: each logs its entry, then waits for a checkpoint covering it.
      const exports = await Promise.all(
        Array.from({ length: 10 }, async (_, k) => {
          const entry = await database.db.transaction().execute((trx) => appendEvent(trx, { actor: 'auditor', action: 'evidence.export', subject: `change:CHG-${k}`, time: new Date() }));
          return { seq: entry.seq, checkpoint: await signer.checkpointCovering(entry.seq) };
        }),
      );
      count += 10;
      const waited = performance.now() - before;
      for (const { seq, checkpoint } of exports) expect(checkpoint.size).toBeGreaterThanOrEqual(seq);
      // One pass signed them all: one new checkpoint, one more POST.
      expect(new Set(exports.map(({ checkpoint }) => checkpoint.note)).size).toBe(1);
      expect(exports[0]?.checkpoint.size).toBe(count);
      expect(await rows()).toBe(rowsBefore + 1);
      expect(witness.received.map((request) => request.body)).toEqual([first.note, exports[0]?.checkpoint.note]);
      // Not before an interval after the last pass.
      expect(waited).toBeGreaterThanOrEqual(1000 - 50);
      expect(verifyNote(exports[0]!.checkpoint.note, verifierOf(key)).text).toBe(`${ORIGIN}\n${count}\n${exports[0]!.checkpoint.rootHash.toString('base64')}\n`);
    } finally {
      await signer.close();
      await witness.close();
    }
  });

  it('fails a waiting caller at once, saying why, when the pass it waited for cannot sign', async () => {
    const { logger, text } = capturedLogger();
    // A key whose secret part is damaged: it cannot sign anything.
    const broken = publisher({ signingKey: { ...key, seed: Buffer.alloc(7) }, intervalSeconds: 1, logger });
    await append();
    const refused = await broken.checkpointCovering(count).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'unavailable', status: 503, message: `No checkpoint covering entry ${count} can be signed: signing failed (the server log says why). See docs/evidence.md, "Signed checkpoints".` });
    expect(text()).toContain('signing a checkpoint of the event log failed');
    // The server's own publisher then covers it, as usual.
    expect((await publisher().signNow())?.size).toBe(count);
  });

  it('fails a waiting caller after its bound when no pass comes, and answers those still waiting at shutdown', async () => {
    await append();
    // A pass that never ends (a database that stopped answering).
    const stuck = publisher({ treeHead: { head: () => new Promise(() => undefined) } });
    const timedOut = await stuck.checkpointCovering(count, { timeoutMs: 200 }).catch((error: unknown) => error);
    expect(timedOut).toMatchObject({ code: 'unavailable', message: expect.stringContaining(`No checkpoint covering entry ${count} was signed within 0.2 s: the server logs why it signs none`) });

    const signer = publisher({ intervalSeconds: 3600 });
    await signer.signNow();
    await append();
    const waiting = signer.checkpointCovering(count).catch((error: unknown) => error);
    await signer.close();
    expect(await waiting).toMatchObject({ code: 'unavailable', message: expect.stringContaining(`The server is shutting down: it signs no checkpoint covering entry ${count} any more`) });
    await publisher().signNow();
  });
});
