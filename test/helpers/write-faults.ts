import Database from 'better-sqlite3';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';

/** An error shaped like the one better-sqlite3 throws when the disk is full. */
export function sqliteFullError(): Error {
  return new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
}

/**
 * Write faults injected into a running daemon's real SQLite store, as a full
 * disk produces them:
 * - `failCommits()`: every group-commit transaction fails at COMMIT time
 *   (GroupCommit.faultInjector), so nothing of a batch is written (the lease
 *   rows and the evidence entries of the same tick alike);
 * - `failEvidenceInserts()`: only the INSERT of an evidence entry fails, with
 *   SQLITE_FULL, inside its own savepoint, while the other writes of the same
 *   transaction commit (a page allocation that fails for the larger write).
 *   Done with a TEMP trigger on this connection calling a JS function that
 *   throws; nothing is added to the database file.
 * `clear()` removes both; writes then succeed again on the same connection.
 */
export class WriteFaults {
  private evidenceFaults = false;
  private installed = false;
  /** How many writes each fault refused. */
  commitsFailed = 0;
  evidenceInsertsFailed = 0;

  constructor(private readonly store: SqliteStore) {}

  failCommits(): void {
    this.store.writes.faultInjector = () => {
      this.commitsFailed++;
      throw sqliteFullError();
    };
  }

  failEvidenceInserts(): void {
    const db = this.store.db;
    if (!this.installed) {
      db.function('sb_test_evidence_fault', { deterministic: false }, () => {
        if (!this.evidenceFaults) return 0;
        this.evidenceInsertsFailed++;
        throw sqliteFullError();
      });
      this.installed = true;
    }
    db.exec('CREATE TEMP TRIGGER IF NOT EXISTS sb_test_evidence_fault BEFORE INSERT ON main.evidence_entries BEGIN SELECT sb_test_evidence_fault(); END');
    this.evidenceFaults = true;
  }

  clear(): void {
    this.store.writes.faultInjector = undefined;
    this.evidenceFaults = false;
    if (this.installed) this.store.db.exec('DROP TRIGGER IF EXISTS temp.sb_test_evidence_fault');
  }
}
