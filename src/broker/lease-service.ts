import { CredentialLeftError, type CredentialHandle, type DynamicCredential, type IssuedCredential } from '../backends/backend';
import type { AgentConfig, BrokerConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { LeaseRecord, LeaseStatus } from '../leases/lease';
import type { Clock } from '../lib/clock';
import { BrokerError, failedPrecondition, invalidArgument, notFound, resourceExhausted, unimplemented } from '../lib/errors';
import type { LeaseIds } from '../lib/ids';
import type { Logger } from '../lib/logger';
import { SecretValue } from '../lib/secret-value';
import type { Explanation, PolicyDecision, PolicyEngine } from '../policy';
import type { Store } from '../store/store';
import type { CredentialRevoker } from './credential-revoker';
import type { DenialFolder } from './denial-folder';
import { backendFailure, backendNotAvailable, credentialBackendOf, handleRef, type DynamicCredentialSource } from './dynamic-credentials';
import { LateEvidence } from './late-evidence';
import { DEFAULT_INITIAL_TRUST_SCORE, tierFor } from '../trust';
import type { TrustReader, TrustView } from '../trust/trust-service';
import { checkParams, checkPurpose, checkResource, checkStatedResource, contextFromParams, renderResource } from './request-validation';
import type { Json } from './struct';

export interface LeaseRequestInput {
  action: string;
  resource: string;
  purpose: string;
  params: Record<string, Json>;
  ttlSeconds: number;
  maxUses: number;
  approvalId: string;
}

export type LeaseOutcome =
  | {
      status: 'GRANTED';
      lease: LeaseRecord;
      explanation: Explanation;
      decision: PolicyDecision;
      evidence?: EvidenceRef;
      /** The dynamic credential minted for this lease: for the RequestLease response to its agent only, never stored. */
      credential?: DynamicCredential;
    }
  | { status: 'DENIED'; explanation: Explanation; decision: PolicyDecision; evidence?: EvidenceRef };

export interface LeaseServiceDeps {
  config: Pick<BrokerConfig, 'actions' | 'agents'>;
  store: Store;
  policy: () => PolicyEngine;
  clock: Clock;
  /** Where lease ids come from (one IdSource, built by the composition root). */
  ids: LeaseIds;
  /** Where decisions and lease events are recorded; append resolves when durable. */
  evidence?: EvidenceSink;
  /** Folds repeated identical denials (bounded evidence per agent). */
  denials?: DenialFolder;
  /** Dynamic credentials: where backends are found, and who revokes what ended leases owe upstream. */
  credentials?: { source: DynamicCredentialSource; revoker: CredentialRevoker };
  /** Each agent's trust now (the TrustService); without it, the stored score and default thresholds. */
  trust?: TrustReader;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function decisionDraft(agent: string, action: string, resource: string, d: PolicyDecision, trust: TrustView): EvidenceDraft {
  return {
    type: 'decision',
    agent,
    action,
    resource,
    decision: {
      effect: d.decision,
      policies: d.determining.map((p) => p.id),
      policy_version: d.policyVersion,
      ...(d.obligations.approvals.length ? { approvals: [...d.obligations.approvals] } : {}),
    },
    trust: { score: trust.score, tier: trust.tier },
  };
}

/** A lease event; `extra` goes at the top level of the entry, `leaseExtra` into its `lease` object. */
export function leaseDraft(
  type: 'lease.issued' | 'lease.renewed' | 'lease.revoked' | 'lease.expired',
  l: LeaseRecord,
  extra: Record<string, unknown> = {},
  leaseExtra: Record<string, unknown> = {},
): EvidenceDraft {
  return {
    type,
    agent: l.agent,
    action: l.action,
    resource: l.resource,
    lease: { id: l.id, expires_at: iso(l.expiresAt), max_expires_at: iso(l.maxExpiresAt), max_uses: l.maxUses, uses_left: l.usesLeft, ...leaseExtra },
    ...extra,
  };
}

export type { TrustView };

/** Leases: decide, issue, renew, revoke, look up. Orders the steps; owns no transport concerns. */
export class LeaseService {
  /** lease.revoked / lease.expired drafts the log refused after the lease had already ended. */
  private readonly late: LateEvidence | undefined;

  constructor(private readonly deps: LeaseServiceDeps) {
    this.late = deps.evidence ? new LateEvidence({ sink: deps.evidence, clock: deps.clock }, 'lease end', 'the lease ended but its entry is missing') : undefined;
  }

  /**
   * Records a lease that has already ended (revoked or expired). Ending comes
   * first because it takes authority away; if the log refuses the entry it is
   * kept and retried, never dropped quietly, and the caller is not failed.
   */
  async recordEnded(draft: EvidenceDraft, log: Logger): Promise<void> {
    await this.late?.appendOrKeep(draft, log, { lease: draft.lease, type: draft.type }, 'could not record the end of a lease; retrying in the background');
  }

  async trustOf(agent: string): Promise<TrustView> {
    if (this.deps.trust) return this.deps.trust.current(agent);
    const rec = await this.deps.store.getTrust(agent);
    const score = rec?.score ?? DEFAULT_INITIAL_TRUST_SCORE;
    return { score, tier: tierFor(score), fresh: false };
  }

  /** Runs the policy for one request; never allows on error (the engine denies on its own failures). */
  decide(agent: AgentConfig, action: string, resource: string, context: Record<string, unknown>, params: Readonly<Record<string, Json>>, trust: TrustView): PolicyDecision {
    return this.deps.policy().decide({
      agent: { name: agent.name, groups: agent.groups },
      action,
      resource,
      context: { trust: trust.score, tier: trust.tier, trust_fresh: trust.fresh, params, ...context },
    });
  }

  async request(agent: AgentConfig, req: LeaseRequestInput, log: Logger): Promise<LeaseOutcome> {
    if (!req.action) throw invalidArgument('action', 'required: a configured action name');
    const action = this.deps.config.actions[req.action];
    if (!action) throw invalidArgument('action', `"${req.action.slice(0, 64)}" is not a configured action`);
    if (req.resource) checkResource(req.resource);
    const purpose = checkPurpose(req.purpose);
    if (req.approvalId) throw unimplemented('approvals', 'a later issue');
    const params = checkParams(req.params);
    const context = contextFromParams(action, params);
    // The broker renders the resource; a stated one must be exactly that (before any decision).
    const resource = checkStatedResource(req.resource, renderResource(action, context, (f) => `params.${f}`));
    const trust = await this.trustOf(agent.name);
    const decision = this.decide(agent, action.name, resource, context, params, trust);
    if (decision.decision === 'deny' || decision.obligations.approvals.length > 0) {
      // Approval obligations cannot be met until the approvals workflow exists: deny, explained.
      log.info({ action: action.name, resource, policy: decision.determining.map((d) => d.id) }, 'lease denied');
      const draft = decisionDraft(agent.name, action.name, resource, decision, trust);
      const ref = this.deps.denials ? await this.deps.denials.record(agent.name, draft) : (await this.deps.evidence?.append([draft]))?.[0];
      return { status: 'DENIED', explanation: decision.explanation, decision, ...(ref ? { evidence: ref } : {}) };
    }
    const now = this.deps.clock.now();
    // The cheap early check: a request over the limit mints nothing. The insert checks again, atomically.
    const active = await this.deps.store.countActiveLeases(agent.name);
    if (active >= agent.limits.activeLeases) throw activeLeaseLimit(agent);

    const policyTtlMs = decision.obligations.maxTtlSeconds !== undefined ? decision.obligations.maxTtlSeconds * 1000 : Infinity;
    const maxTtlMs = Math.min(action.maxTtlMs, policyTtlMs);
    const ttlMs = Math.min(req.ttlSeconds > 0 ? req.ttlSeconds * 1000 : action.defaultTtlMs, maxTtlMs);
    // Uses are capped like the TTL: by the action's max_uses and by the policy's @max_uses.
    const maxUses = Math.min(req.maxUses > 0 ? req.maxUses : action.defaultUses, action.maxUses, decision.obligations.maxUses ?? Infinity);
    const lease: LeaseRecord = {
      id: this.deps.ids.newLeaseId(now),
      agent: agent.name,
      action: action.name,
      resource,
      context,
      params,
      purpose,
      status: 'active',
      issuedAt: now,
      expiresAt: now + ttlMs,
      maxExpiresAt: now + maxTtlMs,
      maxUses,
      usesLeft: maxUses,
      policyVersion: decision.policyVersion,
      policyIds: decision.determining.map((d) => d.id),
      tier: trust.tier,
      updatedAt: now,
    };
    // A dynamic action mints its credential now, bound to this lease; the lease ends no later than it.
    const issued = await this.mint(action, lease, log);
    if (issued) {
      lease.expiresAt = Math.min(lease.expiresAt, issued.expiresAt);
      lease.credential = issued.handle;
    }
    let refs: EvidenceRef[] | undefined;
    try {
      refs = await this.issueWithin(agent, lease, decisionDraft(agent.name, action.name, resource, decision, trust), issued ? issuedCredentialRef(issued) : {});
    } catch (err) {
      if (issued) {
        // Nothing was handed out (the limit was reached during the mint, or the grant could not be
        // stored): revoke what was minted before the error returns (retried if that fails).
        issued.credential.password.wipe();
        await this.deps.credentials?.revoker.discard(lease, log);
      }
      throw err;
    }
    log.info({ lease_id: lease.id, action: action.name, resource, expires_at: lease.expiresAt, max_uses: maxUses, ...(issued ? { credential: handleRef(issued.handle) } : {}) }, 'lease granted');
    const ref = refs?.[1];
    return { status: 'GRANTED', lease, explanation: decision.explanation, decision, ...(ref ? { evidence: ref } : {}), ...(issued ? { credential: issued.credential } : {}) };
  }

  /** For an action that hands out a credential: mints it for `lease` (undefined for any other action). */
  private async mint(action: BrokerConfig['actions'][string], lease: LeaseRecord, log: Logger): Promise<IssuedCredential | undefined> {
    const backendName = credentialBackendOf(action);
    if (!backendName) return undefined;
    const dyn = this.deps.credentials?.source.forAction(action);
    if (!dyn) throw backendNotAvailable(backendName);
    const binding = {
      leaseId: lease.id,
      agent: lease.agent,
      action: lease.action,
      resource: lease.resource,
      expiresAt: lease.expiresAt,
      maxExpiresAt: lease.maxExpiresAt,
    };
    // Recorded before created: a backend that names its credentials first gets the name stored
    // durably before anything exists upstream, so a crash from here until the lease is stored
    // leaves a pending row the orphan sweeper resolves. The row goes in the commit that stores the lease.
    let planned: CredentialHandle | undefined;
    try {
      planned = dyn.backend.plan?.(dyn.spec, binding);
      if (planned) await this.deps.store.insertPendingCredential({ handle: planned, leaseId: lease.id, createdAt: this.deps.clock.now() });
    } catch (err) {
      log.warn({ err, action: action.name, backend: backendName }, 'could not record the credential about to be issued; nothing was created');
      throw err instanceof BrokerError && err.kind === 'unavailable' ? err : backendFailure(backendName, `issue a credential for ${action.name}`, err);
    }
    try {
      const issued = await dyn.backend.create(dyn.spec, binding, planned);
      if (planned && issued.handle.id !== planned.id) {
        // The contract says create makes exactly the planned credential; anything else is revoked, never leased.
        issued.credential.password.wipe();
        await this.deps.credentials?.revoker.discard({ ...lease, credential: issued.handle }, log);
        throw new BrokerError('internal', `backend ${backendName} created a credential other than the one planned`);
      }
      return issued;
    } catch (err) {
      log.warn({ err, action: action.name, backend: backendName }, 'the backend could not issue a credential; nothing was granted');
      const left = CredentialLeftError.handleIn(err);
      if (left) {
        // The backend minted something it could not clean up: revoke it, retried until that succeeds.
        await this.deps.credentials?.revoker.discard({ ...lease, credential: left }, log);
      }
      throw backendFailure(backendName, `issue a credential for ${action.name}`, err);
    }
  }

  /**
   * Extends a lease's credential upstream before the lease: the backend's
   * expiry (it may cap lower) bounds the renewal. A refusal renews nothing.
   */
  private async renewCredential(lease: LeaseRecord, expiresAt: number, log: Logger): Promise<number> {
    const handle = lease.credential;
    if (!handle) return expiresAt;
    const backend = this.deps.credentials?.source.byName(handle.backend);
    if (!backend) throw backendNotAvailable(handle.backend);
    try {
      const set = await backend.renew(handle, { leaseId: lease.id, expiresAt, maxExpiresAt: lease.maxExpiresAt });
      return Math.min(expiresAt, set.expiresAt);
    } catch (err) {
      log.warn({ err, lease_id: lease.id, credential: handleRef(handle) }, 'the backend refused to renew a credential; the lease is not renewed');
      throw backendFailure(handle.backend, 'renew the credential of this lease', err);
    }
  }

  /** After a lease ended (authority first): its credential is revoked upstream, or shown revoke_failed and retried. */
  private async endCredential(ended: LeaseRecord, by: string, log: Logger): Promise<LeaseRecord> {
    if (!ended.credential || !this.deps.credentials) return ended;
    return this.deps.credentials.revoker.revokeEnded(ended, { by }, log);
  }

  /**
   * Stores a new lease with its evidence, `decision` (the draft given) and
   * `lease.issued`, queued in the same tick so that they share one commit and
   * one fsync; resolves once both are durable, with the refs of the two
   * entries (none when the broker runs without a log). `row` is what is
   * stored when it differs from `lease` (a one-shot call's lease is stored
   * already used). Either half can fail alone:
   * - the row landed but its evidence did not: the row is ended before
   *   anyone learns its id (evidence before effect);
   * - the evidence landed but the row did not: a `lease.revoked` entry says
   *   the lease was never usable, so the log does not claim a grant that
   *   never took effect. It is a later commit (retried in the background if
   *   the log refuses it): a broker that stops in between leaves the
   *   `lease.issued` of a lease that was never stored, never returned and
   *   never usable.
   * Either way the caller gets the error.
   */
  async issue(lease: LeaseRecord, decision: EvidenceDraft, log: Logger, opts: { row?: LeaseRecord; leaseExtra?: Record<string, unknown> } = {}): Promise<EvidenceRef[] | undefined> {
    const [ev, ins] = await Promise.allSettled([
      this.deps.evidence?.append([decision, leaseDraft('lease.issued', lease, {}, opts.leaseExtra)]),
      this.deps.store.insertLease(opts.row ?? lease),
    ]);
    if (ins.status === 'rejected') {
      if (ev.status === 'fulfilled' && ev.value) {
        await this.recordEnded(leaseDraft('lease.revoked', { ...lease, status: 'revoked' }, { by: 'broker', reason: 'the lease could not be stored' }), log);
      }
      throw ins.reason;
    }
    if (ev.status === 'rejected') {
      await this.deps.store.endLease(lease.id, 'revoked', 'evidence could not be recorded', this.deps.clock.now()).catch((err: unknown) => {
        // Never returned, so nobody holds its id; it expires on its own. Say so rather than drop it quietly.
        log.error({ err, lease_id: lease.id, expires_at: lease.expiresAt }, 'lease without evidence could not be ended; it stays active until it expires');
      });
      throw ev.reason;
    }
    return ev.value;
  }

  /**
   * Stores a new lease only while its agent is under `limits.active_leases`,
   * with its `decision` and `lease.issued` entries in the same commit, or
   * nothing: the count, the insert and the entries are one atomic step, so
   * concurrent grants (each checked early, then minting for a while) can
   * never pass the limit together, and a grant refused at the limit leaves
   * no entry. RESOURCE_EXHAUSTED when refused.
   */
  private async issueWithin(agent: AgentConfig, lease: LeaseRecord, decision: EvidenceDraft, leaseExtra: Record<string, unknown>): Promise<EvidenceRef[] | undefined> {
    const { evidence, store } = this.deps;
    const limit = agent.limits.activeLeases;
    if (!evidence) {
      if (!(await store.insertLeaseWithin(lease, limit))) throw activeLeaseLimit(agent);
      return undefined;
    }
    const statements = store.statements;
    if (!evidence.appendWith || !statements) throw unimplemented('granting a lease with evidence on this state store', 'a later issue');
    const done = await evidence.appendWith(
      () => statements.insertLeaseWithin(lease, limit),
      (stored) => [decision, leaseDraft('lease.issued', stored, {}, leaseExtra)],
    );
    if (!done) throw activeLeaseLimit(agent);
    return done.refs;
  }

  /** The agent's own lease, or NOT_FOUND (another agent's lease is indistinguishable from a missing one). */
  async get(agent: AgentConfig, id: string): Promise<LeaseRecord> {
    if (!id) throw invalidArgument('lease_id', 'required');
    const lease = await this.deps.store.getLease(id);
    if (!lease || lease.agent !== agent.name) throw notFound('lease');
    return lease;
  }

  async renew(agent: AgentConfig, id: string, ttlSeconds: number, log: Logger): Promise<{ lease: LeaseRecord; explanation: Explanation }> {
    const lease = await this.get(agent, id);
    const now = this.deps.clock.now();
    if (effectiveStatus(lease, now) !== 'active') throw failedPrecondition(`lease is ${effectiveStatus(lease, now)}`);
    const action = this.deps.config.actions[lease.action];
    if (!action) throw failedPrecondition('the lease\'s action is no longer configured');
    // Renewal extends authority, so the current policy and trust must still permit it.
    const trust = await this.trustOf(agent.name);
    const decision = this.decide(agent, lease.action, lease.resource, { ...lease.context }, lease.params, trust);
    if (decision.decision === 'deny' || decision.obligations.approvals.length > 0) {
      throw new BrokerError('failed_precondition', 'policy no longer permits renewing this lease', {
        trailers: { 'secretbroker-explanation': JSON.stringify(decision.explanation) },
      });
    }
    // The @max_ttl of the policy in force now bounds the lease too, not only the one it was granted under.
    const policyEnd = checkPolicyLifetime(lease, decision, now);
    const ttlMs = ttlSeconds > 0 ? ttlSeconds * 1000 : action.defaultTtlMs;
    // A dynamic credential is renewed upstream first; the lease never outlives it.
    const expiresAt = await this.renewCredential(lease, Math.min(now + ttlMs, lease.maxExpiresAt, policyEnd), log);
    const renewed = await this.renewRecorded(id, agent.name, expiresAt, now);
    if (!renewed) throw failedPrecondition('lease is no longer active');
    log.info({ lease_id: id, expires_at: renewed.expiresAt, max_expires_at: renewed.maxExpiresAt }, 'lease renewed');
    return { lease: renewed, explanation: decision.explanation };
  }

  /**
   * The conditional renewal and its `lease.renewed` entry commit together, or
   * neither: a renewal that loses a race with a revocation leaves no entry,
   * and the entry records the expiry as stored (the store caps it at max TTL).
   */
  private async renewRecorded(id: string, agent: string, expiresAt: number, now: number): Promise<LeaseRecord | undefined> {
    const { evidence, store } = this.deps;
    if (!evidence) return store.renewLease(id, agent, expiresAt, now);
    const statements = store.statements;
    if (!evidence.appendWith || !statements) throw unimplemented('renewing a lease with evidence on this state store', 'a later issue');
    const done = await evidence.appendWith(
      () => statements.renewLease(id, agent, expiresAt, now),
      (renewed) => [leaseDraft('lease.renewed', renewed)],
    );
    return done?.value;
  }

  async revoke(agent: AgentConfig, id: string, reason: string, log: Logger): Promise<LeaseRecord> {
    const lease = await this.get(agent, id);
    // Ended already, its credential still owed upstream: try again now.
    if (lease.status === 'revoke_failed' && lease.credential) return this.endCredential(lease, `agent:${agent.name}`, log);
    const ended = await this.deps.store.endLease(id, 'revoked', reason ? `agent: ${reason.slice(0, 200)}` : 'revoked by agent', this.deps.clock.now());
    if (ended) {
      // Revocation takes away authority: it happens first, then it is recorded, then the credential goes.
      await this.recordEnded(leaseDraft('lease.revoked', ended, { by: `agent:${agent.name}` }), log);
      log.info({ lease_id: id }, 'lease revoked by agent');
      return this.endCredential(ended, `agent:${agent.name}`, log);
    }
    return lease;
  }

  async list(filter: { agent?: string; action?: string; statuses?: LeaseStatus[]; limit?: number }): Promise<LeaseRecord[]> {
    return this.deps.store.listLeases({ ...filter, limit: Math.min(Math.max(filter.limit ?? 100, 1), 1000) });
  }

  async revokeMany(filter: { agent?: string; action?: string; leaseId?: string }, reason: string, by: string, log: Logger): Promise<LeaseRecord[]> {
    if (!filter.agent && !filter.action && !filter.leaseId) throw invalidArgument('agent|action|lease_id', 'at least one selector is required');
    const now = this.deps.clock.now();
    const targets = await this.deps.store.listLeases({ ...filter, statuses: ['active', 'exhausted', 'revoke_failed'], limit: 10_000 });
    // Every lease's authority ends first (and is recorded); then their credentials go upstream
    // together, in one round per backend that revokes in batches.
    // All at once: the store and the log each make one batch (one commit, one fsync) of what is
    // asked in one turn, so every lease loses its authority together, not one commit after another.
    const settled = await Promise.all(
      targets.map(async (l): Promise<LeaseRecord | undefined> => {
        // Ended already, its credential still owed upstream: try again now (it stays revoke_failed if that fails).
        if (l.status === 'revoke_failed' && l.credential) return l;
        const e = await this.deps.store.endLease(l.id, 'revoked', `operator ${by}: ${reason.slice(0, 200) || 'revoked'}`, now);
        if (e) await this.recordEnded(leaseDraft('lease.revoked', e, { by: `operator:${by}` }), log);
        return e;
      }),
    );
    const ended = settled.filter((l): l is LeaseRecord => l !== undefined);
    const end = { by: `operator:${by}` };
    const out = this.deps.credentials ? await this.deps.credentials.revoker.revokeEndedMany(ended.map((lease) => ({ lease, end })), log) : ended;
    log.info({ count: out.length, ...filter }, 'leases revoked by operator');
    return out;
  }
}

/**
 * What `lease.issued` says about a lease's credential: `credential` names it
 * (backend, handle id), `credential_details` holds the backend's non-secret
 * facts about what was granted (for PostgreSQL the role and its grants).
 * Backends never put a secret there; a SecretValue that got in anyway is
 * dropped here, never written.
 */
export function issuedCredentialRef(issued: IssuedCredential): Record<string, unknown> {
  const details = issued.details ? withoutSecrets(issued.details) : undefined;
  return { credential: handleRef(issued.handle), ...(details && Object.keys(details).length ? { credential_details: details } : {}) };
}

function withoutSecrets(v: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x instanceof SecretValue) continue;
    out[k] = Array.isArray(x) ? x.filter((e) => !(e instanceof SecretValue)).map((e: unknown) => (isPlainObject(e) ? withoutSecrets(e) : e)) : isPlainObject(x) ? withoutSecrets(x) : x;
  }
  return out;
}

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof SecretValue);

function activeLeaseLimit(agent: AgentConfig): BrokerError {
  return resourceExhausted(`active lease limit reached (${agent.limits.activeLeases})`);
}

/**
 * When a re-decision's @max_ttl ends the lease (issue + max_ttl; Infinity when
 * it sets none). A lease already past it is refused (FAILED_PRECONDITION): a
 * policy tightened after the grant holds at the next use and renewal.
 */
export function checkPolicyLifetime(lease: LeaseRecord, decision: PolicyDecision, now: number): number {
  const maxTtl = decision.obligations.maxTtlSeconds;
  if (maxTtl === undefined) return Infinity;
  const end = lease.issuedAt + maxTtl * 1000;
  if (end <= now) throw failedPrecondition(`the policy now allows this lease ${maxTtl} s from its issue (@max_ttl), and they have passed; request a new lease`);
  return end;
}

/**
 * Refuses (FAILED_PRECONDITION) a use whose number passes the @max_uses of a
 * re-decision: a policy tightened after the grant holds at the next use.
 */
export function checkPolicyUses(useNumber: number, decision: PolicyDecision): void {
  const maxUses = decision.obligations.maxUses;
  if (maxUses !== undefined && useNumber > maxUses) {
    throw failedPrecondition(`the policy now allows this lease ${maxUses} uses (@max_uses), and they are spent; request a new lease`);
  }
}

/** What a lease is right now: an active lease past its expiry is expired even before the reaper marks it. */
export function effectiveStatus(lease: LeaseRecord, now: number): LeaseStatus {
  return lease.status === 'active' && lease.expiresAt <= now ? 'expired' : lease.status;
}
