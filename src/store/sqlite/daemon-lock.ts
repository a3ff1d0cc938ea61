import Database from 'better-sqlite3';
import { BrokerError, unavailable } from '../../lib/errors';

/**
 * One daemon per SQLite state. Several things at start assume no other daemon
 * works on the same state: rotation locks still held are a stopped daemon's,
 * and pending credentials with no process behind them are revoked at once. A
 * second `serve` on the same state by mistake would take those from the live
 * one. So the daemon holds `<state>.lock`: a SQLite file in exclusive locking
 * mode with a transaction left open, an OS lock (fcntl) that is released when
 * the process ends in any way, kill -9 included. Readers of the state (the
 * CLI's offline commands) do not take it.
 */
export class DaemonLock {
  private constructor(private readonly db: Database.Database) {}

  /** Takes the lock of the state at `statePath`, or fails at once with FAILED_PRECONDITION naming the file. */
  static take(statePath: string): DaemonLock {
    const file = `${statePath}.lock`;
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (cause) {
      throw unavailable(`state lock ${file}`, cause);
    }
    try {
      db.pragma('busy_timeout = 0');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
      return new DaemonLock(db);
    } catch (cause) {
      db.close();
      if ((cause as { code?: string }).code === 'SQLITE_BUSY') {
        throw new BrokerError('failed_precondition', `another secret-broker daemon is using the state at ${statePath} (it holds ${file}); stop it first: one daemon per SQLite state`);
      }
      throw unavailable(`state lock ${file}`, cause);
    }
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}
