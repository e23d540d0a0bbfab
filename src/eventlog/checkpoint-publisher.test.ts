import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, openTestDatabase, type TestDatabase } from '../../test/databases.ts';
import { ManualClock } from '../platform/clock.ts';
import { createLogger } from '../platform/logger.ts';
import { appendEvent } from './event-append.ts';
import { CheckpointPublisher } from './checkpoint-publisher.ts';
import { DirectorySink, WitnessSink, type CheckpointSink } from './checkpoint-sinks.ts';
import { cosignaturesOf, latestCheckpoint } from './checkpoint.store.ts';
import { parseCheckpoint } from './checkpoint.ts';
import { presentCheckpoint } from './checkpoint.service.ts';
import { encodeVerifierKey, formatKeyId, generateSigningKey, parseNote, parseVerifierKey, signatureLine, verifierOf, verifyNote, type SigningKey } from './signed-note.ts';
import { StoredTreeHead } from './tree-head.ts';

const ORIGIN = 'changegate.test/log';
const INTERVAL_SECONDS = 5;

/** What the publisher logged, as text: to show what an operator reads, and what they never do. */
function capturedLogger() {
  const lines: string[] = [];
  // Kept as each line is written, so a test reads it as soon as the publisher returns.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('trace', sink), text: () => lines.join('\n') };
}

/** A witness on a loopback port: keeps what it was sent, and answers as told. */
async function startWitness(answer: (note: string) => { status: number; body: string }) {
  const received: Array<{ contentType: string | undefined; body: string }> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ contentType: request.headers['content-type'], body });
      const reply = answer(body);
      response.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/add-checkpoint`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

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
  const publisher = (options: { clock?: ManualClock; sinks?: CheckpointSink[]; logger?: ReturnType<typeof capturedLogger>['logger']; signingKey?: SigningKey } = {}) => {
    const signingKey = options.signingKey ?? key;
    return new CheckpointPublisher({
      db: database.db,
      clock: options.clock ?? new ManualClock(),
      treeHead: new StoredTreeHead(database.db),
      signingKey: { origin: signingKey.name, key: signingKey, keyId: formatKeyId(signingKey.keyId) },
      intervalSeconds: INTERVAL_SECONDS,
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

  it('signs nothing, and says why, when the log is shorter than a checkpoint already signed', async () => {
    const { logger, text } = capturedLogger();
    // A checkpoint another instance signed when the log was longer (the log then lost entries).
    const other = publisher({ logger });
    await append();
    await other.signNow();
    const stored = (await latestCheckpoint(database.db))!;
    const fakeLonger = { ...stored, size: stored.size + 10, note: stored.note };
    await database.db
      .insertInto('checkpoint')
      .values({ tree_size: fakeLonger.size, root_hash: stored.rootHash.toString('hex'), origin: ORIGIN, key_id: stored.keyId, note: stored.note, created_at: new Date() })
      .execute();
    await append();
    expect(await other.signNow()).toBeUndefined();
    expect(text()).toContain(`the event log has ${count} entries but checkpoint ${fakeLonger.size} was signed: entries were removed`);
    // Put the log back ahead so the later tests sign again.
    await append(20);
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
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w1', url: witness.url }, verifierOf(key))] });
      await append();
      const signed = (await signer.signNow())!;
      expect(witness.received).toEqual([{ contentType: 'text/plain; charset=utf-8', body: signed.note }]);
      const cosignatures = await cosignaturesOf(database.db, signed.size);
      expect(cosignatures).toEqual([expect.objectContaining({ witness: 'w1', keyName: 'witness.example/w1', keyId: formatKeyId(witnessKey.keyId) })]);
      // The checkpoint as served carries both signatures: each verifies with its own key.
      const served = presentCheckpoint(signed, cosignatures).note;
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
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w2', url: witness.url }, verifierOf(key))] });
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
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w5', url: witness.url }, verifierOf(key))] });
      await append();
      const signed = (await signer.signNow())!;
      const stored = await cosignaturesOf(database.db, signed.size);
      expect(stored.map((cosignature) => [cosignature.witness, cosignature.keyName])).toEqual([['w5', 'witness.example/w5']]);
      // What an auditor does with `changegate log checkpoint > cp.txt`: the note parses, and verifies with either key.
      const served = presentCheckpoint(signed, stored).note;
      expect(parseNote(served).signatures.map((signature) => signature.name)).toEqual([ORIGIN, 'witness.example/w5']);
      expect(verifyNote(served, verifierOf(key)).text).toBe(parseNote(signed.note).text);
      expect(verifyNote(served, verifierOf(witnessKey)).verified.name).toBe('witness.example/w5');
    } finally {
      await witness.close();
    }
  });

  it("refuses a witness's line under a key name another witness answers under, saying so", async () => {
    const honestKey = generateSigningKey('witness.example/w6');
    const honest = await startWitness((note) => ({ status: 200, body: signatureLine(parseNote(note).text, honestKey) }));
    // Another witness answers under w6's key name, with a signature that cannot verify.
    const squatter = await startWitness((note) => ({ status: 200, body: signatureLine(parseNote(note).text, generateSigningKey('witness.example/w6')) }));
    try {
      const { logger, text } = capturedLogger();
      await append();
      await publisher({ sinks: [new WitnessSink({ name: 'w6', url: honest.url }, verifierOf(key))] }).signNow();
      await append();
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w6', url: honest.url }, verifierOf(key)), new WitnessSink({ name: 'w7', url: squatter.url }, verifierOf(key))], logger });
      const signed = (await signer.signNow())!;
      const stored = await cosignaturesOf(database.db, signed.size);
      expect(stored.map((cosignature) => cosignature.witness)).toEqual(['w6']);
      expect(text()).toContain('witness w7 answered a signature under the key name witness.example/w6, which witness w6 answers under: it is not kept');
      expect(verifyNote(presentCheckpoint(signed, stored).note, verifierOf(honestKey)).verified.name).toBe('witness.example/w6');
    } finally {
      await honest.close();
      await squatter.close();
    }
  });

  it('logs only the status of a witness that fails, never what it answered, and tries again on the next pass', async () => {
    let failing = true;
    const witness = await startWitness(() => (failing ? { status: 500, body: 'stack trace with internal-secret-42' } : { status: 200, body: '' }));
    try {
      const { logger, text } = capturedLogger();
      const clock = new ManualClock();
      const signer = publisher({ clock, sinks: [new WitnessSink({ name: 'w3', url: witness.url }, verifierOf(key))], logger });
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

  it('serves at most 15 witness lines, one per witness and key name, none under the log\'s name', async () => {
    await append();
    const signed = (await publisher().signNow())!;
    const text = parseNote(signed.note).text;
    const row = (witness: string, signer: SigningKey) => ({ size: signed.size, witness, keyName: signer.name, keyId: formatKeyId(signer.keyId), line: signatureLine(text, signer), receivedAt: new Date() });
    // What rows planted in the table could hold: the log's name, a second line of a witness, a name twice, 40 witnesses.
    const first = generateSigningKey('witness.example/a');
    const planted = [
      row('x', generateSigningKey(ORIGIN)),
      row('a', first),
      row('a', generateSigningKey('witness.example/a2')),
      row('b', generateSigningKey('witness.example/a')),
      { ...row('c', generateSigningKey('witness.example/c')), line: `${signatureLine(text, generateSigningKey('witness.example/c'))}${signatureLine(text, generateSigningKey('witness.example/c'))}` },
      ...Array.from({ length: 40 }, (_, k) => row(`w${k}`, generateSigningKey(`many.example/${k}`))),
    ];
    const served = presentCheckpoint(signed, planted);
    const names = parseNote(served.note).signatures.map((signature) => signature.name);
    expect(names).toEqual([ORIGIN, 'witness.example/a', ...Array.from({ length: 14 }, (_, k) => `many.example/${k}`)]);
    expect(served.cosignatures).toHaveLength(15);
    expect(verifyNote(served.note, verifierOf(key)).text).toBe(text);
    expect(verifyNote(served.note, verifierOf(first)).verified.name).toBe('witness.example/a');
  });

  it('ignores a witness answer that holds no signature lines, saying so without quoting it', async () => {
    const witness = await startWitness(() => ({ status: 200, body: '<html>welcome-page-9</html>' }));
    try {
      const { logger, text } = capturedLogger();
      const signer = publisher({ sinks: [new WitnessSink({ name: 'w4', url: witness.url }, verifierOf(key))], logger });
      await append();
      const signed = (await signer.signNow())!;
      expect(await cosignaturesOf(database.db, signed.size)).toEqual([]);
      expect(text()).toContain('witness w4 answered 200 with no usable signature lines');
      expect(text()).not.toContain('welcome-page-9');
    } finally {
      await witness.close();
    }
  });
});
