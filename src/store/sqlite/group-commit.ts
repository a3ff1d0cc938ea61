import { closeSync, fdatasync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { unavailable } from '../../lib/errors';

interface Pending {
  fn: (db: Database.Database) => unknown;
  savepoint: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type Settled = { p: Pending; ok: true; v: unknown } | { p: Pending; ok: false; e: unknown };

/**
 * Group commit for better-sqlite3. Writes queued in the same turn of the event
 * loop run in one transaction, each in its own savepoint (a write that throws
 * rolls back alone; a failed COMMIT, or an error after which SQLite rolled
 * back the whole transaction, fails them all).
 *
 * Durability: the database runs with synchronous=NORMAL, so COMMIT does not
 * fsync on the event loop; instead the WAL file is fdatasync'ed on libuv's
 * thread pool, and no write resolves before the fdatasync that covers its
 * commit has returned. That is the durability of synchronous=FULL without
 * blocking the event loop, and while one fdatasync runs, later commits gather
 * behind it and share the next one. If an fdatasync fails, the store stops
 * accepting writes (fail closed): what it reported as written may not be.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private broken: unknown;
  private walFd: number | undefined;
  private syncing = false;
  private awaitingSync: Settled[] = [];
  private idleWaiters: Array<() => void> = [];
  /** Test hook: runs inside each transaction before COMMIT; throw to simulate an I/O fault. */
  faultInjector?: () => void;

  constructor(
    private readonly db: Database.Database,
    private readonly walPath?: string,
  ) {}

  /**
   * Queues a write. `single: true` marks a write that is one SQL statement:
   * SQLite already makes a statement (with its triggers) atomic, so it needs no
   * savepoint of its own, which saves two statements per write on the hot path.
   */
  run<T>(fn: (db: Database.Database) => T, opts: { single?: boolean } = {}): Promise<T> {
    if (this.closed) return Promise.reject(unavailable('state store'));
    if (this.broken) return Promise.reject(unavailable('state store', this.broken));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, savepoint: opts.single !== true, resolve: resolve as (v: unknown) => void, reject });
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
    const results: Settled[] = [];
    try {
      this.db.transaction(() => {
        for (const p of batch) {
          try {
            results.push({ p, ok: true, v: p.savepoint ? this.db.transaction(() => p.fn(this.db))() : p.fn(this.db) });
          } catch (e) {
            results.push({ p, ok: false, e });
          }
          // Some errors (an I/O error always; a full disk or no memory where no statement
          // journal was kept) make SQLite roll back the whole transaction, not the one
          // statement, even when the write caught the error itself. Then the writes before
          // are gone, and the ones after would each commit on their own: stop, fail them all.
          if (!this.db.inTransaction) {
            const last = results[results.length - 1]!;
            throw new Error('SQLite rolled back the group-commit transaction', last.ok ? {} : { cause: last.e });
          }
        }
        this.faultInjector?.();
      })();
    } catch (cause) {
      const err = unavailable('state store', cause);
      for (const p of batch) p.reject(err);
      return;
    }
    if (this.walPath === undefined) return this.settle(results);
    this.awaitingSync.push(...results);
    this.syncWal();
  }

  private syncWal(): void {
    if (this.syncing || this.awaitingSync.length === 0) return;
    const covered = this.awaitingSync;
    this.awaitingSync = [];
    this.syncing = true;
    try {
      this.walFd ??= openSync(this.walPath!, 'r');
    } catch (cause) {
      return this.fail(covered, cause);
    }
    fdatasync(this.walFd, (err) => {
      this.syncing = false;
      if (err) return this.fail(covered, err);
      this.settle(covered);
      if (this.awaitingSync.length) this.syncWal();
      else this.notifyIdle();
    });
  }

  private settle(results: Settled[]): void {
    for (const r of results) {
      if (r.ok) r.p.resolve(r.v);
      else r.p.reject(r.e);
    }
  }

  private fail(covered: Settled[], cause: unknown): void {
    this.syncing = false;
    this.broken = cause;
    const err = unavailable('state store', cause);
    for (const r of [...covered, ...this.awaitingSync]) r.p.reject(err);
    this.awaitingSync = [];
    this.notifyIdle();
  }

  private notifyIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Flushes what is queued and waits until every commit is durable. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length) this.flush();
    if (this.syncing || this.awaitingSync.length) await new Promise<void>((r) => this.idleWaiters.push(r));
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }
}
