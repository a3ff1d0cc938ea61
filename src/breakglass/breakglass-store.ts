import type Database from 'better-sqlite3';
import { storageFault } from '../store/sqlite/sqlite-store';
import { unavailable } from '../lib/errors';

/** Where an override stands: `active` is confirmed; `ended` was ended by the broker (the agent was quarantined). */
export type OverrideState = 'pending' | 'active' | 'revoked' | 'expired' | 'ended';
export const OVERRIDE_STATES: readonly OverrideState[] = Object.freeze(['pending', 'active', 'revoked', 'expired', 'ended'] as OverrideState[]);

/** A break-glass override as stored (times in ms since the epoch, from the Clock). */
export interface OverrideRecord {
  id: string;
  agent: string;
  action: string;
  /** '' covers every resource of the action. */
  resource: string;
  reason: string;
  ttlMs: number;
  state: OverrideState;
  requestedBy: string;
  requestedAt: number;
  confirmedBy?: string;
  confirmedAt?: number;
  /** A pending override lapses then; an active one ends then. */
  expiresAt: number;
  endedBy?: string;
  endedAt?: number;
  endReason?: string;
  reviewedBy?: string;
  reviewedAt?: number;
  reviewNote?: string;
  version: number;
  updatedAt: number;
}

export interface OverrideFilter {
  unreviewed?: boolean;
  states?: readonly OverrideState[];
  agent?: string;
  limit: number;
}

/**
 * Override writes, synchronous, for a caller inside the evidence log's
 * `appendWith` transaction (same database): the row and its `breakglass`
 * entry commit together, or neither.
 */
export interface OverrideStatements {
  insert(o: OverrideRecord): OverrideRecord;
  read(id: string): OverrideRecord | undefined;
  /** Writes `o` only if the stored version is still `o.version`; returns it with the version moved on. */
  update(o: OverrideRecord, now: number): OverrideRecord | undefined;
  /** Pending or active overrides whose expiry has passed become expired; returns them. */
  expire(now: number, limit: number): OverrideRecord[];
  /** Open (pending or active) overrides of `agent` unexpired at `now`. */
  countOpen(agent: string, now: number): number;
  /**
   * Records that lease `leaseId` was granted under override `overrideId` (inside the grant's
   * transaction), only while the override is still active and unexpired at `at`; false otherwise.
   */
  recordGrant(overrideId: string, leaseId: string, at: number): boolean;
}

/** Reads, which need no transaction. */
export interface OverrideStore {
  readonly statements: OverrideStatements;
  get(id: string): Promise<OverrideRecord | undefined>;
  list(filter: OverrideFilter): Promise<OverrideRecord[]>;
  /** Active overrides of `agent` for `action` unexpired at `now` (any resource), newest first. */
  live(agent: string, action: string, now: number): Promise<OverrideRecord[]>;
  /** Pending or active overrides of `agent` (expired or not). */
  open(agent: string): Promise<OverrideRecord[]>;
  /** The earliest expiry among pending and active overrides. */
  nextExpiry(): Promise<number | undefined>;
  /** Ids of the live (active or exhausted) leases granted under an override, oldest first. */
  leasesOf(overrideId: string): Promise<string[]>;
}

interface Row {
  id: string;
  agent: string;
  action: string;
  resource: string;
  reason: string;
  ttl_ms: number;
  state: OverrideState;
  requested_by: string;
  requested_at: number;
  confirmed_by: string | null;
  confirmed_at: number | null;
  expires_at: number;
  ended_by: string | null;
  ended_at: number | null;
  end_reason: string | null;
  reviewed_by: string | null;
  reviewed_at: number | null;
  review_note: string | null;
  version: number;
  updated_at: number;
}

function fromRow(r: Row): OverrideRecord {
  return {
    id: r.id,
    agent: r.agent,
    action: r.action,
    resource: r.resource,
    reason: r.reason,
    ttlMs: r.ttl_ms,
    state: r.state,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    ...(r.confirmed_by !== null ? { confirmedBy: r.confirmed_by } : {}),
    ...(r.confirmed_at !== null ? { confirmedAt: r.confirmed_at } : {}),
    expiresAt: r.expires_at,
    ...(r.ended_by !== null ? { endedBy: r.ended_by } : {}),
    ...(r.ended_at !== null ? { endedAt: r.ended_at } : {}),
    ...(r.end_reason !== null ? { endReason: r.end_reason } : {}),
    ...(r.reviewed_by !== null ? { reviewedBy: r.reviewed_by } : {}),
    ...(r.reviewed_at !== null ? { reviewedAt: r.reviewed_at } : {}),
    ...(r.review_note !== null ? { reviewNote: r.review_note } : {}),
    version: r.version,
    updatedAt: r.updated_at,
  };
}

function params(o: OverrideRecord): Record<string, string | number | null> {
  return {
    id: o.id,
    agent: o.agent,
    action: o.action,
    resource: o.resource,
    reason: o.reason,
    ttl_ms: o.ttlMs,
    state: o.state,
    requested_by: o.requestedBy,
    requested_at: o.requestedAt,
    confirmed_by: o.confirmedBy ?? null,
    confirmed_at: o.confirmedAt ?? null,
    expires_at: o.expiresAt,
    ended_by: o.endedBy ?? null,
    ended_at: o.endedAt ?? null,
    end_reason: o.endReason ?? null,
    reviewed_by: o.reviewedBy ?? null,
    reviewed_at: o.reviewedAt ?? null,
    review_note: o.reviewNote ?? null,
    version: o.version,
    updated_at: o.updatedAt,
  };
}

const COLUMNS = 'id, agent, action, resource, reason, ttl_ms, state, requested_by, requested_at, confirmed_by, confirmed_at, expires_at, ended_by, ended_at, end_reason, reviewed_by, reviewed_at, review_note, version, updated_at';

/** The `breakglass` table (SQLite migration 13) on the state store's database. */
export class SqliteOverrideStore implements OverrideStore {
  private readonly st;
  readonly statements: OverrideStatements;

  constructor(private readonly db: Database.Database) {
    this.st = {
      insert: db.prepare(`INSERT INTO breakglass (${COLUMNS}) VALUES (${COLUMNS.split(', ').map((c) => `@${c}`).join(', ')})`),
      get: db.prepare('SELECT * FROM breakglass WHERE id = ?'),
      update: db.prepare(`UPDATE breakglass SET state = @state, confirmed_by = @confirmed_by, confirmed_at = @confirmed_at, expires_at = @expires_at,
        ended_by = @ended_by, ended_at = @ended_at, end_reason = @end_reason, reviewed_by = @reviewed_by, reviewed_at = @reviewed_at,
        review_note = @review_note, version = version + 1, updated_at = @now WHERE id = @id AND version = @version RETURNING *`),
      expire: db.prepare(`UPDATE breakglass SET state = 'expired', ended_by = 'broker', ended_at = @now, end_reason = 'expired', version = version + 1, updated_at = @now
        WHERE id IN (SELECT id FROM breakglass WHERE state IN ('pending', 'active') AND expires_at <= @now ORDER BY expires_at LIMIT @limit) RETURNING *`),
      // "state IN ('pending', 'active')" repeats the partial index's condition so SQLite uses it (breakglass_open).
      live: db.prepare(`SELECT * FROM breakglass WHERE agent = ? AND action = ? AND state IN ('pending', 'active') AND state = 'active' AND expires_at > ? ORDER BY requested_at DESC, id`),
      open: db.prepare(`SELECT * FROM breakglass WHERE agent = ? AND state IN ('pending', 'active')`),
      next: db.prepare(`SELECT MIN(expires_at) AS at FROM breakglass WHERE state IN ('pending', 'active')`),
      countOpen: db.prepare(`SELECT COUNT(*) AS n FROM breakglass WHERE agent = ? AND state IN ('pending', 'active') AND expires_at > ?`),
      // Conditional: an override revoked or expired since the decision grants nothing (the check and the row in one statement).
      grant: db.prepare(`INSERT INTO breakglass_leases (override_id, lease_id, granted_at)
        SELECT @id, @lease, @at WHERE EXISTS (SELECT 1 FROM breakglass WHERE id = @id AND state = 'active' AND expires_at > @at)`),
      leases: db.prepare(`SELECT b.lease_id FROM breakglass_leases b JOIN leases l ON l.id = b.lease_id
        WHERE b.override_id = ? AND l.status IN ('active', 'exhausted') ORDER BY b.granted_at, b.lease_id`),
    };
    const st = this.st;
    this.statements = {
      insert: (o) => wrap(() => (st.insert.run(params(o)), o)),
      read: (id) => wrap(() => {
        const r = st.get.get(id) as Row | undefined;
        return r ? fromRow(r) : undefined;
      }),
      update: (o, now) => wrap(() => {
        const r = st.update.get({ ...params(o), now }) as Row | undefined;
        return r ? fromRow(r) : undefined;
      }),
      expire: (now, limit) => wrap(() => (st.expire.all({ now, limit }) as Row[]).map(fromRow)),
      countOpen: (agent, now) => wrap(() => (st.countOpen.get(agent, now) as { n: number }).n),
      recordGrant: (overrideId, leaseId, at) => wrap(() => st.grant.run({ id: overrideId, lease: leaseId, at }).changes === 1),
    };
  }

  get(id: string): Promise<OverrideRecord | undefined> {
    return read(() => this.statements.read(id));
  }

  list(f: OverrideFilter): Promise<OverrideRecord[]> {
    return read(() => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (f.unreviewed) where.push('reviewed_at IS NULL');
      if (f.states?.length) {
        where.push(`state IN (${f.states.map(() => '?').join(',')})`);
        args.push(...f.states);
      }
      if (f.agent) {
        where.push('agent = ?');
        args.push(f.agent);
      }
      const sql = `SELECT * FROM breakglass ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY requested_at DESC, id LIMIT ?`;
      return (this.db.prepare(sql).all(...args, f.limit) as Row[]).map(fromRow);
    });
  }

  live(agent: string, action: string, now: number): Promise<OverrideRecord[]> {
    return read(() => (this.st.live.all(agent, action, now) as Row[]).map(fromRow));
  }

  open(agent: string): Promise<OverrideRecord[]> {
    return read(() => (this.st.open.all(agent) as Row[]).map(fromRow));
  }

  leasesOf(overrideId: string): Promise<string[]> {
    return read(() => (this.st.leases.all(overrideId) as Array<{ lease_id: string }>).map((r) => r.lease_id));
  }

  nextExpiry(): Promise<number | undefined> {
    return read(() => (this.st.next.get() as { at: number | null }).at ?? undefined);
  }
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw storageFault(err);
  }
}

function read<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (cause) {
    return Promise.reject(unavailable('state store', cause));
  }
}
