import { strict as assert } from 'node:assert';
import { canonicalize } from '../../../src/evidence/canonical-json';
import { signCheckpoint } from '../../../src/evidence/checkpoint';
import { InMemoryTreeNodes } from '../../../src/evidence/in-memory-tree-nodes';
import { hashLeaf, inclusionProof, rootAt } from '../../../src/evidence/merkle';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from '../../../src/evidence/note-key';
import { TLOG_PROOF_HEADER, formatTlogProof, parseTlogProof, verifyTlogProof } from '../../../src/evidence/tlog-proof';

describe('evidence/tlog-proof', () => {
  const origin = 'example.org/log';
  const key = generateNoteKey(origin);
  const verifiers = [parseVerifierKey(key.verifierKey)];
  const entries = Array.from({ length: 11 }, (_, i) => canonicalize({ index: i, origin, type: 'heartbeat' }));
  let note: Buffer;
  let store: InMemoryTreeNodes;

  before(async () => {
    store = new InMemoryTreeNodes();
    for (const e of entries) await store.append(hashLeaf(e));
    note = signCheckpoint({ origin, size: entries.length, rootHash: await rootAt(entries.length, store) }, [parseSignerKey(key.signerKey)]);
  });

  const receipt = async (index: number, extra?: Buffer): Promise<Buffer> =>
    formatTlogProof({ index, proof: await inclusionProof(index, entries.length, store), checkpointNote: note, ...(extra ? { extra } : {}) });

  it('has the exact layout of the spec: header, index, hashes, blank line, checkpoint verbatim', async () => {
    const text = (await receipt(6)).toString();
    const proof = await inclusionProof(6, entries.length, store);
    assert.equal(text, `${TLOG_PROOF_HEADER}\nindex 6\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${note.toString()}`);
  });

  it('puts the optional extra line between the header and the index', async () => {
    const text = (await receipt(2, Buffer.from('context'))).toString();
    assert.ok(text.startsWith(`${TLOG_PROOF_HEADER}\nextra ${Buffer.from('context').toString('base64')}\nindex 2\n`));
    assert.deepEqual(parseTlogProof(Buffer.from(text)).extra, Buffer.from('context'));
  });

  it('round-trips and verifies for every index', async () => {
    for (let i = 0; i < entries.length; i++) {
      const bytes = await receipt(i);
      const parsed = parseTlogProof(bytes);
      assert.ok(formatTlogProof(parsed).equals(bytes));
      const v = verifyTlogProof(bytes, entries[i]!, verifiers, { origin });
      assert.equal(v.index, i);
      assert.equal(v.checkpoint.size, entries.length);
      assert.deepEqual(v.leafHash, hashLeaf(entries[i]!));
    }
  });

  it('verifies a one-entry tree, where the proof is empty', async () => {
    const s = new InMemoryTreeNodes();
    await s.append(hashLeaf(entries[0]!));
    const n = signCheckpoint({ origin, size: 1, rootHash: await rootAt(1, s) }, [parseSignerKey(key.signerKey)]);
    const bytes = formatTlogProof({ index: 0, proof: [], checkpointNote: n });
    assert.equal(bytes.toString().split('\n').slice(0, 3).join('\n'), `${TLOG_PROOF_HEADER}\nindex 0\n`);
    assert.equal(verifyTlogProof(bytes, entries[0]!, verifiers).index, 0);
  });

  it('refuses another entry, another index, or a flipped proof hash', async () => {
    const bytes = await receipt(3);
    assert.throws(() => verifyTlogProof(bytes, entries[4]!, verifiers), { code: 'EVIDENCE_TLOG_PROOF_INVALID', reason: 'inclusion-mismatch' });
    const wrongIndex = Buffer.from(bytes.toString().replace('index 3\n', 'index 2\n'));
    assert.throws(() => verifyTlogProof(wrongIndex, entries[3]!, verifiers), { code: 'EVIDENCE_TLOG_PROOF_INVALID' });
    const p = parseTlogProof(bytes);
    const flipped = { ...p, proof: p.proof.map((h, i) => (i === 1 ? Buffer.from(h.map((b, j) => (j === 0 ? b ^ 1 : b))) : h)) };
    assert.throws(() => verifyTlogProof(flipped, entries[3]!, verifiers), { reason: 'inclusion-mismatch' });
  });

  it('refuses an index beyond the checkpoint, a missing or extra proof hash', async () => {
    const p = parseTlogProof(await receipt(3));
    assert.throws(() => verifyTlogProof({ ...p, index: 11 }, entries[3]!, verifiers), { reason: 'index-out-of-range' });
    assert.throws(() => verifyTlogProof({ ...p, proof: p.proof.slice(1) }, entries[3]!, verifiers), { reason: 'wrong-proof-length' });
    assert.throws(() => verifyTlogProof({ ...p, proof: [...p.proof, p.proof[0]!] }, entries[3]!, verifiers), { reason: 'wrong-proof-length' });
  });

  it('refuses an unknown log key and a tampered checkpoint', async () => {
    const other = generateNoteKey(origin);
    const parsed = parseTlogProof(await receipt(1));
    assert.throws(() => verifyTlogProof(parsed, entries[1]!, [parseVerifierKey(other.verifierKey)]), {
      code: 'EVIDENCE_NOTE_UNVERIFIED',
    });
    const original = (await receipt(1)).toString();
    const tampered = Buffer.from(original.replace(`\n${entries.length}\n`, `\n${entries.length + 1}\n`));
    assert.throws(() => verifyTlogProof(tampered, entries[1]!, verifiers), { code: 'EVIDENCE_NOTE_BAD_SIGNATURE' });
  });

  describe('strict parsing', () => {
    const cases: [string, (t: string) => string, string][] = [
      ['a wrong header', (t) => t.replace(TLOG_PROOF_HEADER, 'c2sp.org/tlog-proof@v2'), 'bad-header'],
      ['a missing index line', (t) => t.replace(/index \d+\n/, ''), 'bad-index'],
      ['a leading zero in the index', (t) => t.replace('index 3', 'index 03'), 'bad-index'],
      ['two spaces after index', (t) => t.replace('index 3', 'index  3'), 'bad-index'],
      ['an extra line after the index', (t) => t.replace('index 3\n', 'index 3\nextra AAAA\n'), 'bad-hash'],
      ['an empty extra', (t) => t.replace('index 3\n', 'extra \nindex 3\n'), 'bad-extra'],
      ['a short hash', (t) => t.replace(/\n([A-Za-z0-9+/]{43}=)\n/, (_m, h: string) => `\n${Buffer.from(h, 'base64').subarray(1).toString('base64')}\n`), 'bad-hash'],
      ['no blank line', (t) => t.replace('\n\n', '\n'), 'bad-hash'],
      ['no checkpoint', (t) => t.slice(0, t.indexOf('\n\n') + 2), 'bad-checkpoint'],
      ['a checkpoint with an extension line', (t) => t.replace(/\n\n(.*\n\d+\n.*\n)/, '\n\n$1ext\n'), 'bad-checkpoint'],
      ['truncation', (t) => t.slice(0, 30), 'truncated'],
    ];
    for (const [what, edit, reason] of cases) {
      it(`refuses ${what}`, async () => {
        const text = (await receipt(3)).toString();
        const edited = edit(text);
        assert.notEqual(edited, text, 'the edit changed nothing');
        assert.throws(() => parseTlogProof(Buffer.from(edited)), { code: 'EVIDENCE_TLOG_PROOF_INVALID', reason });
      });
    }
  });
});
