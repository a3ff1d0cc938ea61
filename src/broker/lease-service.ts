import { grantedUnderDraft, type OverrideGate } from '../breakglass/override-gate';
import type { Metrics } from '../metrics/metrics';
import { CredentialLeftError, type CredentialHandle, type DynamicCredential, type IssuedCredential, type PreparedSecret } from '../backends/backend';
import type { AgentConfig, BrokerConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { LeaseRecord, LeaseStatus } from '../leases/lease';
import type { Clock } from '../lib/clock';
import { BrokerError, failedPrecondition, invalidArgument, notFound, resourceExhausted, unimplemented } from '../lib/errors';
import type { LeaseIds } from '../lib/ids';
import type { Logger } from '../lib/logger';
import { SecretValue } from '../lib/secret-value';
import { explanationTrailer, type Explanation, type PolicyDecision, type PolicyEngine } from '../policy';
import type { BudgetReservation, Store } from '../store/store';
import type { Approvals } from './approval-gate';
import type { CredentialRevoker } from './credential-revoker';
import type { DenialFolder } from './denial-folder';
import { backendFailure, backendNotAvailable, credentialBackendOf, handleRef, type DynamicCredentialSource } from './dynamic-credentials';
import { LateEvidence } from './late-evidence';
import { DecisionStep, type DecidedStep, type DecisionInput } from './decision-step';
import { checkParams, checkPurpose, checkResource, checkStatedResource, contextFromParams, renderResource } from './request-validation';
import type { Json } from './struct';
import { storedTrust, type TrustReader, type TrustView } from './trust-reader';

export type { TrustView } from './trust-reader';

export { decisionDraft } from './decision-step';

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
  | { status: 'DENIED'; explanation: Explanation; decision: PolicyDecision; evidence?: EvidenceRef }
  /** A person must approve this exact request: the agent repeats it with `approvalId` once approved. */
  | { status: 'PENDING_APPROVAL'; approvalId: string; expiresAt: number; explanation: Explanation; decision: PolicyDecision; evidence?: EvidenceRef };

export interface LeaseServiceDeps {
  config: Pick<BrokerConfig, 'actions' | 'agents'> & Partial<Pick<BrokerConfig, 'approvals'>>;
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
  /** The decision step (one per daemon, shared with Invoke); built from these deps when absent. */
  decisions?: DecisionStep;
  /** Counts decisions and dynamic credentials minted (src/metrics); default none. */
  metrics?: Pick<Metrics, 'decision' | 'credentialIssued'>;
  /** Where the decision step reads trust (the trust service); default: the stored score, never fresh. */
  trust?: TrustReader;
  /** Approvals: open and check (the gate), consume in the grant's transaction. Absent: approval obligations deny. */
  approvals?: Approvals;
  /** Break-glass overrides for the decision step (when it is built here). */
  overrides?: OverrideGate;
  /** Test hooks (through AppOptions); never set in the daemon. */
  hooks?: GrantHooks;
}

export interface GrantHooks {
  /**
   * Runs on a RequestLease after its decision allowed it and before the
   * grant's transaction: a test's barrier here makes concurrent grants race
   * for the budget (or an approval) they each fit alone.
   */
  beforeGrant?: () => Promise<void>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

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

/** Leases ended per commit by endManyRecorded. */
const END_BATCH = 500;

/** Leases: decide, issue, renew, revoke, look up. Orders the steps; owns no transport concerns. */
export class LeaseService {
  /** lease.revoked / lease.expired drafts the log refused after the lease had already ended. */
  private readonly late: LateEvidence | undefined;
  /** Every decision about a lease goes through it (RequestLease, renewal, Explain; Invoke shares it). */
  readonly decisions: DecisionStep;

  constructor(private readonly deps: LeaseServiceDeps) {
    this.late = deps.evidence ? new LateEvidence({ sink: deps.evidence, clock: deps.clock }, 'lease end', 'the lease ended but its entry is missing') : undefined;
    this.decisions =
      deps.decisions ??
      new DecisionStep({
        policy: deps.policy,
        trust: deps.trust ?? storedTrust(deps.store),
        store: deps.store,
        clock: deps.clock,
        ...(deps.approvals ? { approvals: deps.approvals.gate } : {}),
        ...(deps.evidence ? { evidence: deps.evidence } : {}),
        ...(deps.denials ? { denials: deps.denials } : {}),
        ...(deps.overrides ? { overrides: deps.overrides } : {}),
        ...(deps.config.approvals ? { approvalsRequired: (g: string) => deps.config.approvals?.[g]?.required ?? 1 } : {}),
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
      });
  }

  /** At shutdown: a last try to record the entries the evidence log refused earlier (LateEvidence.drain). */
  async drainLateEvidence(log: Logger): Promise<void> {
    await this.late?.drain(log);
  }

  /**
   * Records a lease that has already ended (revoked or expired). Ending comes
   * first because it takes authority away; if the log refuses the entry it is
   * kept and retried, never dropped quietly, and the caller is not failed.
   */
  async recordEnded(draft: EvidenceDraft, log: Logger): Promise<void> {
    await this.late?.appendOrKeep(draft, log, { lease: draft.lease, type: draft.type }, 'could not record the end of a lease; retrying in the background');
  }

  /**
   * A re-decision of `lease` with its stored inputs (context, params) under
   * the current policy, trust and budget: each Invoke on it, its renewal, and
   * re-evaluation when its agent's trust drops. An action no longer
   * configured is FAILED_PRECONDITION.
   */
  async redecide(call: 'invoke' | 'renew' | 'reevaluate', agent: AgentConfig, lease: LeaseRecord, trust?: TrustView): Promise<DecidedStep> {
    const action = this.deps.config.actions[lease.action];
    if (!action) throw failedPrecondition('the lease\'s action is no longer configured');
    return this.decisions.decide({ call, agent, action, resource: lease.resource, context: lease.context, params: lease.params, purpose: lease.purpose, lease, ...(trust ? { trust } : {}) });
  }

  /** RequestLease's inputs, checked, with the context and resource the broker renders (before any decision). */
  private prepare(agent: AgentConfig, req: Omit<LeaseRequestInput, 'approvalId'>, call: 'request' | 'explain'): DecisionInput {
    if (!req.action) throw invalidArgument('action', 'required: a configured action name');
    const action = this.deps.config.actions[req.action];
    if (!action) throw invalidArgument('action', `"${req.action.slice(0, 64)}" is not a configured action`);
    if (req.resource) checkResource(req.resource);
    const purpose = checkPurpose(req.purpose);
    const params = checkParams(req.params);
    const context = contextFromParams(action, params);
    // The broker renders the resource; a stated one must be exactly that (before any decision).
    const resource = checkStatedResource(req.resource, renderResource(action, context, (f) => `params.${f}`));
    return { call, agent, action, resource, context, params, purpose, grant: { ttlSeconds: req.ttlSeconds, maxUses: req.maxUses } };
  }

  /**
   * Explain: the decision RequestLease would make for this agent and request,
   * through the same step, recording nothing and granting nothing.
   */
  async explain(agentName: string, req: Omit<LeaseRequestInput, 'approvalId'>): Promise<{ status: 'GRANTED' | 'PENDING_APPROVAL' | 'DENIED'; explanation: Explanation; decision: PolicyDecision }> {
    if (!agentName) throw invalidArgument('agent', 'required: the configured agent name to evaluate as');
    const agent = Object.hasOwn(this.deps.config.agents, agentName) ? this.deps.config.agents[agentName] : undefined;
    if (!agent) throw invalidArgument('agent', `"${agentName.slice(0, 64)}" is not a configured agent`);
    const step = await this.decisions.decide(this.prepare(agent, req, 'explain'));
    const status = step.verdict === 'allow' ? 'GRANTED' : step.verdict === 'approval' ? 'PENDING_APPROVAL' : 'DENIED';
    return { status, explanation: step.explanation, decision: step.policy };
  }

  async request(agent: AgentConfig, req: LeaseRequestInput, log: Logger): Promise<LeaseOutcome> {
    const input = this.prepare(agent, req, 'request');
    const { action, resource, context, params, purpose } = input;
    const step = await this.decisions.decide({ ...input, ...(req.approvalId ? { approvalId: req.approvalId } : {}) });
    const { policy: decision, trust } = step;
    if (step.verdict === 'deny') {
      log.info({ action: action.name, resource, policy: decision.determining.map((d) => d.id), ...(step.budget ? { budget_used: step.budget.used } : {}) }, 'lease denied');
      const ref = await this.decisions.recordDenial(step);
      return { status: 'DENIED', explanation: step.explanation, decision, ...(ref ? { evidence: ref } : {}) };
    }
    if (step.verdict === 'approval') return this.askApproval(agent, step, log);
    const grant = step.grant!;
    const now = this.deps.clock.now();
    // The cheap early check: a request over the limit mints nothing. The insert checks again, atomically.
    const active = await this.deps.store.countActiveLeases(agent.name);
    if (active >= agent.limits.activeLeases) throw activeLeaseLimit(agent);

    const maxUses = grant.uses;
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
      expiresAt: now + grant.ttlMs,
      maxExpiresAt: now + grant.maxTtlMs,
      maxUses,
      usesLeft: maxUses,
      policyVersion: decision.policyVersion,
      policyIds: decision.determining.map((d) => d.id),
      tier: trust.tier,
      updatedAt: now,
      ...(step.approval?.redeem ? { approvalId: step.approval.redeem } : {}),
    };
    // A dynamic action mints its credential now, bound to this lease; the lease ends no later than it.
    const issued = await this.mint(action, lease, log);
    if (issued) {
      lease.expiresAt = Math.min(lease.expiresAt, issued.expiresAt);
      lease.credential = issued.handle;
    }
    let refs: EvidenceRef[] | undefined;
    let overBudget: DecidedStep | undefined;
    try {
      await this.deps.hooks?.beforeGrant?.();
      const stored = await this.issueWithin(agent, lease, step, issued ? issuedCredentialRef(issued) : {});
      if ('overBudget' in stored) overBudget = stored.overBudget;
      else refs = stored.refs;
    } catch (err) {
      if (issued) {
        // Nothing was handed out (the limit was reached during the mint, or the grant could not be
        // stored): revoke what was minted before the error returns (retried if that fails).
        issued.credential.password.wipe();
        await this.deps.credentials?.revoker.discard(lease, log);
      }
      throw err;
    }
    if (overBudget) {
      // Concurrent grants took the budget between the decision and the grant's own re-check.
      if (issued) {
        issued.credential.password.wipe();
        await this.deps.credentials?.revoker.discard(lease, log);
      }
      log.info({ action: action.name, resource, budget_used: overBudget.budget?.used }, 'lease denied: over budget');
      const ref = await this.decisions.recordDenial(overBudget);
      return { status: 'DENIED', explanation: overBudget.explanation, decision, ...(ref ? { evidence: ref } : {}) };
    }
    log.info({ lease_id: lease.id, action: action.name, resource, expires_at: lease.expiresAt, max_uses: maxUses, ...(issued ? { credential: handleRef(issued.handle) } : {}), ...(step.override ? { override_id: step.override.id } : {}) }, step.override ? 'lease granted under break-glass' : 'lease granted');
    const ref = refs?.[1];
    return { status: 'GRANTED', lease, explanation: step.explanation, decision, ...(ref ? { evidence: ref } : {}), ...(issued ? { credential: issued.credential } : {}) };
  }

  /**
   * An approval obligation, no approval given: the decision is recorded, then
   * a pending approval for exactly this request (approval.requested), and the
   * agent gets PENDING_APPROVAL with its id.
   */
  private async askApproval(agent: AgentConfig, step: DecidedStep, log: Logger): Promise<LeaseOutcome> {
    const gate = this.deps.approvals?.gate;
    const binding = step.approval?.binding;
    if (!gate || !binding) throw new BrokerError('internal', 'an approval was asked for without an approvals service');
    const ref = await this.decisions.recordPending(step);
    const opened = await gate.open({ agent, groups: [...step.approval!.groups], binding, trust: step.trust }, log);
    log.info({ action: step.action.name, resource: step.resource, approval_id: opened.id, rule: binding.rule }, 'lease pending approval');
    const explanation = step.explanation.approval ? { ...step.explanation, approval: { ...step.explanation.approval, approval_id: opened.id } } : step.explanation;
    return { status: 'PENDING_APPROVAL', approvalId: opened.id, expiresAt: opened.expiresAt, explanation, decision: step.policy, ...(ref ? { evidence: ref } : {}) };
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
    let prepared: PreparedSecret | undefined;
    try {
      planned = dyn.backend.plan?.(dyn.spec, binding);
      // The credential's secret is made (for PostgreSQL a PBKDF2, off the event loop) while its name is recorded.
      prepared = planned ? dyn.backend.prepare?.(dyn.spec) : undefined;
      if (planned) await this.deps.store.insertPendingCredential({ handle: planned, leaseId: lease.id, createdAt: this.deps.clock.now() });
    } catch (err) {
      prepared?.discard();
      log.warn({ err, action: action.name, backend: backendName }, 'could not record the credential about to be issued; nothing was created');
      throw err instanceof BrokerError && err.kind === 'unavailable' ? err : backendFailure(backendName, `issue a credential for ${action.name}`, err);
    }
    try {
      const issued = await dyn.backend.create(dyn.spec, binding, planned, prepared);
      if (planned && issued.handle.id !== planned.id) {
        // The contract says create makes exactly the planned credential; anything else is revoked, never leased.
        issued.credential.password.wipe();
        await this.deps.credentials?.revoker.discard({ ...lease, credential: issued.handle }, log);
        throw new BrokerError('internal', `backend ${backendName} created a credential other than the one planned`);
      }
      this.deps.metrics?.credentialIssued(action.name);
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
   * no entry. RESOURCE_EXHAUSTED when refused. In the same step, for an
   * action with a budget, the window is summed again and amount x uses
   * reserved (`overBudget` when it no longer fits: nothing stored), and an
   * approval being redeemed is consumed (FAILED_PRECONDITION, nothing
   * stored, when it was consumed or expired meanwhile).
   */
  private async issueWithin(
    agent: AgentConfig,
    lease: LeaseRecord,
    step: DecidedStep,
    leaseExtra: Record<string, unknown>,
  ): Promise<{ refs: EvidenceRef[] | undefined } | { overBudget: DecidedStep }> {
    const { evidence, store } = this.deps;
    const limit = agent.limits.activeLeases;
    const budget = this.reservationFor(step, lease);
    const approvalId = step.approval?.redeem;
    if (!evidence) {
      if (budget || approvalId) throw unimplemented('budgets and approvals without an evidence log', 'a later issue');
      if (!(await store.insertLeaseWithin(lease, limit))) throw activeLeaseLimit(agent);
      return { refs: undefined };
    }
    const statements = store.statements;
    if (!evidence.appendWith || !statements) throw unimplemented('granting a lease with evidence on this state store', 'a later issue');
    let usedThen: number | undefined;
    const done = await evidence.appendWith(
      () => {
        this.stillCurrent(agent, step);
        if (budget && !this.budgetFits(budget, (u) => (usedThen = u))) return undefined;
        const stored = statements.insertLeaseWithin(lease, limit);
        if (!stored) return undefined;
        if (budget) statements.reserveBudget!(budget.reservation, stored);
        // Under break-glass: remembered with the lease, so revoking the override revokes it. An override
        // revoked or expired since the decision grants nothing (thrown, the savepoint undoes the lease).
        if (step.override && this.deps.overrides?.recordGrant(step.override.id, stored.id, stored.issuedAt) !== true) throw overrideEnded();
        // Thrown here, the savepoint undoes the lease and its reservation with it.
        if (approvalId && !this.deps.approvals!.statements.consumeApproval(approvalId, lease.id, this.deps.clock.now())) throw approvalSpent();
        return stored;
      },
      // A grant under a break-glass override is a step of that override too.
      (stored) => [step.draft, leaseDraft('lease.issued', stored, {}, leaseExtra), ...(step.override ? [grantedUnderDraft(step.override, stored)] : [])],
    );
    if (done) return { refs: done.refs };
    if (usedThen !== undefined && budget) return { overBudget: this.decisions.overBudget(step, step.budget!, usedThen) };
    throw activeLeaseLimit(agent);
  }

  /**
   * Spends one use of lease `id`, in one transaction with the check that what
   * the use was decided on (`step`, the re-check of this Invoke) still holds:
   * `stale` when a policy reload or a trust drop committed since, so the caller
   * decides again instead of spending the use on a decision already replaced.
   * Undefined when the lease is not live (or not the agent's).
   */
  async useIfCurrent(agent: AgentConfig, step: DecidedStep, id: string, now: number): Promise<{ lease: LeaseRecord; useNumber: number } | 'stale' | undefined> {
    const { store } = this.deps;
    const use = store.statements?.useLease;
    if (!use) throw unimplemented('spending a lease use on this state store', 'a later issue');
    return store.writeTrust(() => {
      if (!this.isCurrent(agent, step)) return 'stale' as const;
      return use(id, agent.name, now);
    });
  }

  /**
   * Inside the grant's transaction: what the decision was made on still holds. A policy reload or
   * a trust drop re-decides the live leases it lists, and a grant that commits after that listing
   * was not among them: so a grant decided under a policy set since replaced, or on trust the
   * agent has lost since (the stored record changed and is lower than the decision's view), is
   * refused (thrown: the savepoint undoes it), not stored. The override and the approval are
   * re-checked where they are spent.
   */
  private stillCurrent(agent: AgentConfig, step: DecidedStep): void {
    if (step.policy.policyVersion !== this.deps.policy().version) throw policyChanged();
    if (this.trustDroppedSince(agent, step)) throw trustDropped();
  }

  /** As stillCurrent, as a boolean (for a caller that decides again). */
  private isCurrent(agent: AgentConfig, step: DecidedStep): boolean {
    return step.policy.policyVersion === this.deps.policy().version && !this.trustDroppedSince(agent, step);
  }

  /** The stored trust record changed since the decision read it, and is lower than what the decision saw. */
  private trustDroppedSince(agent: AgentConfig, step: DecidedStep): boolean {
    const stored = this.deps.store.trustStatements?.getTrust(agent.name);
    const seen = step.trust.readFrom;
    const changed = stored !== undefined && (seen === undefined || stored.updatedAt !== seen.updatedAt || stored.score !== seen.score);
    return changed && stored.score < step.trust.score;
  }

  /** The reservation a grant makes (undefined for an action without a budget); refuses when the store cannot reserve. */
  private reservationFor(step: DecidedStep, lease: LeaseRecord): { reservation: BudgetReservation; limit?: number; query: NonNullable<ReturnType<DecisionStep['budgetQuery']>> } | undefined {
    const b = step.budget;
    if (!b) return undefined;
    const st = this.deps.store.statements;
    if (!st?.reserveBudget || !st.budgetUsed) throw unimplemented('action budgets on this state store', 'a later issue');
    const query = this.decisions.budgetQuery(lease.agent, step.action)!;
    return {
      reservation: { leaseId: lease.id, agent: lease.agent, action: lease.action, field: b.field, at: lease.issuedAt, amount: b.amount, uses: lease.maxUses },
      ...(b.limit !== undefined ? { limit: b.limit } : {}),
      query,
    };
  }

  /** Inside the grant's transaction: the window summed again, and the reservation must fit its limit. */
  private budgetFits(budget: NonNullable<ReturnType<LeaseService['reservationFor']>>, refused: (used: number) => void): boolean {
    if (budget.limit === undefined) return true;
    const used = this.deps.store.statements!.budgetUsed!(budget.query);
    if (used + budget.reservation.amount * budget.reservation.uses <= budget.limit) return true;
    refused(used);
    return false;
  }

  /**
   * Stores a one-shot call's lease (already used) with its evidence. With a
   * budget its amount is reserved in the same commit, the limit checked
   * there (`overBudget` when it no longer fits); otherwise as `issue`.
   */
  async issueOneShot(lease: LeaseRecord, row: LeaseRecord, step: DecidedStep, log: Logger): Promise<{ refs: EvidenceRef[] | undefined } | { overBudget: DecidedStep }> {
    const budget = this.reservationFor(step, lease);
    if (!budget) return { refs: await this.issue(lease, step.draft, log, { row, leaseExtra: { one_shot: true } }) };
    const { evidence, store } = this.deps;
    const statements = store.statements;
    if (!evidence?.appendWith || !statements?.insertLease) throw unimplemented('action budgets without an evidence log on this state store', 'a later issue');
    let usedThen: number | undefined;
    const done = await evidence.appendWith(
      () => {
        if (!this.budgetFits(budget, (u) => (usedThen = u))) return undefined;
        const stored = statements.insertLease!(row);
        statements.reserveBudget!(budget.reservation, stored);
        return stored;
      },
      () => [step.draft, leaseDraft('lease.issued', lease, {}, { one_shot: true })],
    );
    if (done) return { refs: done.refs };
    return { overBudget: this.decisions.overBudget(step, step.budget!, usedThen ?? 0) };
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
    const step = await this.redecide('renew', agent, lease);
    const decision = step.policy;
    if (step.verdict !== 'allow') {
      throw new BrokerError('failed_precondition', 'policy no longer permits renewing this lease', {
        trailers: { 'secretbroker-explanation': explanationTrailer(step.explanation) },
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
    return { lease: renewed, explanation: step.explanation };
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
    // Revocation takes away authority: it ends and is recorded first, then the credential goes.
    const ended = await this.endRecorded(id, reason ? `agent: ${reason.slice(0, 200)}` : 'revoked by agent', `agent:${agent.name}`, log);
    if (ended) {
      log.info({ lease_id: id }, 'lease revoked by agent');
      return this.endCredential(ended, `agent:${agent.name}`, log);
    }
    return lease;
  }

  /**
   * Ends many live leases (active or exhausted) as revoked (a trust drop, a
   * policy reload, an operator): in rounds of at most END_BATCH, each one
   * transaction for the rows and one commit for their `lease.revoked` entries
   * (each with `extra`), so a large batch does not hold the single writer that
   * every RequestLease, Invoke and RevokeLease shares for all of it at once.
   * If the log refuses, the leases end anyway (authority first) and the
   * entries are kept and retried. Returns the leases it ended; their
   * credentials are the caller's to revoke.
   */
  async endManyRecorded(ids: readonly string[], reason: string, extra: Record<string, unknown>, log: Logger): Promise<LeaseRecord[]> {
    const out: LeaseRecord[] = [];
    for (let i = 0; i < ids.length; i += END_BATCH) out.push(...(await this.endBatchRecorded(ids.slice(i, i + END_BATCH), reason, extra, log)));
    return out;
  }

  private async endBatchRecorded(ids: readonly string[], reason: string, extra: Record<string, unknown>, log: Logger): Promise<LeaseRecord[]> {
    const { evidence, store } = this.deps;
    const st = store.trustStatements;
    if (!st) throw unimplemented('ending leases in a batch on this state store', 'a later issue');
    const now = this.deps.clock.now();
    const drafts = (ended: readonly LeaseRecord[]): EvidenceDraft[] => ended.map((l) => leaseDraft('lease.revoked', l, extra));
    const run = (): LeaseRecord[] | undefined => {
      const ended = st.revokeLeases(ids, reason, now);
      return ended.length ? ended : undefined;
    };
    if (evidence?.appendWith) {
      try {
        return (await evidence.appendWith(run, drafts))?.value ?? [];
      } catch (err) {
        log.error({ err, count: ids.length }, 'could not record lease.revoked with the leases it ends in one commit; they end now and their entries are retried');
      }
    }
    const ended = (await store.writeTrust(run)) ?? [];
    if (evidence) for (const d of drafts(ended)) await this.recordEnded(d, log);
    return ended;
  }

  /**
   * Ends a live lease as revoked with its `lease.revoked` entry in one commit.
   * If the log refuses the entry, the lease ends anyway (authority first) and
   * the entry is kept and retried. Undefined when the lease was not live.
   */
  private async endRecorded(id: string, reason: string, by: string, log: Logger): Promise<LeaseRecord | undefined> {
    const { evidence, store } = this.deps;
    const statements = store.statements;
    const now = this.deps.clock.now();
    if (evidence?.appendWith && statements) {
      try {
        const done = await evidence.appendWith(
          () => statements.endLease(id, 'revoked', reason, now),
          (ended) => [leaseDraft('lease.revoked', ended, { by })],
        );
        return done?.value;
      } catch (err) {
        log.warn({ err, lease_id: id }, 'could not end the lease with its entry in one commit; ending it first, the entry follows');
      }
    }
    const ended = await store.endLease(id, 'revoked', reason, this.deps.clock.now());
    if (ended) await this.recordEnded(leaseDraft('lease.revoked', ended, { by }), log);
    return ended;
  }

  async list(filter: { agent?: string; action?: string; statuses?: LeaseStatus[]; limit?: number }): Promise<LeaseRecord[]> {
    return this.deps.store.listLeases({ ...filter, limit: Math.min(Math.max(filter.limit ?? 100, 1), 1000) });
  }

  /**
   * An operator's act that revokes known leases (a break-glass override
   * revoked, RevokeLeases): the live ones end (endManyRecorded), then their
   * credentials, with those of `owed` (ended already, revocation still owed:
   * tried again now), go upstream in one round per backend that revokes in
   * batches. Ended ones are left as they are. Returns the leases, as stored afterwards.
   */
  async revokeIds(ids: readonly string[], reason: string, by: string, log: Logger, owed: readonly LeaseRecord[] = []): Promise<LeaseRecord[]> {
    const end = { by: `operator:${by}` };
    const ended = [...(await this.endManyRecorded(ids, `operator ${by}: ${reason.slice(0, 200) || 'revoked'}`, end, log)), ...owed];
    const out = this.deps.credentials ? await this.deps.credentials.revoker.revokeEndedMany(ended.map((lease) => ({ lease, end })), log) : ended;
    if (out.length) log.info({ count: out.length }, 'leases revoked by operator');
    return out;
  }

  /**
   * Leases the broker ends itself (their credential was misused upstream): `lease.revoked` by `broker`,
   * with `reason`; `onEnded` is told which ended (those still live), then their credentials are revoked.
   */
  async revokeByBroker(ids: readonly string[], reason: string, log: Logger, onEnded?: (ended: readonly LeaseRecord[]) => void): Promise<LeaseRecord[]> {
    const why = reason.slice(0, 200);
    const ended = await this.endManyRecorded(ids, why, { by: 'broker', reason: why }, log);
    onEnded?.(ended);
    return this.deps.credentials ? this.deps.credentials.revoker.revokeEndedMany(ended.map((lease) => ({ lease, end: { by: 'broker' } })), log) : ended;
  }

  /** RevokeLeases: every live lease the filter selects, and the revocations still owed among them. */
  async revokeMany(filter: { agent?: string; action?: string; leaseId?: string }, reason: string, by: string, log: Logger): Promise<LeaseRecord[]> {
    if (!filter.agent && !filter.action && !filter.leaseId) throw invalidArgument('agent|action|lease_id', 'at least one selector is required');
    const targets = await this.deps.store.listLeases({ ...filter, statuses: ['active', 'exhausted', 'revoke_failed'], limit: 10_000 });
    const live = targets.filter((l) => l.status !== 'revoke_failed').map((l) => l.id);
    const owed = targets.filter((l) => l.status === 'revoke_failed' && l.credential);
    return this.revokeIds(live, reason, by, log, owed);
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

function policyChanged(): BrokerError {
  return failedPrecondition('the policy set was reloaded while this lease was being granted; nothing was granted; request it again');
}

function trustDropped(): BrokerError {
  return failedPrecondition('the agent\'s trust dropped while this lease was being granted; nothing was granted; request it again');
}

function overrideEnded(): BrokerError {
  return failedPrecondition('the break-glass override this lease was decided under was revoked or expired meanwhile; nothing was granted');
}

function approvalSpent(): BrokerError {
  return failedPrecondition('the approval was already used or has expired; request the lease again without approval_id for a new one');
}

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
