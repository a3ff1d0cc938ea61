import type { ActionConfig, AgentConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { ContextValue, LeaseRecord } from '../leases/lease';
import type { Clock } from '../lib/clock';
import { invalidArgument } from '../lib/errors';
import type { Explanation, PolicyDecision, PolicyEngine } from '../policy';
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
}

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
 */
export class DecisionStep {
  constructor(private readonly deps: DecisionStepDeps) {}

  async decide(input: DecisionInput): Promise<DecidedStep> {
    const { agent, action, resource, call } = input;
    // 1. Trust.
    const trust = await this.deps.trust.current(agent.name);
    // 2. Budget used before this request.
    const budget = await this.budgetBefore(input);
    // 3. Policy. Broker-supplied keys go last: no declared field can stand in for them.
    const policy = this.deps.policy().decide({
      agent: { name: agent.name, groups: agent.groups },
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
    if (policy.decision === 'deny') return { ...base, verdict: 'deny', explanation: policy.explanation, ...(budget ? { budget } : {}), draft: decisionDraft(agent.name, action.name, resource, policy, trust, inputs) };

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
          await this.deps.approvals.check(agent.name, input.approvalId, approval.binding);
          approval.redeem = input.approvalId;
        } else verdict = 'approval';
      }
    }

    // 7. The evidence draft.
    const draft = decisionDraft(agent.name, action.name, resource, policy, trust, inputs);
    if (approval?.redeem) (draft['decision'] as Record<string, unknown>)['approval_id'] = approval.redeem;
    if (budget && grant) (draft['decision'] as Record<string, unknown>)['budget'] = budgetRecord(budget);
    return { ...base, verdict, explanation: policy.explanation, ...(grant ? { grant } : {}), ...(approval ? { approval } : {}), ...(budget ? { budget } : {}), draft };
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
    };
    const draft = decisionDraft(step.agent.name, step.action.name, step.resource, step.policy, step.trust, step.inputs);
    draft['decision'] = { effect: 'deny', policies: [], policy_version: step.policy.policyVersion, budget: budgetRecord(b) };
    return { ...step, verdict: 'deny', explanation, budget: b, draft };
  }

  /** Every denial is evidence, folded when it repeats (see DenialFolder). */
  async recordDenial(step: DecidedStep): Promise<EvidenceRef | undefined> {
    if (this.deps.denials) return this.deps.denials.record(step.agent.name, step.draft);
    return (await this.deps.evidence?.append([step.draft]))?.[0];
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
