import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodePrivateKey,
  encodeVerifierKey,
  generateSigningKey,
  NoteError,
  parseNote,
  parsePrivateKey,
  parseVerifierKey,
  signNote,
  verifierOf,
  verifyNote,
} from './signed-note.ts';

/** What a refused note or key says: its reason and message. */
function refusal(work: () => unknown): { reason: string; message: string } {
  try {
    work();
  } catch (error) {
    if (error instanceof NoteError) return { reason: error.reason, message: error.message };
    throw error;
  }
  throw new Error('it was accepted');
}

// Test vectors of Go's golang.org/x/mod/sumdb/note (note_test.go, BSD licence): keys, a text and the
// signatures Go's implementation makes. Ed25519 is deterministic, so ours must match byte for byte.
const GO = {
  peterPrivate: 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz',
  peterVerifier: 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
  enochVerifier: 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop',
  text: "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n",
  peterSig: '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n',
  enochSig: '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n',
};

describe('signed notes, against the Go reference implementation', () => {
  it('signs the vector text exactly as Go does, and derives the same verifier key from the private key', () => {
    const key = parsePrivateKey(GO.peterPrivate);
    expect(signNote(GO.text, key)).toBe(`${GO.text}\n${GO.peterSig}`);
    expect(encodeVerifierKey(key)).toBe(GO.peterVerifier);
    expect(encodePrivateKey(key)).toBe(GO.peterPrivate);
  });

  it('verifies a note signed by two keys with either key, ignoring the other signature', () => {
    const note = `${GO.text}\n${GO.peterSig}${GO.enochSig}`;
    const byPeter = verifyNote(note, parseVerifierKey(GO.peterVerifier));
    expect(byPeter.text).toBe(GO.text);
    expect(byPeter.verified.name).toBe('PeterNeumann');
    expect(byPeter.signatures.map((signature) => signature.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(verifyNote(note, parseVerifierKey(GO.enochVerifier)).verified.keyId).toBe(0xaf0cfe78);
  });

  it('refuses the malformed notes Go refuses', () => {
    const peter = parseVerifierKey(GO.peterVerifier);
    const bad = [
      GO.text,
      `${GO.text}\n`,
      `${GO.text}\n${GO.peterSig.slice(0, -1)}`,
      `\u0001${GO.text}\n${GO.peterSig}`,
      `${GO.text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${GO.text}\n${GO.peterSig}Unexpected line.\n`,
      `${GO.text}\n${GO.peterSig.repeat(101)}`,
    ];
    for (const note of bad) expect(refusal(() => verifyNote(note, peter)).reason, JSON.stringify(note)).toBe('malformed');
    // Bytes that are not UTF-8.
    const invalid = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${GO.text}\n${GO.peterSig}`)]);
    expect(refusal(() => verifyNote(invalid, peter))).toEqual({ reason: 'malformed', message: 'the note is not valid UTF-8' });
  });

  it('refuses a signature Go calls invalid (bytes changed inside it)', () => {
    const mangled = `${GO.text}\n${GO.peterSig.slice(0, 60)}ABCD${GO.peterSig.slice(60)}`;
    expect(refusal(() => verifyNote(mangled, parseVerifierKey(GO.peterVerifier))).reason).toBe('invalid_signature');
  });

  it('refuses mangled key texts as Go does, each with a reason', () => {
    expect(refusal(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==')).reason).toBe('bad_key');
    expect(refusal(() => parseVerifierKey('PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAAAA')).message).toContain('32 bytes');
    expect(refusal(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).message).toContain('only Ed25519 keys are supported');
    expect(refusal(() => parseVerifierKey('PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).message).toContain('does not match its name and key');
    expect(refusal(() => parseVerifierKey('Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).message).toContain('holds no spaces');
    expect(refusal(() => parseVerifierKey('PeterNeumann')).message).toContain('<name>+<key ID>+<base64 key>');
    expect(refusal(() => parsePrivateKey(GO.peterVerifier)).message).toContain('starts with PRIVATE+KEY+');
    // Every single changed byte of the key texts is refused.
    for (const text of [GO.peterVerifier, GO.peterPrivate]) {
      for (let i = 0; i < text.length; i += 1) {
        const changed = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) + 1) + text.slice(i + 1);
        const parse = text.startsWith('PRIVATE') ? parsePrivateKey : parseVerifierKey;
        expect(() => parse(changed), changed).toThrow(NoteError);
      }
    }
  });

  it("parses the spec's example notes (their keys are not published, so only their syntax is checked)", () => {
    const poem = parseNote(
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n',
    );
    // The text may hold blank lines: the last one separates the signatures.
    expect(poem.text).toBe('Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n');
    expect(poem.signatures).toHaveLength(1);
    expect(poem.signatures[0]?.name).toBe('quasimodo.example/salvatore');
  });
});

describe('signed notes with keys of our own', () => {
  const key = generateSigningKey('changegate.example.com');
  const text = 'changegate.example.com\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';

  it('round-trips keys through their texts and verifies what it signs', () => {
    const verifier = parseVerifierKey(encodeVerifierKey(key));
    expect(verifier).toEqual(verifierOf(key));
    expect(parsePrivateKey(encodePrivateKey(key))).toEqual(key);
    expect(encodeVerifierKey(key)).toMatch(/^changegate\.example\.com\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    expect(verifyNote(signNote(text, key), verifier).text).toBe(text);
  });

  it('refuses a note signed by another key of the same name, saying whose signatures it carries', () => {
    const other = generateSigningKey('changegate.example.com');
    const refused = refusal(() => verifyNote(signNote(text, other), verifierOf(key)));
    expect(refused.reason).toBe('unknown_key');
    expect(refused.message).toContain('carries no signature of changegate.example.com+');
  });

  it('refuses a note whose key ID was changed', () => {
    const note = signNote(text, key);
    const line = note.slice(text.length + 1);
    const bytes = Buffer.from(line.slice('— changegate.example.com '.length, -1), 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 0x01;
    const changed = `${text}\n— changegate.example.com ${bytes.toString('base64')}\n`;
    expect(refusal(() => verifyNote(changed, verifierOf(key))).reason).toBe('unknown_key');
  });

  it('accepts extra signatures of unknown keys beside its own', () => {
    const witness = generateSigningKey('witness.example/w1');
    const note = signNote(text, key) + signNote(text, witness).slice(text.length + 1);
    expect(verifyNote(note, verifierOf(key)).signatures).toHaveLength(2);
    expect(verifyNote(note, verifierOf(witness)).verified.name).toBe('witness.example/w1');
  });

  it('refuses a note in which any byte of the text was changed', () => {
    const note = signNote(text, key);
    const verifier = verifierOf(key);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 2 }), fc.integer({ min: 1, max: 94 }), (position, shift) => {
        const original = text.charCodeAt(position);
        // Another printable ASCII character (newlines stay where they are, so the note still parses).
        if (original === 0x0a) return;
        const replacement = String.fromCharCode(((original - 0x20 + shift) % 95) + 0x20);
        const tampered = note.slice(0, position) + replacement + note.slice(position + 1);
        expect(refusal(() => verifyNote(tampered, verifier)).reason).toBe('invalid_signature');
      }),
    );
  });

  it('refuses to sign a text that a note cannot carry', () => {
    expect(refusal(() => signNote('no newline', key)).reason).toBe('malformed');
    expect(refusal(() => signNote('tab\there\n', key)).reason).toBe('malformed');
    expect(refusal(() => generateSigningKey('has space')).reason).toBe('bad_key');
    expect(refusal(() => generateSigningKey('a+b')).reason).toBe('bad_key');
  });
});
