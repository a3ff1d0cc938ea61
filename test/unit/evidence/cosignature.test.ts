import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { ManualClock } from '../../../src/lib/clock';
import { openCheckpoint, signCheckpoint } from '../../../src/evidence/checkpoint';
import {
  cosignatureTimestamp,
  cosignedMessage,
  generateCosignerKey,
  parseCosignatureVerifierKey,
  parseCosignerKey,
} from '../../../src/evidence/cosignature';
import { addSignatures, openNote } from '../../../src/evidence/signed-note';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from '../../../src/evidence/note-key';
import { parseAnyVerifierKey } from '../../../src/evidence/verifier-keys';

describe('evidence/cosignature (tlog-cosignature, type 0x04)', () => {
  const origin = 'example.org/log';
  const log = generateNoteKey(origin);
  const witness = generateCosignerKey('witness.example/w1');
  const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  const checkpoint = { origin, size: 3, rootHash: createHash('sha256').update('r').digest() };
  const note = signCheckpoint(checkpoint, [parseSignerKey(log.signerKey)]);

  it('uses key id SHA-256(name ‖ 0x0A ‖ 0x04 ‖ pubkey)[:4]', () => {
    // Only the first two '+' separate fields; the base64 may contain more.
    const [, name, id, b64] = /^([^+]*)\+([^+]*)\+(.*)$/.exec(witness.verifierKey)! as unknown as [string, string, string, string];
    const key = Buffer.from(b64, 'base64');
    assert.equal(key[0], 0x04);
    const want = createHash('sha256').update(name).update(Buffer.from([0x0a, 0x04])).update(key.subarray(1)).digest().subarray(0, 4).toString('hex');
    assert.equal(id, want);
  });

  it('signs "cosignature/v1\\ntime <seconds>\\n" + the checkpoint text, with a big-endian u64 timestamp', () => {
    assert.equal(cosignedMessage(1679315147, Buffer.from('a\n1\nb\n')).toString(), 'cosignature/v1\ntime 1679315147\na\n1\nb\n');
    const cosigned = addSignatures(note, [parseCosignerKey(witness.signerKey, clock)]);
    const opened = openNote(cosigned, [parseCosignatureVerifierKey(witness.verifierKey)]);
    const sig = opened.verified[0]!.signature;
    assert.equal(sig.length, 72);
    assert.equal(cosignatureTimestamp(sig), Math.floor(clock.now() / 1000));
  });

  it('a cosigned checkpoint opens with the log key and the witness key; the log key alone still suffices', () => {
    const cosigned = addSignatures(note, [parseCosignerKey(witness.signerKey, clock)]);
    const verifiers = [log.verifierKey, witness.verifierKey].map(parseAnyVerifierKey);
    const opened = openCheckpoint(cosigned, verifiers);
    assert.equal(opened.logSignatures.length, 1);
    assert.deepEqual(opened.cosignatures.map((s) => s.name), ['witness.example/w1']);
    assert.equal(openCheckpoint(cosigned, [parseVerifierKey(log.verifierKey)]).cosignatures.length, 0);
  });

  it('a witness signature alone does not make a checkpoint valid', () => {
    const cosigned = addSignatures(note, [parseCosignerKey(witness.signerKey, clock)]);
    assert.throws(() => openCheckpoint(cosigned, [parseCosignatureVerifierKey(witness.verifierKey)]), {
      code: 'EVIDENCE_CHECKPOINT_INVALID',
      reason: 'no-log-signature',
    });
  });

  it('a changed timestamp breaks the cosignature', () => {
    const cosigned = addSignatures(note, [parseCosignerKey(witness.signerKey, clock)]).toString();
    const line = cosigned.trimEnd().split('\n').pop()!;
    const raw = Buffer.from(line.split(' ')[2]!, 'base64');
    raw.writeBigUInt64BE(raw.readBigUInt64BE(4) + 1n, 4);
    const tampered = cosigned.replace(line, `— witness.example/w1 ${raw.toString('base64')}`);
    assert.throws(() => openNote(tampered, [parseCosignatureVerifierKey(witness.verifierKey)]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' });
  });

  it('a 0x04 key does not verify a plain Ed25519 signature by the same key pair', () => {
    // Domain separation: the cosignature message differs from the plain note text.
    const cosigner = parseCosignerKey(witness.signerKey, clock);
    const plain = { ...cosigner, sign: (text: Buffer) => cosigner.sign(text).subarray(8) };
    const forged = addSignatures(note, [plain]);
    assert.throws(() => openNote(forged, [parseCosignatureVerifierKey(witness.verifierKey)]), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' });
  });

  it('parseAnyVerifierKey refuses unsupported key types', () => {
    const [name] = log.verifierKey.split('+');
    const pub = Buffer.alloc(32, 7);
    const vkey = `${name}+${createHash('sha256').update(`${name}\n`).update(Buffer.from([0x02])).update(pub).digest().subarray(0, 4).toString('hex')}+${Buffer.concat([Buffer.from([0x02]), pub]).toString('base64')}`;
    assert.throws(() => parseAnyVerifierKey(vkey), { reason: 'unsupported-key-type' });
  });
});
