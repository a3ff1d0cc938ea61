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
 * - `failLeaseInserts()`: likewise, only the INSERT of a lease row fails.
 * `clear()` removes them all; writes then succeed again on the same connection.
 */
export class WriteFaults {
  private evidenceFaults = false;
  private leaseFaults = false;
  private installed = false;
  /** How many writes each fault refused. */
  commitsFailed = 0;
  evidenceInsertsFailed = 0;
  leaseInsertsFailed = 0;

  constructor(private readonly store: SqliteStore) {}

  failCommits(): void {
    this.store.writes.faultInjector = () => {
      this.commitsFailed++;
      throw sqliteFullError();
    };
  }

  failEvidenceInserts(): void {
    this.install();
    this.store.db.exec('CREATE TEMP TRIGGER IF NOT EXISTS sb_test_evidence_fault BEFORE INSERT ON main.evidence_entries BEGIN SELECT sb_test_insert_fault(1); END');
    this.evidenceFaults = true;
  }

  failLeaseInserts(): void {
    this.install();
    this.store.db.exec('CREATE TEMP TRIGGER IF NOT EXISTS sb_test_lease_fault BEFORE INSERT ON main.leases BEGIN SELECT sb_test_insert_fault(2); END');
    this.leaseFaults = true;
  }

  /** The JS function the TEMP triggers call: 1 for an evidence insert, 2 for a lease insert. */
  private install(): void {
    if (this.installed) return;
    this.store.db.function('sb_test_insert_fault', { deterministic: false }, (table: unknown) => {
      if (table === 1 && this.evidenceFaults) this.evidenceInsertsFailed++;
      else if (table === 2 && this.leaseFaults) this.leaseInsertsFailed++;
      else return 0;
      throw sqliteFullError();
    });
    this.installed = true;
  }

  clear(): void {
    this.store.writes.faultInjector = undefined;
    this.evidenceFaults = false;
    this.leaseFaults = false;
    if (this.installed) this.store.db.exec('DROP TRIGGER IF EXISTS temp.sb_test_evidence_fault; DROP TRIGGER IF EXISTS temp.sb_test_lease_fault');
  }
}
