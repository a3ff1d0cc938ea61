import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { CredentialHandle } from '../../backends/backend';
import type { LeaseFilter, LeaseRecord, LeaseStatus } from '../../leases/lease';
import { BrokerError, unavailable } from '../../lib/errors';
import type { ApprovalFilter, ApprovalRecord, ApprovalState, ApprovalStatements, BudgetQuery, LeaseStatements, PendingCredential, Store, TrustHistoryRow, TrustRecord, TrustStatements } from '../store';
import { canonicalize } from '../../evidence/canonical-json';
import { DaemonLock } from './daemon-lock';
import { GroupCommit } from './group-commit';
import { SQLITE_MIGRATIONS } from './migrations';
import { SqliteRotations } from './sqlite-rotations';

/** The params column's bound (migration 6); RequestLease refuses larger params first. */
const MAX_PARAMS_BYTES = 8192;

interface LeaseRow {
  id: string;
  agent: string;
  action: string;
  resource: string;
  context: string;
  params: string;
  purpose: string;
  status: LeaseStatus;
  issued_at: number;
  expires_at: number;
  max_expires_at: number;
  max_uses: number;
  uses_left: number;
  policy_version: string;
  policy_ids: string;
  tier: string;
  revoke_reason: string | null;
  updated_at: number;
  credential: string | null;
  credential_revoked_at: number | null;
  ended_as: 'revoked' | 'expired' | null;
  credential_retry_at: number | null;
  approval_id: string | null;
}

function fromRow(r: LeaseRow): LeaseRecord {
  return {
    id: r.id,
    agent: r.agent,
    action: r.action,
    resource: r.resource,
    context: JSON.parse(r.context) as LeaseRecord['context'],
    params: JSON.parse(r.params) as LeaseRecord['params'],
    purpose: r.purpose,
    status: r.status,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    maxExpiresAt: r.max_expires_at,
    maxUses: r.max_uses,
    usesLeft: r.uses_left,
    policyVersion: r.policy_version,
    policyIds: JSON.parse(r.policy_ids) as string[],
    tier: r.tier,
    ...(r.revoke_reason ? { revokeReason: r.revoke_reason } : {}),
    updatedAt: r.updated_at,
    ...(r.credential !== null ? { credential: JSON.parse(r.credential) as CredentialHandle } : {}),
    ...(r.credential_revoked_at !== null ? { credentialRevokedAt: r.credential_revoked_at } : {}),
    ...(r.ended_as !== null ? { endedAs: r.ended_as } : {}),
    ...(r.credential_retry_at !== null ? { credentialRetryAt: r.credential_retry_at } : {}),
    ...(r.approval_id !== null ? { approvalId: r.approval_id } : {}),
  };
}

interface ApprovalRow {
  id: string;
  agent: string;
  groups: string;
  binding: string;
  binding_hash: string;
  trust: string;
  state: ApprovalState;
  votes: string;
  created_at: number;
  expires_at: number;
  decided_at: number | null;
  decided_by: string | null;
  lease_id: string | null;
  consumed_at: number | null;
  version: number;
  updated_at: number;
}

function approvalFromRow(r: ApprovalRow): ApprovalRecord {
  return {
    id: r.id,
    agent: r.agent,
    groups: JSON.parse(r.groups) as string[],
    binding: JSON.parse(r.binding) as Record<string, unknown>,
    bindingHash: r.binding_hash,
    trust: JSON.parse(r.trust) as ApprovalRecord['trust'],
    state: r.state,
    votes: JSON.parse(r.votes) as ApprovalRecord['votes'],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    ...(r.decided_at !== null ? { decidedAt: r.decided_at } : {}),
    ...(r.decided_by !== null ? { decidedBy: r.decided_by } : {}),
    ...(r.lease_id !== null ? { leaseId: r.lease_id } : {}),
    ...(r.consumed_at !== null ? { consumedAt: r.consumed_at } : {}),
    version: r.version,
    updatedAt: r.updated_at,
  };
}

function approvalParams(a: ApprovalRecord): Record<string, string | number | null> {
  return {
    id: a.id,
    agent: a.agent,
    groups: JSON.stringify(a.groups),
    binding: canonicalize(a.binding, { maxBytes: 32768 }).toString('utf8'),
    binding_hash: a.bindingHash,
    trust: JSON.stringify(a.trust),
    state: a.state,
    votes: JSON.stringify(a.votes),
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    decided_at: a.decidedAt ?? null,
    decided_by: a.decidedBy ?? null,
    lease_id: a.leaseId ?? null,
    consumed_at: a.consumedAt ?? null,
    version: a.version,
    updated_at: a.updatedAt,
  };
}

interface TrustRow {
  agent: string;
  score: number;
  updated_at: number;
  confirmed_at: number | null;
}

function trustFromRow(r: TrustRow): TrustRecord {
  return { agent: r.agent, score: r.score, updatedAt: r.updated_at, ...(r.confirmed_at !== null ? { confirmedAt: r.confirmed_at } : {}) };
}

/** A lease as the named parameters of the insert statements. */
function leaseParams(l: LeaseRecord): Record<string, string | number | null> {
  return {
    id: l.id,
    agent: l.agent,
    action: l.action,
    resource: l.resource,
    context: JSON.stringify(l.context),
    params: canonicalize(l.params, { maxBytes: MAX_PARAMS_BYTES }).toString('utf8'),
    purpose: l.purpose,
    status: l.status,
    issued_at: l.issuedAt,
    expires_at: l.expiresAt,
    max_expires_at: l.maxExpiresAt,
    max_uses: l.maxUses,
    uses_left: l.usesLeft,
    policy_version: l.policyVersion,
    policy_ids: JSON.stringify(l.policyIds),
    tier: l.tier,
    revoke_reason: l.revokeReason ?? null,
    updated_at: l.updatedAt,
    credential: l.credential ? JSON.stringify(l.credential) : null,
    credential_revoked_at: l.credentialRevokedAt ?? null,
    ended_as: l.endedAs ?? null,
    credential_retry_at: l.credentialRetryAt ?? null,
    approval_id: l.approvalId ?? null,
  };
}

/** Applies pending migrations in order, each in its own transaction. */
export function migrate(db: Database.Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) throw new Error(`the state database is at schema version ${current}, newer than this broker understands (${latest})`);
  for (const m of SQLITE_MIGRATIONS) {
    if (m.version <= current) continue;
    try {
      db.transaction(() => {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      })();
    } catch (err) {
      // The transaction rolled back: the database is still at the version before this one.
      throw new Error(`schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
    }
  }
  return latest;
}

/** SQLite result codes for a condition outside the request that may pass: a full disk, an I/O error, contention, memory. */
const PASSING = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|NOMEM)/;

function isPassing(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && PASSING.test(code);
}

/**
 * A write that failed alone (its statement rolled back, the rest of the batch
 * committed) for a passing reason is UNAVAILABLE like a failed commit: the
 * client may retry. Anything else (a violated constraint: a bug; a corrupt
 * database: not worth retrying) stays as it is and surfaces as INTERNAL.
 */
export function storageFault(err: unknown): unknown {
  return !(err instanceof BrokerError) && isPassing(err) ? unavailable('state store', err) : err;
}

export interface SqliteStoreOptions {
  path: string;
  /** The daemon's store: holds `<path>.lock` until close (DaemonLock), so a second daemon on this state refuses to start. */
  exclusive?: boolean;
}

/** The embedded default store: better-sqlite3 in WAL mode with group-committed, fsynced writes. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly daemonLock: DaemonLock | undefined;
  readonly db: Database.Database;
  readonly writes: GroupCommit;
  private readonly st: ReturnType<SqliteStore['prepare']>;
  /** Rotation locks, fencing tokens and history (migration 14). */
  readonly rotations: SqliteRotations;
  /** For a write transaction already open on this database (the evidence log's appendWith). */
  readonly statements: LeaseStatements & ApprovalStatements = {
    useLease: (id, agent, now) => {
      const r = this.st.use.get({ id, agent, now }) as LeaseRow | undefined;
      if (!r) return undefined;
      const lease = fromRow(r);
      return { lease, useNumber: lease.maxUses - lease.usesLeft };
    },
    consumeApproval: (id, leaseId, now) => this.st.approvalConsume.run({ id, lease_id: leaseId, now }).changes === 1,
    insertApprovalWithin: (a, maxOpen, now) => {
      try {
        return this.st.approvalInsertWithin.run({ ...approvalParams(a), max_open: maxOpen, now }).changes === 1 ? a : undefined;
      } catch (err) {
        throw storageFault(err);
      }
    },
    readApproval: (id) => {
      const r = this.st.approvalGet.get(id) as ApprovalRow | undefined;
      return r ? approvalFromRow(r) : undefined;
    },
    findPendingApprovalWithin: (agent, bindingHash, now) => {
      const r = this.st.approvalFindPending.get({ agent, binding_hash: bindingHash, now }) as ApprovalRow | undefined;
      return r ? approvalFromRow(r) : undefined;
    },
    updateApproval: (a, now) => {
      const r = this.st.approvalUpdate.get({ ...approvalParams(a), updated_at: now }) as ApprovalRow | undefined;
      return r ? approvalFromRow(r) : undefined;
    },
    expireApprovals: (now, limit) => (this.st.approvalExpire.all({ now, limit }) as ApprovalRow[]).map(approvalFromRow),
    renewLease: (id, agent, expiresAt, now) => {
      const r = this.st.renew.get({ id, agent, expires_at: expiresAt, now }) as LeaseRow | undefined;
      return r ? fromRow(r) : undefined;
    },
    endLease: (id, status, reason, now) => this.wrapFault(() => {
      const r = this.st.end.get({ id, status, reason, now }) as LeaseRow | undefined;
      return r ? fromRow(r) : undefined;
    }),
    markCredentialRevoked: (id, now) => this.wrapFault(() => {
      const r = this.st.credentialRevoked.get({ id, now }) as LeaseRow | undefined;
      return r ? fromRow(r) : undefined;
    }),
    insertLeaseWithin: (l, maxActive) => {
      try {
        if (this.st.insertWithin.run({ ...leaseParams(l), max_active: maxActive }).changes !== 1) return undefined;
        this.settlePending(l);
        return l;
      } catch (err) {
        // Inside another write's transaction: say UNAVAILABLE for a passing fault, as a write of our own would.
        throw storageFault(err);
      }
    },
    insertLease: (l) => {
      try {
        this.st.insert.run(leaseParams(l));
        this.settlePending(l);
        return l;
      } catch (err) {
        throw storageFault(err);
      }
    },
    budgetUsed: (q) => this.budgetUsedNow(q),
    reserveBudget: (r, l) => {
      try {
        const ended = l.status !== 'active';
        this.st.budgetReserve.run({
          lease_id: r.leaseId,
          agent: r.agent,
          action: r.action,
          field: r.field,
          reserved_at: r.at,
          amount: r.amount,
          uses: r.uses,
          spent: ended ? r.amount * Math.max(0, Math.min(r.uses, l.maxUses - l.usesLeft)) : 0,
          released_at: ended ? l.updatedAt : null,
        });
      } catch (err) {
        throw storageFault(err);
      }
    },
  };

  /** For a write transaction already open on this database (appendWith, writeTrust). */
  readonly trustStatements: TrustStatements = {
    getTrust: (agent) => {
      const r = this.st.getTrust.get(agent) as TrustRow | undefined;
      return r ? trustFromRow(r) : undefined;
    },
    putTrustIf: (rec, expect) => {
      const row = { agent: rec.agent, score: rec.score, updated_at: rec.updatedAt, confirmed_at: rec.confirmedAt ?? null };
      if (!expect) return this.st.insertTrustNew.run(row).changes === 1;
      return this.st.updateTrustIf.run({ ...row, old_score: expect.score, old_updated_at: expect.updatedAt }).changes === 1;
    },
    addTrustHistory: (agent, h) => {
      this.st.addTrustHistory.run({
        agent,
        at: h.at,
        old_score: h.oldScore,
        new_score: h.newScore,
        old_tier: h.oldTier,
        new_tier: h.newTier,
        kind: h.kind,
        weight: h.weight ?? null,
        note: h.note,
        by: h.by,
      });
    },
    revokeLeases: (ids, reason, now) => {
      const out: LeaseRecord[] = [];
      for (const id of ids) {
        const r = this.st.endLive.get({ id, reason, now }) as LeaseRow | undefined;
        if (r) out.push(fromRow(r));
      }
      return out;
    },
  };

  constructor(opts: SqliteStoreOptions) {
    mkdirSync(path.dirname(opts.path), { recursive: true, mode: 0o700 });
    // Before anything is read or migrated: a second daemon must not touch the state at all.
    this.daemonLock = opts.exclusive ? DaemonLock.take(opts.path) : undefined;
    try {
      this.db = new Database(opts.path);
      this.db.pragma('journal_mode = WAL');
      // NORMAL: COMMIT does not fsync on the event loop; GroupCommit fdatasyncs the WAL on the
      // thread pool and resolves no write before that returns (FULL's durability, off the loop).
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('foreign_keys = ON');
    } catch (cause) {
      this.daemonLock?.release();
      throw unavailable(`state database ${opts.path}`, cause);
    }
    try {
      migrate(this.db);
      // Savepoint sub-journals (GroupCommit gives most writes a savepoint) stay in memory: on disk
      // they spilled past 64 KiB and cost about as many write(2) calls as the WAL itself. Set after
      // the migrations, whose sorts over a whole table may be larger than memory should hold.
      this.db.pragma('temp_store = MEMORY');
    } catch (cause) {
      this.db.close();
      this.daemonLock?.release();
      // Say which migration failed and why (SQLite's message names no data): UNAVAILABLE when it may
      // pass (a full disk: a migration rewrites a whole table), otherwise a state to fix first.
      const why = `state database ${opts.path}: ${(cause as Error).message}`;
      throw new BrokerError(isPassing((cause as { cause?: unknown }).cause ?? cause) ? 'unavailable' : 'failed_precondition', why, { cause });
    }
    this.writes = new GroupCommit(this.db, `${opts.path}-wal`);
    this.st = this.prepare();
    this.rotations = new SqliteRotations(this.db, (fn) => this.write(fn));
  }

  private prepare() {
    const d = this.db;
    const columns = `id, agent, action, resource, context, params, purpose, status, issued_at, expires_at, max_expires_at,
        max_uses, uses_left, policy_version, policy_ids, tier, revoke_reason, updated_at, credential, credential_revoked_at, ended_as, credential_retry_at, approval_id`;
    const values = `@id, @agent, @action, @resource, @context, @params, @purpose, @status, @issued_at, @expires_at, @max_expires_at,
        @max_uses, @uses_left, @policy_version, @policy_ids, @tier, @revoke_reason, @updated_at, @credential, @credential_revoked_at, @ended_as, @credential_retry_at, @approval_id`;
    return {
      insert: d.prepare(`INSERT INTO leases (${columns}) VALUES (${values})`),
      // The count is the trigger-kept agent_active_leases, read in the same statement as the insert: atomic.
      insertWithin: d.prepare(`INSERT INTO leases (${columns}) SELECT ${values}
        WHERE @status = 'active' AND COALESCE((SELECT n FROM agent_active_leases WHERE agent = @agent), 0) < @max_active`),
      get: d.prepare('SELECT * FROM leases WHERE id = ?'),
      countActive: d.prepare('SELECT n FROM agent_active_leases WHERE agent = ?'),
      countPending: d.prepare(`SELECT COUNT(*) AS n FROM approvals INDEXED BY approvals_open WHERE state IN ('pending','approved') AND state = 'pending'`),
      use: d.prepare(`UPDATE leases SET uses_left = uses_left - 1, updated_at = @now,
        status = CASE WHEN uses_left - 1 = 0 THEN 'exhausted' ELSE status END
        WHERE id = @id AND agent = @agent AND status = 'active' AND expires_at > @now AND uses_left > 0 RETURNING *`),
      renew: d.prepare(`UPDATE leases SET expires_at = MIN(@expires_at, max_expires_at), updated_at = @now
        WHERE id = @id AND agent = @agent AND status = 'active' AND expires_at > @now RETURNING *`),
      end: d.prepare(`UPDATE leases SET status = @status, revoke_reason = @reason, updated_at = @now
        WHERE id = @id AND status IN ('active', 'exhausted', 'revoke_failed') AND status != @status RETURNING *`),
      expireDue: d.prepare(`UPDATE leases SET status = 'expired', updated_at = @now
        WHERE id IN (SELECT id FROM leases WHERE status = 'active' AND expires_at <= @now ORDER BY expires_at LIMIT @limit) RETURNING *`),
      credentialFailed: d.prepare(`UPDATE leases SET ended_as = CASE WHEN status = 'revoke_failed' THEN ended_as ELSE status END,
        status = 'revoke_failed', updated_at = @now, credential_retry_at = @retry_at
        WHERE id = @id AND status IN ('revoked', 'expired', 'revoke_failed') AND credential IS NOT NULL AND credential_revoked_at IS NULL RETURNING *`),
      credentialRevoked: d.prepare(`UPDATE leases SET credential_revoked_at = @now, updated_at = @now, credential_retry_at = NULL,
        status = CASE WHEN status = 'revoke_failed' THEN COALESCE(ended_as, 'revoked') ELSE status END, ended_as = NULL
        WHERE id = @id AND status IN ('revoked', 'expired', 'revoke_failed') AND credential IS NOT NULL AND credential_revoked_at IS NULL RETURNING *`),
      // Earliest due first, from the partial index on exactly this expression: it holds only owed
      // credentials, where the planner would rather scan every ended lease by status and sort.
      credentialOwed: d.prepare(`SELECT * FROM leases INDEXED BY leases_credential_owed
        WHERE credential IS NOT NULL AND credential_revoked_at IS NULL AND status IN ('revoked','expired','revoke_failed')
        AND COALESCE(credential_retry_at, updated_at) <= @due_by
        ORDER BY COALESCE(credential_retry_at, updated_at), id LIMIT @limit`),
      pendingInsert: d.prepare(`INSERT INTO pending_credentials (backend, handle_id, attributes, lease_id, created_at)
        VALUES (@backend, @handle_id, @attributes, @lease_id, @created_at)`),
      pendingDelete: d.prepare('DELETE FROM pending_credentials WHERE backend = ? AND handle_id = ?'),
      pendingList: d.prepare('SELECT * FROM pending_credentials WHERE backend = @backend ORDER BY created_at, handle_id LIMIT @limit'),
      pendingListAll: d.prepare('SELECT * FROM pending_credentials ORDER BY created_at, backend, handle_id LIMIT @limit'),
      // From the partial expression index leases_credential_live.
      credentialOwned: d.prepare(`SELECT 1 FROM leases WHERE credential IS NOT NULL
        AND json_extract(credential, '$.backend') = @backend AND json_extract(credential, '$.id') = @id
        AND (credential_revoked_at IS NULL OR credential_revoked_at > @since) LIMIT 1`),
      credentialLease: d.prepare(`SELECT * FROM leases WHERE credential IS NOT NULL
        AND json_extract(credential, '$.backend') = @backend AND json_extract(credential, '$.id') = @id ORDER BY issued_at DESC, id LIMIT 1`),
      approvalInsertWithin: d.prepare(`INSERT INTO approvals (id, agent, groups, binding, binding_hash, trust, state, votes, created_at, expires_at,
          decided_at, decided_by, lease_id, consumed_at, version, updated_at)
        SELECT @id, @agent, @groups, @binding, @binding_hash, @trust, @state, @votes, @created_at, @expires_at,
          @decided_at, @decided_by, @lease_id, @consumed_at, @version, @updated_at
        WHERE (SELECT COUNT(*) FROM approvals WHERE agent = @agent AND state = 'pending' AND expires_at > @now) < @max_open`),
      approvalGet: d.prepare('SELECT * FROM approvals WHERE id = ?'),
      // From the partial index approvals_open.
      approvalNextExpiry: d.prepare("SELECT MIN(expires_at) AS at FROM approvals WHERE state IN ('pending', 'approved')"),
      approvalUpdate: d.prepare(`UPDATE approvals SET state = @state, votes = @votes, decided_at = @decided_at, decided_by = @decided_by,
          version = version + 1, updated_at = @updated_at
        WHERE id = @id AND version = @version AND state IN ('pending', 'approved') RETURNING *`),
      approvalConsume: d.prepare(`UPDATE approvals SET state = 'consumed', lease_id = @lease_id, consumed_at = @now, version = version + 1, updated_at = @now
        WHERE id = @id AND state = 'approved' AND expires_at > @now`),
      approvalExpire: d.prepare(`UPDATE approvals SET state = 'expired', decided_at = COALESCE(decided_at, @now), version = version + 1, updated_at = @now
        WHERE id IN (SELECT id FROM approvals WHERE state IN ('pending', 'approved') AND expires_at <= @now ORDER BY expires_at LIMIT @limit) RETURNING *`),
      approvalFindPending: d.prepare(`SELECT * FROM approvals WHERE agent = @agent AND state = 'pending' AND binding_hash = @binding_hash AND expires_at > @now
        ORDER BY created_at DESC LIMIT 1`),
      // A live lease holds amount x uses, whatever its age; an ended one what it spent (the
      // budget_release trigger), while its end is inside the window. Two ranges of one index.
      budgetUsed: d.prepare(`SELECT
        (SELECT COALESCE(SUM(reserved), 0) FROM budget_reservations
          WHERE agent = @agent AND action = @action AND field = @field AND released_at IS NULL AND lease_id != @exclude)
        + (SELECT COALESCE(SUM(spent), 0) FROM budget_reservations
          WHERE agent = @agent AND action = @action AND field = @field AND released_at > @since AND lease_id != @exclude) AS used`),
      budgetReserve: d.prepare(`INSERT INTO budget_reservations (lease_id, agent, action, field, reserved_at, amount, uses, reserved, spent, released_at)
        VALUES (@lease_id, @agent, @action, @field, @reserved_at, @amount, @uses, @amount * @uses, @spent, @released_at)`),
      getTrust: d.prepare('SELECT agent, score, updated_at, confirmed_at FROM trust WHERE agent = ?'),
      insertTrustNew: d.prepare(`INSERT INTO trust (agent, score, updated_at, confirmed_at) VALUES (@agent, @score, @updated_at, @confirmed_at)
        ON CONFLICT (agent) DO NOTHING`),
      updateTrustIf: d.prepare(`UPDATE trust SET score = @score, updated_at = @updated_at, confirmed_at = @confirmed_at
        WHERE agent = @agent AND score = @old_score AND updated_at = @old_updated_at`),
      addTrustHistory: d.prepare(`INSERT INTO trust_history (agent, at, old_score, new_score, old_tier, new_tier, kind, weight, note, by)
        VALUES (@agent, @at, @old_score, @new_score, @old_tier, @new_tier, @kind, @weight, @note, @by)`),
      trustHistory: d.prepare('SELECT * FROM trust_history WHERE agent = @agent ORDER BY id DESC LIMIT @limit'),
      // A trust drop ends live leases only (active or exhausted); one already ended stays as it is.
      endLive: d.prepare(`UPDATE leases SET status = 'revoked', revoke_reason = @reason, updated_at = @now
        WHERE id = @id AND status IN ('active', 'exhausted') RETURNING *`),
      setTrust: d.prepare(`INSERT INTO trust (agent, score, updated_at, confirmed_at) VALUES (@agent, @score, @updated_at, @confirmed_at)
        ON CONFLICT (agent) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at, confirmed_at = excluded.confirmed_at`),
    };
  }

  /** Inside another write's transaction: say UNAVAILABLE for a passing fault, as a write of our own would. */
  private wrapFault<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw storageFault(err);
    }
  }

  /** Every write here is one SQL statement (with its triggers), atomic on its own: no savepoint needed. */
  private write<T>(fn: () => T): Promise<T> {
    return this.writes.run(fn, { single: true }).catch((err: unknown) => {
      throw storageFault(err);
    });
  }

  private read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (cause) {
      return Promise.reject(unavailable('state store', cause));
    }
  }

  insertLease(l: LeaseRecord): Promise<void> {
    return this.write(() => {
      this.st.insert.run(leaseParams(l));
      this.settlePending(l);
    });
  }

  insertLeaseWithin(l: LeaseRecord, maxActive: number): Promise<boolean> {
    return this.write(() => this.statements.insertLeaseWithin(l, maxActive) !== undefined);
  }

  getLease(id: string): Promise<LeaseRecord | undefined> {
    return this.read(() => {
      const r = this.st.get.get(id) as LeaseRow | undefined;
      return r ? fromRow(r) : undefined;
    });
  }

  countActiveLeases(agent: string): Promise<number> {
    return this.read(() => (this.st.countActive.get(agent) as { n: number } | undefined)?.n ?? 0);
  }

  useLease(id: string, agent: string, now: number): Promise<{ lease: LeaseRecord; useNumber: number } | undefined> {
    return this.write(() => this.statements.useLease!(id, agent, now));
  }

  renewLease(id: string, agent: string, expiresAt: number, now: number): Promise<LeaseRecord | undefined> {
    return this.write(() => this.statements.renewLease(id, agent, expiresAt, now));
  }

  endLease(id: string, status: 'revoked' | 'expired' | 'revoke_failed', reason: string, now: number): Promise<LeaseRecord | undefined> {
    return this.write(() => this.statements.endLease(id, status, reason, now));
  }

  listLeases(f: LeaseFilter): Promise<LeaseRecord[]> {
    return this.read(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (clause: string, ...values: unknown[]): void => {
        where.push(clause);
        args.push(...values);
      };
      if (f.agent) add('agent = ?', f.agent);
      if (f.action) add('action = ?', f.action);
      if (f.leaseId) add('id = ?', f.leaseId);
      if (f.statuses?.length) add(`status IN (${f.statuses.map(() => '?').join(',')})`, ...f.statuses);
      const sql = `SELECT * FROM leases ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY issued_at DESC, id LIMIT ?`;
      return (this.db.prepare(sql).all(...args, f.limit) as LeaseRow[]).map(fromRow);
    });
  }

  expireDue(now: number, limit: number): Promise<LeaseRecord[]> {
    return this.write(() => (this.st.expireDue.all({ now, limit }) as LeaseRow[]).map(fromRow));
  }

  markCredentialRevokeFailed(id: string, now: number, retryAt = now): Promise<LeaseRecord | undefined> {
    return this.write(() => {
      const r = this.st.credentialFailed.get({ id, now, retry_at: retryAt }) as LeaseRow | undefined;
      return r ? fromRow(r) : undefined;
    });
  }

  markCredentialRevoked(id: string, now: number): Promise<LeaseRecord | undefined> {
    return this.write(() => this.statements.markCredentialRevoked(id, now));
  }

  listCredentialRevocations(limit: number, dueBy = Number.MAX_SAFE_INTEGER): Promise<LeaseRecord[]> {
    return this.read(() => (this.st.credentialOwed.all({ limit, due_by: dueBy }) as LeaseRow[]).map(fromRow));
  }

  /** Inside the transaction that stores `l`: its credential is no longer pending, it is the lease's. */
  private settlePending(l: LeaseRecord): void {
    if (l.credential) this.st.pendingDelete.run(l.credential.backend, l.credential.id);
  }

  insertPendingCredential(p: PendingCredential): Promise<void> {
    return this.write(() => {
      this.st.pendingInsert.run({
        backend: p.handle.backend,
        handle_id: p.handle.id,
        attributes: JSON.stringify(p.handle.attributes ?? {}),
        lease_id: p.leaseId,
        created_at: p.createdAt,
      });
    });
  }

  deletePendingCredential(backend: string, id: string): Promise<void> {
    return this.write(() => {
      this.st.pendingDelete.run(backend, id);
    });
  }

  listPendingCredentials(backend: string | undefined, limit: number): Promise<PendingCredential[]> {
    return this.read(() => {
      const rows = (backend === undefined ? this.st.pendingListAll.all({ limit }) : this.st.pendingList.all({ backend, limit })) as Array<{
        backend: string;
        handle_id: string;
        attributes: string;
        lease_id: string;
        created_at: number;
      }>;
      return rows.map((r) => {
        const attributes = JSON.parse(r.attributes) as Record<string, string>;
        return {
          handle: { backend: r.backend, id: r.handle_id, ...(Object.keys(attributes).length ? { attributes } : {}) },
          leaseId: r.lease_id,
          createdAt: r.created_at,
        };
      });
    });
  }

  ownedCredentials(backend: string, ids: readonly string[], since: number): Promise<Set<string>> {
    return this.read(() => new Set(ids.filter((id) => this.st.credentialOwned.get({ backend, id, since }) !== undefined)));
  }

  leaseOfCredential(backend: string, id: string): Promise<LeaseRecord | undefined> {
    return this.read(() => {
      const r = this.st.credentialLease.get({ backend, id }) as LeaseRow | undefined;
      return r ? fromRow(r) : undefined;
    });
  }

  private budgetUsedNow(q: BudgetQuery): number {
    const r = this.st.budgetUsed.get({ agent: q.agent, action: q.action, field: q.field, since: q.since, exclude: q.excludeLease ?? '' }) as { used: number };
    return r.used;
  }

  budgetUsed(q: BudgetQuery): Promise<number> {
    return this.read(() => this.budgetUsedNow(q));
  }

  getTrust(agent: string): Promise<TrustRecord | undefined> {
    return this.read(() => this.trustStatements.getTrust(agent));
  }

  trustHistory(agent: string, limit: number): Promise<TrustHistoryRow[]> {
    return this.read(() =>
      (this.st.trustHistory.all({ agent, limit }) as Array<Record<string, string | number | null>>).map((r) => ({
        at: r['at'] as number,
        oldScore: r['old_score'] as number,
        newScore: r['new_score'] as number,
        oldTier: r['old_tier'] as string,
        newTier: r['new_tier'] as string,
        kind: r['kind'] as string,
        ...(r['weight'] !== null ? { weight: r['weight'] as number } : {}),
        note: r['note'] as string,
        by: r['by'] as string,
      })),
    );
  }

  writeTrust<T>(fn: () => T): Promise<T> {
    return this.writes.run(() => fn()).catch((err: unknown) => {
      throw storageFault(err);
    });
  }

  setTrust(rec: TrustRecord): Promise<void> {
    return this.write(() => {
      this.st.setTrust.run({ agent: rec.agent, score: rec.score, updated_at: rec.updatedAt, confirmed_at: rec.confirmedAt ?? null });
    });
  }

  getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.read(() => this.statements.readApproval(id));
  }

  countPendingApprovals(): Promise<number> {
    // The IN term repeats the partial index approvals_open's condition, so only open approvals are counted through.
    return this.read(() => (this.st.countPending.get() as { n: number }).n);
  }

  listApprovals(f: ApprovalFilter): Promise<ApprovalRecord[]> {
    return this.read(() => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.agent) {
        where.push('agent = ?');
        args.push(f.agent);
      }
      if (f.states?.length) {
        where.push(`state IN (${f.states.map(() => '?').join(',')})`);
        args.push(...f.states);
      }
      if (f.groups) {
        if (f.groups.length === 0) return [];
        where.push(`EXISTS (SELECT 1 FROM json_each(approvals.groups) g WHERE g.value IN (${f.groups.map(() => '?').join(',')}))`);
        args.push(...f.groups);
      }
      const sql = `SELECT * FROM approvals ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id LIMIT ?`;
      return (this.db.prepare(sql).all(...args, f.limit) as ApprovalRow[]).map(approvalFromRow);
    });
  }

  findPendingApproval(agent: string, bindingHash: string, now: number): Promise<ApprovalRecord | undefined> {
    return this.read(() => this.statements.findPendingApprovalWithin(agent, bindingHash, now));
  }

  nextApprovalExpiry(): Promise<number | undefined> {
    return this.read(() => (this.st.approvalNextExpiry.get() as { at: number | null }).at ?? undefined);
  }

  writeApprovals<T>(fn: (s: ApprovalStatements & Pick<LeaseStatements, 'consumeApproval'>) => T): Promise<T> {
    // Several statements may run: a savepoint of their own, so a failure undoes them all.
    return this.writes.run(() => fn(this.statements)).catch((err: unknown) => {
      throw storageFault(err);
    });
  }

  async close(): Promise<void> {
    try {
      await this.writes.close();
      this.db.close();
    } finally {
      this.daemonLock?.release();
    }
  }
}
