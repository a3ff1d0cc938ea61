import { strict as assert } from 'node:assert';
import Database from 'better-sqlite3';
import { canonicalize } from '../../../../src/evidence/canonical-json';
import { signCheckpoint } from '../../../../src/evidence/checkpoint';
import { hashLeaf, type NodeKey, type StoredNode } from '../../../../src/evidence/merkle';
import { parseVerifierKey } from '../../../../src/evidence/note-key';
import { LedgerIntegrityError, checkLedgerIntegrity, type IntegrityCheckOptions } from '../../../../src/evidence/ledger/integrity-check';
import type { LedgerReadStorage } from '../../../../src/evidence/ledger/ledger-storage';
import { appendToEdge } from '../../../../src/evidence/ledger/right-edge';
import { openSqliteLedgerReadOnly } from '../../../../src/evidence/ledger/sqlite-ledger-storage';
import { BrokerError } from '../../../../src/lib/errors';
import { bytesOf, oneByteEdit, setBytes, tamperDb } from '../../../helpers/evidence-tamper';
import { LedgerFixture, ORIGIN, testKey, decision } from './ledger-fixture';

/** Rewrites entry bytes and then every stored hash to match: only the signed checkpoints can tell. */
function rewriteWithHashes(db: Database.Database, edit: (idx: number, bytes: Buffer) => Buffer): void {
  const rows = db.prepare('SELECT idx, bytes FROM evidence_entries ORDER BY idx').all() as { idx: number; bytes: Buffer }[];
  const edge: StoredNode[] = [];
  // Each entry row holds the subtree hashes it completes (schema version 5).
  const putEntry = db.prepare('UPDATE evidence_entries SET bytes = ?, leaf_hash = ?, subtrees = ? WHERE idx = ?');
  for (const r of rows) {
    const bytes = edit(r.idx, r.bytes);
    const leaf = hashLeaf(bytes);
    const subtrees = appendToEdge(edge, r.idx, leaf).filter((n) => n.level > 0).map((n) => n.hash);
    putEntry.run(bytes, leaf, Buffer.concat(subtrees), r.idx);
  }
}


async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => assert.fail('expected the ledger to refuse'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BrokerError, `not a BrokerError: ${String(err)}`);
  assert.equal(err.kind, 'failed_precondition');
  assert.match(err.message, /^evidence: /);
  return err;
}

describe('evidence/ledger/integrity-check: the start-up check of the whole stored log', function () {
  this.timeout(60_000);
  let fx: LedgerFixture;
  // Checkpoints at 0 (open), 5, 11, 20, 21 and 32.
  const ROUNDS = [5, 6, 9, 1, 11];
  const SIZE = 32;

  beforeEach(async () => {
    fx = new LedgerFixture();
    await fx.open();
    let i = 0;
    for (const n of ROUNDS) {
      await Promise.all(Array.from({ length: n }, () => fx.ledger.append([decision(i++)])));
      await fx.ledger.signCheckpoint();
    }
    await fx.closeAll();
  });
  afterEach(async () => fx.cleanup());

  async function check(over: Partial<IntegrityCheckOptions> = {}, wrap?: (s: LedgerReadStorage) => LedgerReadStorage) {
    const ro = openSqliteLedgerReadOnly(fx.file);
    try {
      return await checkLedgerIntegrity({
        storage: wrap ? wrap(ro.storage) : ro.storage,
        origin: ORIGIN,
        logKey: parseVerifierKey(fx.key.verifierKey),
        ...over,
      });
    } finally {
      ro.close();
    }
  }

  it('passes an untouched log, with or without the signer, in any batch size, and the ledger reopens', async () => {
    for (const over of [{}, { signer: fx.key.signer }, { batch: 1 }, { batch: 7 }]) {
      const r = await check(over);
      assert.equal(r.size, SIZE);
      assert.equal(r.checkpoints, 6);
      assert.equal(r.last?.size, SIZE);
    }
    const ledger = await fx.open();
    assert.equal(ledger.size, SIZE);
    assert.equal(ledger.latestCheckpoint().size, SIZE);
  });

  it('reads in bounded batches: one getNodes call per batch or checkpoint, about two keys per entry', async () => {
    let calls = 0;
    let widest = 0;
    const r = await check({ batch: 4 }, (s) => ({
      size: () => s.size(),
      getEntry: (i) => s.getEntry(i),
      entries: (a, b) => s.entries(a, b),
      entriesBefore: (end, o) => s.entriesBefore(end, o),
      latestCheckpoint: () => s.latestCheckpoint(),
      checkpointAt: (n) => s.checkpointAt(n),
      checkpointAtLeast: (n) => s.checkpointAtLeast(n),
      getNodes: (keys: readonly NodeKey[]) => {
        calls++;
        widest = Math.max(widest, keys.length);
        return s.getNodes(keys);
      },
    }));
    assert.equal(r.size, SIZE);
    // Each entry creates its leaf plus the nodes it completes: under 2 per entry, plus one path of log2(n).
    assert.ok(widest <= 2 * 4 + Math.log2(SIZE), `a getNodes call read ${widest} keys`);
    assert.ok(calls <= SIZE / 4 + 6, `${calls} getNodes calls`);
  });

  it('names the entry when one byte of its bytes changed (the stored leaf hash is not trusted)', async () => {
    tamperDb(fx.file, (db) => setBytes(db, 13, oneByteEdit(bytesOf(db, 13))));
    const err = await refusal(fx.open());
    assert.equal(err.message, 'evidence: entry 13: its bytes do not hash to its stored leaf hash: the entry or its leaf hash was changed');
    assert.ok(err instanceof LedgerIntegrityError);
    assert.equal(err.index, 13);
    assert.equal(err.reason, 'leaf-mismatch');
  });

  it('names the entry whose bytes are not canonical JSON, or not an object', async () => {
    tamperDb(fx.file, (db) => setBytes(db, 3, Buffer.from(bytesOf(db, 3).toString().replace(/^\{/, '{ '))));
    assert.match((await refusal(fx.open())).message, /^evidence: entry 3: its bytes are not RFC 8785 canonical JSON \(/);
    await fx.store.close();
    tamperDb(fx.file, (db) => setBytes(db, 2, Buffer.from('[2]')));
    assert.equal((await refusal(fx.open())).message, 'evidence: entry 2: its bytes are not a JSON object');
  });

  it('names the first of two swapped entries by its index field', async () => {
    tamperDb(fx.file, (db) => {
      const [a, b] = [bytesOf(db, 7), bytesOf(db, 9)];
      setBytes(db, 7, b);
      setBytes(db, 9, a);
    });
    assert.equal((await refusal(fx.open())).message, 'evidence: entry 7: its index field is 9, not 7');
  });

  it("names an entry of another origin, even with its leaf hash updated", async () => {
    tamperDb(fx.file, (db) => {
      const v = JSON.parse(bytesOf(db, 4).toString()) as Record<string, unknown>;
      const bytes = canonicalize({ ...v, origin: 'evil.example/log' });
      db.prepare('UPDATE evidence_entries SET bytes = ?, leaf_hash = ? WHERE idx = 4').run(bytes, hashLeaf(bytes));
    });
    assert.equal((await refusal(fx.open())).message, `evidence: entry 4: its origin field is "evil.example/log", not the log's "${ORIGIN}"`);
  });

  it('names the covering tree node when an entry and its leaf hash were changed together', async () => {
    tamperDb(fx.file, (db) => {
      const bytes = oneByteEdit(bytesOf(db, 13));
      db.prepare('UPDATE evidence_entries SET bytes = ?, leaf_hash = ? WHERE idx = 13').run(bytes, hashLeaf(bytes));
    });
    const err = await refusal(fx.open());
    assert.equal(err.message, 'evidence: entry 12: the stored tree node (level 1, index 6) over entries 12..13 does not match the hash of those entries');
    assert.equal((err as LedgerIntegrityError).index, 12);
  });

  it('names the range after the last matching checkpoint when every stored hash was rewritten to match', async () => {
    tamperDb(fx.file, (db) => rewriteWithHashes(db, (i, b) => (i === 13 ? oneByteEdit(b) : b)));
    const err = await refusal(fx.open());
    assert.match(err.message, /^evidence: entries 11\.\.19: the stored entries and their tree nodes give another root at size 20 than the signed checkpoint of that size \(the one at size 11 matches\)/);
    assert.equal((err as LedgerIntegrityError).reason, 'root-mismatch');
  });

  it('names a missing entry in the middle, and the first dropped entry at the end', async () => {
    tamperDb(fx.file, (db) => db.prepare('DELETE FROM evidence_entries WHERE idx = 10').run());
    assert.equal((await refusal(fx.open())).message, `evidence: entry 10: missing: it is not stored, though entries up to ${SIZE - 1} are`);
    await fx.store.close();
    tamperDb(fx.file, (db) => db.prepare('DELETE FROM evidence_entries WHERE idx >= 10').run());
    assert.equal((await refusal(fx.open())).message, 'evidence: entry 10: missing: the state database holds 10 evidence entries, fewer than the checkpoint signed at size 11');
  });

  it('names the first dropped entry when the last entries a checkpoint covered are gone', async () => {
    tamperDb(fx.file, (db) => db.prepare('DELETE FROM evidence_entries WHERE idx >= 29').run());
    assert.equal((await refusal(fx.open())).message, `evidence: entry 29: missing: the state database holds 29 evidence entries, fewer than the last signed checkpoint's ${SIZE}`);
  });

  it('checks entries past the last checkpoint too (appended before a crash)', async () => {
    await fx.open();
    await fx.ledger.append([decision(40), decision(41), decision(42)]);
    // No close(): nothing signs a checkpoint over the three entries.
    await fx.store.close();
    tamperDb(fx.file, (db) => setBytes(db, SIZE + 1, oneByteEdit(bytesOf(db, SIZE + 1))));
    assert.match((await refusal(fx.open())).message, new RegExp(`^evidence: entry ${SIZE + 1}: its bytes do not hash to its stored leaf hash`));
  });

  describe('upToLastCheckpoint (a reader while the daemon appends)', () => {
    /** The storage as a reader sees it when it read the latest checkpoint just before size 21 and 32 were signed. */
    const seenBefore = (s: LedgerReadStorage): LedgerReadStorage => ({
      size: () => s.size(),
      getEntry: (i) => s.getEntry(i),
      entries: (a, b) => s.entries(a, b),
      entriesBefore: (end, o) => s.entriesBefore(end, o),
      latestCheckpoint: () => s.checkpointAt(20),
      checkpointAt: (n) => s.checkpointAt(n),
      checkpointAtLeast: (n) => s.checkpointAtLeast(n),
      getNodes: (keys) => s.getNodes(keys),
    });

    it('stops at the last checkpoint it read, where a full check would see a rollback', async () => {
      const r = await check({ upToLastCheckpoint: true }, seenBefore);
      assert.equal(r.size, 20);
      assert.equal(r.checkpoints, 4);
      const err = await refusal(check({}, seenBefore));
      assert.equal((err as LedgerIntegrityError).reason, 'rollback');
    });

    it('still names a changed entry before that checkpoint, and the first entry it is missing', async () => {
      tamperDb(fx.file, (db) => setBytes(db, 25, oneByteEdit(bytesOf(db, 25))));
      assert.equal((await check({ upToLastCheckpoint: true }, seenBefore)).size, 20, 'entry 25 is past the pinned checkpoint');
      assert.match((await refusal(check({ upToLastCheckpoint: true }))).message, /^evidence: entry 25: /);
      tamperDb(fx.file, (db) => db.prepare('DELETE FROM evidence_entries WHERE idx >= 18').run());
      assert.equal(
        (await refusal(check({ upToLastCheckpoint: true }, seenBefore))).message,
        "evidence: entry 18: missing: the state database holds 18 evidence entries, fewer than the last signed checkpoint's 20",
      );
    });
  });

  describe('checkpoints', () => {
    const rowAt = (db: Database.Database, size: number) =>
      db.prepare('SELECT seq, size, root_hash, key_id, note, signed_at FROM evidence_checkpoints WHERE size = ?').get(size) as {
        seq: number;
        size: number;
        root_hash: Buffer;
        key_id: string;
        note: Buffer;
        signed_at: number;
      };
    const insert = (db: Database.Database, r: { size: number; root_hash: Buffer; key_id: string; note: Buffer; signed_at: number }) =>
      db.prepare('INSERT INTO evidence_checkpoints (size, root_hash, key_id, note, signed_at) VALUES (?, ?, ?, ?, ?)').run(r.size, r.root_hash, r.key_id, r.note, r.signed_at);

    it('refuses an earlier checkpoint not signed by the log key', async () => {
      const other = testKey();
      tamperDb(fx.file, (db) => {
        const r = rowAt(db, 20);
        const note = signCheckpoint({ origin: ORIGIN, size: 20, rootHash: r.root_hash }, [other.signer]);
        db.prepare('UPDATE evidence_checkpoints SET note = ? WHERE seq = ?').run(note, r.seq);
      });
      assert.match((await refusal(fx.open())).message, /^evidence: the stored evidence checkpoint of size 20 \(key id [0-9a-f]{8}\) is not signed by the log key$/);
    });

    it('refuses an earlier checkpoint whose signature was altered, or whose columns disagree with its note', async () => {
      tamperDb(fx.file, (db) => {
        const r = rowAt(db, 11);
        const note = Buffer.from(r.note);
        const sig = note.lastIndexOf(' ') + 10;
        note[sig] = note[sig] === 0x41 ? 0x42 : 0x41;
        db.prepare('UPDATE evidence_checkpoints SET note = ? WHERE seq = ?').run(note, r.seq);
      });
      assert.match((await refusal(fx.open())).message, /checkpoint of size 11 .* is not signed by the log key/);
      await fx.store.close();
      tamperDb(fx.file, (db) => {
        const r = rowAt(db, 11);
        db.prepare('UPDATE evidence_checkpoints SET note = ?, root_hash = ? WHERE seq = ?').run(rowAt(db, 5).note, r.root_hash, r.seq);
      });
      assert.equal((await refusal(fx.open())).message, 'evidence: the stored evidence checkpoint of size 11 does not match its own note');
    });

    it('refuses a checkpoint signed by the log key that is not consistent with the earlier ones', async () => {
      tamperDb(fx.file, (db) => {
        // A fork at size 25, then the real last checkpoint again so that it stays the last.
        const note = signCheckpoint({ origin: ORIGIN, size: 25, rootHash: Buffer.alloc(32, 9) }, [fx.key.signer]);
        insert(db, { size: 25, root_hash: Buffer.alloc(32, 9), key_id: fx.ledger.keyId, note, signed_at: 1 });
        insert(db, rowAt(db, SIZE));
      });
      const err = await refusal(fx.open());
      assert.match(err.message, /^evidence: entries 21\.\.24: the stored entries and their tree nodes give another root at size 25 than the signed checkpoint of that size \(the one at size 21 matches\)/);
    });

    it('refuses a log whose last checkpoint is smaller than one signed before it (a rollback)', async () => {
      tamperDb(fx.file, (db) => insert(db, rowAt(db, 20)));
      assert.equal((await refusal(fx.open())).message, 'evidence: a checkpoint of size 21 was signed before the last one, of size 20: the stored log was rolled back');
    });

    it('keeps the clear messages for another origin or another key on the last checkpoint', async () => {
      const err = await refusal(fx.open({ signer: testKey().signer }));
      assert.match(err.message, /^evidence: the last evidence checkpoint \(size 32\) was signed by key [0-9a-f]{8}, not by the configured signing key [0-9a-f]{8}; restore that key file$/);
    });
  });
});
