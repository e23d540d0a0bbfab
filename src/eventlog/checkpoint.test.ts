import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CheckpointFormatError, formatCheckpoint, parseCheckpoint } from './checkpoint.ts';
import { rootOf as merkleTreeHash } from './merkle.ts';

const ROOT = 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=';

describe('checkpoint bodies (C2SP tlog-checkpoint)', () => {
  it("reads the spec's example and writes it back byte for byte", () => {
    const text = `example.com/behind-the-sofa\n20852163\n${ROOT}\n`;
    const checkpoint = parseCheckpoint(text);
    expect(checkpoint).toMatchObject({ origin: 'example.com/behind-the-sofa', size: 20852163, extensions: [] });
    expect(checkpoint.rootHash.toString('base64')).toBe(ROOT);
    expect(formatCheckpoint(checkpoint)).toBe(text);
  });

  it('keeps extension lines and the empty tree', () => {
    const withExtension = parseCheckpoint(`log.example\n0\n${ROOT}\nextra line\n`);
    expect(withExtension).toMatchObject({ size: 0, extensions: ['extra line'] });
    expect(formatCheckpoint(withExtension)).toBe(`log.example\n0\n${ROOT}\nextra line\n`);
  });

  it('refuses every deviation from the format, naming what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      [`log.example\n12\n${ROOT}`, /ends with a newline/],
      ['log.example\n12\n', /at least three lines/],
      [`\n12\n${ROOT}\n`, /line 1 of the checkpoint is empty/],
      [`log.example\n012\n${ROOT}\n`, /without leading zeros/],
      [`log.example\n+12\n${ROOT}\n`, /decimal digits/],
      [`log.example\n1 2\n${ROOT}\n`, /decimal digits/],
      [`log.example\n99999999999999999999\n${ROOT}\n`, /larger than this verifier reads/],
      ['log.example\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n', /base64 of 32 bytes/],
      ['log.example\n12\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n', /base64 of 32 bytes/],
      ['log.example\n12\nAAAA\n', /base64 of 32 bytes/],
      [`log.example\n12\n${ROOT}\n\n`, /line 4 of the checkpoint is empty/],
    ];
    for (const [text, reason] of cases) expect(() => parseCheckpoint(text), JSON.stringify(text)).toThrow(reason);
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: Buffer.alloc(32), extensions: [] })).toThrow(CheckpointFormatError);
    expect(() => formatCheckpoint({ origin: 'a', size: -1, rootHash: Buffer.alloc(32), extensions: [] })).toThrow(CheckpointFormatError);
    expect(() => formatCheckpoint({ origin: 'a', size: 1, rootHash: Buffer.alloc(31), extensions: [] })).toThrow(CheckpointFormatError);
    expect(() => formatCheckpoint({ origin: 'a', size: 1, rootHash: Buffer.alloc(32), extensions: [''] })).toThrow(CheckpointFormatError);
  });
});

describe('the Merkle tree hash of the stand-in tree head (RFC 9162 §2.1.1)', () => {
  const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
  // The RFC 6962 reference inputs of the transparency-dev/merkle test vectors, and their roots for sizes 1 to 8.
  const inputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((hex) => Buffer.from(hex, 'hex'));
  const leaves = inputs.map((input) => sha256(Buffer.from([0]), input));
  const roots = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];

  it('is SHA-256 of nothing for the empty tree and matches the reference roots for 1 to 8 leaves', () => {
    expect(merkleTreeHash([]).toString('hex')).toBe(createHash('sha256').digest('hex'));
    for (let size = 1; size <= 8; size += 1) expect(merkleTreeHash(leaves.slice(0, size)).toString('hex'), `size ${size}`).toBe(roots[size - 1]);
  });

  it('agrees with the recursive definition on sizes up to 70', () => {
    const recursive = (hashes: Buffer[]): Buffer => {
      if (hashes.length === 1) return hashes[0] as Buffer;
      let k = 1;
      while (k * 2 < hashes.length) k *= 2;
      return sha256(Buffer.from([1]), recursive(hashes.slice(0, k)), recursive(hashes.slice(k)));
    };
    const many = Array.from({ length: 70 }, (_, i) => sha256(Buffer.from([0, i])));
    for (let size = 1; size <= many.length; size += 1) expect(merkleTreeHash(many.slice(0, size)).equals(recursive(many.slice(0, size))), `size ${size}`).toBe(true);
  });
});
