import type Database from 'better-sqlite3';
import { BrokerError, unavailable } from '../../lib/errors';
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
 * The table and its triggers are schema migration 5 (store/sqlite/
 * migrations.ts), which also builds the index from the entries already
 * stored, so it is never behind the log.
 */

const TABLE = 'evidence_open_intents';
const TRIGGERS = Object.freeze(['evidence_open_intent_add', 'evidence_open_intent_settle']);

export class SqliteOpenIntents implements OpenIntentIndex {
  private readonly list;

  private constructor(db: Database.Database) {
    this.list = db.prepare(`SELECT o.lease_id, o.use_no, o.idx, e.bytes FROM ${TABLE} o JOIN evidence_entries e ON e.idx = o.idx WHERE o.idx > ? ORDER BY o.idx LIMIT ?`);
  }

  /**
   * The index of a migrated database; FAILED_PRECONDITION if its table or a
   * trigger is missing (a database altered by hand: intents would go
   * untracked).
   */
  static of(db: Database.Database): SqliteOpenIntents {
    const have = new Set(db.prepare(`SELECT name FROM sqlite_master WHERE name IN (?, ?, ?)`).pluck().all(TABLE, ...TRIGGERS) as string[]);
    const missing = [TABLE, ...TRIGGERS].filter((n) => !have.has(n));
    if (missing.length > 0) throw new BrokerError('failed_precondition', `the state database lacks the evidence open-intents index (${missing.join(', ')}); it is created by schema migration 5`);
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
