import type { Tier } from '../trust/trust-tiers';
import type { PolicyJson } from './cedar-api';
import { Obligations, obligationLabels } from './obligations';
import { ConditionCheck, contextAttributes } from './policy-conditions';
import type { PolicyInfo } from './policy-set';

export type DecisionKind = 'allow' | 'deny' | 'allow_with_obligations';

/** The explanation every decision carries (DESIGN, API and invariant 7). snake_case: it is sent as JSON. */
export interface Explanation {
  readonly decision: DecisionKind;
  /** One line on what happened, e.g. "no policy permits billing.refund on stripe for support-bot". */
  readonly summary: string;
  readonly deciding_policies: readonly { readonly id: string; readonly reason: string }[];
  /** The permits whose action scope covers this action. */
  readonly candidates: readonly Candidate[];
  /** The next step, in one sentence. */
  readonly hint: string;
  readonly trust: { readonly score: number; readonly tier: Tier };
  /** Set when the grant stands only under a break-glass override (src/breakglass): who asked, who confirmed, until when. */
  readonly override?: { readonly id: string; readonly requested_by: string; readonly confirmed_by: string; readonly until: string; readonly reason: string };
}

export interface Candidate {
  readonly id: string;
  readonly requires: string;
  readonly failed_conditions: readonly string[];
  readonly obligations: readonly string[];
}

/** A permit prepared for explaining: its standalone checks and what it requires. */
export interface CandidatePlan {
  readonly policy: PolicyInfo;
  readonly checks: readonly ConditionCheck[];
  readonly requires: string;
}

export interface CheckOutcome {
  /** Keys of checks that held. */
  readonly satisfied: ReadonlySet<string>;
  /** Keys of checks that raised an error, with Cedar's message. */
  readonly errored: ReadonlyMap<string, string>;
}

/** Whether a permit's action scope could cover `action` (there are no action groups). */
export function actionInScope(policy: PolicyJson, action: string): boolean {
  const c = policy.action;
  if (c.op === 'All') return true;
  const uids = 'entities' in c ? c.entities : 'entity' in c ? [c.entity] : [];
  return uids.some((u) => {
    const { type, id } = '__entity' in u ? u.__entity : u;
    return type === 'Action' && id === action;
  });
}

export function derivedRequires(checks: readonly ConditionCheck[]): string {
  return checks.length === 0 ? 'nothing: it permits every request in its scope' : checks.map((c) => c.text).join(' and ');
}

export interface EvaluatedCandidate {
  readonly plan: CandidatePlan;
  readonly failed: readonly ConditionCheck[];
  readonly failedText: readonly string[];
  readonly scopeFailed: boolean;
}

/**
 * Names each failed check. Conjuncts of one clause short-circuit in Cedar, so
 * an error in a conjunct after one that already failed is usually guarded by
 * it (`context has x && context.x > 1`) and is not reported.
 */
export function evaluateCandidate(plan: CandidatePlan, outcome: CheckOutcome): EvaluatedCandidate {
  const failed: ConditionCheck[] = [];
  const failedText: string[] = [];
  const failedClauses = new Set<number>();
  for (const check of plan.checks) {
    if (outcome.satisfied.has(check.key)) continue;
    const error = outcome.errored.get(check.key);
    if (error !== undefined) {
      if (check.clause >= 0 && failedClauses.has(check.clause)) continue;
      failedText.push(`${check.text} (could not be evaluated: ${error})`);
    } else {
      failedText.push(check.failedText);
    }
    failed.push(check);
    failedClauses.add(check.clause);
  }
  return { plan, failed, failedText, scopeFailed: failed.some((c) => c.clause < 0) };
}

export function toCandidate(e: EvaluatedCandidate): Candidate {
  return {
    id: e.plan.policy.id,
    requires: e.plan.requires,
    failed_conditions: e.failedText,
    obligations: obligationLabels(e.plan.policy.obligations),
  };
}

interface HintInput {
  readonly agent: string;
  readonly action: string;
  readonly resource: string;
}

export function allowHint(chosen: PolicyInfo, o: Obligations): string {
  if (o.approvals.length > 0) return `Ask for approval from ${joinAnd(o.approvals)} (required by ${chosen.id}).`;
  const labels = obligationLabels(o);
  if (labels.length > 0) return `Proceed within the limits of ${chosen.id}: ${labels.join(', ')}.`;
  return `Proceed: ${chosen.id} permits this request.`;
}

export function forbidHint(forbids: readonly PolicyInfo[]): string {
  const refs = new Set<string>();
  for (const f of forbids) contextAttributes(f.json.conditions, refs);
  const what = forbids.map((f) => `${f.id} (${trimPeriod(f.reason)})`).join('; ');
  if (refs.size > 0 && [...refs].every((r) => r === 'trust' || r === 'tier' || r === 'trust_fresh')) return `Wait for trust to rise: forbidden by ${what}.`;
  if (refs.size > 0) return `Narrow the request: forbidden by ${what}.`;
  return `Forbidden by ${what}; ask an operator if this is wrong.`;
}

/**
 * For a request no permit matched: point at the nearest permits (scope met,
 * fewest failed conditions). If all they lack is trust, say wait; otherwise
 * say what the request must be narrowed to.
 */
export function noPermitHint(req: HintInput, evaluated: readonly EvaluatedCandidate[]): string {
  const inScope = evaluated.filter((e) => !e.scopeFailed && e.failed.length > 0);
  if (inScope.length === 0) return `No policy permits ${req.action} on ${req.resource} for ${req.agent}.`;
  const fewest = Math.min(...inScope.map((e) => e.failed.length));
  const nearest = inScope.filter((e) => e.failed.length === fewest);
  // Name the unmet conditions rather than the @requires sentence: they say what to change.
  const options = nearest.map((e) => {
    const approvals = e.plan.policy.obligations.approvals;
    const extra = approvals.length > 0 ? ` with approval from ${joinAnd(approvals)}` : '';
    return `${e.failed.map((c) => c.text).join(' and ')}${extra} (${e.plan.policy.id})`;
  });
  const trustOnly = nearest.every((e) => e.failed.every((c) => c.trustOnly));
  return `${trustOnly ? 'Wait for trust to rise' : 'Narrow the request'} to meet ${options.join(', or ')}.`;
}

function joinAnd(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function trimPeriod(s: string): string {
  return s.trim().replace(/\.+$/, '');
}
