import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeBundle } from '../../../../src/evidence/bundle';
import { BundleVerifyError, verifyBundle } from '../../../../src/evidence/bundle-verify';
import { openCheckpoint } from '../../../../src/evidence/checkpoint';
import { hashLeaf, rootAt, verifyConsistency } from '../../../../src/evidence/merkle';
import { StreamingTreeHasher } from '../../../../src/evidence/merkle-stream';
import { parseVerifierKey } from '../../../../src/evidence/note-key';
import { verifyTlogProof } from '../../../../src/evidence/tlog-proof';
import type { EvidenceDraft } from '../../../../src/evidence/ledger/evidence-sink';
import { Ledger } from '../../../../src/evidence/ledger/ledger';
import { bundleSourceFor } from '../../../../src/evidence/ledger/ledger-reader';
import { SqliteLedgerStorage, openSqliteLedgerReadOnly } from '../../../../src/evidence/ledger/sqlite-ledger-storage';
import { BrokerError } from '../../../../src/lib/errors';
import { SqliteStore } from '../../../../src/store/sqlite/sqlite-store';
import { lease } from '../../../contract/store-contract';
import { LedgerFixture, ORIGIN, testKey, decision } from './ledger-fixture';

async function rejection(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BrokerError, `not a BrokerError: ${String(err)}`);
  return err;
}


describe('evidence/ledger: the SQLite-backed evidence log', function () {
  this.timeout(60_000);
  let fx: LedgerFixture;

  beforeEach(async () => {
    fx = new LedgerFixture();
    await fx.open();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  describe('append', () => {
    it('gives 200 concurrent appends the indexes 0..199 exactly once, in one transaction', async () => {
      let commits = 0;
      fx.store.writes.faultInjector = () => void commits++;
      const refs = await Promise.all(Array.from({ length: 200 }, (_, i) => fx.ledger.append([decision(i)])));
      assert.equal(commits, 1, 'appends made in one tick share one commit');
      const indexes = refs.map((r) => r[0]!.index).sort((a, b) => a - b);
      assert.deepEqual(indexes, Array.from({ length: 200 }, (_, i) => i));
      assert.equal(fx.ledger.size, 200);

      const hasher = new StreamingTreeHasher();
      for (let i = 0; i < 200; i++) {
        const e = await fx.ledger.getEntry(i);
        const ref = refs.find((r) => r[0]!.index === i)![0]!;
        assert.ok(e.leafHash.equals(ref.leafHash));
        assert.ok(hashLeaf(e.bytes).equals(ref.leafHash));
        assert.equal(ref.origin, ORIGIN);
        const entry = JSON.parse(e.bytes.toString('utf8')) as Record<string, unknown>;
        assert.equal(entry.index, i);
        assert.equal(entry.v, 1);
        assert.equal(entry.origin, ORIGIN);
        assert.equal(entry.type, 'decision');
        assert.equal(entry.time, '2026-01-02T03:04:05.678Z');
        assert.match(String(entry.id), /^[0-9a-f]{32}$/);
        hasher.append(e.leafHash);
      }
      assert.ok((await rootAt(200, new SqliteLedgerStorage(fx.store.db, fx.store.writes))).equals(hasher.root()));
      const cp = await fx.ledger.signCheckpoint();
      assert.equal(cp.size, 200);
      assert.ok(cp.rootHash.equals(hasher.root()));
    });

    it('keeps the drafts of one append consecutive and in order, with the draft fields canonicalised', async () => {
      const [a, b] = await Promise.all([
        fx.ledger.append([decision(1), { type: 'lease.issued', lease: { id: 'lease_x', expires_at: '2026-01-02T03:05:05.678Z' } }]),
        fx.ledger.append([decision(2), decision(3), decision(4)]),
      ]);
      assert.deepEqual(a!.map((r) => r.index), [0, 1]);
      assert.deepEqual(b!.map((r) => r.index), [2, 3, 4]);
      const e1 = await fx.ledger.getEntry(1);
      assert.equal(
        e1.bytes.toString(),
        `{"id":${JSON.stringify(JSON.parse(e1.bytes.toString()).id)},"index":1,"lease":{"expires_at":"2026-01-02T03:05:05.678Z","id":"lease_x"},"origin":"${ORIGIN}","time":"2026-01-02T03:04:05.678Z","type":"lease.issued","v":1}`,
      );
    });

    it('shares the commit with lease writes queued in the same tick', async () => {
      let commits = 0;
      fx.store.writes.faultInjector = () => void commits++;
      await Promise.all([fx.store.insertLease(lease()), fx.ledger.append([decision(0)]), fx.store.insertLease(lease()), fx.ledger.append([decision(1)])]);
      assert.equal(commits, 1);
    });

    it('refuses drafts that set ledger fields, have an unknown type or are too large, without taking an index', async () => {
      const bad = [
        fx.ledger.append([{ ...decision(0), index: 7 } as EvidenceDraft]),
        fx.ledger.append([{ ...decision(0), time: 'now' } as EvidenceDraft]),
        fx.ledger.append([{ type: 'made.up' } as unknown as EvidenceDraft]),
        fx.ledger.append([{ ...decision(0), blob: 'x'.repeat(70_000) }]),
        fx.ledger.append([{ ...decision(0), n: Number.NaN }]),
      ];
      const good = fx.ledger.append([decision(1)]);
      for (const p of bad) assert.equal((await rejection(p)).kind, 'invalid_argument');
      assert.deepEqual((await good).map((r) => r.index), [0]);
      assert.deepEqual((await fx.ledger.append([decision(2)])).map((r) => r.index), [1]);
    });

    it('rejects a batch whose commit fails with UNAVAILABLE, and continues at the right index', async () => {
      await Promise.all(Array.from({ length: 5 }, (_, i) => fx.ledger.append([decision(i)])));
      fx.store.writes.faultInjector = () => {
        throw new Error('disk I/O error');
      };
      const failed = [fx.ledger.append([decision(10)]), fx.ledger.append([decision(11), decision(12)]), fx.store.insertLease(lease())];
      for (const p of failed) assert.equal((await rejection(p)).kind, 'unavailable');
      const err = await rejection(fx.ledger.append([decision(13)]));
      assert.equal(err.message, 'evidence log is unavailable');
      assert.ok(!/disk I\/O/.test(err.message), 'the cause stays server-side');
      fx.store.writes.faultInjector = undefined;

      const next = await Promise.all([fx.ledger.append([decision(20)]), fx.ledger.append([decision(21)])]);
      assert.deepEqual(next.map((r) => r[0]!.index), [5, 6]);
      assert.equal(fx.ledger.size, 7);
      const cp = await fx.ledger.signCheckpoint();
      assert.equal(cp.size, 7);
      const entries = await Promise.all(Array.from({ length: 7 }, (_, i) => fx.ledger.getEntry(i)));
      assert.deepEqual(entries.map((e) => (JSON.parse(e.bytes.toString()) as { resource: string }).resource), [0, 1, 2, 3, 4, 20, 21].map((i) => `ticket/T-${i}`));
    });

    it('never skips or repeats an index across random commit failures', async () => {
      let seed = 7;
      const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      const acked: number[] = [];
      for (let round = 0; round < 40; round++) {
        const fail = rand(3) === 0;
        fx.store.writes.faultInjector = fail
          ? () => {
              throw new Error('injected');
            }
          : undefined;
        const results = await Promise.allSettled(Array.from({ length: 1 + rand(6) }, (_, i) => fx.ledger.append(Array.from({ length: 1 + ((round + i) % 3) }, () => decision(round)))));
        for (const r of results) {
          if (fail) assert.equal(r.status, 'rejected');
          if (r.status === 'fulfilled') acked.push(...r.value.map((x) => x.index));
        }
      }
      fx.store.writes.faultInjector = undefined;
      assert.deepEqual([...acked].sort((a, b) => a - b), Array.from({ length: acked.length }, (_, i) => i));
      const cp = await fx.ledger.signCheckpoint();
      assert.equal(cp.size, acked.length);
      const hasher = new StreamingTreeHasher();
      for (let i = 0; i < cp.size; i++) hasher.append((await fx.ledger.getEntry(i)).leafHash);
      assert.ok(hasher.root().equals(cp.rootHash));
    });

    it('rejects appends once the store is closed', async () => {
      await fx.ledger.append([decision(0)]);
      await fx.store.close();
      assert.equal((await rejection(fx.ledger.append([decision(1)]))).kind, 'unavailable');
    });

    it('continues the index after a restart, consistent with the checkpoints signed before', async () => {
      await Promise.all(Array.from({ length: 13 }, (_, i) => fx.ledger.append([decision(i)])));
      const before = await fx.ledger.signCheckpoint();
      await fx.ledger.append([decision(13)]);
      const ledger = await fx.reopen();
      // The entry appended after the last checkpoint is covered by one signed at start.
      assert.equal(ledger.latestCheckpoint().size, 14);
      const [ref] = await ledger.append([decision(14)]);
      assert.equal(ref!.index, 14);
      const after = await ledger.signCheckpoint();
      const p = await ledger.consistencyProof(before.size, after.size);
      assert.ok(verifyConsistency(before.size, after.size, p.hashes, before.rootHash, after.rootHash));
    });
  });

  describe('checkpoints', () => {
    it('signs one at open (size 0 for a new log), with the origin as the key name', async () => {
      const cp = fx.ledger.latestCheckpoint();
      assert.equal(cp.size, 0);
      const opened = openCheckpoint(cp.note, [parseVerifierKey(fx.key.verifierKey)], { origin: ORIGIN });
      assert.equal(opened.checkpoint.size, 0);
      assert.equal(fx.ledger.verifierKey, fx.key.verifierKey);
    });

    it('signs consistent checkpoints, stores every one, and does not re-sign an unchanged tree', async () => {
      const signed = [fx.ledger.latestCheckpoint()];
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: round * 3 + 1 }, (_, i) => fx.ledger.append([decision(i)])));
        signed.push(await fx.ledger.signCheckpoint());
      }
      assert.equal((await fx.ledger.signCheckpoint()).note.toString(), signed[signed.length - 1]!.note.toString());
      const rows = fx.store.db.prepare('SELECT size FROM evidence_checkpoints ORDER BY seq').pluck().all();
      assert.deepEqual(rows, signed.map((c) => c.size));
      const verifier = parseVerifierKey(fx.key.verifierKey);
      for (let i = 1; i < signed.length; i++) {
        const [a, b] = [signed[i - 1]!, signed[i]!];
        openCheckpoint(b.note, [verifier], { origin: ORIGIN });
        if (a.size === 0) continue;
        const p = await fx.ledger.consistencyProof(a.size, b.size);
        assert.ok(verifyConsistency(a.size, b.size, p.hashes, a.rootHash, b.rootHash));
        assert.equal(p.checkpoint.note.toString(), b.note.toString());
      }
    });

    it('serialises concurrent signings so the latest never goes back', async () => {
      const all = [];
      for (let i = 0; i < 20; i++) {
        all.push(fx.ledger.append([decision(i)]).then(() => fx.ledger.signCheckpoint()));
      }
      await Promise.all(all);
      const sizes = fx.store.db.prepare('SELECT size FROM evidence_checkpoints ORDER BY seq').pluck().all() as number[];
      assert.deepEqual([...sizes].sort((a, b) => a - b), sizes);
      assert.equal(fx.ledger.latestCheckpoint().size, 20);
    });

    it('signs a covering checkpoint on demand, and NOT_FOUND for an entry that does not exist', async () => {
      await fx.ledger.append([decision(0), decision(1)]);
      assert.equal(fx.ledger.latestCheckpoint().size, 0);
      assert.equal((await fx.ledger.checkpointCovering(1)).size, 2);
      assert.equal((await rejection(fx.ledger.checkpointCovering(2))).kind, 'not_found');
    });

    it('signs within the checkpoint interval while entries arrive (timer)', async () => {
      const ledger = await fx.reopen({ checkpointIntervalMs: 20 });
      ledger.start();
      await ledger.append([decision(0)]);
      const deadline = Date.now() + 5000;
      while (ledger.latestCheckpoint().size < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(ledger.latestCheckpoint().size, 1);
    });

    it('writes a heartbeat only after the heartbeat interval without entries', async () => {
      assert.equal(await fx.ledger.heartbeatIfIdle(), undefined);
      fx.clock.advance(4 * 60_000);
      await fx.ledger.append([decision(0)]);
      fx.clock.advance(4 * 60_000);
      assert.equal(await fx.ledger.heartbeatIfIdle(), undefined);
      fx.clock.advance(60_000);
      const ref = await fx.ledger.heartbeatIfIdle();
      assert.equal(ref?.index, 1);
      const e = JSON.parse((await fx.ledger.getEntry(1)).bytes.toString()) as Record<string, unknown>;
      assert.equal(e.type, 'heartbeat');
      assert.equal(await fx.ledger.heartbeatIfIdle(), undefined);
    });

    it('records policy.loaded with the version and policy ids', async () => {
      const ref = await fx.ledger.recordPolicyLoaded('sha256:abc', ['p1', 'p2']);
      const e = JSON.parse((await fx.ledger.getEntry(ref.index)).bytes.toString()) as Record<string, unknown>;
      assert.equal(e.type, 'policy.loaded');
      assert.equal(e.policy_version, 'sha256:abc');
      assert.deepEqual(e.policies, ['p1', 'p2']);
    });

    it('signs a final checkpoint on close', async () => {
      await fx.ledger.append([decision(0), decision(1), decision(2)]);
      await fx.ledger.close();
      const sizes = fx.store.db.prepare('SELECT size FROM evidence_checkpoints ORDER BY seq').pluck().all() as number[];
      assert.equal(sizes[sizes.length - 1], 3);
    });
  });

  describe('refusing to start', () => {
    it('when the stored tree does not match the last checkpoint', async () => {
      await fx.ledger.append(Array.from({ length: 6 }, (_, i) => decision(i)));
      await fx.ledger.signCheckpoint();
      await fx.closeAll();
      const s = new SqliteStore({ path: fx.file });
      // Node (2, 0) is the second hash in the subtrees of entry 3, the entry that completes it.
      s.db.exec('DROP TRIGGER evidence_entries_no_update');
      const subtrees = s.db.prepare('SELECT subtrees FROM evidence_entries WHERE idx = 3').pluck().get() as Buffer;
      assert.equal(subtrees.length, 64);
      s.db.prepare('UPDATE evidence_entries SET subtrees = ? WHERE idx = 3').run(Buffer.concat([subtrees.subarray(0, 32), Buffer.alloc(32, 7)]));
      await s.close();
      const err = await rejection(fx.open());
      assert.equal(err.kind, 'failed_precondition');
      assert.equal(err.message, 'evidence: entry 0: the stored tree node (level 2, index 0) over entries 0..3 does not match the hash of those entries');
    });

    it('when entries the last checkpoint covered are gone', async () => {
      await fx.ledger.append(Array.from({ length: 4 }, (_, i) => decision(i)));
      await fx.ledger.signCheckpoint();
      await fx.closeAll();
      const s = new SqliteStore({ path: fx.file });
      s.db.exec('DROP TRIGGER evidence_entries_no_delete');
      s.db.prepare('DELETE FROM evidence_entries WHERE idx = 3').run();
      await s.close();
      assert.match((await rejection(fx.open())).message, /holds 3 evidence entries, fewer than the last signed checkpoint's 4/);
    });

    it('when the signing key or the origin changed', async () => {
      await fx.ledger.append([decision(0)]);
      await fx.closeAll();
      assert.match((await rejection(fx.open({ signer: testKey().signer }))).message, /not by the configured signing key/);
      await fx.store.close();
      const other = testKey('other.example/log');
      assert.match((await rejection(fx.open({ origin: 'other.example/log', signer: other.signer }))).message, /has origin "test.example\/secret-broker", but evidence.origin is "other.example\/log"/);
      await fx.store.close();
      assert.match((await rejection(fx.open({ signer: other.signer }))).message, /named "other.example\/log", not after the origin/);
    });
  });

  describe('receipts, proofs and export', () => {
    beforeEach(async () => {
      await Promise.all(Array.from({ length: 37 }, (_, i) => fx.ledger.append([decision(i)])));
    });

    it('gives receipts that verify offline with the log key, against the latest or an older checkpoint', async () => {
      const verifiers = [parseVerifierKey(fx.key.verifierKey)];
      for (const i of [0, 1, 17, 35, 36]) {
        const e = await fx.ledger.getEntry(i);
        const v = verifyTlogProof(await fx.ledger.receipt(i), e.bytes, verifiers, { origin: ORIGIN });
        assert.equal(v.index, i);
        assert.equal(v.checkpoint.size, 37);
      }
      await fx.ledger.append([decision(99)]);
      await fx.ledger.signCheckpoint();
      const old = verifyTlogProof(await fx.ledger.receipt(3, 37), (await fx.ledger.getEntry(3)).bytes, verifiers);
      assert.equal(old.checkpoint.size, 37);
    });

    it('answers bad indexes and sizes with INVALID_ARGUMENT or NOT_FOUND', async () => {
      assert.equal((await rejection(fx.ledger.getEntry(37))).kind, 'not_found');
      assert.match((await rejection(fx.ledger.getEntry(37))).message, /evidence entry 37 not found: the log has 37 entries/);
      assert.equal((await rejection(fx.ledger.getEntry(-1))).kind, 'invalid_argument');
      assert.equal((await rejection(fx.ledger.getEntry(1.5))).kind, 'invalid_argument');
      assert.equal((await rejection(fx.ledger.receipt(40))).kind, 'not_found');
      assert.equal((await rejection(fx.ledger.receipt(1, 5))).kind, 'not_found');
      await fx.ledger.signCheckpoint();
      assert.equal((await rejection(fx.ledger.receipt(37, 37))).kind, 'invalid_argument');
      assert.equal((await rejection(fx.ledger.consistencyProof(0))).kind, 'invalid_argument');
      assert.equal((await rejection(fx.ledger.consistencyProof(38))).kind, 'invalid_argument');
      assert.equal((await rejection(fx.ledger.consistencyProof(3, 30))).kind, 'not_found');
    });

    it('exports a bundle that verifies; one changed byte is rejected naming that entry', async () => {
      const cp = await fx.ledger.signCheckpoint();
      const dir = path.join(fx.tmp.dir, 'bundle');
      const res = await writeBundle(dir, fx.ledger.bundleSource(), { consistencyFrom: [5] });
      assert.equal(res.entries, 37);
      const ok = await verifyBundle(dir, { keys: [fx.key.verifierKey], statePath: path.join(fx.tmp.dir, 'state.json') });
      assert.equal(ok.size, 37);
      assert.ok(ok.rootHash.equals(cp.rootHash));

      const file = path.join(dir, 'entries', '21.json');
      const bytes = fs.readFileSync(file);
      const at = bytes.indexOf('ticket/T-') + 'ticket/T-'.length;
      bytes[at] = bytes[at] === 0x39 ? 0x38 : bytes[at]! + 1;
      fs.writeFileSync(file, bytes);
      const err = await verifyBundle(dir, { keys: [fx.key.verifierKey] }).then(
        () => assert.fail('a changed entry verified'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BundleVerifyError);
      assert.equal(err.index, 21);
      assert.match(err.message, /^entry 21: /);
    });

    it('exports from a read-only connection while the daemon holds the database', async () => {
      const cp = await fx.ledger.signCheckpoint();
      const ro = openSqliteLedgerReadOnly(fx.file);
      try {
        assert.equal(await ro.storage.size(), 37);
        const latest = await ro.storage.latestCheckpoint();
        assert.equal(latest?.size, cp.size);
        await fx.ledger.append([decision(50)]);
        assert.equal(await ro.storage.size(), 38, 'a WAL reader sees new commits');
        const dir = path.join(fx.tmp.dir, 'ro-bundle');
        await writeBundle(dir, bundleSourceFor(ro.storage, latest!), { start: 30 });
        const ok = await verifyBundle(dir, { keys: [fx.key.verifierKey] });
        assert.equal(ok.entries, 7);
      } finally {
        ro.close();
      }
    });
  });

  it('reopens with Ledger.open over a fresh storage object on the same connection', async () => {
    await fx.ledger.append([decision(0)]);
    const again = await Ledger.open({ storage: new SqliteLedgerStorage(fx.store.db, fx.store.writes), origin: ORIGIN, signer: fx.key.signer, clock: fx.clock });
    assert.equal((await again.append([decision(1)]))[0]!.index, 1);
    await again.close();
  });
});
