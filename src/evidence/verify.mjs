#!/usr/bin/env node
// @ts-check
/**
 * The offline verifier of a Changegate evidence bundle. It needs Node.js 20 or later and nothing
 * else: no package, no network, no server, no database. Run it from the unzipped bundle:
 *
 *     unzip CHG-42-evidence.zip -d chg42 && node chg42/verify.mjs
 *     node chg42/verify.mjs --key 'changegate.example.com+c00ce632+AWKz…' --checkpoint checkpoint-1042.txt
 *
 * What it checks, and why that is enough (docs/evidence.md, "The evidence bundle"):
 *
 * 1. log/checkpoint.txt is a checkpoint (C2SP tlog-checkpoint) signed with the log's key
 *    (log/key.txt, or --key): "the log's first N entries hash to this root".
 * 2. Every event in log/events.json, and the export event in log/export-event.json, hashes
 *    (SHA-256 of 0x00 ‖ its RFC 8785 canonical JSON) to a leaf whose inclusion proof in
 *    log/proofs.json leads to the checkpoint's root (RFC 9162 §2.1.3.2): each is in the signed log.
 * 3. The export event (`evidence.export`) holds the SHA-256 of manifest.json: the manifest is the
 *    one the server logged when it built this bundle.
 * 4. Every file listed in the manifest is present with its SHA-256 and size; every other file is one
 *    of the five above: a changed, removed or added file is named.
 * 5. Each recording hashes to the SHA-256 logged when its session ended; each decision in
 *    requests.json is a logged decision with the same plan digest; each approved plan in change.json
 *    hashes to its digest.
 *
 * Without --key the checks run against the bundle's own key (log/key.txt) and the verdict is
 * UNANCHORED (exit 3), never OK: a bundle that carries its own key proves nothing until that key is
 * the log's. Run a verify.mjs you obtained independently (`changegate verify-evidence
 * --print-verifier-hash` prints the SHA-256 of the installation's), not the bundle's copy blindly.
 *
 * The same functions run inside `changegate verify-evidence`, which reads the zip directly.
 */
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files that rest on the signed log rather than on the manifest (they cannot be in it: see above). */
export const LOG_BOUND_FILES = ['manifest.json', 'log/export-event.json', 'log/proofs.json', 'log/checkpoint.txt', 'log/key.txt'];

/**
 * RFC 8785 (JSON Canonicalization Scheme) for values read from JSON: object keys sorted by UTF-16
 * code units, no white space, strings and numbers as ECMAScript's JSON.stringify writes them (which
 * is what RFC 8785 specifies). Gives the output of the `canonicalize` package the server hashes with.
 *
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${value} has no JSON form`);
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const object = /** @type {Record<string, unknown>} */ (value);
  const members = Object.keys(object)
    .sort()
    .filter((key) => object[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(',')}}`;
}

/** @param {Uint8Array | string} data @returns {string} hex SHA-256 */
export const sha256Hex = (data) => createHash('sha256').update(data).digest('hex');

/** @param {...Uint8Array} parts @returns {Buffer} */
const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/**
 * An event's leaf hash: SHA-256(0x00 ‖ canonical JSON of {seq, time, actor, action, subject, data}).
 *
 * @param {EventEntry} event
 * @returns {Buffer}
 */
export function eventLeafHash(event) {
  const { seq, time, actor, action, subject, data } = event;
  return sha256(Buffer.from([0]), Buffer.from(canonicalJson({ seq, time, actor, action, subject, data }), 'utf8'));
}

/**
 * The root an RFC 9162 inclusion proof leads to from leaf `index` of a tree of `size` leaves
 * (§2.1.3.2), or undefined when the proof cannot belong to that position.
 *
 * @param {number} index
 * @param {number} size
 * @param {Buffer} leaf
 * @param {Buffer[]} proof
 * @returns {Buffer | undefined}
 */
export function rootFromInclusionProof(index, size, leaf, proof) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0 || p.length !== 32) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.from([1]), p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = sha256(Buffer.from([1]), r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/** @param {string} text @returns {Buffer | undefined} standard base64 that re-encodes to itself */
function strictBase64(text) {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

// DER prefix that wraps a raw Ed25519 public key as SubjectPublicKeyInfo (RFC 8410).
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * A C2SP signed-note verifier key, `<name>+<hex key ID>+<base64(0x01 ‖ 32-byte Ed25519 key)>`.
 *
 * @param {string} text
 * @returns {{ name: string, keyId: number, publicKey: Buffer }}
 */
export function parseVerifierKey(text) {
  const trimmed = text.trim();
  const first = trimmed.indexOf('+');
  const second = first < 0 ? -1 : trimmed.indexOf('+', first + 1);
  if (first <= 0 || second < 0) throw new Error('a verifier key has the form <name>+<key ID>+<base64 key>');
  const name = trimmed.slice(0, first);
  const id = trimmed.slice(first + 1, second);
  const bytes = strictBase64(trimmed.slice(second + 1));
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Error(`the key ID is 8 lower-case hex digits, not "${id}"`);
  if (!bytes || bytes.length !== 33 || bytes[0] !== 0x01) throw new Error('the key is not base64 of 0x01 and a 32-byte Ed25519 public key');
  const publicKey = bytes.subarray(1);
  const keyId = Number.parseInt(id, 16);
  const computed = sha256(Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x01]), publicKey).readUInt32BE(0);
  if (computed !== keyId) throw new Error(`the key ID ${id} does not match the key's name and bytes: the key text was altered`);
  return { name, keyId, publicKey };
}

/**
 * Verifies a signed note (C2SP signed-note) with one key and reads the checkpoint it signs. Lines
 * of other keys (witnesses) are skipped; every line of this key must verify.
 *
 * @param {string} note
 * @param {{ name: string, keyId: number, publicKey: Buffer }} key
 * @returns {Checkpoint}
 */
export function verifyCheckpoint(note, key) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Error('the checkpoint is not a signed note: no blank line before its signature lines');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  const own = lines.filter((line) => line.startsWith(`\u2014 ${key.name} `));
  let verified = 0;
  for (const line of own) {
    const bytes = strictBase64(line.slice(`\u2014 ${key.name} `.length));
    if (!bytes || bytes.length < 5 || bytes.readUInt32BE(0) !== key.keyId) continue;
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, key.publicKey]), format: 'der', type: 'spki' });
    if (bytes.length !== 68 || !verifySignature(null, Buffer.from(text, 'utf8'), publicKey, bytes.subarray(4))) {
      throw new Error(`the signature of ${key.name} does not verify: the checkpoint's text or signature was changed, or it was signed by another key of the same name`);
    }
    verified += 1;
  }
  if (verified === 0) throw new Error(`the checkpoint carries no signature of the key ${key.name}+${key.keyId.toString(16).padStart(8, '0')}: it was signed by another key`);
  const [origin = '', sizeText = '', rootText = ''] = text.slice(0, -1).split('\n');
  const root = strictBase64(rootText);
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !root || root.length !== 32) throw new Error('the signed text is not a checkpoint (origin, tree size, base64 root hash)');
  if (origin !== key.name) throw new Error(`the checkpoint is of the log "${origin}", the key of "${key.name}"`);
  return { origin, size: Number(sizeText), root, text: note };
}

/**
 * @typedef {{ seq: number, time: string, actor: string, action: string, subject: string, data: Record<string, unknown> }} EventEntry
 * @typedef {{ origin: string, size: number, root: Buffer, text: string }} Checkpoint
 * @typedef {{ ok: boolean, check: string, detail: string }} CheckResult
 * @typedef {{ path: string, sha256: string, size: number }} ManifestFile
 * @typedef {{ format: string, version: number, change: string, createdAt: string, files: ManifestFile[] }} Manifest
 * @typedef {{ checks: CheckResult[], ok: boolean, anchored: boolean, key: string | undefined, checkpoint: string | undefined }} BundleReport
 */

/**
 * Exit codes: 0 every check passed against a key the auditor gave; 1 a check failed; 3 every check
 * passed but only against the bundle's own key (UNANCHORED: anyone can make a key and sign a bundle
 * with it, so that proves nothing until the key is compared with the log's).
 */
export const EXIT_CODES = { ok: 0, failed: 1, unanchored: 3 };

/** @param {BundleReport} report @returns {number} */
export const exitCodeOf = (report) => (!report.ok ? EXIT_CODES.failed : report.anchored ? EXIT_CODES.ok : EXIT_CODES.unanchored);

/**
 * Runs every check on a bundle's files (path → bytes, paths with `/`). `key` and `checkpoint` are
 * ones the auditor obtained independently; without them the bundle's own are used (and printed, to
 * compare). Never throws: each failure is a failed check that says what is wrong and where.
 *
 * @param {Map<string, Uint8Array>} files
 * @param {{ key?: string, checkpoint?: string }} [options]
 * @returns {BundleReport}
 */
export function verifyBundle(files, options = {}) {
  /** @type {CheckResult[]} */
  const checks = [];
  const pass = (/** @type {string} */ check, /** @type {string} */ detail) => checks.push({ ok: true, check, detail });
  const fail = (/** @type {string} */ check, /** @type {string} */ detail) => checks.push({ ok: false, check, detail });
  const text = (/** @type {string} */ name) => Buffer.from(/** @type {Uint8Array} */ (files.get(name))).toString('utf8');
  const anchored = options.key !== undefined;
  const report = () => ({ checks, ok: checks.every((c) => c.ok), anchored, key: keyText, checkpoint: checkpointText });
  /** @param {string} name @returns {any} */
  const json = (name) => {
    try {
      return JSON.parse(text(name));
    } catch {
      fail('file', `${name} is not JSON: it was changed`);
      return undefined;
    }
  };

  const missing = LOG_BOUND_FILES.filter((name) => !files.has(name));
  let keyText = files.has('log/key.txt') ? text('log/key.txt').trim() : undefined;
  let checkpointText = files.has('log/checkpoint.txt') ? text('log/checkpoint.txt') : undefined;
  for (const name of missing) fail('file', `${name} was removed from the bundle`);
  if (options.key !== undefined) {
    if (keyText !== undefined && options.key.trim() !== keyText) fail('key', `the key given (${options.key.trim()}) is not the bundle's (${keyText})`);
    keyText = options.key.trim();
  }
  if (keyText === undefined || checkpointText === undefined) return report();

  // 1. The checkpoint, signed by the log's key.
  let key;
  try {
    key = parseVerifierKey(keyText);
  } catch (error) {
    fail('key', `the log key ${keyText} cannot be read: ${/** @type {Error} */ (error).message}`);
    return report();
  }
  let checkpoint;
  try {
    checkpoint = verifyCheckpoint(checkpointText, key);
    pass('checkpoint', `signed by ${keyText}: the log's first ${checkpoint.size} entries have the root ${checkpoint.root.toString('base64')}`);
  } catch (error) {
    fail('checkpoint', `log/checkpoint.txt: ${/** @type {Error} */ (error).message}`);
    return report();
  }
  if (options.checkpoint !== undefined) {
    try {
      const given = verifyCheckpoint(options.checkpoint, key);
      if (given.size !== checkpoint.size) {
        fail('checkpoint', `the checkpoint given is of ${given.size} entries, the bundle's of ${checkpoint.size}: compare with the checkpoint of ${checkpoint.size} entries (checkpoint-${checkpoint.size}.txt in a checkpoint directory)`);
      } else if (!given.root.equals(checkpoint.root)) {
        fail('checkpoint', `the checkpoint given has another root at ${given.size} entries (${given.root.toString('base64')}): the log the bundle rests on is not the log you hold a checkpoint of`);
      } else {
        pass('checkpoint', `the checkpoint given is the bundle's (${given.size} entries, same root)`);
      }
      checkpointText = options.checkpoint;
    } catch (error) {
      fail('checkpoint', `the checkpoint given: ${/** @type {Error} */ (error).message}`);
    }
  }

  // 2. Every event, and the export event, in the signed tree.
  const proofsFile = json('log/proofs.json');
  /** @type {EventEntry | undefined} */
  const exportEvent = json('log/export-event.json');
  const listed = files.has('log/events.json') ? json('log/events.json') : undefined;
  if (!proofsFile || !exportEvent) return report();
  /** @type {EventEntry[]} */
  const events = Array.isArray(listed) ? listed : [];
  /** @type {Map<number, string[]>} */
  const proofs = new Map((Array.isArray(proofsFile.proofs) ? proofsFile.proofs : []).map((/** @type {{ seq: number, proof: string[] }} */ p) => [p.seq, p.proof]));
  if (proofsFile.treeSize !== checkpoint.size) fail('proofs', `log/proofs.json is for a tree of ${proofsFile.treeSize} entries, the checkpoint of ${checkpoint.size}`);
  let included = 0;
  for (const event of [...events, exportEvent]) {
    const what = `event ${event?.seq} (${event?.action} ${event?.subject})`;
    const proof = proofs.get(event?.seq);
    proofs.delete(event?.seq);
    if (!proof) {
      fail('event', `${what} has no inclusion proof in log/proofs.json`);
      continue;
    }
    let leaf;
    try {
      leaf = eventLeafHash(event);
    } catch (error) {
      fail('event', `${what} cannot be hashed: ${/** @type {Error} */ (error).message}`);
      continue;
    }
    const hashes = proof.map((hash) => strictBase64(String(hash)) ?? Buffer.alloc(0));
    const root = rootFromInclusionProof(event.seq - 1, checkpoint.size, leaf, hashes);
    if (root?.equals(checkpoint.root)) {
      included += 1;
      continue;
    }
    const logged = Array.isArray(proofsFile.proofs) ? proofsFile.proofs.find((/** @type {{ seq: number }} */ p) => p.seq === event.seq)?.leafHash : undefined;
    if (logged !== undefined && logged !== leaf.toString('hex')) fail('event', `${what} was changed: it hashes to ${leaf.toString('hex')}, the log's leaf ${event.seq} is ${logged}`);
    else fail('proof', `the inclusion proof of ${what} does not lead to the checkpoint's root: the proof or the event was changed`);
  }
  for (const seq of proofs.keys()) fail('proof', `log/proofs.json has a proof for entry ${seq}, which is not in the bundle`);
  if (included === events.length + 1) pass('events', `all ${included} log entries (${events.length} the evidence rests on, and the export) are in the signed log`);

  // 3. The manifest, logged by the export event.
  /** @type {Manifest | undefined} */
  const manifest = json('manifest.json');
  if (!manifest) return report();
  const manifestHash = sha256Hex(/** @type {Uint8Array} */ (files.get('manifest.json')));
  if (exportEvent.action !== 'evidence.export' || exportEvent.data?.change !== manifest.change) {
    fail('manifest', `log/export-event.json is not the export of ${manifest.change} (it is ${exportEvent.action} of ${String(exportEvent.data?.change)})`);
  } else if (exportEvent.data.manifestSha256 !== manifestHash) {
    fail('manifest', `manifest.json hashes to ${manifestHash}, but the export logged as entry ${exportEvent.seq} holds ${String(exportEvent.data.manifestSha256)}: the manifest was replaced`);
  } else {
    pass('manifest', `manifest.json (SHA-256 ${manifestHash}) is the one logged as entry ${exportEvent.seq} by ${exportEvent.actor} at ${exportEvent.time}`);
  }

  // 4. Every file against the manifest.
  const inManifest = new Set();
  let filesOk = true;
  for (const entry of Array.isArray(manifest.files) ? manifest.files : []) {
    inManifest.add(entry.path);
    const bytes = files.get(entry.path);
    if (!bytes) {
      filesOk = false;
      fail('file', `${entry.path} was removed from the bundle`);
    } else if (bytes.length !== entry.size || sha256Hex(bytes) !== entry.sha256) {
      filesOk = false;
      fail('file', `${entry.path} was changed: its SHA-256 is ${sha256Hex(bytes)}, the manifest's ${entry.sha256}`);
    }
  }
  for (const name of files.keys()) {
    if (!inManifest.has(name) && !LOG_BOUND_FILES.includes(name)) {
      filesOk = false;
      fail('file', `${name} was added to the bundle: it is not in the manifest`);
    }
  }
  if (filesOk) pass('files', `all ${inManifest.size} files match the manifest, and no file was added`);

  // 5. What rests on log entries of its own: recordings, decisions, the approved plan.
  /** @param {string} subject @param {string[]} actions */
  const logged = (subject, actions) => events.filter((event) => event.subject === subject && actions.includes(event.action));
  for (const entry of Array.isArray(manifest.files) ? manifest.files : []) {
    const recording = /^sessions\/([^/]+)\/recording\.cast$/.exec(entry.path);
    if (!recording || !files.has(entry.path)) continue;
    const session = files.has(`sessions/${recording[1]}/session.json`) ? json(`sessions/${recording[1]}/session.json`) : undefined;
    const ends = session ? logged(`session:${session.id}`, ['session.end', 'session.interrupted']) : [];
    const hash = ends.map((event) => event.data.recordingSha256).find((value) => typeof value === 'string');
    const actual = sha256Hex(/** @type {Uint8Array} */ (files.get(entry.path)));
    if (hash === undefined) pass('recording', `${entry.path}: no hash was logged for it (the session had not ended, or its file was missing at its end); the manifest covers it`);
    else if (hash !== actual) fail('recording', `${entry.path} hashes to ${actual}, not to the SHA-256 logged when session ${session.number} ended (${hash})`);
    else pass('recording', `${entry.path} is the recording logged when session ${session.number} ended (SHA-256 ${hash})`);
  }
  // Every session whose end logged a recording's hash must have that recording here: one left out is named.
  /** @type {Map<string, number>} */
  const sessionNumbers = new Map();
  for (const name of files.keys()) {
    const found = /^sessions\/([^/]+)\/session\.json$/.exec(name);
    const session = found ? json(name) : undefined;
    if (session && typeof session.id === 'string') sessionNumbers.set(session.id, session.number);
  }
  for (const event of events) {
    if (!['session.end', 'session.interrupted'].includes(event?.action) || typeof event.data?.recordingSha256 !== 'string') continue;
    const id = String(event.subject).replace(/^session:/, '');
    const number = sessionNumbers.get(id);
    const where = number === undefined ? undefined : `sessions/${number}/recording.cast`;
    if (where === undefined) fail('recording', `session ${id} ended with a recording logged as entry ${event.seq} (SHA-256 ${event.data.recordingSha256}), but the bundle has no session.json for it: the session was left out`);
    else if (!files.has(where) || !inManifest.has(where)) fail('recording', `${where} is missing: session ${number} ended with a recording logged as entry ${event.seq} (SHA-256 ${event.data.recordingSha256})`);
  }
  // Each decision in requests.json is logged, and each logged decision is in requests.json.
  const requests = files.has('requests.json') ? json('requests.json') : undefined;
  /** @type {Set<string>} */
  const listedDecisions = new Set();
  for (const request of Array.isArray(requests) ? requests : []) {
    for (const decision of request.decisions ?? []) {
      listedDecisions.add(`${request.number} ${decision.decision} ${decision.approver} ${decision.digest}`);
      const found = logged(`request:${request.number}`, [`request.${decision.decision}`]).some((event) => event.actor === decision.approver && (event.data.digest ?? null) === decision.digest);
      if (found) pass('decision', `request #${request.number}: ${decision.decision} by ${decision.approver} is logged, for plan ${decision.digest}`);
      else fail('decision', `request #${request.number}: no logged ${decision.decision} by ${decision.approver} for plan ${decision.digest}`);
    }
  }
  for (const event of events) {
    if (!['request.approve', 'request.deny'].includes(event?.action)) continue;
    const number = String(event.subject).replace(/^request:/, '');
    const decision = String(event.action).slice('request.'.length);
    if (!listedDecisions.has(`${number} ${decision} ${event.actor} ${event.data?.digest ?? null}`)) {
      fail('decision', `the ${decision} of request #${number} by ${event.actor} (entry ${event.seq}, plan ${String(event.data?.digest ?? null)}) is logged but not in requests.json: it was left out`);
    }
  }
  // Each audit-trail entry against the SHA-256 its write's event logged (canonicalAuditEntry on the server).
  const auditTrail = files.has('audit-trail.json') ? json('audit-trail.json') : undefined;
  if (Array.isArray(auditTrail)) {
    /** @type {Map<number, EventEntry>} */
    const byEntry = new Map();
    for (const event of events) {
      const seq = /** @type {{ seq?: unknown }} */ (event?.data?.auditEntry ?? {}).seq;
      if (typeof seq === 'number') byEntry.set(seq, event);
    }
    /** @type {Set<number>} */
    const listedEntries = new Set();
    for (const entry of auditTrail) {
      listedEntries.add(entry?.seq);
      const event = byEntry.get(entry?.seq);
      if (!event) {
        pass('audit entry', `audit-trail entry ${entry?.seq}: no log entry in the bundle holds its hash (written before the log held them); the manifest covers it`);
        continue;
      }
      const { seq, time, objectType, objectId, businessKey, partitionId, action, level, user, reason, objectVersion, diff, before, after, ruleId, restoredFrom } = entry;
      const hash = sha256Hex(Buffer.from(canonicalJson({ seq, time, objectType, objectId, businessKey, partitionId, action, level, user, reason, objectVersion, diff, before, after, ruleId, restoredFrom }), 'utf8'));
      const expected = /** @type {{ sha256?: unknown }} */ (event.data.auditEntry).sha256;
      if (hash === expected) pass('audit entry', `audit-trail entry ${seq} is the one logged with entry ${event.seq} (${event.action})`);
      else fail('audit entry', `audit-trail entry ${seq} hashes to ${hash}, not to the SHA-256 logged with entry ${event.seq} (${String(expected)}): it was changed`);
    }
    for (const [seq, event] of byEntry) {
      if (event.subject === exportEvent.subject && !listedEntries.has(seq)) fail('audit entry', `audit-trail entry ${seq}, logged with entry ${event.seq} (${event.action}), is not in audit-trail.json: it was left out`);
    }
  }
  const change = files.has('change.json') ? json('change.json') : undefined;
  for (const approved of change?.asApproved ?? []) {
    const digest = sha256Hex(Buffer.from(canonicalJson(approved.plan), 'utf8'));
    const approvals = events.filter((event) => event.action === 'request.approve' && event.data.digest === approved.digest).length;
    if (digest !== approved.digest) fail('plan', `change.json: the plan of version ${approved.version} hashes to ${digest}, not to ${approved.digest}`);
    else if (approvals === 0) fail('plan', `change.json: no logged approval is for plan ${approved.digest}`);
    else pass('plan', `the change as approved (version ${approved.version}, plan ${digest}) is what ${approvals} logged approval(s) were given on`);
  }
  return report();
}

/**
 * Every file under `dir`, by its path relative to it with `/`.
 *
 * @param {string} dir
 * @returns {Map<string, Uint8Array>}
 */
export function readBundleDirectory(dir) {
  /** @type {Map<string, Uint8Array>} */
  const files = new Map();
  /** @param {string} relative */
  const walk = (relative) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const name = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(name);
      else files.set(name, readFileSync(path.join(dir, name)));
    }
  };
  walk('');
  return files;
}

/**
 * The report as lines: the key and checkpoint to compare with independently obtained ones, each
 * check, then OK or FAILED.
 *
 * @param {BundleReport} report
 * @returns {string[]}
 */
export function formatReport(report) {
  const lines = [];
  if (report.key) lines.push(`Log key: ${report.key}`);
  if (report.checkpoint) lines.push('Checkpoint:', ...report.checkpoint.trimEnd().split('\n').map((line) => `  ${line}`));
  lines.push('Compare both with ones you obtained independently (docs/evidence.md).', '');
  for (const check of report.checks) lines.push(`${check.ok ? 'ok  ' : 'FAIL'} ${check.check}: ${check.detail}`);
  if (!report.ok) lines.push('', 'FAILED');
  else if (report.anchored) lines.push('', 'OK: the bundle is complete, unaltered, and rests on the signed log.');
  else {
    lines.push(
      '',
      "UNANCHORED: every check passed, but the bundle's own key was used; pass --key with the log's key obtained independently (anyone can make a key and sign a bundle with it).",
    );
  }
  return lines;
}

/** @param {string[]} args @returns {{ key?: string, checkpoint?: string }} */
function parseArguments(args) {
  /** @type {{ key?: string, checkpoint?: string }} */
  const options = {};
  for (let k = 0; k < args.length; k += 1) {
    const value = args[k + 1];
    if (args[k] === '--key' && value !== undefined) options.key = value;
    else if (args[k] === '--checkpoint' && value !== undefined) options.checkpoint = readFileSync(value, 'utf8');
    else throw new Error(`usage: node verify.mjs [--key <verifier key>] [--checkpoint <file>] (not "${args[k]}")`);
    k += 1;
  }
  return options;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const report = verifyBundle(readBundleDirectory(path.dirname(fileURLToPath(import.meta.url))), parseArguments(process.argv.slice(2)));
    process.stdout.write(`${formatReport(report).join('\n')}\n`);
    process.exitCode = exitCodeOf(report);
  } catch (error) {
    process.stderr.write(`${/** @type {Error} */ (error).message}\nFAILED\n`);
    process.exitCode = 1;
  }
}
