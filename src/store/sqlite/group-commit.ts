import type Database from 'better-sqlite3';
import { unavailable } from '../../lib/errors';

interface Pending {
  fn: (db: Database.Database) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for better-sqlite3: writes queued in the same turn of the event
 * loop run in one transaction, so they share one fsync (synchronous=FULL), and
 * none resolves before that commit. Each write runs in its own savepoint, so a
 * write that throws rolls back alone; a failed COMMIT fails them all.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  /** Test hook: throw before commit to simulate an I/O fault. */
  faultInjector?: () => void;

  constructor(private readonly db: Database.Database) {}

  run<T>(fn: (db: Database.Database) => T): Promise<T> {
    if (this.closed) return Promise.reject(unavailable('state store'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const results: Array<{ ok: true; v: unknown } | { ok: false; e: unknown }> = [];
    try {
      this.db.transaction(() => {
        for (const p of batch) {
          try {
            results.push({ ok: true, v: this.db.transaction(() => p.fn(this.db))() });
          } catch (e) {
            results.push({ ok: false, e });
          }
        }
        this.faultInjector?.();
      })();
    } catch (cause) {
      const err = unavailable('state store', cause);
      for (const p of batch) p.reject(err);
      return;
    }
    batch.forEach((p, i) => {
      const r = results[i]!;
      if (r.ok) p.resolve(r.v);
      else p.reject(r.e);
    });
  }

  close(): void {
    this.closed = true;
    if (this.queue.length) this.flush();
  }
}
