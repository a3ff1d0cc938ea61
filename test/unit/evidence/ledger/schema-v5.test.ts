import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { hashLeaf, rootAt } from '../../../../src/evidence/merkle';
import { appendToEdge, type TreeHead } from '../../../../src/evidence/ledger/right-edge';
import type { StoredNode } from '../../../../src/evidence/merkle';
import { Ledger } from '../../../../src/evidence/ledger/ledger';
import { SqliteLedgerStorage, openSqliteLedgerReadOnly } from '../../../../src/evidence/ledger/sqlite-ledger-storage';
import { BrokerError } from '../../../../src/lib/errors';
import { settleOpenIntents } from '../../../../src/evidence/ledger/unknown-outcomes';
import { SQLITE_MIGRATIONS } from '../../../../src/store/sqlite/migrations';
import { SqliteStore } from '../../../../src/store/sqlite/sqlite-store';
import { writeV4Database } from '../../../helpers/v4-database';
import { LedgerFixture, ORIGIN, decision } from './ledger-fixture';

/*
 * Schema version 5 moved the tree's interior nodes from evidence_nodes into
 * the `subtrees` column of the entry that completes them. These tests build a
 * version-4 database the way the broker used to write it (from a log written
 * by the current code, so entries and checkpoints are genuine), then check
 * that the migration keeps every node, that a read-only export still reads an
 * unmigrated database, and that a damaged one stops the migration.
 */

const N = 37;

describe('evidence/ledger: schema version 5 (subtree hashes in entry rows)', function () {
  this.timeout(60_000);
  let fx: LedgerFixture;
  let v4: string;
  let root: Buffer;

  beforeEach(async () => {
    fx = new LedgerFixture();
    await fx.open();
    await fx.ledger.append(Array.from({ length: N }, (_, i) => decision(i)));
    root = (await fx.ledger.signCheckpoint()).rootHash;
    await fx.closeAll();
    v4 = path.join(fx.tmp.dir, 'v4.db');
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('stores exactly the nodes each entry completes, in level order', async () => {
    const db = new Database(fx.file, { readonly: true });
    try {
      const rows = db.prepare('SELECT idx, subtrees FROM evidence_entries ORDER BY idx').all() as { idx: number; subtrees: Buffer }[];
      assert.equal(rows.length, N);
      for (const r of rows) {
        let trailingOnes = 0;
        while ((r.idx >> trailingOnes) & 1) trailingOnes++;
        assert.equal(r.subtrees.length, 32 * trailingOnes, `entry ${r.idx}`);
      }
      assert.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'evidence_nodes'").pluck().get(), 0);
    } finally {
      db.close();
    }
  });

  it('refuses a row whose subtrees do not fit its index', async () => {
    const s = new SqliteStore({ path: fx.file });
    try {
      const put = s.db.prepare("INSERT INTO evidence_entries (idx, type, time_ms, bytes, leaf_hash, subtrees) VALUES (?, 'decision', 0, ?, ?, ?)");
      const bytes = Buffer.from('{}');
      // Entry 37 (binary 100101) completes one node; entry 38 none; entry 39 (100111) three.
      assert.throws(() => put.run(37, bytes, Buffer.alloc(32), Buffer.alloc(0)), /CHECK constraint failed/);
      assert.throws(() => put.run(37, bytes, Buffer.alloc(32), Buffer.alloc(64)), /CHECK constraint failed/);
      assert.throws(() => put.run(37, bytes, Buffer.alloc(32), Buffer.alloc(33)), /CHECK constraint failed/);
      assert.throws(() => put.run(38, bytes, Buffer.alloc(32), Buffer.alloc(32)), /CHECK constraint failed/);
      assert.throws(() => put.run(39, bytes, Buffer.alloc(32), Buffer.alloc(64)), /CHECK constraint failed/);
      // And the right shapes are accepted.
      put.run(37, bytes, Buffer.alloc(32), Buffer.alloc(32));
      put.run(38, bytes, Buffer.alloc(32), Buffer.alloc(0));
      put.run(39, bytes, Buffer.alloc(32), Buffer.alloc(96));
    } finally {
      await s.close();
    }
  });

  it('refuses a batch whose nodes do not belong to its entries, and writes none of it', async () => {
    const store = new SqliteStore({ path: fx.file });
    try {
      const storage = new SqliteLedgerStorage(store.db, store.writes);
      // Entry 37 (100101b) completes node (1, 18); 38 none; 39 (100111b) nodes (1, 19), (2, 9) and (3, 4).
      const batch = (head: TreeHead, edit: (nodes: StoredNode[]) => StoredNode[]) => {
        const edge = [...head.edge];
        const entries = [head.size, head.size + 1, head.size + 2].map((index) => {
          const bytes = Buffer.from(JSON.stringify({ index }));
          return { index, type: 'decision', timeMs: 0, bytes, leafHash: hashLeaf(bytes) };
        });
        const nodes = entries.flatMap((e) => appendToEdge(edge, e.index, e.leafHash).filter((n) => n.level > 0));
        return { entries, nodes: edit(nodes), head: { size: head.size + 3, edge } };
      };
      const h = Buffer.alloc(32, 1);
      const cases: Array<[string, (nodes: StoredNode[]) => StoredNode[]]> = [
        ['leaf-node', (nodes) => [...nodes, { level: 0, index: 37, hash: h }]],
        ['foreign-node', (nodes) => [...nodes, { level: 1, index: 3, hash: h }]],
        ['node-order', (nodes) => [...nodes].reverse()],
        ['bad-hash', (nodes) => nodes.map((n, i) => (i === 1 ? { ...n, hash: Buffer.alloc(31) } : i === 2 ? { ...n, hash: Buffer.alloc(33) } : n))],
      ];
      for (const [reason, edit] of cases) {
        await assert.rejects(storage.appendBatch((head) => batch(head, edit)), { reason }, reason);
        assert.equal(await storage.size(), N, `${reason}: nothing written`);
      }
      // The same batch unedited is stored.
      await storage.appendBatch((head) => batch(head, (nodes) => nodes));
      assert.equal(await storage.size(), N + 3);
    } finally {
      await store.close();
    }
  });

  it('migrates a version-4 log: every node kept, the ledger opens against its checkpoint and appends on', async () => {
    const nodes = writeV4Database(fx.file, v4);
    assert.ok(nodes.length > 30);

    // Read-only, unmigrated (as `evidence export` may meet it): the old node table is read.
    const ro = openSqliteLedgerReadOnly(v4);
    try {
      assert.deepEqual(await ro.storage.getNodes(nodes), nodes.map((n) => n.hash));
      assert.deepEqual(await rootAt(N, ro.storage), root);
    } finally {
      ro.close();
    }

    const store = new SqliteStore({ path: v4 });
    try {
      assert.equal(store.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get(), SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version);
      const storage = new SqliteLedgerStorage(store.db, store.writes);
      assert.deepEqual(await storage.getNodes(nodes), nodes.map((n) => n.hash));
      const ledger = await Ledger.open({ storage, origin: ORIGIN, signer: fx.key.signer, clock: fx.clock });
      assert.equal(ledger.size, N);
      const [ref] = await ledger.append([decision(N)]);
      assert.equal(ref!.index, N);
      // The open-intent triggers went with the old table; the migration recreated them.
      const triggers = () => store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'evidence_open_intent_%' ORDER BY name").pluck().all();
      assert.deepEqual(triggers(), ['evidence_open_intent_add', 'evidence_open_intent_settle']);
      assert.equal(await settleOpenIntents({ store, evidence: ledger }), 0);
      const intent = { type: 'invoke.intent' as const, agent: 'support-bot', action: 'tickets.update', resource: 'ticket/T-1', lease: { id: 'lease_x', use: 1 } };
      await ledger.append([intent]);
      assert.deepEqual(store.db.prepare('SELECT lease_id, use_no FROM evidence_open_intents').all(), [{ lease_id: 'lease_x', use_no: 1 }]);
      await ledger.append([{ ...intent, type: 'invoke.result' as const, outcome: 'ok' }]);
      assert.deepEqual(store.db.prepare('SELECT lease_id FROM evidence_open_intents').all(), []);
      const cp = await ledger.signCheckpoint();
      assert.equal(cp.size, N + 3);
      // Still append-only after the table was rebuilt.
      assert.throws(() => store.db.prepare('DELETE FROM evidence_entries WHERE idx = 0').run(), /append-only/);
      assert.throws(() => store.db.prepare("UPDATE evidence_entries SET type = 'x' WHERE idx = 0").run(), /append-only/);
      await ledger.close();
    } finally {
      await store.close();
    }
  });

  for (const hadIndex of [true, false]) {
    it(`rebuilds the open-intents index from the entries (the version-4 database ${hadIndex ? 'had' : 'predates'} it)`, async () => {
      await fx.open();
      const intent = (id: string, use: number) => ({ type: 'invoke.intent' as const, agent: 'support-bot', action: 'tickets.update', resource: 'ticket/T-1', lease: { id, use } });
      await fx.ledger.append([intent('lease_open', 1), intent('lease_done', 1), intent('lease_open', 2)]);
      await fx.ledger.append([{ ...intent('lease_done', 1), type: 'invoke.result' as const, outcome: 'ok' }]);
      await fx.ledger.append([{ ...intent('lease_open', 2), type: 'invoke.unknown' as const }]);
      // An intent after a result for the same lease and use is open again, as the triggers keep it.
      await fx.ledger.append([{ ...intent('lease_again', 1), type: 'invoke.result' as const, outcome: 'ok' }]);
      await fx.ledger.append([intent('lease_again', 1)]);
      await fx.ledger.signCheckpoint();
      await fx.closeAll();
      writeV4Database(fx.file, v4, { openIntents: hadIndex });
      const store = new SqliteStore({ path: v4 });
      try {
        assert.deepEqual(store.db.prepare('SELECT lease_id, use_no, idx FROM evidence_open_intents ORDER BY idx').all(), [
          { lease_id: 'lease_open', use_no: 1, idx: N },
          { lease_id: 'lease_again', use_no: 1, idx: N + 6 },
        ]);
      } finally {
        await store.close();
      }
    });
  }

  it('an invoke entry that is not JSON does not stop the rebuild (the integrity check names it next)', async () => {
    writeV4Database(fx.file, v4, { openIntents: false });
    const db = new Database(v4);
    db.prepare("INSERT INTO evidence_entries (idx, type, time_ms, bytes, leaf_hash) VALUES (?, 'invoke.intent', 0, ?, ?)").run(N, Buffer.from('{"lease":'), Buffer.alloc(32));
    // Entry 37 (100101b) completes node (1, 18).
    db.prepare('INSERT INTO evidence_nodes (level, idx, hash) VALUES (1, 18, ?)').run(Buffer.alloc(32));
    db.close();
    const store = new SqliteStore({ path: v4 });
    try {
      assert.deepEqual(store.db.prepare('SELECT COUNT(*) AS n FROM evidence_open_intents').get(), { n: 0 });
      await assert.rejects(Ledger.open({ storage: new SqliteLedgerStorage(store.db, store.writes), origin: ORIGIN, signer: fx.key.signer, clock: fx.clock }), /entry 37/);
    } finally {
      await store.close();
    }
  });

  it('a version-4 log missing a node stops the migration, names it, and leaves the database as it was', async () => {
    writeV4Database(fx.file, v4, { dropNode: (n) => n.level === 2 && n.index === 3 });
    const err = (() => {
      try {
        new SqliteStore({ path: v4 });
      } catch (e) {
        return e;
      }
      return assert.fail('the store opened');
    })();
    assert.ok(err instanceof BrokerError);
    assert.equal(err.kind, 'failed_precondition');
    assert.match(err.message, /schema migration 5 \(evidence subtree hashes in their entry rows\) failed: CHECK constraint failed/);
    const db = new Database(v4, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get(), 4);
      assert.equal(db.prepare('SELECT COUNT(*) FROM evidence_entries').pluck().get(), N);
      assert.equal(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'evidence_nodes'").pluck().get(), 1);
    } finally {
      db.close();
    }
  });
});
