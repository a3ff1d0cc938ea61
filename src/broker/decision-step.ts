import { overrideNote, type OverrideGate, type OverrideRecord } from '../breakglass/override-gate';
import type { DecisionRpc, Metrics } from '../metrics/metrics';
import type { ActionConfig, AgentConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { ContextValue, LeaseRecord } from '../leases/lease';
import type { Clock } from '../lib/clock';
import { BrokerError, invalidArgument } from '../lib/errors';
import { boundedExplanationJson, EVIDENCE_MAX_BYTES, explanationTrailer, type Explanation, type PolicyDecision, type PolicyEngine } from '../policy';
import { NO_OBLIGATIONS } from '../policy/obligations';
import type { BudgetQuery, Store } from '../store/store';
import type { ApprovalBinding, ApprovalGate } from './approval-gate';
import type { DenialFolder } from './denial-folder';
import { recordInputs, type OmittedInputs, type RecordedInputs } from './recorded-inputs';
import type { Json } from './struct';
import type { TrustReader, TrustView } from './trust-reader';

/**
 * Which call is deciding: a new grant (`request`, a one-shot `invoke`, an
 * `explain` dry run) or a re-decision of a lease with its stored inputs
 * (`invoke` on a lease, `renew`, `reevaluate` after a trust drop).
 */
export type DecisionCall = 'request' | 'invoke' | 'renew' | 'reevaluate' | 'explain';

export interface DecisionInput {
  call: DecisionCall;
  agent: AgentConfig;
  action: ActionConfig;
  resource: string;
  /** The declared context values (from params at RequestLease, from the call at Invoke, the lease's on a re-decision). */
  context: Readonly<Record<string, ContextValue>>;
  params: Readonly<Record<string, Json>>;
  purpose: string;
  /**
   * A new grant: the asked TTL (s) and uses, 0 meaning the action's defaults;
   * or a one-shot call's lease (one use, 60 s).
   */
  grant?: { ttlSeconds: number; maxUses: number } | 'one-shot';
  /** RequestLease redeeming an approval. */
  approvalId?: string;
  /** A re-decision of this lease: its own budget reservation is left out of `used`, its approval honoured. */
  lease?: LeaseRecord;
  /**
   * Trust as just read by the caller (re-evaluation of many leases after a
   * trust change reads it once for all of them); absent: read now.
   */
  trust?: TrustView;
}

/** What a grant gets after the policy's obligations: min(asked or default, the action's cap, the policy's cap). */
export interface EffectiveGrant {
  ttlMs: number;
  maxTtlMs: number;
  uses: number;
}

/** The action's budget as this decision saw it. */
export interface BudgetFit {
  field: string;
  perMs: number;
  limit?: number;
  /** The request's amount (context.<field>), per use. */
  amount: number;
  /** Held in the window before this request (policy's context.budget.<field>.used). */
  used: number;
  /** Where the window starts: reservations after this count. */
  since: number;
  /** amount x uses: what a grant reserves (0 on a re-decision, which reserves nothing). */
  reserve: number;
}

export interface DecidedStep {
  call: DecisionCall;
  agent: AgentConfig;
  action: ActionConfig;
  resource: string;
  /** Trust at decision time. */
  trust: TrustView;
  /** The policy's own decision (its obligations, determining permits and version). */
  policy: PolicyDecision;
  /**
   * allow: grant (or use); approval: a person must approve this exact request
   * first (RequestLease answers PENDING_APPROVAL); deny.
   */
  verdict: 'allow' | 'approval' | 'deny';
  /** The policy's explanation, or the budget's when the broker's own limit refused. */
  explanation: Explanation;
  /** A new grant's TTL and uses, after obligations. */
  grant?: EffectiveGrant;
  /** The approval obligation: the groups, the permit that carries it, the binding; `redeem` the approval id that meets it. */
  approval?: { groups: readonly string[]; rule: string; binding?: ApprovalBinding; redeem?: string };
  budget?: BudgetFit;
  /** The break-glass override this grant or use stands under (policy alone would not allow it). */
  override?: OverrideRecord;
  /** What the `decision` entry records of the inputs (for `policy replay`). */
  inputs: RecordedInputs | OmittedInputs;
  /** The `decision` evidence entry for this outcome. */
  draft: EvidenceDraft;
}

export interface DecisionStepDeps {
  policy: () => PolicyEngine;
  trust: TrustReader;
  store: Pick<Store, 'budgetUsed'>;
  clock: Clock;
  /** Checks an approval being redeemed; absent: approval obligations deny (nobody can approve). */
  approvals?: Pick<ApprovalGate, 'check'>;
  evidence?: EvidenceSink;
  /** Folds repeated identical denials (bounded evidence per agent). */
  denials?: DenialFolder;
  /** Break-glass overrides (src/breakglass); absent: none apply. */
  overrides?: OverrideGate;
  /** Distinct approvals each group needs (config `approvals.<group>.required`), for the votes an explanation says are missing. */
  approvalsRequired?: (group: string) => number;
  /** Counts and times decisions (src/metrics); default none. */
  metrics?: Pick<Metrics, 'decision'>;
}

/** The RPC each kind of decision serves, for metrics. */
const RPC_OF: Readonly<Record<DecisionCall, DecisionRpc>> = Object.freeze({ request: 'RequestLease', invoke: 'Invoke', renew: 'RenewLease', explain: 'Explain', reevaluate: 'reevaluate' });

/** How long a one-shot call's lease lives (it is stored already used). */
export const ONE_SHOT_TTL_MS = 60_000;

/**
 * The decision step, one component for every call that decides: RequestLease,
 * Invoke (one-shot and each use of a lease), renewal, re-evaluation and
 * Explain. In order:
 * 1. trust at decision time (an error reading it fails the call: never an allow);
 * 2. the action's budget used in its window before this request;
 * 3. the policy, with trust, tier, trust_fresh, params, the declared context and budget.<field>.used;
 * 4. obligations: the grant's TTL and uses;
 * 5. the budget's own limit: amount x uses must fit (the grant re-checks it atomically);
 * 6. approvals: asked for, redeemed (checked against the exact binding), or honoured on the lease they granted;
 * 7. the `decision` evidence draft (the caller records it: with the grant, or as a denial).
 * Break-glass: where 3 or 6 would not allow, a confirmed, unexpired override of
 * this agent's action (and resource) allows instead (`underOverride`): it
 * bypasses the policy only; the budget's limit (5) and everything after the
 * decision (guard, binding, limits, evidence) still hold.
 */
export class DecisionStep {
  constructor(private readonly deps: DecisionStepDeps) {}

  async decide(input: DecisionInput): Promise<DecidedStep> {
    const metrics = this.deps.metrics;
    if (!metrics) return this.decideNow(input);
    const started = performance.now();
    let effect: DecidedStep['verdict'] = 'deny';
    try {
      const step = await this.decideNow(input);
      effect = step.verdict;
      return step;
    } finally {
      // An error while deciding is a denial.
      metrics.decision(RPC_OF[input.call], effect, input.agent.name, (performance.now() - started) / 1000);
    }
  }

  private async decideNow(input: DecisionInput): Promise<DecidedStep> {
    const { agent, action, resource, call } = input;
    // 1. Trust.
    const trust = input.trust ?? (await this.deps.trust.current(agent.name));
    // 2. Budget used before this request.
    const budget = await this.budgetBefore(input);
    // 3. Policy. Broker-supplied keys go last: no declared field can stand in for them.
    const policy = this.deps.policy().decide({
      agent: { name: agent.name, groups: agent.groups, ...(agent.owner ? { owner: agent.owner } : {}) },
      action: action.name,
      resource,
      context: {
        params: input.params,
        ...input.context,
        trust: trust.score,
        tier: trust.tier,
        trust_fresh: trust.fresh,
        ...(budget ? { budget: { [budget.field]: { used: budget.used } } } : {}),
      },
    });
    const inputs = recordInputs({ context: input.context, params: input.params, fresh: trust.fresh, ...(budget ? { budgetUsed: budget.used } : {}), ...(input.grant ? { grant: input.grant } : {}) });
    const base = { call, agent, action, resource, trust, policy, inputs };
    if (policy.decision === 'deny') {
      // Break-glass: an override allows what policy denies.
      const overridden = await this.underOverride(input, base, budget);
      if (overridden) return overridden;
      // A policy reading the budget names it in a failed condition; the explanation adds used and limit.
      const explanation = budget ? { ...policy.explanation, budget: budgetInfo(budget) } : policy.explanation;
      return { ...base, verdict: 'deny', explanation, ...(budget ? { budget } : {}), draft: withExplanation(decisionDraft(agent.name, action.name, resource, policy, trust, inputs), explanation) };
    }

    // 4. Obligations: what a new grant gets.
    const grant = input.grant ? effectiveGrant(action, policy, input.grant) : undefined;

    // 5. The budget's limit (a new grant only; a lease's re-decision reserves nothing new).
    if (budget && grant) {
      budget.reserve = budget.amount * grant.uses;
      if (budget.limit !== undefined && budget.used + budget.reserve > budget.limit) return this.overBudget({ ...base, grant }, budget, budget.used);
    }

    // 6. Approvals.
    let approval: DecidedStep['approval'];
    let verdict: DecidedStep['verdict'] = 'allow';
    const groups = policy.obligations.approvals;
    if (groups.length > 0) {
      const rule = policy.chosenPolicyId ?? '';
      approval = { groups, rule };
      if (input.lease) {
        // Granted under an approval of this same permit: its uses and renewals need no new one.
        if (!(input.lease.approvalId && input.lease.policyIds.includes(rule))) verdict = 'deny';
      } else if (call === 'invoke' || !this.deps.approvals || !grant) {
        // A one-shot call cannot wait for a person; without an approvals service nobody can approve.
        verdict = 'deny';
      } else {
        approval.binding = {
          agent: agent.name,
          action: action.name,
          resource,
          params: { ...input.params },
          purpose: input.purpose,
          ttl_seconds: Math.floor(grant.ttlMs / 1000),
          max_uses: grant.uses,
          rule,
          policy_version: policy.policyVersion,
        };
        if (input.approvalId && call === 'request') {
          // Refused (naming what differs, consuming nothing) unless it is approved for exactly this.
          await this.deps.approvals.check(agent.name, input.approvalId, approval.binding).catch((err: unknown) => {
            throw this.notRedeemed(err, { ...approval!, redeem: input.approvalId! }, policy.explanation);
          });
          approval.redeem = input.approvalId;
        } else verdict = 'approval';
      }
    }

    // Break-glass: an override also stands in for an approval the policy asks for.
    if (verdict !== 'allow') {
      const overridden = await this.underOverride(input, base, budget);
      if (overridden) return overridden;
    }

    // 7. The explanation (with the approval needed and its missing votes) and the evidence draft.
    let explanation = approval ? { ...policy.explanation, approval: this.approvalInfo(approval) } : policy.explanation;
    if (approval && verdict === 'deny') explanation = { ...explanation, hint: approvalDeniedHint(policy.explanation.hint, call, !!input.lease, !!this.deps.approvals) };
    const draft = decisionDraft(agent.name, action.name, resource, policy, trust, inputs);
    if (verdict !== 'allow') withExplanation(draft, explanation);
    if (approval?.redeem) (draft['decision'] as Record<string, unknown>)['approval_id'] = approval.redeem;
    if (budget && grant) (draft['decision'] as Record<string, unknown>)['budget'] = budgetRecord(budget);
    return { ...base, verdict, explanation, ...(grant ? { grant } : {}), ...(approval ? { approval } : {}), ...(budget ? { budget } : {}), draft };
  }

  /**
   * Break-glass (the marked step): when a confirmed, unexpired override covers
   * this agent, action and resource, the request is allowed though policy
   * would not; a new grant gets the action's defaults and caps (no policy
   * obligation applies) and never outlives the override; the budget is
   * reserved and its limit still holds. A one-shot Invoke gets no override
   * (it is not a RequestLease), and an agent in the quarantined tier none at
   * all. Undefined when no override applies.
   */
  private async underOverride(input: DecisionInput, base: Pick<DecidedStep, 'call' | 'agent' | 'action' | 'resource' | 'trust' | 'policy' | 'inputs'>, budget: BudgetFit | undefined): Promise<DecidedStep | undefined> {
    if (!this.deps.overrides || input.grant === 'one-shot') return undefined;
    const { agent, action, resource, trust, policy, inputs } = base;
    const o = await this.deps.overrides.applicable({ agent: agent.name, action: action.name, resource, tier: trust.tier, dryRun: input.call === 'explain' });
    if (!o) return undefined;
    const left = o.expiresAt - this.deps.clock.now();
    let grant: EffectiveGrant | undefined;
    if (input.grant) {
      const g = effectiveGrant(action, { ...policy, obligations: NO_OBLIGATIONS }, input.grant);
      grant = { ttlMs: Math.min(g.ttlMs, left), maxTtlMs: Math.min(g.maxTtlMs, left), uses: g.uses };
    }
    if (budget && grant) {
      budget.reserve = budget.amount * grant.uses;
      if (budget.limit !== undefined && budget.used + budget.reserve > budget.limit) return this.overBudget({ ...base, grant }, budget, budget.used);
    }
    const note = overrideNote(o);
    const explanation: Explanation = {
      decision: 'allow',
      summary: `granted under break-glass override ${o.id} (asked by ${note.requested_by}, confirmed by ${note.confirmed_by}, until ${note.until}); policy alone: ${policy.explanation.summary}`,
      deciding_policies: policy.explanation.deciding_policies,
      candidates: policy.explanation.candidates,
      hint: `This holds only while break-glass override ${o.id} does (until ${note.until}, or until an operator revokes it); ask for a policy change to keep this access.`,
      trust: { score: trust.score, tier: trust.tier },
      override: note,
    };
    const draft = decisionDraft(agent.name, action.name, resource, policy, trust, inputs);
    draft['decision'] = { ...(draft['decision'] as Record<string, unknown>), effect: 'allow', policy_effect: policy.decision, breakglass: { id: o.id, requested_by: note.requested_by, confirmed_by: note.confirmed_by, until: note.until } };
    if (budget && grant) (draft['decision'] as Record<string, unknown>)['budget'] = budgetRecord(budget);
    // The policy denied: the entry explains that denial and what the override allows (invariant 7).
    withExplanation(draft, explanation);
    return { ...base, verdict: 'allow', explanation, ...(grant ? { grant } : {}), ...(budget ? { budget } : {}), override: o, draft };
  }

  /**
   * A grant the budget's limit refused, at the decision or in the grant's own
   * transaction (`used` as seen there: concurrent grants took the rest).
   */
  overBudget(step: Pick<DecidedStep, 'call' | 'agent' | 'action' | 'resource' | 'trust' | 'policy' | 'grant' | 'inputs'>, budget: BudgetFit, used: number): DecidedStep {
    const b = { ...budget, used };
    const per = formatDuration(b.perMs);
    const left = Math.max(0, (b.limit ?? 0) - used);
    const explanation: Explanation = {
      decision: 'deny',
      summary: `over budget: ${step.action.name} ${b.field} would pass its limit of ${b.limit} per ${per} for ${step.agent.name} (used ${used}, this request holds ${b.reserve})`,
      deciding_policies: [],
      candidates: step.policy.explanation.candidates,
      hint: `Ask for at most ${left} (${b.field} x uses), or wait until earlier ${b.field} leaves the ${per} window.`,
      trust: { score: step.trust.score, tier: step.trust.tier },
      budget: budgetInfo(b),
    };
    const draft = decisionDraft(step.agent.name, step.action.name, step.resource, step.policy, step.trust, step.inputs);
    draft['decision'] = { effect: 'deny', policies: [], policy_version: step.policy.policyVersion, budget: budgetRecord(b) };
    withExplanation(draft, explanation);
    return { ...step, verdict: 'deny', explanation, budget: b, draft };
  }

  /** Every denial is evidence, folded when it repeats (see DenialFolder). */
  async recordDenial(step: DecidedStep): Promise<EvidenceRef | undefined> {
    return this.recordBounded(step, true);
  }

  /**
   * The decision of a request answered PENDING_APPROVAL: bounded like a denial (an agent asking
   * again and again writes folded entries within its evidence budget), but not counted as one.
   */
  async recordPending(step: DecidedStep): Promise<EvidenceRef | undefined> {
    return this.recordBounded(step, false);
  }

  private async recordBounded(step: DecidedStep, denial: boolean): Promise<EvidenceRef | undefined> {
    if (this.deps.denials) return this.deps.denials.record(step.agent.name, step.draft, { denial });
    return (await this.deps.evidence?.append([step.draft]))?.[0];
  }

  /**
   * An approval that cannot be redeemed (pending, rejected, expired, used, or
   * for another request) stays FAILED_PRECONDITION with its message, and now
   * carries an explanation too: the approval, and what to do next.
   */
  private notRedeemed(err: unknown, a: NonNullable<DecidedStep['approval']>, policyExplanation: Explanation): unknown {
    if (!(err instanceof BrokerError) || err.kind !== 'failed_precondition') return err;
    const who = `${a.groups.length === 1 ? 'group' : 'groups'} ${a.groups.join(' and ')}`;
    const id = a.redeem ?? '';
    const again = `repeat the request without approval_id to ask ${who} again`;
    const hint = /pending/.test(err.message)
      ? `Wait for ${who} to decide approval ${id} (WatchApproval), then redeem it.`
      : /does not cover/.test(err.message)
        ? `Repeat exactly the approved request, or ${again} for this one.`
        : `Approval ${id} cannot be used (${err.message.split(';')[0]}); ${again}.`;
    const explanation: Explanation = {
      ...policyExplanation,
      decision: 'deny',
      summary: `approval ${id} cannot be redeemed: ${err.message}`,
      hint,
      // How many votes it still lacks is the approval's own record (GetApproval); not known here.
      approval: { groups: [...a.groups], rule: a.rule, missing: [], approval_id: id },
    };
    return new BrokerError('failed_precondition', err.message, { trailers: { ...err.trailers, 'secretbroker-explanation': explanationTrailer(explanation) } });
  }

  /**
   * The approval a request needs: its groups, the permit, and per group the
   * votes still missing: all of them for a new request (none is cast yet),
   * none for one redeeming an approval that passed its check.
   */
  private approvalInfo(a: NonNullable<DecidedStep['approval']>): NonNullable<Explanation['approval']> {
    const missing = a.redeem ? [] : a.groups.map((group) => ({ group, votes: this.deps.approvalsRequired?.(group) ?? 1 }));
    return { groups: [...a.groups], rule: a.rule, missing, ...(a.redeem ? { approval_id: a.redeem } : {}) };
  }

  /** The window's query for a decision about this agent's action (undefined: the action has no budget). */
  budgetQuery(agent: string, action: ActionConfig, excludeLease?: string): BudgetQuery | undefined {
    const b = action.budget;
    if (!b) return undefined;
    return { agent, action: action.name, field: b.field, since: this.deps.clock.now() - b.perMs, ...(excludeLease ? { excludeLease } : {}) };
  }

  private async budgetBefore(input: DecisionInput): Promise<BudgetFit | undefined> {
    const b = input.action.budget;
    const q = this.budgetQuery(input.agent.name, input.action, input.lease?.id);
    if (!b || !q) return undefined;
    const amount = input.context[b.field];
    // The field is declared and integer-valued (checked before); a negative amount would give budget back.
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
      throw invalidArgument(input.call === 'invoke' ? `context.${b.field}` : `params.${b.field}`, `a non-negative integer (the budget field of ${input.action.name})`);
    }
    const used = await this.deps.store.budgetUsed(q);
    return { field: b.field, perMs: b.perMs, ...(b.limit !== undefined ? { limit: b.limit } : {}), amount, used, since: q.since, reserve: 0 };
  }
}

function effectiveGrant(action: ActionConfig, decision: PolicyDecision, asked: NonNullable<DecisionInput['grant']>): EffectiveGrant {
  if (asked === 'one-shot') return { ttlMs: ONE_SHOT_TTL_MS, maxTtlMs: ONE_SHOT_TTL_MS, uses: 1 };
  const policyTtlMs = decision.obligations.maxTtlSeconds !== undefined ? decision.obligations.maxTtlSeconds * 1000 : Infinity;
  const maxTtlMs = Math.min(action.maxTtlMs, policyTtlMs);
  const ttlMs = Math.min(asked.ttlSeconds > 0 ? asked.ttlSeconds * 1000 : action.defaultTtlMs, maxTtlMs);
  // Uses are capped like the TTL: by the action's max_uses and by the policy's @max_uses.
  const uses = Math.min(asked.maxUses > 0 ? asked.maxUses : action.defaultUses, action.maxUses, decision.obligations.maxUses ?? Infinity);
  return { ttlMs, maxTtlMs, uses };
}

/** Why an approval obligation denied here, and what would work instead. */
function approvalDeniedHint(ask: string, call: DecisionCall, onLease: boolean, approvals: boolean): string {
  const base = ask.replace(/\.$/, '');
  if (onLease) return `${base}: this lease was not granted under an approval of that permit; request a new lease.`;
  if (!approvals) return `${base}: no approvals service is running here; ask an operator.`;
  if (call === 'invoke') return `${base}: a one-shot call cannot wait for one, so request a lease (RequestLease) and redeem the approval.`;
  return `${base}.`;
}

function budgetInfo(b: BudgetFit): NonNullable<Explanation['budget']> {
  return { field: b.field, used: b.used, ...(b.limit !== undefined ? { limit: b.limit } : {}), per: formatDuration(b.perMs), requested: b.reserve || b.amount };
}

/** A denial's (or pending approval's) `decision` entry carries its whole explanation, bounded like any entry. */
function withExplanation(draft: EvidenceDraft, e: Explanation): EvidenceDraft {
  draft['explanation'] = JSON.parse(boundedExplanationJson(e, EVIDENCE_MAX_BYTES)) as unknown;
  return draft;
}

function budgetRecord(b: BudgetFit): Record<string, unknown> {
  return { field: b.field, per: formatDuration(b.perMs), used: b.used, reserved: b.reserve, ...(b.limit !== undefined ? { limit: b.limit } : {}) };
}

/** 86400000 → "24h": the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    // Hours up to two days read better ("24h", "36h") than days.
    if (ms % size === 0 && !(unit === 'd' && ms < 2 * size)) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export function decisionDraft(agent: string, action: string, resource: string, d: PolicyDecision, trust: Pick<TrustView, 'score' | 'tier'>, inputs?: RecordedInputs | OmittedInputs): EvidenceDraft {
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
    // The declared context values and params (capped), so `policy replay` can decide it again.
    ...(inputs ? { inputs } : {}),
  };
}
