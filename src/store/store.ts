import type { CredentialHandle } from '../backends/backend';
import type { LeaseFilter, LeaseRecord } from '../leases/lease';

/**
 * Durable state behind the broker. SQLite (embedded default) and PostgreSQL
 * (replicas) implement it and pass one conformance suite. Every write resolves
 * only after it is durable; concurrent writes share fsyncs (group commit).
 * Methods that change a lease are conditional updates, so concurrent callers
 * can never both succeed where only one may.
 */
export interface LeaseStore {
  insertLease(lease: LeaseRecord): Promise<void>;
  /**
   * Stores a new active lease only while its agent holds fewer than
   * `maxActive` active leases: the count and the insert are one atomic step,
   * so concurrent grants can never pass the limit together. False (nothing
   * stored) when the agent is at the limit.
   */
  insertLeaseWithin(lease: LeaseRecord, maxActive: number): Promise<boolean>;
  getLease(id: string): Promise<LeaseRecord | undefined>;
  /**
   * Leases of `agent` in status active. O(1): a lease past its expiry counts
   * until the reaper marks it (one interval), which errs toward refusing.
   */
  countActiveLeases(agent: string): Promise<number>;
  /**
   * Spends one use: succeeds only if the lease belongs to `agent`, is active,
   * unexpired at `now` and has a use left. Returns the updated lease and the
   * use number (1-based), or undefined when nothing was spent.
   */
  useLease(id: string, agent: string, now: number): Promise<{ lease: LeaseRecord; useNumber: number } | undefined>;
  /** Moves expiresAt (capped by the caller at maxExpiresAt) of an active, unexpired lease of `agent`. */
  renewLease(id: string, agent: string, expiresAt: number, now: number): Promise<LeaseRecord | undefined>;
  /** Sets an active lease's status to revoked (or another terminal status). Returns undefined if it was not active. */
  endLease(id: string, status: 'revoked' | 'expired' | 'revoke_failed', reason: string, now: number): Promise<LeaseRecord | undefined>;
  listLeases(filter: LeaseFilter): Promise<LeaseRecord[]>;
  /** Marks active leases whose expiry has passed as expired and returns them. */
  expireDue(now: number, limit: number): Promise<LeaseRecord[]>;
  /**
   * The upstream revocation of an ended lease's credential failed: a revoked or
   * expired lease with a credential still owed goes to revoke_failed,
   * remembering what it ended as, and every failure (the first or a retry's)
   * sets when the next attempt is due (`retryAt`, default `now`), so a
   * revocation that keeps failing goes behind the others. Undefined when
   * nothing is owed.
   */
  markCredentialRevokeFailed(id: string, now: number, retryAt?: number): Promise<LeaseRecord | undefined>;
  /**
   * The credential of an ended lease (revoked, expired or revoke_failed) was
   * revoked upstream: records when, and a revoke_failed lease returns to the
   * status it ended as. Undefined when nothing was owed (already recorded, no
   * credential, or the lease has not ended).
   */
  markCredentialRevoked(id: string, now: number): Promise<LeaseRecord | undefined>;
  /**
   * Ended leases whose credential is still owed an upstream revocation,
   * earliest due first: a lease is due at its retry time
   * (`credentialRetryAt`, set by a failed attempt), or else when it ended.
   * With `dueBy`, only those due by then.
   */
  listCredentialRevocations(limit: number, dueBy?: number): Promise<LeaseRecord[]>;
}

/**
 * Lease writes for a caller that already holds a write transaction on the
 * store's database: the evidence log's `appendWith` runs one inside its append
 * transaction, so the row and its entry commit together, or neither.
 * Synchronous; never call one outside such a transaction (it would commit
 * alone, before any fsync).
 */
export interface LeaseStatements {
  /** As LeaseStore.renewLease: a conditional update; undefined when nothing changed. */
  renewLease(id: string, agent: string, expiresAt: number, now: number): LeaseRecord | undefined;
  /** As LeaseStore.insertLeaseWithin: the stored lease, or undefined when the agent is at the limit. */
  insertLeaseWithin(lease: LeaseRecord, maxActive: number): LeaseRecord | undefined;
}

/**
 * A dynamic credential named (backend `plan`) and recorded before the backend
 * is asked to create it, for a lease not stored yet. Not secret.
 */
export interface PendingCredential {
  handle: CredentialHandle;
  leaseId: string;
  /** ms since the epoch, when it was recorded. */
  createdAt: number;
}

/**
 * Crash safety of dynamic credentials: what was about to be created, and
 * which credentials leases own, for the orphan sweeper.
 */
export interface PendingCredentialStore {
  /**
   * Records a credential about to be created; durable when it resolves. The
   * row goes in the commit that stores its lease (`insertLease`,
   * `insertLeaseWithin` with `lease.credential` set remove it), or with
   * `deletePendingCredential`.
   */
  insertPendingCredential(p: PendingCredential): Promise<void>;
  deletePendingCredential(backend: string, id: string): Promise<void>;
  /** Pending credentials of `backend` (every backend when omitted), oldest first. */
  listPendingCredentials(backend: string | undefined, limit: number): Promise<PendingCredential[]>;
  /**
   * Of `ids` (handle ids of `backend`), those a lease owns: its credential is
   * live (active or exhausted, or ended and still owed a revocation: the
   * revoker's), or was revoked upstream after `since` (a listing taken at
   * `since` may still show it).
   */
  ownedCredentials(backend: string, ids: readonly string[], since: number): Promise<Set<string>>;
}

export interface TrustRecord {
  agent: string;
  score: number;
  /** When the score last changed (a signal, a set, or decay that crossed a tier): decay runs from here. */
  updatedAt: number;
  /** When a signal or a set last confirmed the score (context.trust_fresh); absent: never. */
  confirmedAt?: number;
}

/** One change of an agent's trust, newest first in `trustHistory`. */
export interface TrustHistoryRow {
  at: number;
  oldScore: number;
  newScore: number;
  oldTier: string;
  newTier: string;
  /** The signal kind, `set`, or `decay`. */
  kind: string;
  /** A signal's weight (absent for set and decay). */
  weight?: number;
  /** The signal's detail or the set's reason. */
  note: string;
  /** `operator:<name>` or `broker`. */
  by: string;
}

export interface TrustStore {
  getTrust(agent: string): Promise<TrustRecord | undefined>;
  setTrust(rec: TrustRecord): Promise<void>;
  /** The agent's last `limit` trust changes, newest first. */
  trustHistory(agent: string, limit: number): Promise<TrustHistoryRow[]>;
  /**
   * Runs `fn` (synchronous `trustStatements` calls) in one write transaction:
   * for a broker without an evidence log, where `appendWith` would run them.
   */
  writeTrust<T>(fn: () => T): Promise<T>;
}

/**
 * Trust and trust-revocation writes for a caller holding a write transaction
 * (the evidence log's `appendWith`, or `writeTrust`): a change of score, its
 * history row and its `trust.changed` entry commit together; the leases a
 * trust drop revokes end together with their `lease.revoked` entries.
 */
export interface TrustStatements {
  getTrust(agent: string): TrustRecord | undefined;
  /**
   * Stores `rec` only while the stored row still has `expect`'s score and
   * updatedAt (undefined: no row yet). False when it changed meanwhile.
   */
  putTrustIf(rec: TrustRecord, expect: Pick<TrustRecord, 'score' | 'updatedAt'> | undefined): boolean;
  addTrustHistory(agent: string, row: TrustHistoryRow): void;
  /** Ends each of `ids` still active or exhausted as revoked with `reason`; the leases it ended. */
  revokeLeases(ids: readonly string[], reason: string, now: number): LeaseRecord[];
}

export interface Store extends LeaseStore, TrustStore, PendingCredentialStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Present when the store shares its database and transactions with the evidence log. */
  readonly statements?: LeaseStatements;
  /** Trust writes on the same database and transactions as the evidence log. */
  readonly trustStatements?: TrustStatements;
  close(): Promise<void>;
}
