import { hash } from 'node:crypto';
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

/*
 * Hashing with one-shot `crypto.hash` (a verification of a long log hashes each entry twice, and a
 * Hash object per call costs three times as much); the link buffer is reused: hashing is synchronous.
 */
const leafBytes = (entry: EventEntry): Buffer => hash('sha256', `\u0000${canonicalEntry(entry)}`, 'buffer');
const link = Buffer.alloc(64);
function linkBytes(previous: Buffer, leaf: Buffer): Buffer {
  previous.copy(link, 0);
  leaf.copy(link, 32);
  return hash('sha256', link, 'buffer');
}

/** Leaf hash per RFC 9162: SHA-256(0x00 ‖ entry). */
export function leafHash(entry: EventEntry): string {
  return leafBytes(entry).toString('hex');
}

/** Links an entry to everything before it: SHA-256(previous chain hash ‖ leaf hash), over the raw bytes. */
export function chainHash(previousChainHash: string, leaf: string): string {
  return linkBytes(Buffer.from(previousChainHash, 'hex'), Buffer.from(leaf, 'hex')).toString('hex');
}

export function hashEntry(entry: EventEntry, previousChainHash: string): HashedEventEntry {
  const leaf = leafHash(entry);
  return { ...entry, leafHash: leaf, chainHash: chainHash(previousChainHash, leaf) };
}

/**
 * What is wrong with a stored entry, found reading the log in order:
 * - `deleted`: an entry is missing (a seq skipped);
 * - `edited`: its content no longer matches its stored leaf hash;
 * - `chain_broken`: its stored chain hash does not link it to the entry before.
 */
export interface EntryFailure {
  readonly kind: 'deleted' | 'edited' | 'chain_broken';
  readonly seq: number;
  readonly message: string;
}

/**
 * Reads the stored log in order from its first entry, rehashing each: the one check of an entry
 * that `changegate verify` makes with or without a checkpoint.
 */
export class EntryWalk {
  /** The seq the next entry must have: the entries before it are exactly as appended. */
  expected: number;
  private previous: Buffer;

  /**
   * From the first entry, or resumed after entry `afterSeq` whose chain hash an earlier walk
   * verified (its `headChainHash`): a log verified in ranges is verified exactly as in one walk.
   */
  constructor(start: { readonly afterSeq: number; readonly chainHash: string } = { afterSeq: 0, chainHash: GENESIS_CHAIN_HASH }) {
    this.expected = start.afterSeq + 1;
    this.previous = Buffer.from(start.chainHash, 'hex');
  }

  /** The chain hash of the last entry that checked (the genesis hash before the first). */
  get headChainHash(): string {
    return this.previous.toString('hex');
  }

  /** The entry's leaf hash when it is exactly as appended (and the walk moves past it), else what is wrong. */
  check(stored: HashedEventEntry): Buffer | EntryFailure {
    if (stored.seq !== this.expected) {
      return { kind: 'deleted', seq: this.expected, message: `Entry ${this.expected} was deleted: the next stored entry is ${stored.seq}.` };
    }
    const leaf = leafBytes(stored);
    if (leaf.toString('hex') !== stored.leafHash) {
      return { kind: 'edited', seq: stored.seq, message: `Entry ${stored.seq} (${stored.action} ${stored.subject}) was edited: its content no longer matches its leaf hash.` };
    }
    const chain = linkBytes(this.previous, leaf);
    if (chain.toString('hex') !== stored.chainHash) {
      return {
        kind: 'chain_broken',
        seq: stored.seq,
        message: `Entry ${stored.seq} (${stored.action} ${stored.subject}) does not link to entry ${stored.seq - 1}: its chain hash was changed or the chain rewritten.`,
      };
    }
    this.previous = chain;
    this.expected += 1;
    return leaf;
  }
}
