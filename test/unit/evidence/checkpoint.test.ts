import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../../src/evidence/checkpoint';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from '../../../src/evidence/note-key';

describe('evidence/checkpoint (tlog-checkpoint)', () => {
  const root = createHash('sha256').update('root').digest();
  const rootB64 = root.toString('base64');
  const cp = { origin: 'example.org/secret-broker', size: 20852163, rootHash: root };

  it('formats origin, size and base64 root, one per line, with no extension lines', () => {
    assert.equal(formatCheckpoint(cp), `example.org/secret-broker\n20852163\n${rootB64}\n`);
    assert.deepEqual(parseCheckpoint(formatCheckpoint(cp)), cp);
  });

  it('parses the empty tree', () => {
    const empty = createHash('sha256').digest();
    assert.deepEqual(parseCheckpoint(`o\n0\n${empty.toString('base64')}\n`), { origin: 'o', size: 0, rootHash: empty });
  });

  const bad: [string, string, string][] = [
    ['an extension line', `o\n1\n${rootB64}\next\n`, 'extension-lines'],
    ['an empty extension line', `o\n1\n${rootB64}\n\n`, 'extension-lines'],
    ['no final newline', `o\n1\n${rootB64}`, 'malformed'],
    ['two lines', `o\n1\n`, 'malformed'],
    ['an empty origin', `\n1\n${rootB64}\n`, 'bad-origin'],
    ['a leading zero', `o\n01\n${rootB64}\n`, 'bad-size'],
    ['a sign', `o\n+1\n${rootB64}\n`, 'bad-size'],
    ['a negative size', `o\n-1\n${rootB64}\n`, 'bad-size'],
    ['a size past 2^53', `o\n9007199254740993\n${rootB64}\n`, 'bad-size'],
    ['a hex size', `o\n0x10\n${rootB64}\n`, 'bad-size'],
    ['a short root', `o\n1\n${root.subarray(1).toString('base64')}\n`, 'bad-root'],
    ['a base64url root', `o\n1\n${root.toString('base64url')}\n`, 'bad-root'],
    ['an unpadded root', `o\n1\n${rootB64.replace(/=$/, '')}\n`, 'bad-root'],
    ['CRLF line ends', `o\r\n1\r\n${rootB64}\r\n`, 'malformed'],
  ];
  for (const [what, text, reason] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseCheckpoint(text), { code: 'EVIDENCE_CHECKPOINT_INVALID', reason });
    });
  }

  it('refuses to format an origin that cannot be a key name, or a bad size or root', () => {
    assert.throws(() => formatCheckpoint({ ...cp, origin: 'a b' }), { reason: 'bad-origin' });
    assert.throws(() => formatCheckpoint({ ...cp, origin: 'a\nb' }), { reason: 'bad-origin' });
    assert.throws(() => formatCheckpoint({ ...cp, size: -1 }), { reason: 'bad-size' });
    assert.throws(() => formatCheckpoint({ ...cp, rootHash: Buffer.alloc(31) }), { reason: 'bad-root' });
  });

  describe('signed', () => {
    const key = generateNoteKey(cp.origin);
    const note = signCheckpoint(cp, [parseSignerKey(key.signerKey)]);

    it('opens with the log key and yields the checkpoint', () => {
      const opened = openCheckpoint(note, [parseVerifierKey(key.verifierKey)], { origin: cp.origin });
      assert.deepEqual(opened.checkpoint, cp);
      assert.equal(opened.logSignatures.length, 1);
    });

    it('refuses another origin than the one asked for', () => {
      assert.throws(() => openCheckpoint(note, [parseVerifierKey(key.verifierKey)], { origin: 'example.org/other' }), { reason: 'wrong-origin' });
    });

    it('refuses a checkpoint signed only by a key not named after the origin', () => {
      const other = generateNoteKey('example.org/someone-else');
      const n = signCheckpoint(cp, [parseSignerKey(other.signerKey)]);
      assert.throws(() => openCheckpoint(n, [parseVerifierKey(other.verifierKey)]), { reason: 'no-log-signature' });
    });

    it('refuses a checkpoint whose size was edited', () => {
      const tampered = note.toString().replace('\n20852163\n', '\n20852164\n');
      assert.throws(() => openCheckpoint(tampered, [parseVerifierKey(key.verifierKey)]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' });
    });
  });
});
