import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** One entry of the tamper-evident event log. */
export interface EventEntry {
  readonly seq: number;
  readonly time: Date;
  /** Username, `system`, or `anonymous` for a sign-in attempt by an unknown name. */
  readonly actor: string;
  /** Dotted verb, e.g. `user.create`, `auth.login.failure`. */
  readonly action: string;
  /** What the action was about, e.g. `user:alice`. */
  readonly subject: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface HashedEventEntry extends EventEntry {
  /** Hex SHA-256 leaf hash of the entry (RFC 9162 §2.1.1). */
  readonly leafHash: string;
  /** Hex SHA-256 of the previous chain hash and this leaf hash. */
  readonly chainHash: string;
}

/** The chain hash before the first entry. */
export const GENESIS_CHAIN_HASH = '0'.repeat(64);

/**
 * The bytes an entry is hashed over: its RFC 8785 canonical JSON (sorted keys, shortest number
 * form), with the time as an ISO-8601 UTC string. A Merkle tree built later hashes the same leaves.
 */
export function canonicalEntry(entry: EventEntry): string {
  // The envelope's keys are fixed, so they are written in RFC 8785's order (action, actor, data,
  // seq, subject, time) without sorting: RFC 8785 serializes strings and numbers as ECMAScript's
  // JSON.stringify does. Only `data` needs the general canonicalization. A property test holds this
  // equal to canonicalizing the whole object; the verification of a long log spends its time here.
  const data = canonicalize(entry.data);
  if (data === undefined || !Number.isSafeInteger(entry.seq)) throw new Error('event entry cannot be canonicalized');
  return (
    `{"action":${JSON.stringify(entry.action)},"actor":${JSON.stringify(entry.actor)},"data":${data},` +
    `"seq":${entry.seq},"subject":${JSON.stringify(entry.subject)},"time":${JSON.stringify(entry.time.toISOString())}}`
  );
}

/** Leaf hash per RFC 9162: SHA-256(0x00 ‖ entry). */
export function leafHash(entry: EventEntry): string {
  return createHash('sha256').update(Buffer.from([0])).update(canonicalEntry(entry), 'utf8').digest('hex');
}

/** Links an entry to everything before it: SHA-256(previous chain hash ‖ leaf hash), over the raw bytes. */
export function chainHash(previousChainHash: string, leaf: string): string {
  return createHash('sha256').update(Buffer.from(previousChainHash, 'hex')).update(Buffer.from(leaf, 'hex')).digest('hex');
}

export function hashEntry(entry: EventEntry, previousChainHash: string): HashedEventEntry {
  const leaf = leafHash(entry);
  return { ...entry, leafHash: leaf, chainHash: chainHash(previousChainHash, leaf) };
}

/** What verification found wrong with one stored entry. */
export interface VerifyFailure {
  readonly seq: number;
  readonly reason: 'missing' | 'content_changed' | 'chain_broken';
  readonly message: string;
}

/**
 * Checks one stored entry against the chain so far. Returns the failure, or undefined when the
 * entry is exactly what was appended.
 */
export function checkEntry(stored: HashedEventEntry, expectedSeq: number, previousChainHash: string): VerifyFailure | undefined {
  if (stored.seq !== expectedSeq) {
    return { seq: expectedSeq, reason: 'missing', message: `entry ${expectedSeq} is missing: the next stored entry is ${stored.seq}` };
  }
  const leaf = leafHash(stored);
  if (leaf !== stored.leafHash) {
    return {
      seq: stored.seq,
      reason: 'content_changed',
      message: `entry ${stored.seq} (${stored.action} ${stored.subject}) does not match its leaf hash: its content was changed after it was written`,
    };
  }
  if (chainHash(previousChainHash, leaf) !== stored.chainHash) {
    return {
      seq: stored.seq,
      reason: 'chain_broken',
      message: `entry ${stored.seq} (${stored.action} ${stored.subject}) does not link to entry ${stored.seq - 1}: the chain was rewritten`,
    };
  }
  return undefined;
}
