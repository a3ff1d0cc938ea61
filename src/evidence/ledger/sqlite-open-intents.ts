import type Database from 'better-sqlite3';
import { unavailable } from '../../lib/errors';
import type { GroupCommit } from '../../store/sqlite/group-commit';
import type { OpenIntent, OpenIntentIndex } from './open-intents';

/*
 * The open-intents index over SQLite: `evidence_open_intents (lease_id,
 * use_no, idx)` holds one row per `invoke.intent` entry that has no
 * `invoke.result` or `invoke.unknown` yet. Two AFTER INSERT triggers on
 * `evidence_entries` keep it, so it changes in the very transaction (and
 * fsync) that stores the entries, whoever writes them: a row exists exactly
 * while its intent is durable and unsettled. Start-up reads it (a few rows:
 * at most the calls in flight when the daemon stopped) instead of scanning
 * the log, so the check costs the same for a log of 100 entries or 100
 * million.
 *
 * The schema is installed at start-up (`CREATE ... IF NOT EXISTS`), in one
 * transaction with a one-time backfill from the entries already stored (a
 * log written before the index existed), so the index is never behind the
 * log. It is not in store/sqlite/migrations.ts because that file is owned
 * elsewhere; moving the DDL into a numbered migration later changes nothing
 * here (the IF NOT EXISTS statements become no-ops).
 */

const TABLE = 'evidence_open_intents';

// Entries are canonical JSON (text) stored as a BLOB; json_extract needs TEXT (a BLOB would be read as JSONB).
const leaseId = `json_extract(CAST(NEW.bytes AS TEXT), '$.lease.id')`;
const leaseUse = `json_extract(CAST(NEW.bytes AS TEXT), '$.lease.use')`;

const DDL = `
  CREATE TABLE IF NOT EXISTS ${TABLE} (
    lease_id TEXT NOT NULL,
    use_no INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (lease_id, use_no)
  ) WITHOUT ROWID;
  CREATE TRIGGER IF NOT EXISTS evidence_open_intent_add AFTER INSERT ON evidence_entries
  WHEN NEW.type = 'invoke.intent' BEGIN
    INSERT OR IGNORE INTO ${TABLE} (lease_id, use_no, idx) VALUES (${leaseId}, ${leaseUse}, NEW.idx);
  END;
  CREATE TRIGGER IF NOT EXISTS evidence_open_intent_settle AFTER INSERT ON evidence_entries
  WHEN NEW.type IN ('invoke.result', 'invoke.unknown') BEGIN
    DELETE FROM ${TABLE} WHERE lease_id = ${leaseId} AND use_no = ${leaseUse};
  END;
`;

interface LeaseRef {
  lease?: { id?: unknown; use?: unknown };
}

const keyOf = (bytes: Buffer): string | undefined => {
  let parsed: LeaseRef;
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as LeaseRef;
  } catch {
    return undefined;
  }
  const id = parsed.lease?.id;
  const use = parsed.lease?.use;
  return typeof id === 'string' && Number.isSafeInteger(use) ? JSON.stringify([id, use]) : undefined;
};

/** Creates the table and triggers if missing and, the first time, fills the table from the stored entries. */
function install(db: Database.Database): number {
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).pluck().get(TABLE) !== undefined;
  db.exec(DDL);
  if (exists) return 0;
  // One-time backfill for a log written before the index existed: a single ordered pass over the
  // invoke entries; memory holds only the intents still open at each point.
  const open = new Map<string, number>();
  const rows = db.prepare(`SELECT idx, type, bytes FROM evidence_entries WHERE type IN ('invoke.intent', 'invoke.result', 'invoke.unknown') ORDER BY idx`);
  for (const r of rows.iterate() as IterableIterator<{ idx: number; type: string; bytes: Buffer }>) {
    const key = keyOf(r.bytes);
    if (key === undefined) continue;
    if (r.type === 'invoke.intent') {
      if (!open.has(key)) open.set(key, r.idx);
    } else {
      open.delete(key);
    }
  }
  const insert = db.prepare(`INSERT OR IGNORE INTO ${TABLE} (lease_id, use_no, idx) VALUES (?, ?, ?)`);
  for (const [key, idx] of open) {
    const [id, use] = JSON.parse(key) as [string, number];
    insert.run(id, use, idx);
  }
  return open.size;
}

export class SqliteOpenIntents implements OpenIntentIndex {
  private readonly list;

  private constructor(db: Database.Database) {
    this.list = db.prepare(`SELECT o.lease_id, o.use_no, o.idx, e.bytes FROM ${TABLE} o JOIN evidence_entries e ON e.idx = o.idx WHERE o.idx > ? ORDER BY o.idx LIMIT ?`);
  }

  /**
   * Installs the index (durably, through the store's group commit) and
   * returns it. Call before anything can append an `invoke.intent`.
   */
  static async install(db: Database.Database, writes: GroupCommit): Promise<SqliteOpenIntents> {
    try {
      await writes.run(() => install(db));
    } catch (err) {
      throw unavailable('evidence open-intents index', err);
    }
    return new SqliteOpenIntents(db);
  }

  open(after: number, limit: number): Promise<OpenIntent[]> {
    try {
      const rows = this.list.all(after, limit) as Array<{ lease_id: string; use_no: number; idx: number; bytes: Buffer }>;
      return Promise.resolve(rows.map((r) => ({ index: r.idx, leaseId: r.lease_id, use: r.use_no, entry: r.bytes })));
    } catch (err) {
      return Promise.reject(unavailable('evidence open-intents index', err));
    }
  }
}
