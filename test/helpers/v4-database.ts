import Database from 'better-sqlite3';
import { completingEntry, type EntryRow as StoredRow } from '../../src/evidence/ledger/sqlite-ledger-storage';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations';

/*
 * A state database at schema version 4, as brokers before migration 5 wrote
 * it: every interior Merkle node a row of evidence_nodes (level, idx, hash)
 * and, when they had it, the open-intents index that the ledger created at
 * start-up (the DDL below is that code's, verbatim in effect). Built from a
 * log written by the current code, so entries and checkpoints are genuine.
 */

export interface V4Node {
  level: number;
  index: number;
  hash: Buffer;
}

export interface V4Options {
  /** Leave these nodes out (a damaged database). */
  dropNode?: (n: V4Node) => boolean;
  /** Give it the open-intents table and triggers (default true); false: a log from before the index existed. */
  openIntents?: boolean;
}

const OPEN_INTENTS_DDL = `
  CREATE TABLE evidence_open_intents (lease_id TEXT NOT NULL, use_no INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (lease_id, use_no)) WITHOUT ROWID;
  CREATE TRIGGER evidence_open_intent_add AFTER INSERT ON evidence_entries WHEN NEW.type = 'invoke.intent' BEGIN
    INSERT OR IGNORE INTO evidence_open_intents (lease_id, use_no, idx)
    VALUES (json_extract(CAST(NEW.bytes AS TEXT), '$.lease.id'), json_extract(CAST(NEW.bytes AS TEXT), '$.lease.use'), NEW.idx);
  END;
  CREATE TRIGGER evidence_open_intent_settle AFTER INSERT ON evidence_entries WHEN NEW.type IN ('invoke.result', 'invoke.unknown') BEGIN
    DELETE FROM evidence_open_intents WHERE lease_id = json_extract(CAST(NEW.bytes AS TEXT), '$.lease.id') AND use_no = json_extract(CAST(NEW.bytes AS TEXT), '$.lease.use');
  END;
`;

interface EntryRow extends StoredRow {
  subtrees: Buffer;
}

/**
 * Writes a version-4 database at `to` holding the evidence log stored in
 * `from` (a current database; leases are not copied). Returns every interior
 * node of the log, dropped ones included.
 */
export function writeV4Database(from: string, to: string, opts: V4Options = {}): V4Node[] {
  const src = new Database(from, { readonly: true });
  const db = new Database(to);
  const nodes: V4Node[] = [];
  try {
    db.pragma('journal_mode = WAL');
    db.transaction(() => {
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
      for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 4)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
      }
      // The triggers before the entries, so they keep the index as the entries are copied in, as in a real log.
      if (opts.openIntents !== false) db.exec(OPEN_INTENTS_DDL);
      const putEntry = db.prepare('INSERT INTO evidence_entries (idx, type, time_ms, bytes, leaf_hash) VALUES (?, ?, ?, ?, ?)');
      const putNode = db.prepare('INSERT INTO evidence_nodes (level, idx, hash) VALUES (?, ?, ?)');
      for (const r of src.prepare('SELECT idx, type, time_ms, bytes, leaf_hash, subtrees FROM evidence_entries ORDER BY idx').iterate() as Iterable<EntryRow>) {
        putEntry.run(r.idx, r.type, r.time_ms, r.bytes, r.leaf_hash);
        for (let level = 1; level <= r.subtrees.length / 32; level++) {
          const n = { level, index: (r.idx + 1) / 2 ** level - 1, hash: Buffer.from(r.subtrees.subarray(32 * (level - 1), 32 * level)) };
          if (completingEntry(n.level, n.index) !== r.idx) throw new Error(`node ${level}/${n.index} is not completed by entry ${r.idx}`);
          nodes.push(n);
          if (!opts.dropNode?.(n)) putNode.run(n.level, n.index, n.hash);
        }
      }
      const putCheckpoint = db.prepare('INSERT INTO evidence_checkpoints (size, root_hash, key_id, note, signed_at) VALUES (?, ?, ?, ?, ?)');
      for (const c of src.prepare('SELECT size, root_hash, key_id, note, signed_at FROM evidence_checkpoints ORDER BY seq').all() as Array<Record<string, unknown>>) {
        putCheckpoint.run(c['size'], c['root_hash'], c['key_id'], c['note'], c['signed_at']);
      }
    })();
  } finally {
    db.close();
    src.close();
  }
  return nodes;
}
