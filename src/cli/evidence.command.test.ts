import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { strToU8, unzipSync, Zip, ZipPassThrough, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOperator, signedInOperator, startCliServer, type CliOperator, type CliServer } from '../../test/cli-kit.ts';
import { addOpenChange, approvedRequest, must } from '../../test/gateway-kit.ts';
import { ADMIN_PASSWORD, signIn } from '../../test/harness.ts';

/** A zip of these entries in this order, names as given: duplicates and names zipSync would not write. */
function handMadeZip(entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const zip = new Zip((error, data) => {
    if (error) throw error;
    chunks.push(data);
  });
  for (const [name, bytes] of entries) {
    const entry = new ZipPassThrough(name);
    zip.add(entry);
    entry.push(bytes, true);
  }
  zip.end();
  return Buffer.concat(chunks);
}

// `changegate evidence` saves a change's bundle over HTTP; `changegate verify-evidence` checks the
// zip with no server. The export itself is covered on both databases in src/evidence/evidence.test.ts.
describe('changegate evidence and verify-evidence', () => {
  let server: CliServer;
  let admin: CliOperator;
  let dir: string;
  let bundle: string;

  beforeAll(async () => {
    server = await startCliServer('pglite');
    admin = await signedInOperator(server, 'admin', ADMIN_PASSWORD);
    dir = mkdtempSync(path.join(tmpdir(), 'changegate-evidence-cli-'));
    await must(server.admin.post('/users', { username: 'alice', password: 'alice-password-123', displayName: 'Alice' }), 201, 'adding alice');
    await must(server.admin.post('/devices', { name: 'web01', hostname: '192.0.2.10' }), 201, 'adding web01');
    await addOpenChange(server.admin, { name: 'CHG-CLI', devices: ['web01'], executors: ['alice'], approvers: ['admin'] }, server.clock.now().getTime());
    await approvedRequest(await signIn(server.cg, 'alice', 'alice-password-123'), server.admin, 'web01');
    bundle = path.join(dir, 'chg.zip');
  });
  afterAll(async () => {
    admin?.remove();
    await server?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves the bundle, says where and its SHA-256, and verify-evidence reads the zip and says OK', async () => {
    const saved = await admin.changegate(['evidence', 'CHG-CLI', '-o', bundle]);
    const bytes = readFileSync(bundle);
    expect(saved.stdout).toBe(`Saved the evidence bundle of CHG-CLI to ${bundle} (${bytes.length} bytes).\nSHA-256: ${createHash('sha256').update(bytes).digest('hex')}\n`);
    expect(existsSync(`${bundle}.partial`)).toBe(false);
    const checked = await admin.changegate(['verify-evidence', bundle, '--key', server.cg.logSigningKey.verifierKey]);
    expect(checked.stdout).toContain(`Log key: ${server.cg.logSigningKey.verifierKey}`);
    expect(checked.stdout).toContain('ok   decision: request #1: approve by admin is logged');
    expect(checked.stdout).toMatch(/OK: the bundle is complete, unaltered, and rests on the signed log\.\n$/);
    expect(checked.stdout).not.toContain('WARNING');
  });

  it('without --key runs every check but says UNANCHORED and exits 3, never OK', async () => {
    const checked = await admin.changegate(['verify-evidence', bundle], 3);
    expect(checked.stdout).toContain('ok   decision: request #1: approve by admin is logged');
    expect(checked.stdout).not.toMatch(/^OK/m);
    expect(checked.stdout).toMatch(/UNANCHORED: every check passed, but the bundle's own key was used; pass --key with the log's key obtained independently/);
  });

  it("warns when the bundle's verify.mjs is not the installation's, says which to trust, and prints its own verifier's hash", async () => {
    const own = readFileSync(new URL('../evidence/verify.mjs', import.meta.url));
    const printed = await admin.changegate(['verify-evidence', '--print-verifier-hash']);
    expect(printed.stdout).toBe(`${createHash('sha256').update(own).digest('hex')}  verify.mjs\n`);

    // A bundle whose verifier always says OK: the CLI warns, and its own verdict names the changed file.
    const files = unzipSync(readFileSync(bundle));
    files['verify.mjs'] = strToU8("console.log('OK: the bundle is complete, unaltered, and rests on the signed log.');\n");
    const lying = path.join(dir, 'lying-verifier.zip');
    writeFileSync(lying, zipSync(files));
    const checked = await admin.changegate(['verify-evidence', lying, '--key', server.cg.logSigningKey.verifierKey], 1);
    expect(checked.stdout).toMatch(/^WARNING: the bundle's verify\.mjs \(SHA-256 [0-9a-f]{64}\) is not this installation's/);
    expect(checked.stdout).toContain("This verdict is this installation's verifier's: trust it, not the bundle's copy");
    expect(checked.stdout).toContain('FAIL file: verify.mjs was changed');
  });

  it('exits 1 and names the file when the zip was altered, and says what to give when it is no zip', async () => {
    const files = unzipSync(readFileSync(bundle));
    files['change.json'] = strToU8(Buffer.from(files['change.json'] as Uint8Array).toString('utf8').replace('echo one', 'rm -rf /'));
    files['extra.txt'] = strToU8('added');
    const altered = path.join(dir, 'altered.zip');
    writeFileSync(altered, zipSync(files));
    const failed = await admin.changegate(['verify-evidence', altered, '--key', server.cg.logSigningKey.verifierKey], 1);
    expect(failed.stdout).toContain('FAIL file: change.json was changed');
    expect(failed.stdout).toContain('FAIL file: extra.txt was added to the bundle: it is not in the manifest');
    expect(failed.stdout).toMatch(/FAILED\n$/);

    writeFileSync(path.join(dir, 'not.zip'), 'hello');
    const refused = await admin.changegate(['verify-evidence', path.join(dir, 'not.zip')], 1);
    expect(refused.stderr).toMatch(/not\.zip is not a zip file, or not a whole one .*: give the bundle `changegate evidence` saved\./);
  });

  it('refuses a zip with a name twice, whichever copy an unzip tool would show, and verifies the same entries written once', async () => {
    const honest = Object.entries(unzipSync(readFileSync(bundle)));
    const once = path.join(dir, 'hand-made.zip');
    writeFileSync(once, handMadeZip(honest));
    await admin.changegate(['verify-evidence', once, '--key', server.cg.logSigningKey.verifierKey], 0);

    const forged = strToU8(Buffer.from(unzipSync(readFileSync(bundle))['change.json'] as Uint8Array).toString('utf8').replace('echo one', 'rm -rf /'));
    for (const [label, entries] of [
      ['forged copy last', [...honest, ['change.json', forged]]],
      ['forged copy first', [['change.json', forged], ...honest]],
    ] as const) {
      const twice = path.join(dir, `twice-${label.replaceAll(' ', '-')}.zip`);
      writeFileSync(twice, handMadeZip(entries));
      const refused = await admin.changegate(['verify-evidence', twice, '--key', server.cg.logSigningKey.verifierKey], 1);
      expect(refused.stderr, label).toContain('holds an entry named "change.json", which is there twice (unzip tools disagree on which copy they show)');
      expect(refused.stdout, label).not.toContain('OK');
    }
  });

  it.each([
    ['__proto__', /which is __proto__/],
    ['../evil.sh', /which holds a \. or \.\. segment/],
    ['sessions/../../evil.sh', /which holds a \. or \.\. segment/],
    ['/etc/cron.d/evil', /which starts with \//],
    ['sessions\\1\\evil.sh', /which holds a backslash/],
    ['evil\u0000.txt', /which holds a control character/],
    ['evil\n.txt', /which holds a control character/],
  ])('refuses a zip holding an entry named %j, before checking anything', async (name, expected) => {
    const honest = Object.entries(unzipSync(readFileSync(bundle)));
    const file = path.join(dir, 'bad-name.zip');
    writeFileSync(file, handMadeZip([...honest, [name, strToU8('added')]]));
    const refused = await admin.changegate(['verify-evidence', file, '--key', server.cg.logSigningKey.verifierKey], 1);
    expect(refused.stderr).toMatch(expected);
    expect(refused.stderr).toContain('this one was altered, and is not verified');
    expect(refused.stdout).toBe('');
  });

  /**
   * A server that answers the export with the first half of a real bundle, then breaks the
   * connection off (as Changegate does when an export fails mid-way), or ends the answer there as
   * if whole (as a proxy in between might pass a broken answer on).
   */
  const halfBundleServer = async (end: 'break off' | 'end as if whole'): Promise<{ server: Server; url: string }> => {
    const half = readFileSync(bundle).subarray(0, Math.floor(readFileSync(bundle).length / 2));
    const server = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'application/zip' });
      if (end === 'end as if whole') response.end(half);
      else response.write(half, () => response.socket?.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
  };

  it.each(['break off', 'end as if whole'] as const)('saves nothing when the download does not arrive whole (the answer %s), and says so', async (end) => {
    const { server, url } = await halfBundleServer(end);
    const operator = cliOperator({ CHANGEGATE_URL: url, CHANGEGATE_TOKEN: 'cg_any' });
    const target = path.join(dir, `broken-${end.replaceAll(' ', '-')}`, 'chg.zip');
    try {
      mkdirSync(path.dirname(target));
      const failed = await operator.changegate(['evidence', 'CHG-CLI', '-o', target], 1);
      expect(failed.stderr).toContain(`The evidence bundle of CHG-CLI did not arrive whole (`);
      expect(failed.stderr).toContain(`nothing was saved to ${target}. Export it again.`);
      expect(failed.stdout).toBe('');
      expect(readdirSync(path.dirname(target))).toEqual([]);
    } finally {
      operator.remove();
      server.close();
    }
  });

  it('refuses a bundle cut short, saying it is not a whole zip', async () => {
    const bytes = readFileSync(bundle);
    for (const length of [Math.floor(bytes.length / 2), bytes.length - 1]) {
      const cut = path.join(dir, `cut-${length}.zip`);
      writeFileSync(cut, bytes.subarray(0, length));
      const refused = await admin.changegate(['verify-evidence', cut, '--key', server.cg.logSigningKey.verifierKey], 1);
      expect(refused.stderr).toMatch(/is not a zip file, or not a whole one \(.+\): give the bundle `changegate evidence` saved\./);
      expect(refused.stdout).toBe('');
    }
  });

  it('answers a change it cannot find with the server’s message', async () => {
    const missing = await admin.changegate(['evidence', 'CHG-NONE', '-o', path.join(dir, 'none.zip')], 1);
    expect(missing.stderr).toContain('No change "CHG-NONE" exists, or you may not see it.');
  });
});
