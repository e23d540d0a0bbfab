import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess, signedInOperator, startCliServer, type CliOperator, type CliServer } from '../../test/cli-kit.ts';
import { DATABASE_KINDS } from '../../test/databases.ts';
import { ADMIN_PASSWORD, signIn } from '../../test/harness.ts';
import { verifyConsistency, verifyInclusion } from '../eventlog/index.ts';
import { consistencyRanges, hashLeaf, inclusionRanges, rangeHash, rootOf, subtreesOfLeaves } from '../eventlog/merkle.ts';
import { consistencyAnswerProblems, inclusionAnswerProblems } from './log-proof.command.ts';

const b64 = (value: string) => Buffer.from(value, 'base64');

describe('changegate log proof on the command line', () => {
  it.each([
    ['log proof inclusion', ['--seq <n>', '--size <n>', '--root <base64>', '--json', 'EventLog.View', 'base64']],
    ['log proof consistency', ['--from <n>', '--to <n>', '--from-root <base64>', '--to-root <base64>', '--json', 'EventLog.View']],
  ])('changegate %s --help names its options', async (command, mentions) => {
    const { code, stdout } = await runCliInProcess([...command.split(' '), '--help'], { env: {} });
    expect(code).toBe(0);
    for (const mention of mentions) expect(stdout.replace(/\s+/g, ' ')).toContain(mention);
  });

  it('refuses a root that is not a base64 SHA-256 hash before asking any server', async () => {
    const result = await runCliInProcess(['log', 'proof', 'inclusion', '--seq', '1', '--root', 'abc'], { env: {} });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('expected a SHA-256 root hash in base64');
  });
});

describe('a server that answers for another entry or size than asked', () => {
  const leaves = Array.from({ length: 11 }, (_, k) => hashLeaf(Buffer.from(`entry ${k + 1}`)));
  const hashes = subtreesOfLeaves(leaves);

  it('is refused even when the proof it sends verifies', () => {
    // Asked for entry 3 in the tree of 11; sent a genuine proof for entry 5 (the leaf the lying server chose) in the tree of 9.
    const proof = inclusionRanges(4, 9).map((range) => rangeHash(range, hashes));
    expect(verifyInclusion(4, 9, leaves[4] as Buffer, proof, rootOf(leaves.slice(0, 9)))).toBe(true);
    expect(inclusionAnswerProblems({ seq: 3, size: 11 }, { seq: 3, leafIndex: 4, treeSize: 9 })).toEqual([
      'the server answered for entry 3 at leaf index 4, not entry 3 at leaf index 2',
      'the server answered for a tree of 9 entries, not the 11 asked',
    ]);
    expect(inclusionAnswerProblems({ seq: 3 }, { seq: 5, leafIndex: 4, treeSize: 11 })).toHaveLength(1);
    // Asked 4 → 11, sent a genuine proof 6 → 11.
    expect(verifyConsistency(6, 11, consistencyRanges(6, 11).map((range) => rangeHash(range, hashes)), rootOf(leaves.slice(0, 6)), rootOf(leaves))).toBe(true);
    expect(consistencyAnswerProblems({ from: 4, to: 11 }, { from: 6, to: 11 })).toEqual(['the server answered from a tree of 6 entries, not the 4 asked']);
    expect(consistencyAnswerProblems({ from: 4, to: 11 }, { from: 4, to: 10 })).toEqual(['the server answered to a tree of 10 entries, not the 11 asked']);
  });

  it('is not refused when it answers what was asked', () => {
    expect(inclusionAnswerProblems({ seq: 3, size: 11 }, { seq: 3, leafIndex: 2, treeSize: 11 })).toEqual([]);
    expect(inclusionAnswerProblems({ seq: 3 }, { seq: 3, leafIndex: 2, treeSize: 40 })).toEqual([]);
    expect(consistencyAnswerProblems({ from: 4 }, { from: 4, to: 40 })).toEqual([]);
  });
});

describe.each(DATABASE_KINDS)('Merkle proofs of the event log through the API and the CLI on %s', (kind) => {
  let server: CliServer;
  let admin: CliOperator;
  beforeAll(async () => {
    server = await startCliServer(kind);
    admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => {
    admin?.remove();
    await server?.remove();
  });

  it('serves proofs that verify against the roots it serves, for every entry and every older size', async () => {
    const { body: head } = await server.admin.get('/log/root');
    const size: number = head.treeSize;
    expect(size).toBeGreaterThan(2);
    for (let seq = 1; seq <= size; seq += 1) {
      const { status, body } = await server.admin.get(`/log/proof/inclusion?seq=${seq}&size=${size}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ seq, leafIndex: seq - 1, treeSize: size, rootHash: head.rootHash });
      expect(verifyInclusion(body.leafIndex, size, b64(body.leafHash), body.proof.map(b64), b64(head.rootHash))).toBe(true);
    }
    for (let from = 1; from <= size; from += 1) {
      const older = await server.admin.get(`/log/root?size=${from}`);
      const { body } = await server.admin.get(`/log/proof/consistency?from=${from}&to=${size}`);
      expect(body).toMatchObject({ from, to: size, fromRoot: older.body.rootHash, toRoot: head.rootHash });
      expect(verifyConsistency(from, size, body.proof.map(b64), b64(older.body.rootHash), b64(head.rootHash))).toBe(true);
    }
    // The empty tree has a root too: SHA-256 of nothing.
    expect((await server.admin.get('/log/root?size=0')).body).toEqual({ treeSize: 0, rootHash: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' });
  });

  it('answers 400 invalid_log_range, saying what to give, for an entry or size the log does not have', async () => {
    const size: number = (await server.admin.get('/log/root')).body.treeSize;
    const cases: Array<[string, RegExp]> = [
      [`/log/proof/inclusion?seq=${size + 1}&size=${size}`, new RegExp(`Entry ${size + 1} is not in the tree of the first ${size} entries`)],
      [`/log/proof/inclusion?seq=1&size=${size + 1000}`, /give a size up to/],
      ['/log/proof/inclusion?seq=0', /give a seq from 1/],
      ['/log/proof/inclusion?seq=1&size=0', /size of at least 1/],
      ['/log/proof/consistency?from=3&to=2', /from \(3\) is larger than to \(2\)/],
      ['/log/proof/consistency?from=0&to=2', /from must be at least 1/],
      [`/log/proof/consistency?from=1&to=${size + 1000}`, /give a size up to/],
      [`/log/root?size=${size + 1000}`, /give a size up to/],
    ];
    for (const [url, message] of cases) {
      const { status, body } = await server.admin.get(url);
      expect([url, status, body.error.code]).toEqual([url, 400, 'invalid_log_range']);
      expect(body.error.message).toMatch(message);
    }
    expect((await server.admin.get('/log/proof/inclusion?seq=-1')).body.error.code).toBe('validation_failed');
  });

  it('needs EventLog.View', async () => {
    expect((await server.admin.post('/users', { username: 'carol', password: 'carol-password-1234', displayName: 'Carol' })).status).toBe(201);
    const carol = await signIn(server.cg, 'carol', 'carol-password-1234');
    for (const url of ['/log/proof/inclusion?seq=1', '/log/proof/consistency?from=1', '/log/root']) {
      const { status, body } = await carol.get(url);
      expect([url, status, body.error.code]).toEqual([url, 403, 'forbidden']);
    }
  });

  it('fetches and verifies an inclusion proof and a consistency proof, against roots given or served', async () => {
    const at3 = (await server.admin.get('/log/root?size=3')).body.rootHash as string;
    const inclusion = await admin.changegate(['log', 'proof', 'inclusion', '--seq', '2', '--size', '3', '--root', at3]);
    expect(inclusion.stdout).toMatch(/^Entry 2 \(\S+ \S+\) is in the tree of the first 3 entries: proof verified\.\nLeaf hash: \S+\nRoot hash: (\S+)\n$/);
    expect(inclusion.stdout).toContain(`Root hash: ${at3}`);

    const json = await admin.json<{ verified: boolean; treeSize: number; proof: string[] }>(['log', 'proof', 'inclusion', '--seq', '1', '--json']);
    expect(json.verified).toBe(true);
    expect(json.proof.length).toBeGreaterThan(0);

    const consistency = await admin.changegate(['log', 'proof', 'consistency', '--from', '3', '--from-root', at3]);
    expect(consistency.stdout).toMatch(/^The tree of \d+ entries extends the tree of 3 entries: proof verified\.\n/);
    expect(consistency.stdout).toContain(`Root at 3: ${at3}`);
  });

  it('fails, exit 1, against a root that is not the log\'s, and for an entry edited in the database', async () => {
    const at2 = (await server.admin.get('/log/root?size=2')).body.rootHash as string;
    const wrongRoot = await admin.changegate(['log', 'proof', 'inclusion', '--seq', '1', '--size', '3', '--root', at2], 1);
    expect(wrongRoot.stdout).toContain('Inclusion proof of entry 1 in the tree of 3 entries FAILED');
    const forked = await admin.changegate(['log', 'proof', 'consistency', '--from', '3', '--from-root', at2], 1);
    expect(forked.stdout).toContain("the server's root for size 3 is not the one you gave");

    // Someone with the database in hand edits entry 2, past the trigger: its content no longer hashes to its leaf.
    const db = server.cg.database.db;
    await sql`ALTER TABLE event DISABLE TRIGGER event_append_only`.execute(db);
    try {
      await sql`UPDATE event SET subject = 'quietly-rewritten' WHERE seq = 2`.execute(db);
    } finally {
      await sql`ALTER TABLE event ENABLE TRIGGER event_append_only`.execute(db);
    }
    const edited = await admin.changegate(['log', 'proof', 'inclusion', '--seq', '2'], 1);
    expect(edited.stdout).toContain('entry 2 as sent does not hash to the leaf the proof is for');
  });
});
