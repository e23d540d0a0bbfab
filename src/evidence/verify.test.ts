import canonicalizeModule from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash } from '../eventlog/index.ts';
import { buildInclusionFixture } from './verify.test-kit.ts';
import { canonicalJson, eventLeafHash, rootFromInclusionProof } from './verify.mjs';

// The package is CommonJS (`module.exports = serialize`) but its types declare an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string;

/** verify.mjs hashes log entries itself, with no package: its canonical JSON must be the server's. */
describe("verify.mjs's canonical JSON (RFC 8785)", () => {
  it.each([
    ['unicode keys sorted by UTF-16 code unit, not code point', { '\u{1F600}': 1, '\uFB33': 2, é: 3, a: 4, A: 5, '': 6 }],
    ['strings with escapes, controls, lone surrogates and non-BMP characters', ['\u0000\u001f\u007f', '"\\/', '\u2028\u2029', '\uD800', 'שלום 😀 €']],
    ['numbers in their shortest form', [0, -0, 1, -1, 1e21, 1e-7, 123456789012345680000, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 4.35, 2 ** 53, -1.5e-10]],
    ['nesting', { b: [{ z: null, y: [true, false, { x: [] }] }, {}], a: { c: { d: { e: 'deep' } } } }],
  ])('matches the canonicalize package on %s', (_what, value) => {
    expect(canonicalJson(value)).toBe(canonicalize(value));
  });

  it('matches the canonicalize package on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 500 },
    );
  });

  it('matches on full Unicode strings and keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.oneof(fc.string({ unit: 'binary' }), fc.double({ noNaN: true, noDefaultInfinity: true }))), (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
    );
  });

  it('refuses what JSON cannot hold, as the package does', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow();
  });

  it('gives the leaf hash the event log stores for any entry', () => {
    fc.assert(
      fc.property(
        fc.record({ seq: fc.integer({ min: 1 }), time: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('9999-12-31') }), actor: fc.string(), action: fc.string(), subject: fc.string(), data: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })) }),
        (entry) => {
          expect(eventLeafHash({ ...entry, time: entry.time.toISOString() }).toString('hex')).toBe(leafHash(entry));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("verify.mjs's inclusion proofs (RFC 9162)", () => {
  it('leads to the root from every leaf of trees of 1 to 40 leaves, and not with any changed bit', () => {
    for (let size = 1; size <= 40; size += 1) {
      const tree = buildInclusionFixture(size);
      for (let index = 0; index < size; index += 1) {
        const { leaf, proof } = tree.proofOf(index);
        expect(rootFromInclusionProof(index, size, leaf, proof)?.equals(tree.root)).toBe(true);
        if (proof.length > 0) {
          const changed = proof.map((hash) => Buffer.from(hash));
          (changed[0] as Buffer).writeUInt8(((changed[0] as Buffer).readUInt8(0) ^ 1) & 0xff, 0);
          expect(rootFromInclusionProof(index, size, leaf, changed)?.equals(tree.root) ?? false).toBe(false);
        }
        expect(rootFromInclusionProof(index + size, size, leaf, proof)).toBeUndefined();
      }
    }
  });
});
