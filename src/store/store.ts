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
  /** As LeaseStore.endLease: the ended lease, or undefined when it was not live. */
  endLease(id: string, status: 'revoked' | 'expired' | 'revoke_failed', reason: string, now: number): LeaseRecord | undefined;
  /** As LeaseStore.markCredentialRevoked. */
  markCredentialRevoked(id: string, now: number): LeaseRecord | undefined;
  /**
   * Spends approval `id` on lease `leaseId`: only an approved approval,
   * unexpired at `now`, never consumed before. False when it is not (already
   * consumed, expired, not approved): run inside the lease-issue transaction,
   * so of any number of concurrent redemptions exactly one lease is stored.
   */
  consumeApproval(id: string, leaseId: string, now: number): boolean;
  /** As LeaseStore.insertLease (a one-shot call's lease, stored already used). */
  insertLease?(lease: LeaseRecord): LeaseRecord;
  /** As LeaseStore.useLease, inside the transaction (a use re-checked where it is spent). */
  useLease?(id: string, agent: string, now: number): { lease: LeaseRecord; useNumber: number } | undefined;
  /** As BudgetStore.budgetUsed, inside the transaction (the atomic re-check of a grant). */
  budgetUsed?(q: BudgetQuery): number;
  /** Records a reservation for a lease stored in the same transaction (a lease that has ended already keeps only what it spent). */
  reserveBudget?(r: BudgetReservation, lease: LeaseRecord): void;
}

/** Where an approval stands; `consumed` is an approved one spent on a lease. */
export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired' | 'consumed';

/** One approver's vote (operator-supplied reason, bounded). */
export interface ApprovalVote {
  approver: string;
  approve: boolean;
  reason: string;
  /** ms since the epoch. */
  at: number;
}

/** A request for approval (src/approvals): what it is bound to, and its votes. */
export interface ApprovalRecord {
  /** At least 128 random bits. */
  id: string;
  agent: string;
  /** The approval groups the permit's obligation names; each must reach its `required`. */
  groups: string[];
  /** The ApprovalBinding (plain JSON) and the SHA-256 hex of its RFC 8785 form. */
  binding: Readonly<Record<string, unknown>>;
  bindingHash: string;
  /** The agent's trust when the approval was asked for. */
  trust: { score: number; tier: string; fresh: boolean };
  state: ApprovalState;
  votes: ApprovalVote[];
  createdAt: number;
  expiresAt: number;
  /** When it left pending, and who ended it when no vote did (`broker`: a re-check after trust fell). */
  decidedAt?: number;
  decidedBy?: string;
  /** The lease it was spent on. */
  leaseId?: string;
  consumedAt?: number;
  /** Bumped by every update: a conditional update names the version it read. */
  version: number;
  updatedAt: number;
}

export interface ApprovalFilter {
  agent?: string;
  states?: readonly ApprovalState[];
  /** Approvals that name at least one of these groups. */
  groups?: readonly string[];
  limit: number;
}

/**
 * Approval writes, synchronous, for a caller that holds a write transaction
 * (the evidence log's appendWith, or ApprovalStore.writeApprovals), so that
 * each change commits with its entry, or neither.
 */
export interface ApprovalStatements {
  /** Stores a new pending approval only while its agent has fewer than `maxOpen` pending ones unexpired at `now`. */
  insertApprovalWithin(a: ApprovalRecord, maxOpen: number, now: number): ApprovalRecord | undefined;
  /** The approval as this transaction sees it. */
  readApproval(id: string): ApprovalRecord | undefined;
  /** As ApprovalStore.findPendingApproval, inside the transaction (so a concurrent identical request finds the one just opened). */
  findPendingApprovalWithin(agent: string, bindingHash: string, now: number): ApprovalRecord | undefined;
  /** Writes `a` (its version bumped) only if the stored version is still `a.version`; the stored record, or undefined. */
  updateApproval(a: ApprovalRecord, now: number): ApprovalRecord | undefined;
  /** Pending or approved (unconsumed) approvals whose expiry has passed become expired; returns them. */
  expireApprovals(now: number, limit: number): ApprovalRecord[];
}

export interface ApprovalStore {
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** Newest first. */
  listApprovals(filter: ApprovalFilter): Promise<ApprovalRecord[]>;
  /** How many approvals are pending (expired ones not yet swept included), counted without reading them. */
  countPendingApprovals(): Promise<number>;
  /** A pending approval of `agent` for exactly this binding, unexpired at `now` (a repeated request gets the same one). */
  findPendingApproval(agent: string, bindingHash: string, now: number): Promise<ApprovalRecord | undefined>;
  /** The earliest expiry among pending and approved (unconsumed) approvals; undefined when there are none. */
  nextApprovalExpiry(): Promise<number | undefined>;
  /** Runs `fn` in a write transaction of its own (a broker without an evidence log). */
  writeApprovals<T>(fn: (s: ApprovalStatements & Pick<LeaseStatements, 'consumeApproval'>) => T): Promise<T>;
}

/** Which sliding window of which budget: an agent's sum of one action's context field. */
export interface BudgetQuery {
  agent: string;
  action: string;
  field: string;
  /** Where the window starts (ms): now - per. Live leases count whatever their age; ended ones if they ended after it. */
  since: number;
  /** A lease whose own reservation is left out (a re-decision of that lease). */
  excludeLease?: string;
}

/** amount x uses of a budget field held for a lease from `at`; released to what was spent when the lease ends. */
export interface BudgetReservation {
  leaseId: string;
  agent: string;
  action: string;
  field: string;
  at: number;
  amount: number;
  uses: number;
}

/**
 * Budgets (actions.<a>.budget): per agent, action and field, what live
 * leases hold (amount x uses) plus what leases that ended inside the sliding
 * window spent. Reservations are written by LeaseStatements.reserveBudget inside a
 * grant's transaction; the release at lease end is the store's own (a trigger).
 */
export interface BudgetStore {
  budgetUsed(q: BudgetQuery): Promise<number>;
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
  /** The lease whose credential is `id` of `backend`, whatever its status (the newest, should two ever share one: ids are random). */
  leaseOfCredential(backend: string, id: string): Promise<LeaseRecord | undefined>;
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
   * Runs `fn` (synchronous `trustStatements` and `statements` calls) in one
   * write transaction, when no evidence entry goes with them (a broker without
   * an evidence log, where `appendWith` would run them; a lease use re-checked
   * where it is spent).
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

/** What the state store keeps about one secret's rotations (never a value). */
export interface RotationRecord {
  secret: string;
  /** The fencing token of the latest take of the lock; only grows. */
  token: number;
  /** The run holding the lock, and until when (ms); absent when free. */
  holder?: string;
  lockedUntil?: number;
  /** The last successful rotation (ms). Due = this + every; never rotated = due. */
  lastRotatedAt?: number;
  lastOutcome?: 'rotated' | 'failed';
  lastAttemptAt?: number;
  /** Outcome counts (for metrics). */
  rotated: number;
  failed: number;
  /** A version written but not yet made current (PostgreSQL admin credential); the next run completes it. */
  pendingVersion?: number;
  /** The step an interrupted AWS Secrets Manager rotation reached (never a value); the next run resumes there. */
  progress?: RotationProgress;
}

/** An AWS four-step rotation's progress, recorded after each step. */
export interface RotationProgress {
  step: 'createSecret' | 'setSecret' | 'testSecret';
  /** The VersionId staged AWSPENDING. */
  pending: string;
  /** The VersionId that carried AWSCURRENT when the rotation read it under its lock. */
  from: string;
}

/** A held rotation lock. */
export interface RotationLock {
  secret: string;
  holder: string;
  token: number;
  lockedUntil: number;
}

/** Rotation writes, synchronous, for a caller inside a write transaction (the evidence log's appendWith). */
export interface RotationStatements {
  /**
   * Records the outcome of the attempt that held `lock` (counts, last outcome,
   * last success) and frees the lock if `lock.token` still holds it. The record.
   */
  finishRotation(lock: RotationLock, outcome: 'rotated' | 'failed', now: number): RotationRecord | undefined;
  /** Frees every rotation lock still held (see RotationStore.releaseAbandonedRotationLocks); the records as they were, lock aside. */
  releaseAbandoned(): RotationRecord[];
}

export interface RotationStore {
  getRotation(secret: string): Promise<RotationRecord | undefined>;
  listRotations(): Promise<RotationRecord[]>;
  /**
   * Takes the rotation lock on `secret` for `holder` until `now + ttlMs`, unless
   * another take holds it unexpired at `now`: one atomic statement, so of
   * concurrent takers exactly one wins. The new token is the previous + 1.
   */
  takeRotationLock(secret: string, holder: string, now: number, ttlMs: number): Promise<RotationLock | undefined>;
  /** The fence: is `token` still the current lock on `secret`, unexpired at `now`? */
  rotationFenceHolds(secret: string, token: number, now: number): Promise<boolean>;
  /** Sets (or clears, with undefined) the pending version while `token` still holds the lock; false otherwise. */
  setPendingRotation(secret: string, token: number, version: number | undefined, now: number): Promise<boolean>;
  /** Records (or clears, with undefined) the AWS rotation step reached while `token` still holds the lock; false otherwise. */
  setRotationProgress(secret: string, token: number, progress: RotationProgress | undefined, now: number): Promise<boolean>;
  /** Frees the lock if `lock.token` still holds it, recording nothing (a run that found nothing to do). */
  releaseRotationLock(lock: RotationLock): Promise<void>;
  /**
   * At daemon start: frees every rotation lock still held. With SQLite state
   * the daemon is the only rotator, so a held lock at start belongs to a
   * daemon that stopped mid-rotation; the token still grows at the next take,
   * so nothing that daemon had in flight can land. Returns the records freed
   * (token, and the step or pending version the stopped attempt reached).
   */
  releaseAbandonedRotationLocks(): Promise<RotationRecord[]>;
  /** RotationStatements.finishRotation in a write transaction of its own (a broker without an evidence log). */
  finishRotation(lock: RotationLock, outcome: 'rotated' | 'failed', now: number): Promise<RotationRecord | undefined>;
  readonly rotationStatements: RotationStatements;
}

export interface Store extends LeaseStore, TrustStore, PendingCredentialStore, ApprovalStore, BudgetStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Present when the store shares its database and transactions with the evidence log. */
  readonly statements?: LeaseStatements & ApprovalStatements;
  /** Trust writes on the same database and transactions as the evidence log. */
  readonly trustStatements?: TrustStatements;
  /** Rotation locks, fencing tokens and history; absent on a store that has no rotation yet. */
  readonly rotations?: RotationStore;
  close(): Promise<void>;
}
