import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock } from '../../../src/lib/clock';
import { writeBundle } from '../../../src/evidence/bundle';
import { BundleVerifyError, verifyBundle, type VerifyBundleOptions } from '../../../src/evidence/bundle-verify';
import { generateCosignerKey, parseCosignerKey } from '../../../src/evidence/cosignature';
import { addSignatures } from '../../../src/evidence/signed-note';
import { generateNoteKey, parseSignerKey } from '../../../src/evidence/note-key';
import { MemoryLog } from './memory-log';

const ORIGIN = 'example.org/secret-broker';

describe('evidence/bundle: export and offline verification', function () {
  this.timeout(60_000);
  const key = generateNoteKey(ORIGIN);
  const signer = parseSignerKey(key.signerKey);
  const keys = [key.verifierKey];
  let tmp: string;
  let seq = 0;
  const freshDir = (): string => path.join(tmp, `b${seq++}`);

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'evidence-bundle-'));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function logOf(n: number): Promise<MemoryLog> {
    const log = new MemoryLog(ORIGIN, [signer]);
    await log.appendMany(n);
    return log;
  }

  async function exported(log: MemoryLog, opts: { size?: number; start?: number; consistencyFrom?: number[] } = {}): Promise<string> {
    const dir = freshDir();
    await writeBundle(dir, await log.source(opts.size), { start: opts.start ?? 0, consistencyFrom: opts.consistencyFrom ?? [] });
    return dir;
  }

  /** Asserts verification fails with `reason`, naming `index` (or no index). */
  async function rejects(dir: string, reason: string, index: number | undefined, opts: Partial<VerifyBundleOptions> = {}): Promise<BundleVerifyError> {
    const err = await verifyBundle(dir, { keys, ...opts }).then(
      () => assert.fail(`bundle verified; expected ${reason}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BundleVerifyError, `not a BundleVerifyError: ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    assert.equal(err.index, index, err.message);
    if (index !== undefined) assert.match(err.message, new RegExp(`^entry ${index}: `));
    return err;
  }

  const editFile = (file: string, edit: (b: Buffer) => Buffer): void => fs.writeFileSync(file, edit(fs.readFileSync(file)));

  describe('a good bundle', () => {
    it('has the documented layout', async () => {
      const dir = await exported(await logOf(12), { consistencyFrom: [5] });
      assert.deepEqual(fs.readdirSync(dir).sort(), ['bundle.json', 'checkpoint.note', 'consistency', 'entries', 'proofs']);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'entries')).sort((a, b) => parseInt(a) - parseInt(b)), Array.from({ length: 12 }, (_, i) => `${i}.json`));
      assert.deepEqual(fs.readdirSync(path.join(dir, 'proofs')).length, 12);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'consistency')), ['5-12.proof']);
      assert.match(fs.readFileSync(path.join(dir, 'proofs', '7.tlog-proof'), 'utf8'), /^c2sp\.org\/tlog-proof@v1\nindex 7\n/);
    });

    it('entries are the exact leaf bytes', async () => {
      const log = await logOf(5);
      const dir = await exported(log);
      for (let i = 0; i < 5; i++) assert.ok(fs.readFileSync(path.join(dir, 'entries', `${i}.json`)).equals(log.entries[i]!));
    });

    it('verifies, and reports what it checked', async () => {
      const dir = await exported(await logOf(37));
      const r = await verifyBundle(dir, { keys });
      assert.equal(r.origin, ORIGIN);
      assert.equal(r.size, 37);
      assert.equal(r.start, 0);
      assert.equal(r.entries, 37);
      assert.equal(r.logKeys.length, 1);
      assert.deepEqual(r.consistency, []);
      assert.equal(r.stateUpdated, false);
    });

    it('verifies with a read-ahead of one', async () => {
      await verifyBundle(await exported(await logOf(9)), { keys, readAhead: 1 });
    });

    it('verifies a partial export that starts later', async () => {
      const r = await verifyBundle(await exported(await logOf(20), { start: 15 }), { keys });
      assert.deepEqual([r.start, r.entries], [15, 5]);
    });

    it('verifies an empty log', async () => {
      assert.equal((await verifyBundle(await exported(await logOf(0)), { keys })).entries, 0);
    });

    it('reports witness cosignatures with their time when the witness key is given', async () => {
      const log = await logOf(4);
      const witness = generateCosignerKey('witness.example/w1');
      const clock = new ManualClock(Date.UTC(2026, 2, 1));
      const note = addSignatures(await log.checkpoint(), [parseCosignerKey(witness.signerKey, clock)]);
      const dir = freshDir();
      await writeBundle(dir, await log.source(4, note));
      const r = await verifyBundle(dir, { keys: [key.verifierKey, witness.verifierKey] });
      assert.deepEqual(r.cosigners, [{ name: 'witness.example/w1', keyId: witness.verifierKey.split('+')[1], timestamp: clock.now() / 1000 }]);
    });

    it('a write that fails mid-export fails the export (after the writes in flight settle), and the partial bundle does not verify', async () => {
      const log = await logOf(200);
      const source = await log.source();
      const dir = freshDir();
      let seen = 0;
      const failing = {
        ...source,
        async *entries(start: number, end: number) {
          for await (const e of source.entries(start, end)) {
            // Halfway through, the proofs directory moves away: later proof writes fail with ENOENT.
            if (++seen === 100) fs.renameSync(path.join(dir, 'proofs'), path.join(tmp, `moved-${seq}`));
            yield e;
          }
        },
      };
      await assert.rejects(writeBundle(dir, failing), { code: 'ENOENT' });
      assert.ok(seen < 200, `the export stopped at the first failure (read ${seen} entries)`);
      // Nothing was still being written when it rejected: the files stay as they are.
      const files = (): string[] => [...fs.readdirSync(path.join(dir, 'entries')), ...fs.readdirSync(path.join(tmp, `moved-${seq}`))].sort();
      const atRejection = files();
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(files(), atRejection);
      await assert.rejects(verifyBundle(dir, { keys }), BundleVerifyError);
    });

    it('refuses to export into a non-empty directory', async () => {
      const dir = await exported(await logOf(2));
      await assert.rejects(writeBundle(dir, await (await logOf(2)).source()), { reason: 'dir-not-empty' });
    });
  });

  describe('a bad entry is named by index', () => {
    it('one changed byte inside an entry (still canonical JSON)', async () => {
      const dir = await exported(await logOf(30));
      editFile(path.join(dir, 'entries', '17.json'), (b) => Buffer.from(b.toString().replace('"e-17"', '"e-18"')));
      const err = await rejects(dir, 'proof-invalid', 17);
      assert.match(err.message, /another root/);
    });

    it('one changed byte that breaks canonical form', async () => {
      const dir = await exported(await logOf(30));
      editFile(path.join(dir, 'entries', '17.json'), (b) => Buffer.from(b.toString().replace('{"', '{ "')));
      await rejects(dir, 'entry-not-canonical', 17);
    });

    it('every single-byte change of an entry is caught', async () => {
      const dir = await exported(await logOf(6));
      const file = path.join(dir, 'entries', '3.json');
      const original = fs.readFileSync(file);
      for (let at = 0; at < original.length; at++) {
        const b = Buffer.from(original);
        b[at] = b[at]! ^ 0x01;
        fs.writeFileSync(file, b);
        const err = await verifyBundle(dir, { keys }).then(() => undefined, (e: unknown) => e as BundleVerifyError);
        assert.ok(err, `byte ${at} changed and the bundle still verified`);
        assert.equal(err.index, 3);
      }
    });

    it('the first of several bad entries', async () => {
      const dir = await exported(await logOf(30));
      editFile(path.join(dir, 'entries', '20.json'), (b) => Buffer.from(b.toString().replace('"e-20"', '"x-20"')));
      editFile(path.join(dir, 'entries', '9.json'), (b) => Buffer.from(b.toString().replace('"e-9"', '"x-9"')));
      await rejects(dir, 'proof-invalid', 9);
    });

    it('a dropped entry', async () => {
      const dir = await exported(await logOf(30));
      fs.rmSync(path.join(dir, 'entries', '12.json'));
      await rejects(dir, 'entry-missing', 12);
    });

    it('a dropped last entry', async () => {
      const dir = await exported(await logOf(30));
      fs.rmSync(path.join(dir, 'entries', '29.json'));
      fs.rmSync(path.join(dir, 'proofs', '29.tlog-proof'));
      await rejects(dir, 'entry-missing', 29);
    });

    it('a dropped first entry of a partial export', async () => {
      const dir = await exported(await logOf(30), { start: 10 });
      fs.rmSync(path.join(dir, 'entries', '10.json'));
      fs.rmSync(path.join(dir, 'proofs', '10.tlog-proof'));
      await rejects(dir, 'entry-missing', 10);
    });

    it('a dropped proof', async () => {
      const dir = await exported(await logOf(30));
      fs.rmSync(path.join(dir, 'proofs', '4.tlog-proof'));
      await rejects(dir, 'proof-missing', 4);
    });

    it('two entries swapped with their proofs', async () => {
      const dir = await exported(await logOf(10));
      const [e5, e6] = [5, 6].map((i) => path.join(dir, 'entries', `${i}.json`));
      const [p5, p6] = [5, 6].map((i) => path.join(dir, 'proofs', `${i}.tlog-proof`));
      const [b5, b6, q5, q6] = [e5!, e6!, p5!, p6!].map((f) => fs.readFileSync(f));
      fs.writeFileSync(e5!, b6!);
      fs.writeFileSync(e6!, b5!);
      fs.writeFileSync(p5!, q6!);
      fs.writeFileSync(p6!, q5!);
      await rejects(dir, 'entry-index-mismatch', 5);
    });

    it('an entry whose index field disagrees with its position in the log', async () => {
      const log = new MemoryLog(ORIGIN, [signer]);
      await log.appendMany(3);
      await log.append({}, { index: 7 });
      await log.appendMany(2);
      await rejects(await exported(log), 'entry-index-mismatch', 3);
    });

    it('an entry from another origin', async () => {
      const log = new MemoryLog(ORIGIN, [signer]);
      await log.appendMany(2);
      await log.append({}, { origin: 'example.org/other' });
      await rejects(await exported(log), 'entry-origin-mismatch', 2);
    });

    it('a proof pinned to another checkpoint', async () => {
      const log = await logOf(10);
      const dir = await exported(log);
      const older = await exported(log, { size: 10 });
      // A receipt for the same entry and size but another signature instance is still another checkpoint.
      const other = fs.readFileSync(path.join(older, 'proofs', '2.tlog-proof')).toString().replace(/— .*\n$/, (l) => `${l}— example.org/witness AAAAAAAA\n`);
      fs.writeFileSync(path.join(dir, 'proofs', '2.tlog-proof'), other);
      await rejects(dir, 'proof-checkpoint-mismatch', 2);
    });

    it('a malformed proof', async () => {
      const dir = await exported(await logOf(10));
      editFile(path.join(dir, 'proofs', '8.tlog-proof'), (b) => Buffer.from(b.toString().replace('index 8', 'index 08')));
      await rejects(dir, 'proof-malformed', 8);
    });

    it('an extra entry file beyond the checkpoint', async () => {
      const dir = await exported(await logOf(10));
      fs.copyFileSync(path.join(dir, 'entries', '9.json'), path.join(dir, 'entries', '10.json'));
      await rejects(dir, 'entry-out-of-range', 10);
    });

    it('an entry file before the start of a partial export comes first', async () => {
      const dir = await exported(await logOf(10), { start: 5 });
      fs.writeFileSync(path.join(dir, 'entries', '2.json'), '{}');
      fs.rmSync(path.join(dir, 'entries', '7.json'));
      await rejects(dir, 'entry-out-of-range', 2);
    });

    it('an oversized entry is refused without parsing', async () => {
      const dir = await exported(await logOf(4));
      fs.writeFileSync(path.join(dir, 'entries', '1.json'), Buffer.alloc(70_000, 0x20));
      await rejects(dir, 'entry-too-large', 1);
    });
  });

  describe('bundle-level failures', () => {
    it('stray files', async () => {
      const dir = await exported(await logOf(3));
      fs.writeFileSync(path.join(dir, 'entries', '01.json'), '{}');
      await rejects(dir, 'unexpected-file', undefined);
      const dir2 = await exported(await logOf(3));
      fs.writeFileSync(path.join(dir2, 'NOTES.txt'), 'trust me');
      await rejects(dir2, 'unexpected-file', undefined);
    });

    it('a tampered checkpoint, or one signed by an unknown key', async () => {
      const dir = await exported(await logOf(5));
      editFile(path.join(dir, 'checkpoint.note'), (b) => Buffer.from(b.toString().replace('\n5\n', '\n4\n')));
      await rejects(dir, 'checkpoint-invalid', undefined);
      const other = generateNoteKey(ORIGIN);
      await rejects(await exported(await logOf(5)), 'checkpoint-invalid', undefined, { keys: [other.verifierKey] });
    });

    it('a missing checkpoint or manifest', async () => {
      const dir = await exported(await logOf(2));
      fs.rmSync(path.join(dir, 'checkpoint.note'));
      await rejects(dir, 'checkpoint-missing', undefined);
      const dir2 = await exported(await logOf(2));
      fs.rmSync(path.join(dir2, 'bundle.json'));
      await rejects(dir2, 'manifest-missing', undefined);
    });

    it('a demanded start or origin that does not match', async () => {
      const dir = await exported(await logOf(8), { start: 3 });
      await rejects(dir, 'wrong-start', undefined, { start: 0 });
      await rejects(dir, 'checkpoint-invalid', undefined, { origin: 'example.org/other' });
    });
  });

  describe('remembered checkpoints (state file)', () => {
    const stateFile = (): string => path.join(freshDir() + '.state.json');
    const readState = (f: string): { accepted: { origin: string; keyId: string; size: number }[] } => JSON.parse(fs.readFileSync(f, 'utf8'));

    it('records the accepted checkpoint per (origin, key id) on first use', async () => {
      const state = stateFile();
      const r = await verifyBundle(await exported(await logOf(10)), { keys, statePath: state });
      assert.equal(r.stateUpdated, true);
      const s = readState(state);
      assert.deepEqual(s.accepted.map((a) => [a.origin, a.keyId, a.size]), [[ORIGIN, key.verifierKey.split('+')[1], 10]]);
    });

    it('accepts a grown log: recomputing the old root from a full export', async () => {
      const log = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      await log.appendMany(7);
      const r = await verifyBundle(await exported(log), { keys, statePath: state });
      assert.deepEqual(r.consistency.map((c) => [c.previousSize, c.how]), [[10, 'recomputed']]);
      assert.equal(readState(state).accepted[0]!.size, 17);
    });

    it('accepts a grown log: a partial export with a consistency proof', async () => {
      const log = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      await log.appendMany(7);
      const r = await verifyBundle(await exported(log, { start: 10, consistencyFrom: [10] }), { keys, statePath: state });
      assert.deepEqual(r.consistency.map((c) => [c.previousSize, c.how]), [[10, 'proof']]);
    });

    it('accepts the same checkpoint again', async () => {
      const log = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      const r = await verifyBundle(await exported(log), { keys, statePath: state });
      assert.deepEqual(r.consistency.map((c) => c.how), ['same-size']);
    });

    it('demands a consistency proof from a partial export', async () => {
      const log = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      await log.appendMany(5);
      const err = await rejects(await exported(log, { start: 12 }), 'consistency-proof-missing', undefined, { statePath: state });
      assert.match(err.message, /consistency\/10-15\.proof/);
    });

    it('detects a rollback and shows both checkpoints', async () => {
      const log = await logOf(10);
      const oldDir = await exported(log);
      await log.appendMany(5);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      const before = fs.readFileSync(state);
      const err = await rejects(oldDir, 'rollback', undefined, { statePath: state });
      assert.match(err.message, /size 10, smaller than size 15/);
      assert.match(err.message, new RegExp(`previously accepted checkpoint:\\n  ${ORIGIN}\\n  15\\n`));
      assert.match(err.message, new RegExp(`this bundle's checkpoint:\\n  ${ORIGIN}\\n  10\\n`));
      assert.ok(err.previousCheckpoint!.includes('\n15\n') && err.currentCheckpoint!.includes('\n10\n'));
      assert.ok(fs.readFileSync(state).equals(before), 'a failed verification must not touch the state');
    });

    it('detects a fork (a rewritten old entry) from a full export', async () => {
      const honest = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(honest), { keys, statePath: state });
      // The same key signs a history where entry 4 differs, then grows it.
      const forked = new MemoryLog(ORIGIN, [signer]);
      for (let i = 0; i < 10; i++) await forked.append(i === 4 ? { type: 'decision', decision: { effect: 'allow' }, note: 'rewritten' } : JSON.parse(honest.entries[i]!.toString()));
      await forked.appendMany(5);
      const err = await rejects(await exported(forked), 'fork', undefined, { statePath: state });
      assert.match(err.message, /another root at size 10/);
      assert.ok(err.previousCheckpoint && err.currentCheckpoint);
    });

    it('detects a fork from a consistency proof in a partial export', async () => {
      const honest = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(honest), { keys, statePath: state });
      const forked = new MemoryLog(ORIGIN, [signer]);
      await forked.appendMany(9);
      await forked.append({ note: 'different tenth entry' });
      await forked.appendMany(6);
      await rejects(await exported(forked, { start: 12, consistencyFrom: [10] }), 'fork', undefined, { statePath: state });
    });

    it('detects two different checkpoints of the same size', async () => {
      const state = stateFile();
      await verifyBundle(await exported(await logOf(10)), { keys, statePath: state });
      const other = new MemoryLog(ORIGIN, [signer]);
      await other.appendMany(9);
      await other.append({ note: 'x' });
      const err = await rejects(await exported(other), 'fork', undefined, { statePath: state });
      assert.match(err.message, /two different roots for size 10/);
    });

    it('rejects a tampered consistency proof', async () => {
      const log = await logOf(10);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      await log.appendMany(7);
      const dir = await exported(log, { start: 10, consistencyFrom: [10] });
      editFile(path.join(dir, 'consistency', '10-17.proof'), (b) => {
        const lines = b.toString().split('\n');
        const h = Buffer.from(lines[3]!, 'base64');
        h[0] = h[0]! ^ 0x80;
        lines[3] = h.toString('base64');
        return Buffer.from(lines.join('\n'));
      });
      await rejects(dir, 'fork', undefined, { statePath: state });
    });

    it('keeps one record per log key, so a rotated key starts its own chain', async () => {
      const log = await logOf(6);
      const state = stateFile();
      await verifyBundle(await exported(log), { keys, statePath: state });
      const newKey = generateNoteKey(ORIGIN);
      const both = new MemoryLog(ORIGIN, [signer, parseSignerKey(newKey.signerKey)]);
      for (const e of log.entries) await both.append(JSON.parse(e.toString()));
      await both.appendMany(2);
      const r = await verifyBundle(await exported(both), { keys: [key.verifierKey, newKey.verifierKey], statePath: state });
      assert.deepEqual(r.consistency.map((c) => [c.keyId, c.previousSize, c.how]), [[key.verifierKey.split('+')[1], 6, 'recomputed']]);
      assert.equal(readState(state).accepted.length, 2);
    });

    it('refuses a malformed state file', async () => {
      const state = stateFile();
      fs.writeFileSync(state, '{"format":"nope"}');
      await assert.rejects(verifyBundle(await exported(await logOf(2)), { keys, statePath: state }), { code: 'EVIDENCE_STATE_INVALID' });
    });
  });

  describe('scale', () => {
    it('verifies 3000 entries', async function () {
      this.timeout(120_000);
      const log = await logOf(3000);
      const dir = await exported(log);
      const r = await verifyBundle(dir, { keys });
      assert.equal(r.entries, 3000);
    });
  });
});
