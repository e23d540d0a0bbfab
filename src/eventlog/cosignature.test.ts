import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { witnessesOf } from './checkpoint-sinks.ts';
import { cosignatureProblem, encodeWitnessKey, parseWitnessKey, witnessKeyOf, witnessSignatureLine } from './cosignature.ts';
import { encodeVerifierKey, generateSigningKey, parseSignatureLines, type NoteSignature } from './signed-note.ts';

const TEXT = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const lineOf = (line: string) => parseSignatureLines(line)[0] as NoteSignature;

describe('witness keys and cosignatures (C2SP tlog-cosignature, signed-note)', () => {
  it("reads the spec example's cosignature as key ID, then the time, then a 64-byte signature", () => {
    // The example line of c2sp.org/tlog-cosignature, whose signed message has the line `time 1679315147`.
    const line = lineOf('— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n');
    expect(line.signature).toHaveLength(8 + 64);
    expect(line.signature.readBigUInt64BE(0)).toBe(1679315147n);
  });

  it('makes and verifies a cosignature/v1 over "cosignature/v1", the time line and the checkpoint, with the key ID of type 0x04', () => {
    const signer = generateSigningKey('witness.example/w1');
    const key = witnessKeyOf(signer);
    const expectedId = createHash('sha256').update('witness.example/w1').update(Buffer.from([0x0a, 0x04])).update(signer.publicKey).digest().readUInt32BE(0);
    expect(key.keyId).toBe(expectedId);
    const line = lineOf(witnessSignatureLine(TEXT, signer, 'cosignature/v1', 1679315147));
    expect(line.keyId).toBe(expectedId);
    // Checked here without the module's own verifier: the message as the spec writes it.
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: signer.publicKey.toString('base64url') }, format: 'jwk' });
    expect(verify(null, Buffer.from(`cosignature/v1\ntime 1679315147\n${TEXT}`), publicKey, line.signature.subarray(8))).toBe(true);
    expect(cosignatureProblem(TEXT, line, key)).toBeUndefined();
    // The same line over another checkpoint, or read as another key's, does not verify.
    expect(cosignatureProblem(TEXT.replace('20852163', '20852164'), line, key)).toMatch(/does not verify/);
    expect(cosignatureProblem(TEXT, line, witnessKeyOf(generateSigningKey('witness.example/w1')))).toMatch(/is signed by witness\.example\/w1\+[0-9a-f]{8}, not by/);
    // A plain note signature is not a cosignature/v1 of the same key.
    expect(cosignatureProblem(TEXT, { ...lineOf(witnessSignatureLine(TEXT, signer, 'note')), keyId: key.keyId }, key)).toMatch(/not a time and an Ed25519 signature/);
  });

  it('verifies a plain note signature with a key of type 0x01, the key text being the signed-note verifier key', () => {
    const signer = generateSigningKey('witness.example/w2');
    const key = parseWitnessKey(encodeVerifierKey(signer));
    expect(key).toMatchObject({ name: 'witness.example/w2', kind: 'note' });
    expect(cosignatureProblem(TEXT, lineOf(witnessSignatureLine(TEXT, signer, 'note')), key)).toBeUndefined();
  });

  it('reads back the keys it writes, and refuses a key altered or of another type, never quoting it', () => {
    const signer = generateSigningKey('witness.example/w3');
    for (const kind of ['cosignature/v1', 'note'] as const) expect(parseWitnessKey(encodeWitnessKey(witnessKeyOf(signer, kind)))).toEqual(witnessKeyOf(signer, kind));
    const text = encodeWitnessKey(witnessKeyOf(signer));
    const [name, id] = text.split('+') as [string, string];
    const base64 = text.slice(name.length + id.length + 2);
    const otherId = `${name}+${id === '00000000' ? '00000001' : '00000000'}+${base64}`;
    expect(() => parseWitnessKey(otherId)).toThrow(/the witness key's ID does not match its name and key/);
    const type2 = Buffer.from(base64, 'base64');
    type2[0] = 0x02;
    expect(() => parseWitnessKey(`${name}+${id}+${type2.toString('base64')}`)).toThrow(/signature type 0x04 .* or 0x01/);
    expect(() => parseWitnessKey(`${name}+${id}+${Buffer.from([4, 1, 2]).toString('base64')}`)).toThrow(/holds 32 bytes after its type byte, not 2/);
    // At start: the witness is named, the key is not quoted.
    expect(() => witnessesOf([{ name: 'w3', url: 'https://w3.example', verifierKey: otherId }])).toThrow(/^CHANGEGATE_WITNESSES: the key of witness "w3" is not valid: the witness key's ID does not match/);
    try {
      witnessesOf([{ name: 'w3', url: 'https://w3.example', verifierKey: otherId }]);
    } catch (error) {
      expect((error as Error).message).not.toContain(base64);
    }
    expect(witnessesOf([{ name: 'w4', url: 'https://w4.example' }])).toEqual([{ name: 'w4', url: 'https://w4.example' }]);
    // Two witnesses whose keys have one name: a verifier could not tell their lines apart.
    const twin = encodeWitnessKey(witnessKeyOf(generateSigningKey('witness.example/w3')));
    expect(() =>
      witnessesOf([
        { name: 'w3', url: 'https://w3.example', verifierKey: text },
        { name: 'w5', url: 'https://w5.example', verifierKey: twin },
      ]),
    ).toThrow('CHANGEGATE_WITNESSES: witnesses "w3" and "w5" have keys of the same name, witness.example/w3: a key name is one witness\'s.');
  });
});
