import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { generateCosignerKey } from '../../../src/evidence/cosignature';
import { SecretValue } from '../../../src/lib/secret-value';
import { addSignatures, openNote, parseNote, signNote } from '../../../src/evidence/signed-note';
import { SIG_TYPE_ED25519, computeKeyId, generateNoteKey, parseSignerKey, parseVerifierKey, type NoteVerifier } from '../../../src/evidence/note-key';
import { readVector } from './vector-files';

interface NoteVector {
  signer_key: string;
  verifier_key: string;
  text: string;
  signed_note: string;
}

const vector = readVector<NoteVector>('signed-note.json');

/** Replaces the base64 of the signature line at `line` (0-based among signatures). */
function withSignature(note: string, line: number, mutate: (raw: Buffer) => Buffer): string {
  const [text, sigs] = [note.slice(0, note.lastIndexOf('\n\n') + 2), note.slice(note.lastIndexOf('\n\n') + 2)];
  const lines = sigs.slice(0, -1).split('\n');
  const [dash, name, b64] = lines[line]!.split(' ') as [string, string, string];
  lines[line] = `${dash} ${name} ${mutate(Buffer.from(b64, 'base64')).toString('base64')}`;
  return `${text}${lines.join('\n')}\n`;
}

describe('evidence/signed-note', () => {
  describe('the x/mod/sumdb/note vector', () => {
    it('derives the key id as SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey)[:4]', () => {
      const [name, id, b64] = vector.verifier_key.split('+') as [string, string, string];
      const key = Buffer.from(b64, 'base64');
      assert.equal(key[0], SIG_TYPE_ED25519);
      const manual = createHash('sha256').update(name).update(Buffer.from([0x0a, 0x01])).update(key.subarray(1)).digest().subarray(0, 4).toString('hex');
      assert.equal(manual, id);
      assert.equal(computeKeyId(name, 0x01, key.subarray(1)).toString(16).padStart(8, '0'), id);
    });

    it('verifies', () => {
      const v = parseVerifierKey(vector.verifier_key);
      const opened = openNote(Buffer.from(vector.signed_note, 'utf8'), [v]);
      assert.equal(opened.text, vector.text);
      assert.equal(opened.verified.length, 1);
      assert.equal(opened.verified[0]!.verifier, v);
      assert.deepEqual(opened.unverified, []);
    });

    it('the signer key (whose base64 contains "+") reproduces the note byte for byte', () => {
      const signer = parseSignerKey(vector.signer_key);
      assert.equal(signer.verifierKey, vector.verifier_key);
      assert.equal(signNote(vector.text, [signer]).toString('utf8'), vector.signed_note);
    });

    it('fails when the text is modified', () => {
      const v = parseVerifierKey(vector.verifier_key);
      const tampered = vector.signed_note.replace('cryptography', 'cryptograpHy');
      assert.throws(() => openNote(tampered, [v]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' });
    });

    it('fails when any bit of the signature is flipped', () => {
      const v = parseVerifierKey(vector.verifier_key);
      for (let bit = 32; bit < 68 * 8; bit += 7) {
        const tampered = withSignature(vector.signed_note, 0, (raw) => {
          raw[bit >> 3]! ^= 1 << (bit & 7);
          return raw;
        });
        assert.throws(() => openNote(tampered, [v]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' }, `bit ${bit}`);
      }
    });
  });

  describe('known and unknown keys', () => {
    const a = generateNoteKey('example.org/a');
    const b = generateNoteKey('example.org/b');
    const signerA = parseSignerKey(a.signerKey);
    const signerB = parseSignerKey(b.signerKey);
    const verifierA = parseVerifierKey(a.verifierKey);
    const verifierB = parseVerifierKey(b.verifierKey);
    const text = 'hello\n\nworld\n';

    it('generated keys round-trip and sign', () => {
      assert.equal(signerA.verifierKey, a.verifierKey);
      const opened = openNote(signNote(text, [signerA]), [verifierA]);
      assert.equal(opened.text, text);
    });

    it('ignores signatures by unknown keys and reports them', () => {
      const note = signNote(text, [signerB, signerA]);
      const opened = openNote(note, [verifierA]);
      assert.deepEqual(opened.verified.map((s) => s.name), ['example.org/a']);
      assert.deepEqual(opened.unverified.map((s) => s.name), ['example.org/b']);
    });

    it('verifies several signatures on one note (key rotation)', () => {
      const opened = openNote(signNote(text, [signerA, signerB]), [verifierA, verifierB]);
      assert.deepEqual(opened.verified.map((s) => s.name), ['example.org/a', 'example.org/b']);
    });

    it('rejects a note with no signature by a known key, listing who signed', () => {
      assert.throws(() => openNote(signNote(text, [signerB]), [verifierA]), {
        code: 'EVIDENCE_NOTE_UNVERIFIED',
        message: /example\.org\/b\+[0-9a-f]{8}/,
      });
    });

    it('ignores a signature that shares only the name, or only the id, with a known key', () => {
      const sameName = generateNoteKey('example.org/a');
      const impostor = parseSignerKey(sameName.signerKey);
      const note = signNote(text, [impostor, signerA]);
      assert.equal(openNote(note, [verifierA]).unverified.length, 1);
      // Same id, other name: rename the line of A's signature.
      const renamed = signNote(text, [signerA]).toString().replace('— example.org/a ', '— example.org/x ');
      assert.throws(() => openNote(renamed, [verifierA]), { code: 'EVIDENCE_NOTE_UNVERIFIED' });
    });

    it('rejects the whole note when one known key\'s signature is bad, even if another verifies', () => {
      const note = withSignature(signNote(text, [signerA, signerB]).toString(), 1, (raw) => {
        raw[10]! ^= 1;
        return raw;
      });
      assert.throws(() => openNote(note, [verifierA, verifierB]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE', message: /example\.org\/b/ });
      assert.doesNotThrow(() => openNote(note, [verifierA]));
    });

    it('drops repeated signatures by one key after the first', () => {
      const note = signNote(text, [signerA]).toString();
      const sigLine = note.slice(note.lastIndexOf('\n\n') + 2);
      const opened = openNote(note + sigLine, [verifierA]);
      assert.equal(opened.verified.length, 1);
    });

    it('refuses two different verifier keys under one (name, id)', () => {
      const fake: NoteVerifier = { ...verifierA, verifierKey: `${verifierA.verifierKey}x`, verify: () => true };
      assert.throws(() => openNote(signNote(text, [signerA]), [verifierA, fake]), { code: 'EVIDENCE_KEY_INVALID', reason: 'ambiguous-key' });
    });

    it('addSignatures appends a signature and keeps the others', () => {
      const once = signNote(text, [signerA]);
      const twice = addSignatures(once, [signerB]);
      assert.ok(twice.subarray(0, once.length).equals(once));
      assert.equal(openNote(twice, [verifierA, verifierB]).verified.length, 2);
      // Re-signing by the same key replaces its line instead of repeating it.
      assert.equal(parseNote(addSignatures(twice, [signerA])).signatures.length, 2);
    });
  });

  describe('malformed notes', () => {
    const k = generateNoteKey('example.org/k');
    const v = parseVerifierKey(k.verifierKey);
    const good = signNote('text\n', [parseSignerKey(k.signerKey)]).toString();
    const sigLine = good.slice(good.indexOf('—'));
    const cases: [string, string | Buffer, string][] = [
      ['no blank line', `text\n${sigLine}`, 'no-signatures'],
      ['no signature lines', 'text\n\n', 'no-signatures'],
      ['no final newline', good.slice(0, -1), 'no-signatures'],
      ['a CR', good.replace('text', 'te\rxt'), 'control-character'],
      ['a tab', good.replace('text', 'te\txt'), 'control-character'],
      ['a NUL', good.replace('text', 'te\0xt'), 'control-character'],
      ['invalid UTF-8', Buffer.concat([Buffer.from([0xc3, 0x28]), Buffer.from(good)]), 'not-utf8'],
      ['a hyphen instead of an em dash', good.replace('—', '-'), 'bad-signature-line'],
      ['no space after the name', good.replace(/— (\S+) /, '— $1'), 'bad-signature-line'],
      ['a "+" in the key name', good.replace('example.org/k', 'example.org+k'), 'bad-signature-line'],
      ['non-canonical base64', good.replace(/=\n$/, '\n'), 'bad-signature-line'],
      ['a signature of 4 bytes', `text\n\n— example.org/k AAAAAA==\n`, 'bad-signature-line'],
      ['over 100 signatures', `text\n\n${sigLine.repeat(101)}`, 'too-many-signatures'],
    ];
    for (const [what, note, reason] of cases) {
      it(`refuses ${what}`, () => {
        assert.throws(() => openNote(note, [v]), { code: 'EVIDENCE_NOTE_MALFORMED', reason });
      });
    }

    it('treats everything before the last blank line as text (so a stray blank line breaks the signature)', () => {
      assert.throws(() => openNote(`${good}\n${sigLine}`, [v]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' });
    });

    it('accepts 100 signature lines (the spec asks for at least 16)', () => {
      assert.equal(openNote(`text\n\n${sigLine.repeat(100)}`, [v]).verified.length, 1);
    });

    it('signNote refuses text without a final newline, with control characters, or without signers', () => {
      const s = parseSignerKey(k.signerKey);
      assert.throws(() => signNote('text', [s]), { reason: 'no-final-newline' });
      assert.throws(() => signNote('a\rb\n', [s]), { reason: 'control-character' });
      assert.throws(() => signNote('text\n', []), { reason: 'no-signatures' });
      assert.throws(() => signNote('text\n', [s, s]), { reason: 'duplicate-signer' });
    });
  });

  describe('key strings', () => {
    const k = generateNoteKey('example.org/log');

    it('formats as Go does', () => {
      assert.match(k.verifierKey, /^example\.org\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
      assert.match(k.signerKey.revealString(), /^PRIVATE\+KEY\+example\.org\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
      assert.equal(String(k.signerKey), '[REDACTED]');
    });

    it('refuses malformed verifier keys', () => {
      const [name, id, b64] = [k.verifierKey.split('+')[0]!, k.verifierKey.split('+')[1]!, k.verifierKey.split('+').slice(2).join('+')];
      const otherId = ((parseInt(id, 16) + 1) >>> 0).toString(16).padStart(8, '0');
      const cases: [string, string][] = [
        ['no separators', 'abc'],
        ['an empty name', `+${id}+${b64}`],
        ['a short id', `${name}+${id.slice(1)}+${b64}`],
        ['an uppercase id', `${name}+${id.toUpperCase().replace(/^[0-9]+/, 'A')}+${b64}`],
        ['a wrong id', `${name}+${otherId}+${b64}`],
        ['a different name', `example.org/other+${id}+${b64}`],
        ['bad base64', `${name}+${id}+${b64.slice(1)}`],
      ];
      for (const [what, vkey] of cases) assert.throws(() => parseVerifierKey(vkey), { code: 'EVIDENCE_KEY_INVALID' }, what);
    });

    it('refuses a cosigner (0x04) key where an Ed25519 (0x01) key is expected', () => {
      const w = generateCosignerKey('witness.example/w');
      assert.throws(() => parseVerifierKey(w.verifierKey), { reason: 'wrong-key-type' });
      assert.throws(() => parseSignerKey(w.signerKey), { reason: 'wrong-key-type' });
    });

    it('refuses a signer key whose id does not match, without echoing the key', () => {
      const text = k.signerKey.revealString();
      const secretPart = text.split('+').slice(4).join('+');
      const wrong = text.replace(/\+([0-9a-f]{8})\+/, '+00000000+');
      assert.throws(() => parseSignerKey(wrong), (err: Error) => {
        assert.match(err.message, /key id does not match/);
        assert.ok(!err.message.includes(secretPart));
        return true;
      });
      assert.throws(() => parseSignerKey(`${text}\n`), { message: /whitespace/ });
      assert.throws(() => parseSignerKey(text.replace('PRIVATE+KEY+', '')), (err: Error) => !err.message.includes(secretPart));
    });

    it('accepts the signer key as a SecretValue, and a signer does not print its key', () => {
      const signer = parseSignerKey(SecretValue.fromString(k.signerKey.revealString()));
      const secretPart = k.signerKey.revealString().split('+').slice(4).join('+');
      assert.ok(!inspect(signer, { depth: 5 }).includes(secretPart));
      assert.ok(!JSON.stringify(signer).includes(secretPart));
    });

    it('refuses key names with spaces or "+"', () => {
      assert.throws(() => generateNoteKey('a b'), { code: 'EVIDENCE_KEY_INVALID' });
      assert.throws(() => generateNoteKey('a+b'), { code: 'EVIDENCE_KEY_INVALID' });
      assert.throws(() => generateNoteKey('a\u00a0b'), { code: 'EVIDENCE_KEY_INVALID' });
      assert.throws(() => generateNoteKey(''), { code: 'EVIDENCE_KEY_INVALID' });
    });
  });
});
