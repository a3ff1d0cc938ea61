import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { tempDir } from '../helpers/broker-harness';
import { lease, storeContract } from './store-contract';

storeContract('sqlite', () => {
  const t = tempDir('sb-sqlite-');
  const file = path.join(t.dir, 'state', 'broker.db');
  return {
    open: async () => new SqliteStore({ path: file }),
    reopen: async () => new SqliteStore({ path: file }),
    cleanup: async () => t.cleanup(),
  };
});

describe('sqlite store specifics', () => {
  it('runs WAL with synchronous=NORMAL (the WAL is fdatasynced off the event loop) and a busy timeout, and records its migrations', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(s.db.pragma('synchronous', { simple: true }), 1);
      // Savepoint sub-journals in memory (2 = MEMORY), not spilled to temp files.
      assert.equal(s.db.pragma('temp_store', { simple: true }), 2);
      assert.equal(s.db.pragma('busy_timeout', { simple: true }), 5000);
      assert.deepEqual(
        s.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
        SQLITE_MIGRATIONS.map((m) => ({ version: m.version })),
      );
    } finally {
      await s.close();
      t.cleanup();
    }
  });

  it('group-commits: concurrent writes share one transaction', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      let commits = 0;
      s.writes.faultInjector = () => void commits++;
      await Promise.all(Array.from({ length: 40 }, () => s.insertLease(lease())));
      assert.equal(commits, 1);
    } finally {
      await s.close();
      t.cleanup();
    }
  });

  it('a failed commit fails every write in it with UNAVAILABLE and keeps none', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      s.writes.faultInjector = () => {
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      };
      const ls = [lease(), lease()];
      const results = await Promise.allSettled(ls.map((l) => s.insertLease(l)));
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.equal((r as PromiseRejectedResult).reason.kind, 'unavailable');
      }
      s.writes.faultInjector = undefined;
      for (const l of ls) assert.equal(await s.getLease(l.id), undefined);
      await s.insertLease(ls[0]!);
      assert.ok(await s.getLease(ls[0]!.id), 'writes resume once the fault clears');
    } finally {
      await s.close();
      t.cleanup();
    }
  });

  it('acknowledges no write before the WAL fdatasync; a failed sync fails the writes and stops the store', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      // Point the durability step at a file that cannot be opened: the commit happens, the sync cannot.
      (s.writes as unknown as { walPath: string }).walPath = path.join(t.dir, 'missing', 'x-wal');
      const r = await Promise.allSettled([s.insertLease(lease()), s.insertLease(lease())]);
      for (const x of r) assert.equal(x.status === 'rejected' && (x.reason as { kind: string }).kind, 'unavailable');
      await assert.rejects(s.insertLease(lease()), (e: { kind: string }) => e.kind === 'unavailable', 'fail closed after a sync failure');
    } finally {
      await s.close().catch(() => undefined);
      t.cleanup();
    }
  });

  it('a write that fails in a batch rolls back alone (single statements need no savepoint)', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      const a = lease();
      const b = lease();
      const r = await Promise.allSettled([s.insertLease(a), s.insertLease({ ...a }), s.insertLease(b)]);
      assert.deepEqual(r.map((x) => x.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.ok(await s.getLease(a.id));
      assert.ok(await s.getLease(b.id));
      assert.equal(await s.countActiveLeases('support-bot'), 2, 'the failed insert left no trace, not even in the trigger-kept counter');
    } finally {
      await s.close();
      t.cleanup();
    }
  });

  it('an error after which SQLite rolled back the whole transaction fails the whole batch: nothing before or after it is kept', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      // As SQLite does on an I/O error: the transaction is gone when the statement fails.
      const ioError = (): never => {
        s.db.exec('ROLLBACK');
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
      };
      const swallowed = (): void => {
        try {
          ioError();
        } catch {
          // caught by the write itself: the transaction is gone all the same
        }
      };
      const cases: Array<[string, () => Promise<unknown>]> = [
        ['a single-statement write that throws', () => s.writes.run(ioError, { single: true })],
        ['a write in a savepoint that throws', () => s.writes.run(ioError)],
        ['a write that catches the error itself', () => s.writes.run(swallowed, { single: true })],
      ];
      for (const [what, failing] of cases) {
        const before = lease();
        const after = lease();
        const r = await Promise.allSettled([s.insertLease(before), failing(), s.insertLease(after)]);
        for (const x of r) {
          assert.equal(x.status, 'rejected', what);
          assert.equal((x.reason as { kind?: string }).kind, 'unavailable', what);
        }
        assert.equal(await s.getLease(before.id), undefined, `${what}: the write before it was rolled back with it`);
        assert.equal(await s.getLease(after.id), undefined, `${what}: the write after it did not commit on its own`);
        assert.equal(await s.countActiveLeases('support-bot'), 0, what);
        // The store goes on: the next batch commits.
        await s.insertLease(after);
        assert.ok(await s.getLease(after.id), what);
        await s.endLease(after.id, 'revoked', 'test', Date.now());
      }
    } finally {
      await s.close();
      t.cleanup();
    }
  });
});

describe('sqlite store: migration 6 (lease decision params)', () => {
  it('gives a lease stored before it the params {} it was re-checked with, and refuses params over 8 KiB', async () => {
    const t = tempDir();
    const file = path.join(t.dir, 'b.db');
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 5)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
    }
    const old = lease();
    db.prepare(`INSERT INTO leases (id, agent, action, resource, context, purpose, status, issued_at, expires_at, max_expires_at, max_uses, uses_left, policy_version, policy_ids, tier, updated_at)
      VALUES (?, ?, ?, ?, ?, '', 'active', ?, ?, ?, 1, 1, 'v1', '["p1"]', 'standard', ?)`).run(old.id, old.agent, old.action, old.resource, JSON.stringify(old.context), old.issuedAt, old.expiresAt, old.maxExpiresAt, old.updatedAt);
    db.close();
    const s = new SqliteStore({ path: file });
    try {
      assert.deepEqual((await s.getLease(old.id))!.params, {});
      await assert.rejects(s.insertLease(lease({ params: { pad: 'x'.repeat(9000) } })));
    } finally {
      await s.close();
      t.cleanup();
    }
  });
});

describe('sqlite store: migration 7 (dynamic credential handles)', () => {
  it('leaves a lease stored before it with no credential (nothing owed), and refuses a handle that is not JSON', async () => {
    const t = tempDir();
    const file = path.join(t.dir, 'b.db');
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 6)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
    }
    const old = lease();
    db.prepare(`INSERT INTO leases (id, agent, action, resource, context, purpose, status, issued_at, expires_at, max_expires_at, max_uses, uses_left, policy_version, policy_ids, tier, updated_at)
      VALUES (?, ?, ?, ?, ?, '', 'revoked', ?, ?, ?, 1, 1, 'v1', '["p1"]', 'standard', ?)`).run(old.id, old.agent, old.action, old.resource, JSON.stringify(old.context), old.issuedAt, old.expiresAt, old.maxExpiresAt, old.updatedAt);
    db.close();
    const s = new SqliteStore({ path: file });
    try {
      const got = (await s.getLease(old.id))!;
      assert.equal(got.credential, undefined);
      assert.equal(got.status, 'revoked');
      assert.deepEqual(await s.listCredentialRevocations(10), []);
      assert.throws(() => s.db.prepare(`UPDATE leases SET credential = 'not json' WHERE id = ?`).run(old.id), /CHECK constraint/);
      assert.throws(() => s.db.prepare(`UPDATE leases SET ended_as = 'active' WHERE id = ?`).run(old.id), /CHECK constraint/);
    } finally {
      await s.close();
      t.cleanup();
    }
  });
});

describe('sqlite store: migration 8 (credential revocation due times)', () => {
  it('keeps a revoke_failed lease stored before it owed and due at once, and reads owed revocations from their partial index', async () => {
    const t = tempDir();
    const file = path.join(t.dir, 'b.db');
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 7)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00.000Z');
    }
    const old = lease();
    db.prepare(`INSERT INTO leases (id, agent, action, resource, context, purpose, status, issued_at, expires_at, max_expires_at, max_uses, uses_left, policy_version, policy_ids, tier, updated_at, credential, ended_as)
      VALUES (?, ?, ?, ?, ?, '', 'revoke_failed', ?, ?, ?, 1, 1, 'v1', '["p1"]', 'standard', ?, '{"backend":"vault","id":"h"}', 'expired')`).run(old.id, old.agent, old.action, old.resource, JSON.stringify(old.context), old.issuedAt, old.expiresAt, old.maxExpiresAt, old.updatedAt);
    db.close();
    const s = new SqliteStore({ path: file });
    try {
      const [owed, ...more] = await s.listCredentialRevocations(10, old.updatedAt);
      assert.equal(more.length, 0);
      assert.equal(owed!.id, old.id);
      assert.equal(owed!.credentialRetryAt, undefined, 'due when it was last touched');
      const plan = s.db
        .prepare(`EXPLAIN QUERY PLAN SELECT * FROM leases INDEXED BY leases_credential_owed WHERE credential IS NOT NULL AND credential_revoked_at IS NULL
          AND status IN ('revoked','expired','revoke_failed') AND COALESCE(credential_retry_at, updated_at) <= 1 ORDER BY COALESCE(credential_retry_at, updated_at), id LIMIT 1`)
        .all() as Array<{ detail: string }>;
      assert.deepEqual(plan.map((p) => p.detail), ['SEARCH leases USING INDEX leases_credential_owed (<expr><?)'], 'a range of the index, in order: no sort');
    } finally {
      await s.close();
      t.cleanup();
    }
  });
});

describe('sqlite store: budget reservations (migration 10)', () => {
  const q = { agent: 'support-bot', action: 'tickets.update', field: 'amount' };
  const reserve = (s: SqliteStore, l: ReturnType<typeof lease>, amount: number): Promise<void> =>
    s.writes.run(() => {
      s.statements.insertLeaseWithin(l, 100);
      s.statements.reserveBudget!({ leaseId: l.id, agent: l.agent, action: l.action, field: 'amount', at: l.issuedAt, amount, uses: l.maxUses }, l);
    });

  it('a live lease holds amount x uses; every way a lease ends releases the unused share (the trigger)', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      const now = 1_000_000;
      const revoked = lease({ maxUses: 4, usesLeft: 4 });
      const expired = lease({ maxUses: 3, usesLeft: 3, expiresAt: now + 10 });
      const exhausted = lease({ maxUses: 2, usesLeft: 2 });
      const failed = lease({ maxUses: 5, usesLeft: 5 });
      for (const l of [revoked, expired, exhausted, failed]) await reserve(s, l, 100);
      const used = (since = 0, excludeLease?: string) => s.budgetUsed({ ...q, since, ...(excludeLease ? { excludeLease } : {}) });
      assert.equal(await used(), 400 + 300 + 200 + 500);
      assert.equal(await used(0, revoked.id), 300 + 200 + 500, 'a lease\'s own reservation can be left out');

      await s.useLease(revoked.id, revoked.agent, now + 1);
      await s.endLease(revoked.id, 'revoked', 'test', now + 2);
      assert.equal(await used(), 100 + 300 + 200 + 500, 'revoked after one use: 100 spent, 300 released');

      await s.expireDue(now + 20, 10);
      assert.equal(await used(), 100 + 0 + 200 + 500, 'expired unused: all released');

      await s.useLease(exhausted.id, exhausted.agent, now + 21);
      await s.useLease(exhausted.id, exhausted.agent, now + 22);
      assert.equal((await s.getLease(exhausted.id))!.status, 'exhausted');
      assert.equal(await used(), 100 + 0 + 200 + 500, 'exhausted: all spent, nothing to release');

      await s.endLease(failed.id, 'revoke_failed', 'test', now + 23);
      assert.equal(await used(), 100 + 0 + 200 + 0, 'revoke_failed unused: all released');

      // Ended rows count from their end: a window starting after every end sees none of them.
      assert.equal(await used(now + 23), 0);
      assert.equal(await used(now + 22), 0, 'ended at now+22 is not after now+22');
      assert.equal(await used(now + 21), 200);
      const rows = s.db.prepare('SELECT lease_id, spent, released_at FROM budget_reservations ORDER BY released_at').all() as Array<{ lease_id: string; spent: number; released_at: number }>;
      assert.deepEqual(rows.map((r) => [r.lease_id, r.spent, r.released_at]), [
        [revoked.id, 100, now + 2],
        [expired.id, 0, now + 20],
        [exhausted.id, 200, now + 22],
        [failed.id, 0, now + 23],
      ]);
    } finally {
      await s.close();
      t.cleanup();
    }
  });

  it('a lease stored already used (a one-shot call) is reserved already released; the approval a lease was granted under round-trips', async () => {
    const t = tempDir();
    const s = new SqliteStore({ path: path.join(t.dir, 'b.db') });
    try {
      const one = lease({ status: 'exhausted', usesLeft: 0, maxUses: 1, updatedAt: 5 });
      await s.writes.run(() => {
        s.statements.insertLease!(one);
        s.statements.reserveBudget!({ leaseId: one.id, agent: one.agent, action: one.action, field: 'amount', at: 5, amount: 700, uses: 1 }, one);
      });
      assert.deepEqual({ ...(s.db.prepare('SELECT spent, released_at FROM budget_reservations').get() as object) }, { spent: 700, released_at: 5 });
      assert.equal(await s.budgetUsed({ ...q, since: 4 }), 700);
      assert.equal(await s.budgetUsed({ ...q, since: 5 }), 0);
      const approved = lease({ approvalId: 'appr_1' });
      await s.insertLease(approved);
      assert.equal((await s.getLease(approved.id))!.approvalId, 'appr_1');
      assert.equal((await s.getLease(one.id))!.approvalId, undefined);
    } finally {
      await s.close();
      t.cleanup();
    }
  });
});
